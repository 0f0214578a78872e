// Reading Flux objects: conditions, suspension, revisions, source references. Pure functions over
// what the API server returned.
import type { Condition, FluxObject } from '../api/types.js';
import { ConditionSchema } from '../api/types.js';
import type { FluxKind } from './kinds.js';
import { groupOf } from './kinds.js';

/** Flux's reconcile request annotations (fluxcd/pkg apis/meta). */
export const RequestedAtAnnotation = 'reconcile.fluxcd.io/requestedAt';
export const ForceAtAnnotation = 'reconcile.fluxcd.io/forceAt';
export const ResetAtAnnotation = 'reconcile.fluxcd.io/resetAt';
/** flux-operator's switch for its own kinds: 'disabled' suspends, 'enabled' resumes. */
export const ControlPlaneReconcileAnnotation = 'fluxcd.controlplane.io/reconcile';

/** A reference to a Flux object, fully qualified. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
}

/** `Kind namespace/name`, the way messages name an object. */
export function describeRef(ref: { kind?: string | undefined; name?: string | undefined; namespace?: string | undefined }): string {
  return `${ref.kind ?? '?'} ${ref.namespace ?? ''}/${ref.name ?? '?'}`;
}

/** A stable key for an object: group, kind, namespace and name (versions don't matter). */
export function objectKey(ref: { apiVersion?: string | undefined; kind: string; namespace?: string | undefined; name: string }): string {
  return `${groupOf(ref.apiVersion ?? '')}/${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
}

export function refOf(obj: FluxObject): ObjectRef {
  return { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace ?? '' };
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The value at a path of keys (array indexes as digit strings), or undefined. */
export function valueAt(root: unknown, path: readonly string[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (Array.isArray(cur)) cur = cur[Number(key)];
    else cur = record(cur)?.[key];
    if (cur === undefined) return undefined;
  }
  return cur;
}

/** The object's status conditions; malformed entries are left out. */
export function conditionsOf(obj: FluxObject): Condition[] {
  const raw = obj.status?.['conditions'];
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((c) => {
    const parsed = ConditionSchema.safeParse(c);
    return parsed.success ? [parsed.data] : [];
  });
}

export function findCondition(conditions: readonly Condition[], type: string): Condition | undefined {
  return conditions.find((c) => c.type === type);
}

export function annotationsOf(obj: FluxObject): Record<string, string> {
  return obj.metadata.annotations ?? {};
}

/**
 * Whether Flux ignores this object: spec.suspend, or flux-operator's reconcile annotation disabled
 * (flux-operator reads the value in any case: 'Disabled' disables too).
 */
export function isSuspended(obj: FluxObject, kind: FluxKind): boolean {
  if (kind.suspendStyle === 'annotation') return annotationsOf(obj)[ControlPlaneReconcileAnnotation]?.toLowerCase() === 'disabled';
  return obj.spec?.['suspend'] === true;
}

export function lastHandledReconcileAt(obj: FluxObject): string | undefined {
  return str(obj.status?.['lastHandledReconcileAt']);
}

/** The revision Flux applied or produced, from the kind's revision paths. */
export function revisionOf(obj: FluxObject, kind: FluxKind): string | undefined {
  for (const path of kind.revisionPaths) {
    const value = valueAt(obj, path);
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

/** OCI HelmRepositories are static: Flux has nothing to reconcile for them. */
export function isStatic(obj: FluxObject): boolean {
  return obj.kind === 'HelmRepository' && obj.spec?.['type'] === 'oci';
}

/** A source reference read from an object's spec, before API version resolution. */
export interface SourceRef {
  kind: string;
  name: string;
  namespace: string;
  apiVersion?: string;
}

/**
 * Where an object's source is, as the flux CLI resolves it for `--with-source`:
 * Kustomization spec.sourceRef; HelmRelease spec.chartRef, or for spec.chart.spec the HelmChart
 * `<namespace>-<name>` in the sourceRef's namespace; HelmChart spec.sourceRef. Namespaces default
 * to the object's own. Returns an error message when the spec has no usable reference.
 */
export function sourceRefOf(obj: FluxObject): SourceRef | { error: string } {
  const ns = obj.metadata.namespace ?? '';
  const spec = obj.spec ?? {};
  const fromRef = (raw: unknown, what: string): SourceRef | { error: string } => {
    const ref = record(raw);
    const kind = str(ref?.['kind']);
    const name = str(ref?.['name']);
    if (!kind || !name) return { error: `${describeRef(refOf(obj))} has no ${what}` };
    const apiVersion = str(ref?.['apiVersion']);
    return { kind, name, namespace: str(ref?.['namespace']) ?? ns, ...(apiVersion ? { apiVersion } : {}) };
  };
  switch (obj.kind) {
    case 'Kustomization':
    case 'HelmChart':
      return fromRef(spec['sourceRef'], 'spec.sourceRef');
    case 'HelmRelease': {
      if (spec['chartRef'] !== undefined) return fromRef(spec['chartRef'], 'spec.chartRef');
      const chartSpec = fromRef(valueAt(spec, ['chart', 'spec', 'sourceRef']), 'spec.chartRef or spec.chart.spec.sourceRef');
      if ('error' in chartSpec) return chartSpec;
      return { kind: 'HelmChart', name: `${ns}-${obj.metadata.name}`, namespace: chartSpec.namespace };
    }
    default:
      return { error: `${obj.kind} has no source` };
  }
}

/** Whether the apiVersion belongs to the kind's API group. */
export function inGroup(apiVersion: string, kind: FluxKind): boolean {
  return groupOf(apiVersion) === kind.group;
}
