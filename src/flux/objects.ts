// Reading Flux objects: conditions, suspension, revisions, source references. Pure functions over
// what the API server returned.
import type { Condition, FluxObject } from '../api/types.js';
import { ConditionSchema } from '../api/types.js';
import type { FluxKind } from './kinds.js';
import { fluxKind, fluxKinds, groupOf } from './kinds.js';
import { isRecord, type KubeObject } from '../kube/object.js';
import { withoutBookkeeping } from '../kube/slim.js';

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
  return isRecord(value) ? value : undefined;
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

/**
 * The status fields the operator reads of a kind: conditions, observedGeneration, the lastHandled
 * values, and where the kind's revision (and attempted revision, and the source artifact an attempt
 * used) is. A cache keeps only these.
 */
export function readStatusPaths(kind: FluxKind): string[][] {
  const paths = [['conditions'], ['observedGeneration'], ['lastHandledReconcileAt'], ['lastHandledForceAt'], ['lastHandledResetAt']];
  const { attemptedPath, sourceAttempt } = kind.revision;
  const fromKind = [
    ...kind.revision.paths,
    ...(attemptedPath ? [attemptedPath] : []),
    ...Object.values(sourceAttempt?.fields ?? {}).map((f) => f.path),
  ];
  if (kind.staticWhen) fromKind.push(kind.staticWhen.path);
  for (const path of fromKind) if (path[0] === 'status' && path.length > 1) paths.push(path.slice(1));
  return paths;
}

/**
 * The part of `value` along `paths` (keys; digit strings index arrays, keeping only that element at
 * its place). An empty path keeps the whole value.
 */
export function project(value: unknown, paths: readonly (readonly string[])[]): unknown {
  if (paths.some((p) => p.length === 0)) return value;
  const byHead = new Map<string, string[][]>();
  for (const [head, ...tail] of paths) {
    if (head === undefined) continue;
    const list = byHead.get(head) ?? [];
    list.push(tail);
    byHead.set(head, list);
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const [head, tails] of byHead) {
      const i = Number(head);
      if (Number.isInteger(i) && i >= 0 && i < value.length) out[i] = project(value[i], tails);
    }
    return out;
  }
  const obj = record(value);
  if (!obj) return value;
  const out: Record<string, unknown> = {};
  for (const [head, tails] of byHead) if (obj[head] !== undefined) out[head] = project(obj[head], tails);
  return out;
}

/**
 * What a cache keeps of a Flux object of a kind: metadata without its bookkeeping, the spec, and of
 * the status only readStatusPaths (a Kustomization's inventory and history can run to thousands of
 * entries, none of which the operator reads).
 */
export function slimFluxObject<T extends KubeObject>(kind: FluxKind): (obj: T) => T {
  const paths = readStatusPaths(kind);
  return (obj) => {
    const slim = withoutBookkeeping(obj);
    const status = record(slim['status']);
    return status ? { ...slim, status: project(status, paths) } : slim;
  };
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
export function isSuspended(obj: FluxObject, kind: Pick<FluxKind, 'suspendStyle'>): boolean {
  if (kind.suspendStyle === 'annotation') return annotationsOf(obj)[ControlPlaneReconcileAnnotation]?.toLowerCase() === 'disabled';
  return obj.spec?.['suspend'] === true;
}

/**
 * isSuspended for an object of any Flux kind, also one outside the kinds table (get_flux_instance
 * counts every Flux CRD): a kind in the table by its row, another by its API group's kinds
 * (flux-operator's annotation for fluxcd.controlplane.io), else by spec.suspend.
 */
export function isSuspendedAnyKind(obj: FluxObject): boolean {
  const group = groupOf(obj.apiVersion);
  const row = fluxKind(obj.kind);
  const sameGroup = row?.group === group ? row : fluxKinds.find((k) => k.group === group);
  return isSuspended(obj, sameGroup ?? { suspendStyle: 'spec' });
}

export function lastHandledReconcileAt(obj: FluxObject): string | undefined {
  return str(obj.status?.['lastHandledReconcileAt']);
}

/** The forceAt value Flux last acted on (helm-controller's HelmRelease records it; other kinds do not). */
export function lastHandledForceAt(obj: FluxObject): string | undefined {
  return str(obj.status?.['lastHandledForceAt']);
}

/** The resetAt value Flux last acted on (helm-controller's HelmRelease records it; other kinds do not). */
export function lastHandledResetAt(obj: FluxObject): string | undefined {
  return str(obj.status?.['lastHandledResetAt']);
}

/** The revision Flux applied or produced, from the kind's revision paths. */
export function revisionOf(obj: FluxObject, kind: FluxKind): string | undefined {
  for (const path of kind.revision.paths) {
    const value = valueAt(obj, path);
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

/** Whether Flux has nothing to reconcile for this object although its kind is reconcilable (an OCI HelmRepository). */
export function isStatic(obj: FluxObject, kind: FluxKind): boolean {
  return kind.staticWhen !== undefined && valueAt(obj, kind.staticWhen.path) === kind.staticWhen.equals;
}

/** A source reference read from an object's spec, before API version resolution. */
export interface SourceRef {
  kind: string;
  name: string;
  namespace: string;
  apiVersion?: string;
}

/**
 * Where an object's source is, as the flux CLI resolves it for `--with-source`: the first of the
 * kind's source reference fields that is set (Kustomization spec.sourceRef; HelmRelease
 * spec.chartRef, or for spec.chart.spec the HelmChart `<namespace>-<name>` in the sourceRef's
 * namespace; HelmChart spec.sourceRef). Namespaces default to the object's own. Returns an error
 * message when the spec has no usable reference.
 */
export function sourceRefOf(obj: FluxObject, kind: FluxKind): SourceRef | { error: string } {
  const ns = obj.metadata.namespace ?? '';
  if (kind.sourceRefs.length === 0) return { error: `${obj.kind} has no source` };
  const field = kind.sourceRefs.find((f) => valueAt(obj, f.path) !== undefined);
  const what = field ? field.path.join('.') : kind.sourceRefs.map((f) => f.path.join('.')).join(' or ');
  const ref = record(field ? valueAt(obj, field.path) : undefined);
  const refKind = str(ref?.['kind']);
  const name = str(ref?.['name']);
  if (!field || !refKind || !name) return { error: `${describeRef(refOf(obj))} has no ${what}` };
  const namespace = str(ref?.['namespace']) ?? ns;
  if (field.generated)
    return { kind: field.generated.kind, name: field.generated.name({ namespace: ns, name: obj.metadata.name }), namespace };
  const apiVersion = str(ref?.['apiVersion']);
  return { kind: refKind, name, namespace, ...(apiVersion ? { apiVersion } : {}) };
}

/** Whether the apiVersion belongs to the kind's API group. */
export function inGroup(apiVersion: string, kind: FluxKind): boolean {
  return groupOf(apiVersion) === kind.group;
}

/** An entry of spec.dependsOn: an object of the same kind, its namespace defaulted to the dependent's. */
export interface DependencyRef {
  name: string;
  namespace: string;
}

/**
 * The objects an object waits for, from spec.dependsOn (Kustomization, HelmRelease): same kind,
 * namespace defaulting to the object's own. Entries without a name are left out (the CRD requires
 * one). A `readyExpr` (Flux 2.7+) is Flux's own readiness check of the dependency and is not read:
 * a chain judges every step by its Ready condition.
 */
export function dependsOnOf(obj: FluxObject): DependencyRef[] {
  const raw = obj.spec?.['dependsOn'];
  if (!Array.isArray(raw)) return [];
  const ns = obj.metadata.namespace ?? '';
  return raw.flatMap((entry) => {
    const name = str(record(entry)?.['name']);
    return name ? [{ name, namespace: str(record(entry)?.['namespace']) ?? ns }] : [];
  });
}

/** Why a request may not act on an object in another namespace (DESIGN §3.2), naming the object. */
export function crossNamespaceMessage(what: string, requestNamespace: string): string {
  return `${what} is in another namespace; requests in namespace ${requestNamespace} may act only on their own namespace (the operator's --cross-namespace-from lists namespaces that may do more)`;
}
