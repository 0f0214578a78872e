// The world a chaos scenario runs in: a namespace of its own with Kustomizations, HelmReleases and
// their sources, the Flux simulator playing Flux there (volume is what it is for), watches recording
// every version of the requests and of the Flux objects, a stream of mixed requests, and the check of
// the invariants at the end: every request ended, once, and every target got exactly the tokens the
// requests recorded.
import * as k8s from '@kubernetes/client-node';
import { isFinished } from '../../../src/api/conditions.js';
import { Group, Plural, Version, type FluxActionRequest, type ObjectStatus, type RequestSpec } from '../../../src/api/types.js';
import { fluxKind } from '../../../src/flux/kinds.js';
import { ForceAtAnnotation, RequestedAtAnnotation } from '../../../src/flux/objects.js';
import { isHandled } from '../../../src/flux/token.js';
import { FluxSimulator } from '../../simulator/flux-simulator.js';
import { createFluxObject, ensureInstalled, testApiVersion, type FluxObjectView } from '../../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, waitFor } from '../../support/kube.js';
import { customHistory, requestHistory, type HistoryWatch } from './history.js';

/** A request that recorded a token, and whether it asked for force. */
interface Holder {
  request: string;
  phase: string | undefined;
  force: boolean;
}

/** The real Flux controllers (make e2e's cluster) leave objects with this label to the simulator. */
const SimulatorShard = { 'sharding.fluxcd.io/key': 'simulator' };

/** How long the check waits for Events still being retried when every request has finished. */
const EventSettleMs = 45_000;

export type RequestType = 'reconcile' | 'withSource' | 'force' | 'suspend' | 'resume';

interface Created {
  name: string;
  type: RequestType;
  target: { kind: string; name: string };
}

export interface WorldSizes {
  kustomizations: number;
  helmReleases: number;
  /** Kustomizations that suspend and resume requests take turns on. */
  toggles: number;
  /** The requests' spec.timeout (default: the CRD's, 5m). */
  requestTimeout?: string;
}

export interface InvariantReport {
  requests: {
    created: number;
    byType: Record<string, number>;
    succeeded: number;
    failed: number;
    failedByReason: Record<string, number>;
    unfinished: number;
    /** Requests whose outcome changed after it was first written (ended twice). */
    endedTwice: number;
  };
  tokens: {
    objects: number;
    /** Distinct tokens the requests recorded. */
    recorded: number;
    /** Distinct requestedAt values the objects carried. */
    written: number;
    /** Written on an object, recorded by no request: Flux asked with nobody accountable (doubled). */
    unrecorded: number;
    /** Recorded by a Succeeded request, never written, and no later token handled (lost). */
    lost: number;
    /** Recorded, never written, and a later token covered it (coalescing; for force, only a forced one). */
    coveredByLater: number;
  };
  events: {
    /** Requests with more than one Requested Event, or more than one Succeeded/Failed Event. */
    doubled: number;
    /** Finished requests without a terminal Event (Events are best effort: a kill can lose one). */
    missingTerminal: number;
    requested: number;
    terminal: number;
  };
  watch: { gaps: number; reconnects: number };
  /** Human-readable lines, one per violation (first 20). */
  violations: string[];
}

/** True when nothing was lost or doubled. */
export function clean(report: InvariantReport): boolean {
  const r = report.requests;
  return (
    r.unfinished === 0 &&
    r.failed === 0 &&
    r.endedTwice === 0 &&
    report.tokens.unrecorded === 0 &&
    report.tokens.lost === 0 &&
    report.events.doubled === 0
  );
}

const watchedKinds = ['Kustomization', 'HelmRelease', 'GitRepository', 'OCIRepository'] as const;

export class ChaosWorld {
  readonly created: Created[] = [];
  /** Create calls that failed and were tried again (the API server was away). */
  createRetries = 0;
  private readonly requests: HistoryWatch<FluxActionRequest>;
  private readonly objects = new Map<string, HistoryWatch<FluxObjectView>>();
  private readonly custom: k8s.CustomObjectsApi;
  private counter = 0;
  private readonly toggleNext = new Map<string, 'suspend' | 'resume'>();
  private readonly toggleLast = new Map<string, string>();

  private constructor(
    readonly kc: k8s.KubeConfig,
    readonly ns: string,
    readonly simulator: FluxSimulator,
    readonly sizes: WorldSizes,
  ) {
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.requests = requestHistory(kc, ns);
    for (const kind of watchedKinds) {
      const row = fluxKind(kind)!;
      const version = testApiVersion(kind).split('/')[1]!;
      this.objects.set(kind, customHistory<FluxObjectView>(kc, { group: row.group, version, plural: row.plural }, ns));
    }
  }

  /** Creates the namespace, its Flux objects, the simulator and the watches. */
  static async create(prefix: string, sizes: WorldSizes): Promise<ChaosWorld> {
    await ensureInstalled();
    const kc = adminKubeConfig();
    const ns = await createNamespace(kc, prefix);
    const init = { labels: SimulatorShard };
    await createFluxObject(kc, 'GitRepository', ns, 'repo', init);
    await createFluxObject(kc, 'OCIRepository', ns, 'chart', init);
    for (let i = 0; i < sizes.kustomizations; i++) await createFluxObject(kc, 'Kustomization', ns, `ks-${i}`, init);
    for (let i = 0; i < sizes.helmReleases; i++) await createFluxObject(kc, 'HelmRelease', ns, `hr-${i}`, init);
    for (let i = 0; i < sizes.toggles; i++) await createFluxObject(kc, 'Kustomization', ns, `toggle-${i}`, init);
    const simulator = await startSimulatorWithRetry(ns);
    const world = new ChaosWorld(kc, ns, simulator, sizes);
    await world.requests.start();
    for (const watch of world.objects.values()) await watch.start();
    return world;
  }

  async stop(): Promise<void> {
    this.requests.stop();
    for (const watch of this.objects.values()) watch.stop();
    await this.simulator.stop();
    await deleteNamespace(this.kc, this.ns);
  }

  /** Creates `count` requests of mixed types, `parallel` at a time; a failed create is tried again (same name). */
  async createMixed(count: number, parallel = 8): Promise<void> {
    const specs: { name: string; type: RequestType; spec: RequestSpec }[] = [];
    for (let i = 0; i < count; i++) specs.push(this.nextRequest());
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < specs.length) {
        const s = specs[next++]!;
        await this.createWithRetry(s.name, s.spec);
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, specs.length) }, worker));
  }

  /** The next request of the stream; suspend and resume alternate on a toggle whose previous request has finished. */
  private nextRequest(): { name: string; type: RequestType; spec: RequestSpec } {
    const n = this.counter++;
    const pick = n % 10;
    const ks = `ks-${Math.floor(Math.random() * this.sizes.kustomizations)}`;
    const hr = `hr-${Math.floor(Math.random() * this.sizes.helmReleases)}`;
    let type: RequestType = 'reconcile';
    let spec: RequestSpec = { action: 'Reconcile', target: { kind: 'Kustomization', name: ks } };
    // Plain reconciles on the HelmReleases too, so force and plain requests meet on one object.
    if (pick === 3) spec = { action: 'Reconcile', target: { kind: 'HelmRelease', name: hr } };
    if (pick >= 4 && pick < 6) {
      type = 'withSource';
      spec = { action: 'Reconcile', target: { kind: 'Kustomization', name: ks }, withSource: true };
    } else if (pick >= 6 && pick < 8) {
      type = 'force';
      spec = { action: 'Reconcile', target: { kind: 'HelmRelease', name: hr }, force: true };
    } else if (pick >= 8) {
      const free = [...Array(this.sizes.toggles).keys()].map((i) => `toggle-${i}`).find((t) => this.toggleFree(t));
      if (free) {
        type = this.toggleNext.get(free) ?? 'suspend';
        this.toggleNext.set(free, type === 'suspend' ? 'resume' : 'suspend');
        spec = { action: type === 'suspend' ? 'Suspend' : 'Resume', target: { kind: 'Kustomization', name: free } };
      }
    }
    if (this.sizes.requestTimeout) spec = { ...spec, timeout: this.sizes.requestTimeout };
    const name = `r-${String(n).padStart(5, '0')}-${type.toLowerCase()}`;
    this.created.push({ name, type, target: spec.target });
    if (type === 'suspend' || type === 'resume') this.toggleLast.set(spec.target.name, name);
    return { name, type, spec };
  }

  /** A toggle is free when its last request has finished (as the watch saw it). */
  private toggleFree(toggle: string): boolean {
    const last = this.toggleLast.get(toggle);
    if (!last) return true;
    const versions = this.requests.versions.get(last);
    return isFinished(versions?.at(-1)?.object.status?.phase);
  }

  private async createWithRetry(name: string, spec: RequestSpec): Promise<void> {
    const body = { apiVersion: `${Group}/${Version}`, kind: 'FluxActionRequest', metadata: { name, namespace: this.ns }, spec };
    await waitFor(
      `request ${name} to be created`,
      async () => {
        try {
          await this.custom.createNamespacedCustomObject({ group: Group, version: Version, plural: Plural, namespace: this.ns, body });
          return true;
        } catch (err) {
          // Created by an earlier attempt whose answer was lost.
          if ((err as { code?: number }).code === 409) return true;
          this.createRetries += 1;
          throw err;
        }
      },
      120_000,
      200,
    );
  }

  /** Unfinished requests as the watch sees them. */
  unfinished(): string[] {
    return this.created.filter((c) => !isFinished(this.requests.versions.get(c.name)?.at(-1)?.object.status?.phase)).map((c) => c.name);
  }

  /** Waits until every request created has finished, as the watch sees it. */
  async waitAllFinished(timeoutMs: number): Promise<void> {
    await waitFor(`every request to finish`, () => (this.unfinished().length === 0 ? true : undefined), timeoutMs, 200).catch(
      (err: unknown) => {
        const left = this.unfinished();
        throw new Error(
          `${err instanceof Error ? err.message : String(err)}: ${left.length} unfinished, e.g. ${left.slice(0, 5).join(', ')}`,
        );
      },
    );
  }

  /** Waits until every request has finished (or the deadline passes), then checks the invariants. */
  async check(timeoutMs: number): Promise<InvariantReport> {
    await this.waitAllFinished(timeoutMs).catch(() => undefined);
    const violations: string[] = [];
    const flag = (line: string): void => {
      if (violations.length < 20) violations.push(line);
    };
    const finalRequests = new Map<string, FluxActionRequest>(
      (
        (await this.custom.listNamespacedCustomObject({ group: Group, version: Version, namespace: this.ns, plural: Plural })) as {
          items: FluxActionRequest[];
        }
      ).items.map((r) => [r.metadata.name, r]),
    );

    // Requests: ended, as expected, and once.
    const byType: Record<string, number> = {};
    const failedByReason: Record<string, number> = {};
    let succeeded = 0;
    let failed = 0;
    let unfinished = 0;
    let endedTwice = 0;
    for (const c of this.created) {
      byType[c.type] = (byType[c.type] ?? 0) + 1;
      const request = finalRequests.get(c.name);
      const phase = request?.status?.phase;
      if (phase === 'Succeeded') succeeded += 1;
      else if (phase === 'Failed') {
        failed += 1;
        const reason = request?.status?.conditions?.find((x) => x.type === 'Ready')?.reason ?? '?';
        failedByReason[reason] = (failedByReason[reason] ?? 0) + 1;
        flag(`request ${c.name} (${c.type} ${c.target.kind}/${c.target.name}) failed: ${reason}: ${request?.status?.message}`);
      } else {
        unfinished += 1;
        flag(
          `request ${c.name} (${c.type} ${c.target.kind}/${c.target.name}) never finished: ${JSON.stringify(request?.status ?? 'missing')}`,
        );
      }
      const ends = (this.requests.versions.get(c.name) ?? [])
        .map((v) => v.object.status)
        .filter((s) => isFinished(s?.phase))
        .map((s) => JSON.stringify([s?.phase, s?.completionTime, s?.token, s?.conditions?.find((x) => x.type === 'Ready')?.reason]));
      if (new Set(ends).size > 1) {
        endedTwice += 1;
        flag(`request ${c.name} ended more than once: ${[...new Set(ends)].join(' then ')}`);
      }
    }

    // Tokens: what each object carried against what the requests recorded.
    const recordedBy = new Map<string, Map<string, Holder[]>>();
    for (const request of finalRequests.values()) {
      const status = request.status;
      for (const slot of [status?.target, status?.source, status?.chartSource] as (ObjectStatus | undefined)[]) {
        if (!slot?.token || !slot.kind || !slot.name) continue;
        const key = `${slot.kind}/${slot.name}`;
        const tokens = recordedBy.get(key) ?? new Map<string, Holder[]>();
        tokens.set(slot.token, [
          ...(tokens.get(slot.token) ?? []),
          { request: request.metadata.name, phase: status?.phase, force: slot === status?.target && request.spec.force === true },
        ]);
        recordedBy.set(key, tokens);
      }
    }
    let objects = 0;
    let recorded = 0;
    let writtenCount = 0;
    let unrecorded = 0;
    let lost = 0;
    let coveredByLater = 0;
    for (const [kind, watch] of this.objects) {
      for (const [name, versions] of watch.versions) {
        objects += 1;
        const final = versions.at(-1)!.object;
        const lastHandled = final.status?.lastHandledReconcileAt;
        const written = new Set<string>();
        for (const v of versions) {
          const token = v.object.metadata.annotations?.[RequestedAtAnnotation];
          if (token) written.add(token);
        }
        // A watch gap can hide a value the object carried for a moment; Flux's record of it cannot be hidden.
        if (lastHandled) written.add(lastHandled);
        const tokens = recordedBy.get(`${kind}/${name}`) ?? new Map<string, Holder[]>();
        recorded += tokens.size;
        writtenCount += written.size;
        for (const token of written) {
          if (!tokens.has(token)) {
            unrecorded += 1;
            flag(`${kind} ${name} got requestedAt ${token}, which no request recorded (Flux asked twice or by nobody)`);
          }
        }
        // Tokens written together with forceAt: only those cover a force request.
        const forced = new Set<string>();
        for (const v of versions) {
          const a = v.object.metadata.annotations ?? {};
          const token = a[RequestedAtAnnotation];
          if (token && a[ForceAtAnnotation] === token) forced.add(token);
        }
        for (const [token, holders] of tokens) {
          if (written.has(token)) continue;
          const force = holders.some((h) => h.force);
          const later = [...written].some((w) => w !== token && isHandled(token, w) && (!force || forced.has(w)));
          if (later && isHandled(token, lastHandled)) coveredByLater += 1;
          else if (holders.some((h) => h.phase === 'Succeeded')) {
            lost += 1;
            flag(`${kind} ${name}: token ${token} of ${holders.map((h) => h.request).join(', ')} was never written, yet they Succeeded`);
          }
        }
      }
    }

    // Events: one Requested and one terminal Event per request at most. Events are created beside
    // the request's path and retried for up to about 30 s, so some may still be on their way when
    // every request has finished: look again (once a second, at most EventSettleMs) while a
    // finished request lacks its terminal Event.
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const tally = async (): Promise<{
      counts: Map<string, { requested: number; terminal: number }>;
      requested: number;
      terminal: number;
    }> => {
      const events = await core.listNamespacedEvent({ namespace: this.ns, fieldSelector: 'involvedObject.kind=FluxActionRequest' });
      const counts = new Map<string, { requested: number; terminal: number }>();
      let requested = 0;
      let terminal = 0;
      for (const e of events.items) {
        const name = e.involvedObject.name ?? '';
        const c = counts.get(name) ?? { requested: 0, terminal: 0 };
        const n = e.count ?? 1;
        if (e.reason === 'Requested') {
          c.requested += n;
          requested += n;
        } else if (e.reason === 'Succeeded' || e.reason === 'Failed') {
          c.terminal += n;
          terminal += n;
        }
        counts.set(name, c);
      }
      return { counts, requested, terminal };
    };
    const lacking = (counts: Map<string, { terminal: number }>): boolean =>
      this.created.some((c) => !counts.get(c.name)?.terminal && isFinished(finalRequests.get(c.name)?.status?.phase));
    const settled = await waitFor(
      'every finished request to have its terminal Event',
      async () => {
        const t = await tally();
        return lacking(t.counts) ? undefined : t;
      },
      EventSettleMs,
      1000,
    ).catch(() => tally());
    const { counts, requested: requestedEvents, terminal: terminalEvents } = settled;
    let doubled = 0;
    let missingTerminal = 0;
    for (const c of this.created) {
      const n = counts.get(c.name) ?? { requested: 0, terminal: 0 };
      if (n.requested > 1 || n.terminal > 1) {
        doubled += 1;
        flag(`request ${c.name} has ${n.requested} Requested and ${n.terminal} Succeeded/Failed Events`);
      }
      if (n.terminal === 0 && isFinished(finalRequests.get(c.name)?.status?.phase)) missingTerminal += 1;
    }

    const watches = [this.requests, ...this.objects.values()];
    return {
      requests: { created: this.created.length, byType, succeeded, failed, failedByReason, unfinished, endedTwice },
      tokens: { objects, recorded, written: writtenCount, unrecorded, lost, coveredByLater },
      events: { doubled, missingTerminal, requested: requestedEvents, terminal: terminalEvents },
      watch: { gaps: watches.reduce((n, w) => n + w.gaps, 0), reconnects: watches.reduce((n, w) => n + w.reconnects, 0) },
      violations,
    };
  }
}

/**
 * The simulator, started again after a failed start: right after the API server (re)starts, the first
 * lists can answer 429 "storage is (re)initializing". At most 10 attempts.
 */
export async function startSimulatorWithRetry(ns: string): Promise<FluxSimulator> {
  for (let attempt = 1; ; attempt++) {
    const simulator = new FluxSimulator({ kc: adminKubeConfig(), namespaces: [ns] });
    try {
      await simulator.start();
      return simulator;
    } catch (err) {
      await simulator.stop();
      if (attempt >= 10) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}
