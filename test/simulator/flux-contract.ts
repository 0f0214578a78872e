// What the Flux simulator knows of Flux: the kinds the controllers reconcile, the annotations they
// react to and how they read them. Written from the controllers' behaviour (fluxcd/pkg apis/meta,
// source-, kustomize- and helm-controller, flux-operator), deliberately NOT from the operator's
// src/flux: a simulator that shared the operator's readers would copy a bug there instead of
// catching it.

/** The annotations and their values as Flux spells them: Flux's contract, not the operator's. */
export const FluxAnnotation = {
  /** meta.ReconcileRequestAnnotation: any change of value asks for a reconcile. */
  requestedAt: 'reconcile.fluxcd.io/requestedAt',
  /** meta.ForceRequestAnnotation: honoured once, when it equals requestedAt. */
  forceAt: 'reconcile.fluxcd.io/forceAt',
  /** helm-controller's reset request, read the same way as forceAt. */
  resetAt: 'reconcile.fluxcd.io/resetAt',
  /** flux-operator's ReconcileAnnotation: 'disabled' (any case) stops reconciliation. */
  controlPlaneReconcile: 'fluxcd.controlplane.io/reconcile',
} as const;

/** Which controller family reconciles a kind: it decides how the kind is suspended. */
export type Controller = 'toolkit' | 'flux-operator';

export interface SimKind {
  kind: string;
  group: string;
  plural: string;
  controller: Controller;
  /** False for kinds the controllers never reconcile (notification-controller's Alert and Provider). */
  reconciled: boolean;
  /** Whether the controller records lastHandledForceAt and lastHandledResetAt (helm-controller's HelmRelease). */
  forceAndReset: boolean;
}

const kind = (k: string, group: string, plural: string, more: Partial<SimKind> = {}): SimKind => ({
  kind: k,
  group,
  plural,
  controller: group === 'fluxcd.controlplane.io' ? 'flux-operator' : 'toolkit',
  reconciled: true,
  forceAndReset: false,
  ...more,
});

/** The Flux kinds the simulator plays. */
export const simKinds: readonly SimKind[] = [
  kind('Kustomization', 'kustomize.toolkit.fluxcd.io', 'kustomizations'),
  kind('HelmRelease', 'helm.toolkit.fluxcd.io', 'helmreleases', { forceAndReset: true }),
  kind('GitRepository', 'source.toolkit.fluxcd.io', 'gitrepositories'),
  kind('OCIRepository', 'source.toolkit.fluxcd.io', 'ocirepositories'),
  kind('Bucket', 'source.toolkit.fluxcd.io', 'buckets'),
  kind('HelmChart', 'source.toolkit.fluxcd.io', 'helmcharts'),
  kind('HelmRepository', 'source.toolkit.fluxcd.io', 'helmrepositories'),
  kind('ResourceSet', 'fluxcd.controlplane.io', 'resourcesets'),
  kind('ResourceSetInputProvider', 'fluxcd.controlplane.io', 'resourcesetinputproviders'),
  kind('FluxInstance', 'fluxcd.controlplane.io', 'fluxinstances'),
  kind('ImageRepository', 'image.toolkit.fluxcd.io', 'imagerepositories'),
  kind('ImagePolicy', 'image.toolkit.fluxcd.io', 'imagepolicies'),
  kind('ImageUpdateAutomation', 'image.toolkit.fluxcd.io', 'imageupdateautomations'),
  kind('Receiver', 'notification.toolkit.fluxcd.io', 'receivers'),
  kind('Alert', 'notification.toolkit.fluxcd.io', 'alerts', { reconciled: false }),
  kind('Provider', 'notification.toolkit.fluxcd.io', 'providers', { reconciled: false }),
];

/** A Flux object as the API server returns it; only what the simulator reads is typed. */
export interface SimObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    generation?: number;
    annotations?: Record<string, string>;
    deletionTimestamp?: unknown;
    resourceVersion?: string;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/** The object as a SimObject, or undefined when it has no name (nothing a controller would see). */
export function asSimObject(raw: unknown): SimObject | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const obj = raw as Partial<SimObject>;
  return typeof obj.metadata?.name === 'string' ? (obj as SimObject) : undefined;
}

function annotation(obj: SimObject, key: string): string | undefined {
  return obj.metadata.annotations?.[key];
}

/**
 * The reconcile request token, as meta.ReconcileAnnotationValue reads it: the value of
 * requestedAt when the annotation is there (an empty value is a value too).
 */
export function requestToken(obj: SimObject): string | undefined {
  return annotation(obj, FluxAnnotation.requestedAt);
}

/** status.lastHandledReconcileAt (meta.ReconcileRequestStatus); the Go field is omitempty, so '' is none. */
export function lastHandledToken(obj: SimObject): string {
  const value = obj.status?.['lastHandledReconcileAt'];
  return typeof value === 'string' ? value : '';
}

/**
 * Whether the controller skips the object: the toolkit controllers when spec.suspend is true
 * (a Go bool: only JSON true counts), flux-operator when its reconcile annotation is 'disabled'
 * in any case (strings.ToLower(val) == "disabled").
 */
export function suspended(obj: SimObject, k: SimKind): boolean {
  if (k.controller === 'flux-operator') return annotation(obj, FluxAnnotation.controlPlaneReconcile)?.toLowerCase() === 'disabled';
  return obj.spec?.['suspend'] === true;
}

/**
 * source-controller leaves HelmRepositories of type oci alone: they are static, fetched by the
 * HelmChart that uses them.
 */
export function staticSource(obj: SimObject, k: SimKind): boolean {
  return k.kind === 'HelmRepository' && obj.spec?.['type'] === 'oci';
}

/**
 * The last handled value of forceAt or resetAt after a reconcile, as meta.HandleAnnotationRequest
 * leaves it: whenever the annotation is there its value becomes the last handled one, whether or
 * not it equalled requestedAt (and so was acted on).
 */
export function lastHandledRequest(obj: SimObject, key: string, lastHandledField: string): string | undefined {
  const value = annotation(obj, key);
  if (value !== undefined) return value;
  const previous = obj.status?.[lastHandledField];
  return typeof previous === 'string' ? previous : undefined;
}

/** The Ready condition's observedGeneration (every kind has one; flux-operator's have no status.observedGeneration). */
export function readyGeneration(obj: SimObject): number | undefined {
  const conditions = obj.status?.['conditions'];
  if (!Array.isArray(conditions)) return undefined;
  const ready = (conditions as { type?: unknown; observedGeneration?: unknown }[]).find((c) => c.type === 'Ready');
  return typeof ready?.observedGeneration === 'number' ? ready.observedGeneration : undefined;
}
