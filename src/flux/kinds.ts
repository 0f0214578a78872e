// The Flux kinds the operator acts on: one row each. Adding a kind is adding a row.

/** How an object of a kind is suspended: Flux toolkit's spec.suspend, or flux-operator's annotation. */
export type SuspendStyle = 'spec' | 'annotation';

export interface FluxKind {
  kind: string;
  group: string;
  /** Plural resource name, for REST paths and RBAC. */
  plural: string;
  /** Served versions the operator understands, newest first; the cluster's preferred one wins. */
  versions: readonly string[];
  suspendStyle: SuspendStyle;
  /** False for kinds with nothing to reconcile (Alert, Provider): Reconcile is UnsupportedAction. */
  reconcilable: boolean;
  /** Whether Reconcile may set reconcile.fluxcd.io/forceAt. */
  force: boolean;
  /** Whether Reconcile may set reconcile.fluxcd.io/resetAt. */
  reset: boolean;
  /** Whether the kind has a source that withSource reconciles first. */
  hasSource: boolean;
  /** Where the revision Flux applied or produced is read from, first present wins. */
  revisionPaths: readonly (readonly string[])[];
}

const sourceGroup = 'source.toolkit.fluxcd.io';
const controlPlaneGroup = 'fluxcd.controlplane.io';
const imageGroup = 'image.toolkit.fluxcd.io';
const notificationGroup = 'notification.toolkit.fluxcd.io';

const artifactRevision = [['status', 'artifact', 'revision']] as const;

function row(r: Partial<FluxKind> & Pick<FluxKind, 'kind' | 'group' | 'plural' | 'versions'>): FluxKind {
  return {
    suspendStyle: r.group === controlPlaneGroup ? 'annotation' : 'spec',
    reconcilable: true,
    force: false,
    reset: false,
    hasSource: false,
    revisionPaths: [],
    ...r,
  };
}

/** Every supported kind. */
export const fluxKinds: readonly FluxKind[] = [
  row({
    kind: 'Kustomization',
    group: 'kustomize.toolkit.fluxcd.io',
    plural: 'kustomizations',
    versions: ['v1', 'v1beta2'],
    hasSource: true,
    revisionPaths: [['status', 'lastAppliedRevision']],
  }),
  row({
    kind: 'HelmRelease',
    group: 'helm.toolkit.fluxcd.io',
    plural: 'helmreleases',
    versions: ['v2', 'v2beta2', 'v2beta1'],
    hasSource: true,
    force: true,
    reset: true,
    revisionPaths: [
      ['status', 'history', '0', 'chartVersion'],
      ['status', 'lastAttemptedRevision'],
    ],
  }),
  row({
    kind: 'GitRepository',
    group: sourceGroup,
    plural: 'gitrepositories',
    versions: ['v1', 'v1beta2'],
    revisionPaths: artifactRevision,
  }),
  row({
    kind: 'OCIRepository',
    group: sourceGroup,
    plural: 'ocirepositories',
    versions: ['v1', 'v1beta2'],
    revisionPaths: artifactRevision,
  }),
  row({ kind: 'Bucket', group: sourceGroup, plural: 'buckets', versions: ['v1', 'v1beta2'], revisionPaths: artifactRevision }),
  row({ kind: 'HelmChart', group: sourceGroup, plural: 'helmcharts', versions: ['v1', 'v1beta2'], revisionPaths: artifactRevision }),
  row({
    kind: 'HelmRepository',
    group: sourceGroup,
    plural: 'helmrepositories',
    versions: ['v1', 'v1beta2'],
    revisionPaths: artifactRevision,
  }),
  row({
    kind: 'ResourceSet',
    group: controlPlaneGroup,
    plural: 'resourcesets',
    versions: ['v1'],
    revisionPaths: [['status', 'lastAppliedRevision']],
  }),
  row({
    kind: 'ResourceSetInputProvider',
    group: controlPlaneGroup,
    plural: 'resourcesetinputproviders',
    versions: ['v1'],
    force: true,
    revisionPaths: [['status', 'lastExportedRevision']],
  }),
  row({
    kind: 'FluxInstance',
    group: controlPlaneGroup,
    plural: 'fluxinstances',
    versions: ['v1'],
    force: true,
    revisionPaths: [['status', 'lastAppliedRevision']],
  }),
  row({
    kind: 'ImageRepository',
    group: imageGroup,
    plural: 'imagerepositories',
    versions: ['v1', 'v1beta2'],
    revisionPaths: [['status', 'lastScanResult', 'revision']],
  }),
  row({
    kind: 'ImagePolicy',
    group: imageGroup,
    plural: 'imagepolicies',
    versions: ['v1', 'v1beta2'],
    revisionPaths: [
      ['status', 'latestRef', 'tag'],
      ['status', 'latestImage'],
    ],
  }),
  row({
    kind: 'ImageUpdateAutomation',
    group: imageGroup,
    plural: 'imageupdateautomations',
    versions: ['v1', 'v1beta2'],
    revisionPaths: [['status', 'lastPushCommit']],
  }),
  row({ kind: 'Receiver', group: notificationGroup, plural: 'receivers', versions: ['v1'] }),
  row({ kind: 'Alert', group: notificationGroup, plural: 'alerts', versions: ['v1beta3', 'v1beta2'], reconcilable: false }),
  row({ kind: 'Provider', group: notificationGroup, plural: 'providers', versions: ['v1beta3', 'v1beta2'], reconcilable: false }),
];

const byKind = new Map(fluxKinds.map((k) => [k.kind, k]));

/** The row of a kind, or undefined when the operator does not act on it. */
export function fluxKind(kind: string): FluxKind | undefined {
  return byKind.get(kind);
}

/** The kinds allowed as a Kustomization's spec.sourceRef or a HelmChart's spec.sourceRef. */
export const sourceKinds = ['GitRepository', 'OCIRepository', 'Bucket', 'HelmRepository', 'HelmChart'] as const;

/** The group part of an apiVersion ('' for the core group). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}
