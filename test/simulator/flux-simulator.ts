// The Flux simulator: a TEST DOUBLE that plays the Flux controllers against a real API server until
// the real controllers run in the end-to-end suite. Like the controllers it watches Flux objects,
// reacts to reconcile.fluxcd.io/requestedAt (and forceAt/resetAt) and to generation changes, ignores
// suspended objects, reconciles one object at a time, and writes status the way Flux does:
// Reconciling while it works, then lastHandledReconcileAt, observedGeneration, Ready (and Stalled)
// for the generation, and the kind's revision field.
//
// Per-object behaviour is set with annotations on the Flux object (test-only):
//   simulator.fluxaction.io/outcome   Ready (default) | Failed | Stalled | Ignore (never handles requests)
//   simulator.fluxaction.io/reason    the failure reason (default ReconciliationFailed)
//   simulator.fluxaction.io/message   the Ready message (default "Applied revision: <revision>")
//   simulator.fluxaction.io/revision  the revision to report (default main@sha1:<generation-based>)
//   simulator.fluxaction.io/delay-ms  how long a reconcile takes (default: the simulator's delayMs)
//   simulator.fluxaction.io/stale-view  on a source: its Kustomizations and HelmReleases go on
//                                     reading it as it was when this appeared, as from a controller
//                                     cache that lags; the view catches up when it is removed
//
// A Kustomization or a HelmRelease applies its source's artifact revision, as the simulator last
// saw the source (unless it carries a revision annotation), and is reconciled again when that
// revision changes (the controllers' watches of their sources). A Kustomization names the revision
// in its Reconciling message as kustomize-controller does; a HelmRelease of an OCIRepository records
// the tag as its chart version and the digest in lastAttemptedRevisionDigest, as helm-controller.
import { createHash } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { pino } from 'pino';
import {
  FluxAnnotation,
  asSimObject,
  lastHandledRequest,
  lastHandledToken,
  readyGeneration,
  requestToken,
  simKinds,
  staticSource,
  suspended,
  type SimKind,
  type SimObject,
} from './flux-contract.js';

export const SimAnnotation = {
  outcome: 'simulator.fluxaction.io/outcome',
  reason: 'simulator.fluxaction.io/reason',
  message: 'simulator.fluxaction.io/message',
  revision: 'simulator.fluxaction.io/revision',
  delayMs: 'simulator.fluxaction.io/delay-ms',
  staleView: 'simulator.fluxaction.io/stale-view',
} as const;

/** The sources whose artifact a Kustomization or a HelmRelease applies. */
const ArtifactSources = new Set(['GitRepository', 'OCIRepository', 'Bucket', 'HelmChart']);
/** The kinds that apply their source's artifact. */
const Appliers = new Set(['Kustomization', 'HelmRelease']);

export interface SimulatorOptions {
  kc: k8s.KubeConfig;
  /** Only simulate objects in these namespaces (default: all). */
  namespaces?: readonly string[];
  /** How long a reconcile takes by default, in ms (default 20). */
  delayMs?: number;
  /**
   * Reconciles running at once (default 32). Flux's controllers reconcile with a fixed number of
   * workers (--concurrent); a simulator that reconciled a thousand objects at once would, as a
   * ServiceAccount, have most of its writes refused by API Priority and Fairness (429, queue full).
   */
  concurrency?: number;
  log?: Logger;
}

/** When the simulator saw a requestedAt value, and when its status write handling it returned (performance.now()). */
export interface Ack {
  seenAt: number;
  writtenAt?: number;
}

/** What the simulator saw of one object: every requestedAt value, and the reconciles it ran. */
export interface ObjectRecord {
  requestedAt: string[];
  reconciles: number;
  /** By requestedAt value: when it was seen and handled, for the benchmark's latency figures. */
  acks: Map<string, Ack>;
}

/** How long start() waits for a kind's first list (a fresh API server can answer 429 for a while). */
const SyncTimeoutMs = 60_000;
const RetryMs = 500;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class FluxSimulator {
  private readonly custom: k8s.CustomObjectsApi;
  private readonly informers: k8s.Informer<k8s.KubernetesObject>[] = [];
  /** Objects being reconciled, with the requestedAt and generation the reconcile read. */
  private readonly busy = new Map<string, { requestedAt: string | undefined; generation: number | undefined }>();
  private readonly again = new Set<string>();
  private readonly records = new Map<string, ObjectRecord>();
  /** Sources as their Kustomizations and HelmReleases read them: the last seen, unless held (stale-view); by key. */
  private readonly sourceView = new Map<string, SimObject>();
  /** Kustomizations and HelmReleases as last seen, by key, to find those a source's new revision concerns. */
  private readonly appliers = new Map<string, { kind: SimKind; obj: SimObject }>();
  /** Kustomizations and HelmReleases whose source's revision changed since their last attempt: reconciled again. */
  private readonly sourceMoved = new Set<string>();
  /** Reconciles waiting for a worker, in the order their objects were seen. */
  private readonly waiting: (() => Promise<void>)[] = [];
  private running = 0;
  private readonly log: Logger;
  private stopped = false;

  constructor(private readonly options: SimulatorOptions) {
    this.custom = options.kc.makeApiClient(k8s.CustomObjectsApi);
    this.log = options.log ?? pino({ level: 'silent' });
  }

  /** Starts watching every Flux kind the cluster serves; resolves when all caches are synced. */
  async start(): Promise<void> {
    const served = await this.servedVersions();
    await Promise.all(
      simKinds.map(async (kind) => {
        const version = served.get(kind.kind);
        if (version) await this.watch(kind, version);
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  /** What the simulator saw of an object (`namespace/name` of a kind). */
  record(kind: string, namespace: string, name: string): ObjectRecord {
    return this.records.get(`${kind}/${namespace}/${name}`) ?? { requestedAt: [], reconciles: 0, acks: new Map() };
  }

  /** The version each kind is served in: the group's preferred one when it has the kind, else the first that does. */
  private async servedVersions(): Promise<Map<string, string>> {
    const groups = (await this.options.kc.makeApiClient(k8s.ApisApi).getAPIVersions()).groups;
    const resources = new Map<string, Promise<string[]>>();
    const kindsIn = (group: string, version: string): Promise<string[]> => {
      const key = `${group}/${version}`;
      if (!resources.has(key))
        resources.set(
          key,
          this.custom.getAPIResources({ group, version }).then((list) => list.resources.map((r) => r.kind)),
        );
      return resources.get(key)!;
    };
    const served = new Map<string, string>();
    for (const kind of simKinds) {
      const group = groups.find((g) => g.name === kind.group);
      if (!group) continue;
      const versions = [group.preferredVersion?.version, ...group.versions.map((v) => v.version)];
      for (const version of versions) {
        if (version && (await kindsIn(kind.group, version)).includes(kind.kind)) {
          served.set(kind.kind, version);
          break;
        }
      }
    }
    return served;
  }

  /**
   * Watches one kind with client-node's informer; resolves once its first list is in. A failed
   * list or watch is retried, as controller-runtime's reflector does.
   */
  private async watch(kind: SimKind, version: string): Promise<void> {
    const apiVersion = `${kind.group}/${version}`;
    let listed = false;
    const informer = k8s.makeInformer<k8s.KubernetesObject>(this.options.kc, `/apis/${apiVersion}/${kind.plural}`, async () => {
      const list = (await this.custom.listClusterCustomObject({
        group: kind.group,
        version,
        plural: kind.plural,
      })) as k8s.KubernetesListObject<k8s.KubernetesObject>;
      listed = true;
      return list;
    });
    const seen = (raw: k8s.KubernetesObject): void => {
      const obj = asSimObject({ apiVersion, kind: kind.kind, ...raw });
      if (obj) this.observe(kind, obj);
    };
    informer.on('add', seen);
    informer.on('update', seen);
    informer.on('error', (err: unknown) => {
      this.log.debug({ kind: kind.kind, err: err instanceof Error ? err.message : String(err) }, 'watch failed; restarting');
      if (listed && !this.stopped) void sleep(RetryMs).then(() => (this.stopped ? undefined : informer.start().catch(() => undefined)));
    });
    this.informers.push(informer);
    const deadline = Date.now() + SyncTimeoutMs;
    // A failed first list is reported to the error handler above, not thrown: try again until the deadline.
    const attempt = (): Promise<void> => informer.start().catch(() => undefined);
    await attempt();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the informer's list handler during the awaits
    while (!listed && !this.stopped) {
      if (Date.now() > deadline) throw new Error(`the simulator could not list ${kind.plural} within ${SyncTimeoutMs / 1000}s`);
      await sleep(RetryMs);
      await attempt();
    }
  }

  private observe(kind: SimKind, obj: SimObject): void {
    const ns = obj.metadata.namespace ?? '';
    if (this.options.namespaces && !this.options.namespaces.includes(ns)) return;
    const key = `${kind.kind}/${ns}/${obj.metadata.name}`;
    const record = this.records.get(key) ?? { requestedAt: [], reconciles: 0, acks: new Map<string, Ack>() };
    this.records.set(key, record);
    if (Appliers.has(kind.kind)) this.appliers.set(key, { kind, obj });
    if (ArtifactSources.has(kind.kind)) this.viewSource(key, obj);
    const requestedAt = requestToken(obj);
    if (requestedAt && !record.acks.has(requestedAt)) {
      record.requestedAt.push(requestedAt);
      record.acks.set(requestedAt, { seenAt: performance.now() });
    }
    if (!this.needsReconcile(kind, obj, key)) return;
    const running = this.busy.get(key);
    if (running) {
      // Like Flux's predicates: only a new request or a new generation queues another reconcile.
      if (running.requestedAt !== requestedAt || running.generation !== obj.metadata.generation || this.sourceMoved.has(key))
        this.again.add(key);
      return;
    }
    this.busy.set(key, { requestedAt, generation: obj.metadata.generation });
    this.waiting.push(() => this.reconcile(kind, obj, key, record));
    this.work();
  }

  /**
   * A source as its Kustomizations and HelmReleases read it. When its artifact revision changes,
   * those that apply it and attempted another are reconciled again, as the controllers' watches of
   * their sources do.
   */
  private viewSource(key: string, obj: SimObject): void {
    const seen = this.sourceView.get(key);
    if (seen && obj.metadata.annotations?.[SimAnnotation.staleView] !== undefined) return;
    this.sourceView.set(key, obj);
    const revision = artifactRevision(obj);
    if (revision === undefined || (seen && artifactRevision(seen) === revision)) return;
    const source = { kind: obj.kind, revision };
    for (const [applierKey, { kind, obj: applier }] of this.appliers) {
      if (sourceKeyOf(applier) !== key || attempted(applier, source)) continue;
      this.sourceMoved.add(applierKey);
      this.observe(kind, applier);
    }
  }

  /** The artifact a Kustomization or a HelmRelease applies: its source's, as the simulator last saw the source. */
  private sourceArtifact(obj: SimObject): SourceArtifact | undefined {
    const key = sourceKeyOf(obj);
    const source = key === undefined ? undefined : this.sourceView.get(key);
    const revision = source ? artifactRevision(source) : undefined;
    return source && revision !== undefined ? { kind: source.kind, revision } : undefined;
  }

  /** Starts waiting reconciles while a worker is free. */
  private work(): void {
    while (this.running < (this.options.concurrency ?? 32) && this.waiting.length > 0) {
      const next = this.waiting.shift()!;
      this.running += 1;
      void next().finally(() => {
        this.running -= 1;
        this.work();
      });
    }
  }

  private needsReconcile(kind: SimKind, obj: SimObject, key: string): boolean {
    if (!kind.reconciled || staticSource(obj, kind) || suspended(obj, kind) || obj.metadata.deletionTimestamp) return false;
    if (obj.metadata.annotations?.[SimAnnotation.outcome] === 'Ignore') return false;
    if (this.sourceMoved.has(key)) return true;
    const requestedAt = requestToken(obj);
    if (requestedAt !== undefined && requestedAt !== lastHandledToken(obj)) return true;
    // Not every kind has status.observedGeneration (flux-operator's don't); Ready's is always there.
    return readyGeneration(obj) !== obj.metadata.generation;
  }

  /** One reconcile, like a Flux controller's: read, mark Reconciling, work, then write the verdict. */
  private async reconcile(kind: SimKind, obj: SimObject, key: string, record: ObjectRecord): Promise<void> {
    try {
      if (this.stopped) return;
      const a = obj.metadata.annotations ?? {};
      const generation = obj.metadata.generation ?? 1;
      const requestedAt = requestToken(obj);
      this.sourceMoved.delete(key);
      // Like the controllers, the source is read at the start of the reconcile.
      const source = Appliers.has(kind.kind) ? this.sourceArtifact(obj) : undefined;
      const applied = source && appliedFrom(kind.kind, source);
      const revision = a[SimAnnotation.revision] ?? applied?.revision ?? defaultRevision(kind, key, generation);
      // kustomize-controller names the revision it works on; the others say little.
      const progress =
        kind.kind === 'Kustomization'
          ? `Building manifests for revision ${revision} with a timeout of 5m0s`
          : `Reconciliation in progress for generation ${generation}`;
      const conditions = (obj.status?.['conditions'] as unknown[] | undefined) ?? [];
      const ours: string[] = ['Reconciling', 'Ready', 'Stalled'];
      const keep = conditions.filter((c) => !ours.includes((c as { type?: string }).type ?? ''));
      await this.patchStatus(kind, obj, {
        conditions: [
          ...keep,
          condition('Reconciling', 'True', 'Progressing', progress, generation),
          condition('Ready', 'Unknown', 'Progressing', 'Reconciliation in progress', generation),
        ],
      });
      const delay = Number(a[SimAnnotation.delayMs] ?? this.options.delayMs ?? 20);
      if (delay > 0) await sleep(delay);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may set it during the awaits above
      if (this.stopped) return;

      const outcome = a[SimAnnotation.outcome] ?? 'Ready';
      // Like the controllers, observedGeneration moves only when the reconcile succeeded.
      const status: Record<string, unknown> = outcome === 'Ready' ? { observedGeneration: generation } : {};
      if (requestedAt !== undefined) status['lastHandledReconcileAt'] = requestedAt;
      if (kind.forceAndReset) {
        // The lastHandled values move whenever the annotations are there (meta.HandleAnnotationRequest).
        const force = lastHandledRequest(obj, FluxAnnotation.forceAt, 'lastHandledForceAt');
        const reset = lastHandledRequest(obj, FluxAnnotation.resetAt, 'lastHandledResetAt');
        if (force !== undefined) status['lastHandledForceAt'] = force;
        if (reset !== undefined) status['lastHandledResetAt'] = reset;
      }
      if (outcome === 'Ready') {
        Object.assign(status, revisionFields(kind, revision, obj.status ?? {}));
        if (kind.kind === 'HelmRelease' && applied?.digest !== undefined) status['lastAttemptedRevisionDigest'] = applied.digest;
        status['conditions'] = [
          ...keep,
          condition('Ready', 'True', readyReason(kind, obj), a[SimAnnotation.message] ?? readyMessage(kind, obj, revision), generation),
        ];
      } else {
        const reason = a[SimAnnotation.reason] ?? 'ReconciliationFailed';
        const message = a[SimAnnotation.message] ?? 'reconciliation failed';
        // A failure the controllers will retry keeps Reconciling=True (ProgressingWithRetry) beside
        // Ready=False; a stalled one drops Reconciling and sets Stalled=True.
        status['conditions'] = [
          ...keep,
          outcome === 'Stalled'
            ? condition('Stalled', 'True', reason, message, generation)
            : condition(
                'Reconciling',
                'True',
                'ProgressingWithRetry',
                kind.kind === 'Kustomization' ? progress : `Reconciliation failed for generation ${generation}; retrying`,
                generation,
              ),
          condition('Ready', 'False', reason, message, generation),
        ];
      }
      await this.patchStatus(kind, obj, status);
      record.reconciles += 1;
      const ack = requestedAt === undefined ? undefined : record.acks.get(requestedAt);
      if (ack && ack.writtenAt === undefined) ack.writtenAt = performance.now();
    } catch (err) {
      // As a Flux controller requeues a failed reconcile, look again shortly.
      this.log.warn({ key, err: err instanceof Error ? err.message : String(err) }, 'simulated reconcile failed; retrying');
      this.again.add(key);
    } finally {
      this.busy.delete(key);
      if (this.again.delete(key) && !this.stopped) void this.observeFresh(kind, obj);
    }
  }

  /** Reads an object from the API server (not the cache, which may lag our own writes) and observes it. */
  private async observeFresh(kind: SimKind, obj: SimObject): Promise<void> {
    try {
      const fresh: unknown = await this.custom.getNamespacedCustomObject({
        group: kind.group,
        version: obj.apiVersion.split('/')[1] ?? '',
        plural: kind.plural,
        namespace: obj.metadata.namespace ?? '',
        name: obj.metadata.name,
      });
      const parsed = asSimObject(fresh);
      if (parsed) this.observe(kind, parsed);
    } catch (err) {
      if ((err as { code?: number }).code === 404) {
        this.log.debug({ err: err instanceof Error ? err.message : String(err) }, 'object gone before the next reconcile');
        return;
      }
      // The API server is away (restarting): try again, as a Flux controller requeues, until it answers
      // or the simulator stops.
      if (!this.stopped) setTimeout(() => void this.observeFresh(kind, obj), 1000).unref();
    }
  }

  private async patchStatus(kind: SimKind, obj: SimObject, status: Record<string, unknown>): Promise<void> {
    await this.custom.patchNamespacedCustomObjectStatus(
      {
        group: kind.group,
        version: obj.apiVersion.split('/')[1] ?? '',
        plural: kind.plural,
        namespace: obj.metadata.namespace ?? '',
        name: obj.metadata.name,
        body: { status },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }
}

interface SourceArtifact {
  kind: string;
  revision: string;
}

type Ref = { kind?: string; name?: string; namespace?: string } | undefined;

/**
 * The `Kind/namespace/name` of the source an object applies: a Kustomization's spec.sourceRef; a
 * HelmRelease's spec.chartRef, or the HelmChart helm-controller makes for spec.chart
 * (`<namespace>-<name>`, in the chart's sourceRef namespace).
 */
function sourceKeyOf(obj: SimObject): string | undefined {
  const ns = obj.metadata.namespace ?? '';
  if (obj.kind === 'HelmRelease') {
    const chartRef = obj.spec?.['chartRef'] as Ref;
    if (chartRef?.kind && chartRef.name) return `${chartRef.kind}/${chartRef.namespace ?? ns}/${chartRef.name}`;
    const chart = (obj.spec?.['chart'] as { spec?: { sourceRef?: Ref } } | undefined)?.spec;
    if (!chart) return undefined;
    return `HelmChart/${chart.sourceRef?.namespace ?? ns}/${ns}-${obj.metadata.name}`;
  }
  const ref = obj.spec?.['sourceRef'] as Ref;
  if (!ref?.kind || !ref.name) return undefined;
  return `${ref.kind}/${ref.namespace ?? ns}/${ref.name}`;
}

/**
 * What an object records of the artifact it applies: the revision as it is, but for a HelmRelease
 * of an OCIRepository the tag as the chart version and the digest apart (helm-controller).
 */
function appliedFrom(kind: string, source: SourceArtifact): { revision: string; digest?: string } {
  if (kind !== 'HelmRelease' || source.kind !== 'OCIRepository') return { revision: source.revision };
  const at = source.revision.indexOf('@');
  return at < 0 ? { revision: source.revision } : { revision: source.revision.slice(0, at), digest: source.revision.slice(at + 1) };
}

/** Whether an object's last attempt used the source's artifact, as its controller's source watch tells. */
function attempted(obj: SimObject, source: SourceArtifact): boolean {
  const applied = appliedFrom(obj.kind, source);
  if (applied.digest !== undefined) return obj.status?.['lastAttemptedRevisionDigest'] === applied.digest;
  return obj.status?.['lastAttemptedRevision'] === applied.revision;
}

function artifactRevision(obj: SimObject): string | undefined {
  const revision = (obj.status?.['artifact'] as { revision?: unknown } | undefined)?.revision;
  return typeof revision === 'string' ? revision : undefined;
}

function condition(type: string, status: string, reason: string, message: string, observedGeneration: number): Record<string, unknown> {
  return { type, status, reason, message, observedGeneration, lastTransitionTime: now() };
}

/** A revision in the form Flux reports: a Git commit for most kinds, a chart version for Helm. */
function defaultRevision(kind: SimKind, key: string, generation: number): string {
  const sha = createHash('sha1').update(`${key}/${generation}`).digest('hex');
  if (kind.kind === 'HelmRelease' || kind.kind === 'HelmChart') return `6.5.${generation - 1}`;
  return `main@sha1:${sha}`;
}

/** The Ready reason the Flux controller of a kind writes on success. */
function readyReason(kind: SimKind, obj: SimObject): string {
  if (kind.kind === 'HelmChart') return 'ChartPullSucceeded';
  if (kind.group === 'source.toolkit.fluxcd.io') return 'Succeeded';
  if (kind.kind === 'HelmRelease') return isInstalled(obj) ? 'UpgradeSucceeded' : 'InstallSucceeded';
  return 'ReconciliationSucceeded';
}

/** The Ready message the Flux controller of a kind writes on success. */
function readyMessage(kind: SimKind, obj: SimObject, revision: string): string {
  if (kind.kind === 'HelmChart') {
    const chart = obj.spec?.['chart'];
    return `pulled '${typeof chart === 'string' ? chart : 'podinfo'}' chart with version '${revision}'`;
  }
  if (kind.group === 'source.toolkit.fluxcd.io') return `stored artifact for revision '${revision}'`;
  if (kind.kind === 'HelmRelease') {
    const [action, release] = isInstalled(obj) ? ['upgrade', 2] : ['install', 1];
    return `Helm ${action} succeeded for release ${obj.metadata.namespace}/${obj.metadata.name}.v${release} with chart podinfo@${revision}`;
  }
  return `Applied revision: ${revision}`;
}

/** Whether a HelmRelease has a release already (helm-controller then upgrades it). */
function isInstalled(obj: SimObject): boolean {
  return ((obj.status?.['history'] as unknown[] | undefined) ?? []).length > 0;
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Where each kind reports its revision, as the Flux controllers do. */
function revisionFields(kind: SimKind, revision: string, previous: Record<string, unknown>): Record<string, unknown> {
  switch (kind.kind) {
    case 'Kustomization': {
      // kustomize-controller keeps a history of the reconciled revisions (Flux 2.7).
      const last = (previous['history'] as { totalReconciliations?: number }[] | undefined)?.[0];
      const history = [
        {
          digest: `sha256:${createHash('sha256').update(revision).digest('hex')}`,
          firstReconciled: now(),
          lastReconciled: now(),
          lastReconciledDuration: '20ms',
          lastReconciledStatus: 'ReconciliationSucceeded',
          totalReconciliations: (last?.totalReconciliations ?? 0) + 1,
          metadata: { revision },
        },
      ];
      return { lastAppliedRevision: revision, lastAttemptedRevision: revision, history };
    }
    case 'HelmRelease':
      return {
        history: [
          {
            name: 'simulated',
            namespace: 'simulated',
            chartName: 'simulated',
            chartVersion: revision,
            version: 1,
            status: 'deployed',
            configDigest: 'sha256:0000',
            digest: 'sha256:0000',
            firstDeployed: now(),
            lastDeployed: now(),
          },
        ],
        lastAttemptedRevision: revision,
      };
    case 'GitRepository':
    case 'OCIRepository':
    case 'Bucket':
    case 'HelmChart':
    case 'HelmRepository':
      return {
        artifact: {
          revision,
          path: `simulated/${revision}`,
          url: `http://source-controller.invalid/${revision}`,
          lastUpdateTime: now(),
          digest: 'sha256:0000',
        },
      };
    case 'ResourceSet':
    case 'FluxInstance':
      return { lastAppliedRevision: revision };
    case 'ResourceSetInputProvider':
      return { lastExportedRevision: revision };
    case 'ImageRepository':
      return { lastScanResult: { revision, tagCount: 1, scanTime: now() } };
    case 'ImagePolicy':
      return { latestRef: { name: 'registry.invalid/simulated', tag: revision } };
    case 'ImageUpdateAutomation':
      return { lastPushCommit: revision };
    default:
      return {};
  }
}
