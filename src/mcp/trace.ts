// trace_flux_resource: from any object to the Flux object that applied it, as `flux trace` does —
// the owner labels kustomize-controller and helm-controller put on what they apply, followed up
// through controller ownerReferences (a Pod → its ReplicaSet → its Deployment) — then that Flux
// object's source, its revision and readiness, and on up to whatever applied the Flux object itself.
import { FluxObjectSchema, type FluxObject } from '../api/types.js';
import { fluxKind, fluxKinds, fluxReadOnlyKinds, groupOf } from '../flux/kinds.js';
import { conditionsOf, isSuspendedAnyKind, revisionOf, sourceRefOf, valueAt } from '../flux/objects.js';
import { isForbidden, isNotFound } from '../kube/errors.js';
import type { KubeObject } from '../kube/object.js';
import { KubeReader, resourcePath } from './kube-reader.js';
import { describeFailure, ToolError } from './tool.js';

/** The labels Flux's appliers put on every object they apply (fluxcd/pkg and helm-controller's post-renderer). */
export const OwnerLabels = [
  {
    kind: 'Kustomization',
    group: 'kustomize.toolkit.fluxcd.io',
    name: 'kustomize.toolkit.fluxcd.io/name',
    namespace: 'kustomize.toolkit.fluxcd.io/namespace',
  },
  {
    kind: 'HelmRelease',
    group: 'helm.toolkit.fluxcd.io',
    name: 'helm.toolkit.fluxcd.io/name',
    namespace: 'helm.toolkit.fluxcd.io/namespace',
  },
] as const;

/** Links followed at most: owners, appliers and sources together. */
const MaxLinks = 12;
const MaxMessage = 300;

/** How a link relates to the one before it. */
export type Relation = 'object' | 'owned by' | 'applied by' | 'source' | 'chart source';

export interface TraceLink {
  relation: Relation;
  kind: string;
  apiVersion: string;
  namespace: string;
  name: string;
  /** `Type=Status (Reason): message` of its readiness condition, or what it reports instead. */
  status?: string;
  /** Whether this link is ready; undefined when it reports nothing to tell. */
  ready?: boolean;
  suspended?: boolean;
  revision?: string;
  /** Facts worth a line: path, url, chart, replicas. */
  details: Record<string, string>;
  /** Why the link could not be read. */
  error?: string;
}

export interface Trace {
  links: TraceLink[];
  /** Whether a Flux applier was found for the object. */
  managed: boolean;
}

function oneLine(text: string): string {
  const flat = text.trim().replace(/\s*\n\s*/g, ' ');
  return flat.length > MaxMessage ? `${flat.slice(0, MaxMessage - 1)}…` : flat;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : undefined;
}

/** The Flux object that applied obj, from its owner labels. */
export function appliedBy(obj: KubeObject): { kind: string; group: string; name: string; namespace: string } | undefined {
  const labels = obj.metadata?.labels ?? {};
  for (const o of OwnerLabels) {
    const name = labels[o.name];
    const namespace = labels[o.namespace];
    if (name && namespace) return { kind: o.kind, group: o.group, name, namespace };
  }
  return undefined;
}

/** Readiness as Flux and kstatus read it: Ready, else Available (Deployments), else replicas, else phase. */
function readiness(obj: KubeObject): { status?: string; ready?: boolean } {
  const raw = obj as { status?: Record<string, unknown> };
  const conditions = Array.isArray(raw.status?.['conditions']) ? (raw.status['conditions'] as Record<string, unknown>[]) : [];
  for (const type of ['Ready', 'Available', 'Complete']) {
    const c = conditions.find((x) => x['type'] === type);
    if (!c) continue;
    const reason = str(c['reason']);
    const message = str(c['message']);
    return {
      status: `${type}=${str(c['status']) ?? 'Unknown'}${reason ? ` (${reason})` : ''}${message ? `: ${oneLine(message)}` : ''}`,
      ready: c['status'] === 'True',
    };
  }
  const phase = str(raw.status?.['phase']);
  if (phase)
    return { status: `phase ${phase}`, ready: phase === 'Running' || phase === 'Succeeded' || phase === 'Active' || phase === 'Bound' };
  return {};
}

/** The facts of a link worth a line, by kind. */
function detailsOf(obj: KubeObject): Record<string, string> {
  const d: Record<string, string> = {};
  const put = (key: string, ...paths: string[][]): void => {
    for (const p of paths) {
      const v = str(valueAt(obj, p));
      if (v) {
        d[key] = v;
        return;
      }
    }
  };
  switch (obj.kind) {
    case 'Kustomization':
      put('path', ['spec', 'path']);
      put('lastAttemptedRevision', ['status', 'lastAttemptedRevision']);
      break;
    case 'HelmRelease': {
      const chart = str(valueAt(obj, ['spec', 'chart', 'spec', 'chart']));
      const version = str(valueAt(obj, ['spec', 'chart', 'spec', 'version']));
      if (chart) d['chart'] = `${chart}${version ? ` ${version}` : ''}`;
      put('installed', ['status', 'history', '0', 'chartName']);
      const installedVersion = str(valueAt(obj, ['status', 'history', '0', 'chartVersion']));
      if (d['installed'] && installedVersion) d['installed'] = `${d['installed']} ${installedVersion}`;
      put('releaseName', ['spec', 'releaseName']);
      break;
    }
    case 'GitRepository':
    case 'OCIRepository':
    case 'HelmRepository':
      put('url', ['spec', 'url']);
      put(
        'ref',
        ['spec', 'ref', 'branch'],
        ['spec', 'ref', 'tag'],
        ['spec', 'ref', 'semver'],
        ['spec', 'ref', 'digest'],
        ['spec', 'ref', 'commit'],
      );
      break;
    case 'Bucket':
      put('endpoint', ['spec', 'endpoint']);
      put('bucketName', ['spec', 'bucketName']);
      break;
    case 'HelmChart':
      put('chart', ['spec', 'chart']);
      put('version', ['spec', 'version']);
      break;
    case 'Deployment':
    case 'StatefulSet':
    case 'ReplicaSet': {
      const want = valueAt(obj, ['spec', 'replicas']);
      const ready = valueAt(obj, ['status', 'readyReplicas']);
      d['replicas'] = `${typeof ready === 'number' ? ready : 0}/${typeof want === 'number' ? want : 1} ready`;
      break;
    }
    default:
      break;
  }
  return d;
}

function linkOf(relation: Relation, obj: KubeObject): TraceLink {
  const link: TraceLink = {
    relation,
    kind: obj.kind ?? '',
    apiVersion: obj.apiVersion ?? '',
    namespace: obj.metadata?.namespace ?? '',
    name: obj.metadata?.name ?? '',
    details: detailsOf(obj),
  };
  const parsed = FluxObjectSchema.safeParse(obj);
  const row = fluxKind(link.kind);
  if (parsed.success && row && groupOf(link.apiVersion) === row.group) {
    const flux: FluxObject = parsed.data;
    const ready = conditionsOf(flux).find((c) => c.type === 'Ready');
    if (ready) {
      link.status = `Ready=${ready.status}${ready.reason ? ` (${ready.reason})` : ''}${ready.message ? `: ${oneLine(ready.message)}` : ''}`;
      link.ready = ready.status === 'True';
    } else {
      link.status = 'no Ready condition yet';
      link.ready = false;
    }
    link.suspended = isSuspendedAnyKind(flux);
    const revision = revisionOf(flux, row);
    if (revision) link.revision = revision;
    if (link.details['lastAttemptedRevision'] === revision) delete link.details['lastAttemptedRevision'];
    return link;
  }
  return { ...link, ...readiness(obj) };
}

/** Reads objects for a trace, finding each Flux group's served version once. */
class TraceReader {
  private readonly versions = new Map<string, Promise<string | undefined>>();

  constructor(private readonly reader: KubeReader) {}

  /** The version the cluster prefers for a group (undefined when the group is not served). */
  private preferred(group: string): Promise<string | undefined> {
    let version = this.versions.get(group);
    if (!version) {
      version = (this.reader.get(`/apis/${group}`) as Promise<{ preferredVersion?: { groupVersion?: string } }>).then(
        (g) => g.preferredVersion?.groupVersion,
        (err: unknown) => {
          if (isNotFound(err)) return undefined;
          throw err;
        },
      );
      this.versions.set(group, version);
    }
    return version;
  }

  /** Reads an object; for a Flux kind without an apiVersion, in its group's preferred version. */
  async read(ref: { apiVersion?: string | undefined; kind: string; name: string; namespace: string }): Promise<KubeObject> {
    let apiVersion = ref.apiVersion;
    if (!apiVersion) {
      const group = [...fluxKinds, ...fluxReadOnlyKinds].find((k) => k.kind === ref.kind)?.group;
      apiVersion = group ? await this.preferred(group) : undefined;
      if (!apiVersion) throw new ToolError(`the cluster does not serve ${ref.kind}${group ? ` (${group})` : ''}`);
    }
    const resource = await this.reader.resolve(apiVersion, ref.kind);
    const obj = (await this.reader.get(resourcePath(resource, ref.namespace, ref.name))) as KubeObject;
    return { ...obj, apiVersion: resource.apiVersion, kind: resource.kind };
  }
}

/** A link that could not be read: not found, forbidden, or another error, said in one line. */
function unreadable(
  relation: Relation,
  ref: { apiVersion?: string | undefined; kind: string; name: string; namespace: string },
  err: unknown,
): TraceLink {
  const why = isNotFound(err) ? 'not found' : isForbidden(err) ? `not readable: ${describeFailure(err)}` : describeFailure(err);
  return {
    relation,
    kind: ref.kind,
    apiVersion: ref.apiVersion ?? '',
    namespace: ref.namespace,
    name: ref.name,
    details: {},
    error: why,
    ready: false,
  };
}

/**
 * The chain from an object to the Flux objects that applied it and their sources. The object
 * itself must be readable (a ToolError otherwise); a later link that cannot be read ends the chain
 * with the reason.
 */
export async function traceObject(reader: KubeReader, start: KubeObject): Promise<Trace> {
  const objects = new TraceReader(reader);
  const links: TraceLink[] = [linkOf('object', start)];
  const seen = new Set<string>();
  const key = (o: { kind?: string | undefined; metadata?: { namespace?: string; name?: string } }): string =>
    `${o.kind ?? ''}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
  seen.add(key(start));
  // A Flux object is Flux's own, applied by another or not.
  let managed = links[0]?.suspended !== undefined;
  let current: KubeObject | undefined = start;
  while (current && links.length < MaxLinks) {
    const obj: KubeObject = current;
    current = undefined;
    // A Flux object's source comes right after it.
    const row = fluxKind(obj.kind ?? '');
    const parsed = FluxObjectSchema.safeParse(obj);
    if (row && parsed.success && groupOf(obj.apiVersion ?? '') === row.group && row.sourceRefs.length > 0) {
      const ref = sourceRefOf(parsed.data, row);
      if (!('error' in ref)) {
        try {
          const source = await objects.read(ref);
          links.push(linkOf(source.kind === 'HelmChart' && obj.kind !== 'HelmChart' ? 'chart source' : 'source', source));
          // A HelmChart's own source: the HelmRepository, GitRepository or Bucket it is built from.
          const chartRow = fluxKind('HelmChart');
          const chart = FluxObjectSchema.safeParse(source);
          if (source.kind === 'HelmChart' && obj.kind !== 'HelmChart' && chartRow && chart.success) {
            const chartRef = sourceRefOf(chart.data, chartRow);
            if (!('error' in chartRef)) {
              try {
                links.push(linkOf('source', await objects.read(chartRef)));
              } catch (err) {
                links.push(unreadable('source', chartRef, err));
              }
            }
          }
        } catch (err) {
          links.push(unreadable('source', ref, err));
        }
      }
    }
    const applier = appliedBy(obj);
    if (applier) {
      const ref = { kind: applier.kind, name: applier.name, namespace: applier.namespace };
      if (seen.has(`${ref.kind}/${ref.namespace}/${ref.name}`)) break; // flux-system applies itself
      managed = true;
      try {
        current = await objects.read(ref);
        links.push(linkOf('applied by', current));
        seen.add(key(current));
      } catch (err) {
        links.push(unreadable('applied by', ref, err));
      }
      continue;
    }
    // Not applied by Flux itself: maybe its controller (a Pod's ReplicaSet, a ReplicaSet's Deployment) was.
    const owner = obj.metadata?.ownerReferences?.find((o) => o.controller === true);
    if (owner && !managed) {
      const ref = { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, namespace: obj.metadata?.namespace ?? '' };
      if (seen.has(`${ref.kind}/${ref.namespace}/${ref.name}`)) break;
      try {
        current = await objects.read(ref);
        links.push(linkOf('owned by', current));
        seen.add(key(current));
      } catch (err) {
        links.push(unreadable('owned by', ref, err));
      }
    }
  }
  return { links, managed };
}

const labelWidth = 15;

/** A trace as text, one block per link, like `flux trace`, ending with the first link that is not ready. */
export function formatTrace(trace: Trace): string {
  const blocks = trace.links.map((l) => {
    const lines: string[] = [];
    const row = (label: string, value: string): void => {
      lines.push(`${`${label}:`.padEnd(labelWidth)}${value}`);
    };
    const title = l.relation === 'object' ? 'Object' : l.relation.replace(/^./, (c) => c.toUpperCase());
    row(title, `${l.kind} ${l.namespace ? `${l.namespace}/` : ''}${l.name}${l.apiVersion ? ` (${l.apiVersion})` : ''}`);
    if (l.error) {
      row('Error', l.error);
      return lines.join('\n');
    }
    for (const [k, v] of Object.entries(l.details)) row(k === 'url' ? 'URL' : k.replace(/^./, (c) => c.toUpperCase()), v);
    if (l.revision) row('Revision', l.revision);
    if (l.suspended) row('Suspended', 'true');
    if (l.status) row('Status', l.status);
    return lines.join('\n');
  });
  const start = trace.links[0];
  const what = start ? `${start.kind} ${start.namespace ? `${start.namespace}/` : ''}${start.name}` : 'the object';
  let summary: string;
  if (!trace.managed) {
    summary = `${what} is not managed by Flux: neither it nor its owners carry the labels ${OwnerLabels.map((o) => o.name).join(' or ')}.`;
  } else {
    // Flux's links are those that say whether they are suspended.
    const broken = trace.links.find(
      (l) => (l.error !== undefined && l.relation !== 'owned by') || (l.suspended !== undefined && (l.ready === false || l.suspended)),
    );
    summary = broken
      ? `First Flux link not ready: ${broken.kind} ${broken.namespace}/${broken.name}${broken.suspended ? ' (suspended)' : ''}${broken.error ? ` (${broken.error})` : broken.status ? ` (${broken.status})` : ''}.`
      : 'Every Flux link is ready.';
  }
  return `${blocks.join('\n---\n')}\n---\n${summary}`;
}
