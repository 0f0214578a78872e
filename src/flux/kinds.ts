// The Flux kinds the operator acts on: one row each. Adding a kind is adding a row: the protocol,
// the reconciler and the MCP adapter read the columns, and `make generate` writes the CRD's kind
// enum and CEL rules and the RBAC rules from them (src/codegen).

/** How an object of a kind is suspended: Flux toolkit's spec.suspend, or flux-operator's annotation. */
export type SuspendStyle = 'spec' | 'annotation';

/** A path of keys into an object (array indexes as digit strings). */
export type FieldPath = readonly string[];

/**
 * Where a kind keeps a reference to its source: a `{kind, name, namespace?, apiVersion?}` object at
 * `path`. With `generated`, the source is not the referenced object but one the kind's controller
 * generates from it (helm-controller's HelmChart for spec.chart): that object's kind, and its name
 * from the owner's namespace and name; it lives in the reference's namespace.
 */
export interface SourceRefField {
  path: FieldPath;
  generated?: { kind: string; name: (owner: { namespace: string; name: string }) => string };
}

/** Where the revision Flux applied or produced is read, and how messages name it. */
export interface RevisionColumn {
  /** First present wins. */
  paths: readonly FieldPath[];
  /** The verb in "applied revision X" / "fetched revision X". */
  verb: 'applied' | 'fetched';
  /**
   * The revision of the attempt in flight, for kinds whose controller writes it before the applied
   * one: Ready=True counts once the first of `paths` equals it (the conditions are patched before
   * the other status fields, so Ready=True may be seen before the applied revision).
   */
  attemptedPath?: FieldPath;
  /**
   * For kinds that apply their source's artifact: how to tell which artifact an attempt used. With
   * it, a withSource request counts Flux's verdict only for the revision its source step fetched:
   * the controller reads the source from its own cache, which may not hold the new artifact yet
   * when it handles the request, and reconciles again when it does.
   */
  sourceAttempt?: SourceAttempt;
}

/**
 * Where a kind records the source artifact its last attempt used, the way its controller tells
 * whether an object is up to date with its source (kustomize-controller's and helm-controller's
 * watches of their sources).
 */
export interface SourceAttempt {
  /**
   * By the source's kind ('*': any): the status field naming the artifact a success used, and how
   * the source's artifact revision reads in it ('digest': its part after '@', as helm-controller's
   * lastAttemptedRevisionDigest holds an OCI artifact's).
   */
  fields: Readonly<Record<string, { path: FieldPath; as?: 'digest' }>>;
  /**
   * How the Reconciling condition Flux keeps beside a failure names the revision of the attempt,
   * its first capture group. Without it, a failure is reported as it is.
   */
  failureIn?: RegExp;
}

/** A spec field whose value makes an object static: Flux has nothing to reconcile for it. */
export interface StaticWhen {
  path: FieldPath;
  equals: string;
  /** How messages describe such an object, e.g. 'a HelmRepository of type oci'. */
  described: string;
}

export interface FluxKind {
  kind: string;
  group: string;
  /** Plural resource name, for REST paths and RBAC. */
  plural: string;
  /** kubectl's short names for the kind, from its CRD. */
  shortNames: readonly string[];
  /** Served versions the operator understands, newest first; the cluster's preferred one wins. */
  versions: readonly string[];
  suspendStyle: SuspendStyle;
  /** False for kinds with nothing to reconcile (Alert, Provider): Reconcile is UnsupportedAction. */
  reconcilable: boolean;
  /** Objects of the kind that are static despite being reconcilable (an OCI HelmRepository). */
  staticWhen?: StaticWhen;
  /** Whether Reconcile may set reconcile.fluxcd.io/forceAt. */
  force: boolean;
  /** Whether Reconcile may set reconcile.fluxcd.io/resetAt. */
  reset: boolean;
  /** Whether Reconcile may reconcile the kind's source first (withSource); needs `sourceRefs`. */
  withSource: boolean;
  /**
   * Where the object's source is, first present wins, as the flux CLI resolves it for
   * `--with-source`. A source's own source is reconciled before it (a HelmChart's repository).
   */
  sourceRefs: readonly SourceRefField[];
  /**
   * Whether the kind's spec.dependsOn names objects of the same kind that Flux reconciles first:
   * a Reconcile may follow that graph (withDependencies, withDependents).
   */
  dependsOn: boolean;
  revision: RevisionColumn;
}

/** A Flux kind the operator does not act on but the MCP adapter reads. */
export interface FluxReadOnlyKind {
  kind: string;
  group: string;
  plural: string;
}

/** Flux's sources: source-controller's group. */
export const SourceGroup = 'source.toolkit.fluxcd.io';
const controlPlaneGroup = 'fluxcd.controlplane.io';
const imageGroup = 'image.toolkit.fluxcd.io';
const notificationGroup = 'notification.toolkit.fluxcd.io';

const artifactRevision: RevisionColumn = { paths: [['status', 'artifact', 'revision']], verb: 'fetched' };
const sourceRef: SourceRefField = { path: ['spec', 'sourceRef'] };

type RowInput = Partial<FluxKind> & Pick<FluxKind, 'kind' | 'group' | 'plural' | 'versions'>;

/** A row with the common defaults: toolkit suspension, reconcilable, no options, no source. */
export function row(r: RowInput): FluxKind {
  return {
    shortNames: [],
    suspendStyle: r.group === controlPlaneGroup ? 'annotation' : 'spec',
    reconcilable: true,
    force: false,
    reset: false,
    withSource: false,
    sourceRefs: [],
    dependsOn: false,
    revision: { paths: [], verb: 'fetched' },
    ...r,
  };
}

/** Every supported kind, in the order the CRD's enum lists them. */
export const fluxKinds: readonly FluxKind[] = [
  row({
    kind: 'Kustomization',
    group: 'kustomize.toolkit.fluxcd.io',
    plural: 'kustomizations',
    shortNames: ['ks'],
    versions: ['v1', 'v1beta2'],
    withSource: true,
    sourceRefs: [sourceRef],
    dependsOn: true,
    revision: {
      paths: [['status', 'lastAppliedRevision']],
      verb: 'applied',
      attemptedPath: ['status', 'lastAttemptedRevision'],
      sourceAttempt: {
        fields: { '*': { path: ['status', 'lastAttemptedRevision'] } },
        // kustomize-controller's progress messages: "Building manifests for revision main@sha1:… with a timeout of 5m0s".
        failureIn: /\bfor revision (\S+) with a timeout\b/,
      },
    },
  }),
  row({
    kind: 'HelmRelease',
    group: 'helm.toolkit.fluxcd.io',
    plural: 'helmreleases',
    shortNames: ['hr'],
    versions: ['v2', 'v2beta2', 'v2beta1'],
    withSource: true,
    force: true,
    reset: true,
    dependsOn: true,
    sourceRefs: [
      { path: ['spec', 'chartRef'] },
      { path: ['spec', 'chart', 'spec', 'sourceRef'], generated: { kind: 'HelmChart', name: (o) => `${o.namespace}-${o.name}` } },
    ],
    revision: {
      paths: [
        ['status', 'history', '0', 'chartVersion'],
        ['status', 'lastAttemptedRevision'],
      ],
      verb: 'applied',
      // helm-controller's watches: a HelmChart's revision is the chart version; an OCIRepository's
      // is tag@digest, and the release records the digest. A failure may come before the chart
      // was loaded (the field then names the one before): it is reported as it is.
      sourceAttempt: {
        fields: {
          HelmChart: { path: ['status', 'lastAttemptedRevision'] },
          OCIRepository: { path: ['status', 'lastAttemptedRevisionDigest'], as: 'digest' },
        },
      },
    },
  }),
  row({
    kind: 'GitRepository',
    group: SourceGroup,
    plural: 'gitrepositories',
    shortNames: ['gitrepo'],
    versions: ['v1', 'v1beta2'],
    revision: artifactRevision,
  }),
  row({
    kind: 'OCIRepository',
    group: SourceGroup,
    plural: 'ocirepositories',
    shortNames: ['ocirepo'],
    versions: ['v1', 'v1beta2'],
    revision: artifactRevision,
  }),
  row({ kind: 'Bucket', group: SourceGroup, plural: 'buckets', versions: ['v1', 'v1beta2'], revision: artifactRevision }),
  row({
    kind: 'HelmChart',
    group: SourceGroup,
    plural: 'helmcharts',
    shortNames: ['hc'],
    versions: ['v1', 'v1beta2'],
    sourceRefs: [sourceRef],
    revision: artifactRevision,
  }),
  row({
    kind: 'HelmRepository',
    group: SourceGroup,
    plural: 'helmrepositories',
    shortNames: ['helmrepo'],
    versions: ['v1', 'v1beta2'],
    staticWhen: { path: ['spec', 'type'], equals: 'oci', described: 'a HelmRepository of type oci' },
    revision: artifactRevision,
  }),
  row({
    kind: 'ResourceSet',
    group: controlPlaneGroup,
    plural: 'resourcesets',
    shortNames: ['rset'],
    versions: ['v1'],
    revision: { paths: [['status', 'lastAppliedRevision']], verb: 'applied' },
  }),
  row({
    kind: 'ResourceSetInputProvider',
    group: controlPlaneGroup,
    plural: 'resourcesetinputproviders',
    shortNames: ['rsip'],
    versions: ['v1'],
    force: true,
    revision: { paths: [['status', 'lastExportedRevision']], verb: 'fetched' },
  }),
  row({
    kind: 'FluxInstance',
    group: controlPlaneGroup,
    plural: 'fluxinstances',
    versions: ['v1'],
    force: true,
    revision: { paths: [['status', 'lastAppliedRevision']], verb: 'applied' },
  }),
  row({
    kind: 'ImageRepository',
    group: imageGroup,
    plural: 'imagerepositories',
    shortNames: ['imgrepo', 'imagerepo'],
    versions: ['v1', 'v1beta2'],
    revision: { paths: [['status', 'lastScanResult', 'revision']], verb: 'fetched' },
  }),
  row({
    kind: 'ImagePolicy',
    group: imageGroup,
    plural: 'imagepolicies',
    shortNames: ['imgpol', 'imagepol'],
    versions: ['v1', 'v1beta2'],
    revision: {
      paths: [
        ['status', 'latestRef', 'tag'],
        ['status', 'latestImage'],
      ],
      verb: 'fetched',
    },
  }),
  row({
    kind: 'ImageUpdateAutomation',
    group: imageGroup,
    plural: 'imageupdateautomations',
    shortNames: ['iua', 'imgupd', 'imgauto'],
    versions: ['v1', 'v1beta2'],
    revision: { paths: [['status', 'lastPushCommit']], verb: 'fetched' },
  }),
  row({ kind: 'Receiver', group: notificationGroup, plural: 'receivers', versions: ['v1'] }),
  row({ kind: 'Alert', group: notificationGroup, plural: 'alerts', versions: ['v1beta3', 'v1beta2'], reconcilable: false }),
  row({ kind: 'Provider', group: notificationGroup, plural: 'providers', versions: ['v1beta3', 'v1beta2'], reconcilable: false }),
];

/** Flux kinds the MCP adapter reads (get_flux_instance, get_kubernetes_resources) but nothing acts on. */
export const fluxReadOnlyKinds: readonly FluxReadOnlyKind[] = [
  { kind: 'ExternalArtifact', group: SourceGroup, plural: 'externalartifacts' },
  { kind: 'ArtifactGenerator', group: 'source.extensions.fluxcd.io', plural: 'artifactgenerators' },
  { kind: 'FluxReport', group: controlPlaneGroup, plural: 'fluxreports' },
];

const byKind = new Map(fluxKinds.map((k) => [k.kind, k]));

/** The row of a kind, or undefined when the operator does not act on it. */
export function fluxKind(kind: string): FluxKind | undefined {
  return byKind.get(kind);
}

/** Flux's reconcilable sources (source-controller's kinds), e.g. for reconcile_flux_source. */
export const sourceKinds: readonly string[] = fluxKinds.filter((k) => k.group === SourceGroup && k.reconcilable).map((k) => k.kind);

/** The group part of an apiVersion ('' for the core group). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}
