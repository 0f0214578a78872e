// get_flux_instance: Flux's health in one answer — the Flux Operator's FluxInstance and FluxReport
// if present, the controller Deployments and their versions, the Flux CRDs installed, and how many
// objects of each Flux kind are ready, failing or suspended, naming the failing ones.
import * as k8s from '@kubernetes/client-node';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ConditionStatus, ReadyCondition } from '../../api/conditions.js';
import { FluxObjectSchema, type Condition, type FluxObject } from '../../api/types.js';
import { conditionsOf, findCondition, isSuspendedAnyKind, valueAt } from '../../flux/objects.js';
import { isForbidden } from '../../kube/errors.js';
import { isRecord, type KubeObject } from '../../kube/object.js';
import { listFluxCrds, preferredVersion, type FluxCrd } from '../flux-crds.js';
import { KubeReader, resourcePath } from '../kube-reader.js';
import { registerTool, describeFailure, type ToolContext } from '../tool.js';

/** Where Flux's controllers run by default; elsewhere they carry the part-of label. */
export const FluxNamespace = 'flux-system';
export const PartOfFluxSelector = 'app.kubernetes.io/part-of=flux';
/** Failing objects named per kind, newest failure first. */
export const MaxNamedFailures = 20;
/** A failure message is cut to this many characters. */
const MaxMessage = 300;
/** Objects read per kind: a list is paged until this many. */
const MaxObjectsPerKind = 10_000;

export interface Failure {
  /** namespace/name */
  object: string;
  reason: string;
  message: string;
  since?: string;
}

export interface KindCounts {
  kind: string;
  apiVersion: string;
  total: number;
  ready: number;
  failing: number;
  suspended: number;
  /** Reconciling (Ready=Unknown) or without a Ready condition. */
  other: number;
  failures: Failure[];
  /** Why the objects could not be counted. */
  error?: string;
}

export interface Controller {
  namespace: string;
  name: string;
  images: string[];
  readyReplicas: number;
  replicas: number;
}

export interface InstanceSummary {
  kind: string;
  object: string;
  ready: string;
  details: string[];
}

export interface CrdSummary {
  kind: string;
  group: string;
  /** e.g. v1 (storage), v1beta2 (deprecated) */
  versions: string[];
}

export interface FluxHealth {
  /** Whether the Flux Operator's FluxInstance CRD is installed. */
  operatorCrds: boolean;
  instances: InstanceSummary[];
  controllers: Controller[];
  crds: CrdSummary[];
  kinds: KindCounts[];
}

function readyCondition(obj: FluxObject): Condition | undefined {
  return findCondition(conditionsOf(obj), ReadyCondition);
}

/** An object read off the wire as a Flux object, or undefined when it is not shaped like one. */
function asFluxObject(obj: KubeObject): FluxObject | undefined {
  const parsed = FluxObjectSchema.safeParse(obj);
  return parsed.success ? parsed.data : undefined;
}

function oneLine(text: string, max = MaxMessage): string {
  const flat = text.trim().replace(/\s*\n\s*/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * Counts a kind's objects by state, read as the operator reads Flux objects (suspended by the kind's
 * own rule); failing ones (Ready=False, not suspended) are named, newest failure first.
 */
export function countObjects(kind: string, apiVersion: string, objects: readonly KubeObject[], maxNamed = MaxNamedFailures): KindCounts {
  const counts: KindCounts = { kind, apiVersion, total: objects.length, ready: 0, failing: 0, suspended: 0, other: 0, failures: [] };
  const failures: Failure[] = [];
  for (const raw of objects) {
    const obj = asFluxObject({ apiVersion, kind, ...raw });
    const ready = obj && readyCondition(obj);
    if (!obj) counts.other++;
    else if (isSuspendedAnyKind(obj)) counts.suspended++;
    else if (ready?.status === ConditionStatus.True) counts.ready++;
    else if (ready?.status === ConditionStatus.False) {
      counts.failing++;
      const ns = obj.metadata.namespace;
      failures.push({
        object: `${ns ? `${ns}/` : ''}${obj.metadata.name}`,
        reason: ready.reason ?? 'Unknown',
        message: oneLine(ready.message ?? ''),
        ...(ready.lastTransitionTime ? { since: ready.lastTransitionTime } : {}),
      });
    } else counts.other++;
  }
  counts.failures = failures.sort((a, b) => (b.since ?? '').localeCompare(a.since ?? '')).slice(0, maxNamed);
  return counts;
}

function summarizeInstance(obj: FluxObject): InstanceSummary {
  const ready = readyCondition(obj);
  const details: string[] = [];
  const version = valueAt(obj, ['spec', 'distribution', 'version']);
  if (typeof version === 'string') details.push(`distribution version ${version}`);
  for (const key of ['lastAppliedRevision', 'lastAttemptedRevision']) {
    const value = valueAt(obj, ['status', key]);
    if (typeof value === 'string') details.push(`${key} ${value}`);
  }
  if (obj.kind === 'FluxReport') {
    const status = valueAt(obj, ['spec', 'distribution', 'status']);
    if (typeof status === 'string') details.push(`distribution status: ${oneLine(status)}`);
    const components = valueAt(obj, ['spec', 'components']);
    if (Array.isArray(components)) {
      const notReady = components.filter((c) => isRecord(c) && c['ready'] !== true).map((c) => String(valueAt(c, ['name'])));
      details.push(
        `${components.length - notReady.length}/${components.length} components ready${notReady.length ? ` (not ready: ${notReady.join(', ')})` : ''}`,
      );
    }
    const sync = valueAt(obj, ['spec', 'sync']);
    if (isRecord(sync))
      details.push(
        `sync ${sync['ready'] === true ? 'ready' : 'not ready'}${typeof sync['status'] === 'string' ? `: ${oneLine(sync['status'])}` : ''}`,
      );
  }
  const ns = obj.metadata.namespace;
  return {
    kind: obj.kind,
    object: `${ns ? `${ns}/` : ''}${obj.metadata.name}`,
    ready: ready
      ? `Ready=${ready.status}${ready.reason ? ` (${ready.reason})` : ''}${ready.message ? `: ${oneLine(ready.message)}` : ''}`
      : 'no Ready condition',
    details,
  };
}

function controllerOf(d: k8s.V1Deployment): Controller {
  return {
    namespace: d.metadata?.namespace ?? '',
    name: d.metadata?.name ?? '',
    images: d.spec?.template.spec?.containers.map((c) => c.image ?? '?') ?? [],
    readyReplicas: d.status?.readyReplicas ?? 0,
    replicas: d.spec?.replicas ?? 1,
  };
}

/** Every object of a CRD's kind, cluster-wide, through the preferred version (paged, bounded). */
async function listAll(reader: KubeReader, crd: FluxCrd, version: string): Promise<KubeObject[]> {
  const resource = { apiVersion: `${crd.group}/${version}`, kind: crd.kind, plural: crd.plural, namespaced: false };
  const objects: KubeObject[] = [];
  let token: string | undefined;
  do {
    const page = await reader.list(resourcePath(resource), { limit: 500, continue: token });
    objects.push(...page.items.map((o) => ({ apiVersion: resource.apiVersion, kind: crd.kind, ...o })));
    token = page.metadata?.continue;
  } while (token && objects.length < MaxObjectsPerKind);
  return objects;
}

/** Reads everything get_flux_instance reports; a kind that cannot be read is reported, not fatal. */
export async function readFluxHealth(reader: KubeReader, apps: k8s.AppsV1Api): Promise<FluxHealth> {
  const crds = await listFluxCrds(reader);
  const [inNamespace, labelled] = await Promise.all([
    apps.listNamespacedDeployment({ namespace: FluxNamespace }),
    apps.listDeploymentForAllNamespaces({ labelSelector: PartOfFluxSelector }),
  ]);
  const controllers = new Map<string, Controller>();
  for (const d of [...inNamespace.items, ...labelled.items])
    controllers.set(`${d.metadata?.namespace}/${d.metadata?.name}`, controllerOf(d));

  const kinds = await Promise.all(
    crds.map(async (crd): Promise<{ counts: KindCounts; objects: KubeObject[] }> => {
      const version = preferredVersion(crd);
      const apiVersion = `${crd.group}/${version ?? '?'}`;
      if (!version) return { counts: { ...countObjects(crd.kind, apiVersion, []), error: 'no served version' }, objects: [] };
      try {
        const objects = await listAll(reader, crd, version);
        return { counts: countObjects(crd.kind, apiVersion, objects), objects };
      } catch (err) {
        const error = isForbidden(err)
          ? `not readable: the MCP server's ServiceAccount may not list ${crd.plural}.${crd.group} (see config/rbac)`
          : describeFailure(err);
        return { counts: { ...countObjects(crd.kind, apiVersion, []), error }, objects: [] };
      }
    }),
  );
  const instances = kinds
    .filter((k) => k.counts.kind === 'FluxInstance' || k.counts.kind === 'FluxReport')
    .flatMap((k) => k.objects.flatMap((o) => asFluxObject(o) ?? []).map(summarizeInstance));

  return {
    operatorCrds: crds.some((c) => c.kind === 'FluxInstance' && c.group === 'fluxcd.controlplane.io'),
    instances,
    controllers: [...controllers.values()].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`)),
    crds: crds.map((c) => ({
      kind: c.kind,
      group: c.group,
      versions: c.versions.map(
        (v) => `${v.name}${v.storage ? ' (storage)' : ''}${!v.served ? ' (not served)' : v.deprecated ? ' (deprecated)' : ''}`,
      ),
    })),
    kinds: kinds.map((k) => k.counts),
  };
}

/** The text of a get_flux_instance answer. */
export function formatFluxHealth(h: FluxHealth): string {
  const lines: string[] = [];
  const ready = h.controllers.filter((c) => c.readyReplicas >= c.replicas && c.replicas > 0);
  const failing = h.kinds.reduce((n, k) => n + k.failing, 0);
  const total = h.kinds.reduce((n, k) => n + k.total, 0);
  lines.push(
    `Flux: ${h.controllers.length === 0 ? 'no controller Deployments' : `${ready.length}/${h.controllers.length} controller Deployments ready`}; ` +
      `${h.crds.length} Flux CRDs installed; ${total} Flux objects, ${failing} failing.`,
  );

  lines.push('', 'Flux Operator:');
  if (!h.operatorCrds) lines.push('  not installed (no FluxInstance CRD)');
  else if (h.instances.length === 0) lines.push('  CRDs installed, but no FluxInstance or FluxReport exists');
  for (const i of h.instances) {
    lines.push(`  ${i.kind} ${i.object}: ${i.ready}`);
    for (const d of i.details) lines.push(`    ${d}`);
  }

  lines.push('', 'Controllers:');
  if (h.controllers.length === 0) {
    lines.push(
      `  none: no Deployment in namespace ${FluxNamespace} nor labelled ${PartOfFluxSelector}. ` +
        'Unless the controllers run outside the cluster, nothing reconciles the Flux objects below; their status is what was last written to them.',
    );
  }
  for (const c of h.controllers) lines.push(`  ${c.namespace}/${c.name}: ${c.readyReplicas}/${c.replicas} ready; ${c.images.join(', ')}`);

  lines.push('', `Flux CRDs (${h.crds.length}):`);
  if (h.crds.length === 0) lines.push('  none: Flux is not installed in this cluster');
  for (const c of h.crds) lines.push(`  ${c.kind} (${c.group}): ${c.versions.join(', ')}`);

  if (h.kinds.length > 0) lines.push('', 'Flux objects, cluster-wide:');
  const empty = h.kinds.filter((k) => k.total === 0 && !k.error);
  for (const k of h.kinds) {
    if (k.total === 0 && !k.error) continue;
    if (k.error) {
      lines.push(`  ${k.kind} (${k.apiVersion}): ${k.error}`);
      continue;
    }
    const parts = [
      `${k.ready} ready`,
      `${k.failing} failing`,
      `${k.suspended} suspended`,
      ...(k.other > 0 ? [`${k.other} reconciling or without status`] : []),
    ];
    lines.push(`  ${k.kind} (${k.apiVersion}): ${k.total} total, ${parts.join(', ')}`);
    for (const f of k.failures) lines.push(`    failing: ${f.object}: ${f.reason}: ${f.message}`);
    if (k.failing > k.failures.length)
      lines.push(`    … and ${k.failing - k.failures.length} more failing; list them with get_kubernetes_resources`);
  }
  if (empty.length > 0) lines.push(`  no objects: ${empty.map((k) => k.kind).join(', ')}`);
  return lines.join('\n');
}

/** Registers get_flux_instance. */
export function registerFluxInstanceTools(server: McpServer, ctx: ToolContext, kc: k8s.KubeConfig): void {
  const reader = new KubeReader(kc);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  registerTool(server, ctx, {
    name: 'get_flux_instance',
    title: 'Get Flux health',
    description:
      "Flux's health in one answer: the Flux Operator's FluxInstance and FluxReport (if installed), the Flux controller Deployments with their image versions and ready replicas, " +
      "the Flux CRDs installed and their versions, and per Flux kind how many objects are ready, failing or suspended cluster-wide, naming the failing ones with Flux's reason and message " +
      `(at most ${MaxNamedFailures} per kind). Start here when something in Flux looks wrong; then inspect objects with get_kubernetes_resources and events_list.`,
    input: {},
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    handler: async () => {
      const health = await readFluxHealth(reader, apps);
      return { text: formatFluxHealth(health), structured: { ...health } };
    },
  });
}
