// The operator process: health and metrics endpoints, leader election, and — while leading — the
// request informer, the Flux object informers and the work queue feeding the reconciler.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Group, Plural, Version } from '../api/types.js';
import { FluxEventPoster } from '../audit/event-poster.js';
import { outcomeReporter, type OutcomeListener } from '../audit/outcomes.js';
import { fluxKind } from '../flux/kinds.js';
import { tokenMinter } from '../flux/token.js';
import { realClock, waitAtMost, type Clock, type Timer } from '../runtime/clock.js';
import type { OperatorConfig } from '../runtime/config.js';
import { startHealthServer, type HealthServer } from '../runtime/http.js';
import { LeaderElector, leaseClient, type StopReason } from '../runtime/leader.js';
import type { ClusterAccess } from '../kube/access.js';
import { kubeClient } from '../kube/client.js';
import { createMetrics, informerSyncHook, workQueueMetricsHooks, type OperatorMetrics } from '../runtime/metrics.js';
import { WorkQueue } from '../runtime/workqueue.js';
import { FluxDiscovery } from './discovery.js';
import { EventRecorder } from './events.js';
import { FluxObjects } from './flux-objects.js';
import type { KubeObject } from '../kube/object.js';
import { cachedRequest, requestTargetName } from './request-cache.js';
import { customObjects, startInformer, type InformerHandle } from './informers.js';
import { refusalCheck, type RefusalCheck } from '../kube/refusal.js';
import { RequestReconciler, keyOf } from './reconciler.js';
import { policyDecider } from '../policy/decider.js';
import { PolicyStore } from '../policy/store.js';
import { RequestIndex } from './request-index.js';
import { RequestService } from '../client/requests.js';
import { ScheduleController } from '../schedule/controller.js';

export interface OperatorOptions {
  config: OperatorConfig;
  kc: ClusterAccess;
  log: Logger;
  clock?: Clock;
  /** Called when leadership is lost: the process must stop acting (the CLI exits). */
  onLostLeadership?: (reason: StopReason) => void;
  /** Called once the controllers' caches have synced, before they act (the first time this replica leads). */
  onSynced?: () => void;
  /**
   * Called once after onSynced, when the controllers first have no work queued or running (every
   * request found at start handled) and the outcome Events of the requests that finished recently
   * have been looked for, or SettleWaitMs after the sync if that comes first.
   */
  onSettled?: () => void;
}

/**
 * The longest the work queue waits, once the requests are loaded, for the policies that decide them
 * (and the namespaces' labels) before it starts anyway; the requests then wait for the policies one
 * by one, within their timeouts.
 */
export const PoliciesWaitMs = 30_000;

/** The longest wait after the sync for the work queue to empty (and the outcome lookups to end) before onSettled is called anyway. */
export const SettleWaitMs = 20_000;

/** One operator replica. start() returns once it serves health checks; it acts once it leads. */
export class Operator {
  readonly identity = `${hostname()}_${randomBytes(4).toString('hex')}`;
  readonly metrics: OperatorMetrics = createMetrics();
  private readonly clock: Clock;
  private health: HealthServer | undefined;
  private elector: LeaderElector | undefined;
  private controllers: Controllers | undefined;
  private stopping: Promise<void> | undefined;
  /** Posts outcomes to --events-addr; kept across leadership changes so queued events still go out. */
  private readonly poster: FluxEventPoster | undefined;

  constructor(private readonly options: OperatorOptions) {
    this.clock = options.clock ?? realClock;
    const url = options.config.eventsAddr;
    if (url) this.poster = new FluxEventPoster({ url, clock: this.clock, log: options.log, metrics: this.metrics });
  }

  /** The port /healthz, /readyz and /metrics are served on. */
  get port(): number | undefined {
    return this.health?.port;
  }

  async start(): Promise<void> {
    const { config, kc, log } = this.options;
    this.health = await startHealthServer({
      addr: config.metricsAddr,
      registry: this.metrics.registry,
      logger: log,
      // Ready once this replica acts with synced caches, or waits as a standby.
      readinessChecks: {
        controllers: () => (config.leaderElect && !this.elector?.isLeader()) || this.controllers?.synced === true,
      },
    });
    log.info({ identity: this.identity, metricsPort: this.health.port, leaderElect: config.leaderElect }, 'operator started');
    if (!config.leaderElect) {
      await this.startControllers();
      return;
    }
    this.elector = new LeaderElector({
      client: leaseClient(kc),
      leaseName: config.leaseName,
      namespace: config.namespace,
      identity: this.identity,
      clock: this.clock,
      logger: log,
      onStartedLeading: () => {
        this.metrics.leader.set(1);
        void this.startControllers().catch((err: unknown) => {
          log.fatal({ err }, 'could not start controllers');
          this.options.onLostLeadership?.('renewFailed');
        });
      },
      onStoppedLeading: (reason) => {
        this.metrics.leader.set(0);
        if (reason !== 'released' && !this.stopping) this.options.onLostLeadership?.(reason);
      },
    });
    void this.elector.run();
  }

  /** Stops taking work, lets running reconciles finish, releases the Lease and closes the server. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.controllers?.stop();
      await this.elector?.stop();
      // Outcomes of the requests that just finished still go out, within the poster's grace period
      // (after the Lease is released, so a standby need not wait for them).
      await this.poster?.stop();
      await this.health?.close();
    })();
    return this.stopping;
  }

  private async startControllers(): Promise<void> {
    const { config, kc, log } = this.options;
    this.controllers = new Controllers({
      kc,
      log,
      clock: this.clock,
      metrics: this.metrics,
      config,
      identity: this.identity,
      ...(this.poster ? { poster: this.poster } : {}),
      ...(this.options.onSynced ? { onSynced: this.options.onSynced } : {}),
      ...(this.options.onSettled ? { onSettled: this.options.onSettled } : {}),
    });
    await this.controllers.start();
  }
}

interface ControllersOptions {
  kc: ClusterAccess;
  log: Logger;
  clock: Clock;
  metrics: OperatorMetrics;
  config: OperatorConfig;
  identity: string;
  /** Where outcomes go as Flux events (--events-addr). */
  poster?: FluxEventPoster;
  onSynced?: () => void;
  onSettled?: () => void;
}

/** The parts that run only on the leader. */
class Controllers {
  synced = false;
  private readonly queue: WorkQueue;
  private readonly index = new RequestIndex();
  private readonly fluxObjects: FluxObjects;
  private requests: InformerHandle<KubeObject> | undefined;
  /** FluxActionSchedules: the requests they create at their slots. */
  private schedules: ScheduleController | undefined;
  /** Set until onSettled is called (see settle), and cleared by stop(): it calls onSettled should the work queue not empty first. */
  private settleTimer: Timer | undefined;
  private readonly onSyncFailing: (resource: string, reason: string | undefined) => void;
  /** Whether a 403 is the API server's verdict, or it was not ready to judge (see src/kube/refusal.ts). */
  private readonly refusalStands: RefusalCheck;
  /** FluxActionPolicies, ClusterFluxActionPolicies and namespaces' labels: what decides a request before it starts. */
  private readonly policies: PolicyStore;
  /** Aborted by stop(): ends the wait for the policies, after which start() does not start the queue. */
  private readonly stopped = new AbortController();

  constructor(private readonly options: ControllersOptions) {
    const { kc, log, clock, metrics, config } = options;
    this.queue = new WorkQueue({ clock, logger: log, hooks: workQueueMetricsHooks(metrics) });
    this.onSyncFailing = informerSyncHook(metrics);
    this.refusalStands = refusalCheck(kc);
    this.policies = new PolicyStore({
      kc,
      log,
      clock,
      onSyncFailing: this.onSyncFailing,
      refusalStands: this.refusalStands,
      ...(config.watchNamespace ? { namespace: config.watchNamespace } : {}),
    });
    this.fluxObjects = new FluxObjects({
      kc,
      log,
      clock,
      onSyncFailing: this.onSyncFailing,
      refusalStands: this.refusalStands,
      // Requests from one watched namespace reach only that namespace, unless it may cross namespaces.
      ...(config.watchNamespace && !config.crossNamespaceFrom.includes(config.watchNamespace) ? { namespace: config.watchNamespace } : {}),
      // A Flux object changed: look again at every request following it.
      onChange: (objectKey) => {
        for (const key of this.index.followersOf(objectKey)) this.queue.add(key);
      },
    });
  }

  async start(): Promise<void> {
    const { kc, log, clock, metrics, config, identity } = this.options;
    this.policies.start();
    this.requests = startInformer<KubeObject>({
      kc,
      ...customObjects(kubeClient(kc), Group, Version, Plural, config.watchNamespace),
      log,
      clock,
      onSyncFailing: this.onSyncFailing,
      transform: (obj) => cachedRequest(obj),
      // Coalescing and policies look up the requests for one target at a time.
      indexKey: requestTargetName,
      onChange: (obj) => {
        if (!obj.metadata?.name) return;
        this.queue.add(keyOf({ metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace } }));
        this.schedules?.onRequest(obj);
      },
    });
    const recorder = new EventRecorder(kc, identity, clock, log, this.refusalStands);
    const reconciler = new RequestReconciler({
      kc,
      requests: this.requests,
      fluxObjects: this.fluxObjects,
      discovery: new FluxDiscovery(kc),
      index: this.index,
      crossNamespaceFrom: config.crossNamespaceFrom,
      recorder,
      clock,
      log,
      metrics,
      mintToken: tokenMinter(() => clock.now()),
      refusalStands: this.refusalStands,
      policy: policyDecider(this.policies),
      ...(this.options.poster ? { outcomes: this.outcomeReporter(this.options.poster) } : {}),
    });
    await this.requests.whenSynced(false);
    // Every request that has not started is decided by the policies: acting before they are loaded
    // would send each one through a retry (an error line apiece after a restart) to no purpose.
    await this.policiesLoaded();
    if (this.stopped.signal.aborted) return;
    // Tokens held by unfinished requests are known before any request is reconciled, so a restart
    // coalesces with what the previous leader recorded.
    reconciler.loadHeldTokens();
    this.synced = true;
    this.options.onSynced?.();
    this.queue.start((key, signal) => reconciler.reconcile(key, signal), { concurrency: config.concurrency });
    if (this.options.onSettled) this.settle(this.options.onSettled, () => recorder.outcomesLookedFor());
    // Schedules read their requests from the request informer's cache, synced above.
    const requestService = new RequestService({ kc });
    this.schedules = new ScheduleController({
      kc,
      log,
      clock,
      requests: this.requests,
      recorder,
      whoAmI: () => requestService.whoAmI(),
      ...(config.watchNamespace ? { namespace: config.watchNamespace } : {}),
      onSyncFailing: this.onSyncFailing,
    });
    this.schedules.start();
    log.info({ requests: this.requests.list().length, concurrency: config.concurrency }, 'controllers started');
  }

  /**
   * Resolves when the policy store can decide requests (see PolicyStore.whenReady), when one of its
   * lists fails for good (the policies' CRD missing, a refusal that stands: each request then says so),
   * after PoliciesWaitMs, or on stop().
   */
  private async policiesLoaded(): Promise<void> {
    const wait = (signal: AbortSignal): Promise<void> => this.policies.whenReady(signal);
    // A list that failed for good counts as not ready: the decider reports it to each request.
    const ready = await waitAtMost(this.options.clock, PoliciesWaitMs, this.stopped.signal, wait).catch(() => false);
    if (!ready && !this.stopped.signal.aborted)
      this.options.log.warn('acting before the policies are loaded: the requests that have not started wait for them');
  }

  /** Posts each outcome as a Flux event, with the target's event annotations read from the cache. */
  private outcomeReporter(poster: FluxEventPoster): OutcomeListener {
    const { log, clock, identity } = this.options;
    return outcomeReporter({
      poster,
      instance: identity,
      clock,
      log,
      targetAnnotations: async (target) => {
        const kind = fluxKind(target.kind);
        if (!kind) return undefined;
        // The request just read this object, so its informer has synced: the wait is a bound, not an expectation.
        const object = await this.fluxObjects.get(kind, target.apiVersion, target.namespace, target.name, { timeoutMs: 1_000 });
        return object?.metadata.annotations;
      },
    });
  }

  /**
   * Calls onSettled once: when the work queue first has nothing queued or running and then the
   * outcome-Event lookups its looks started have ended (lookups), or after SettleWaitMs.
   */
  private settle(onSettled: () => void, lookups: () => Promise<void>): void {
    const call = (): void => {
      if (!this.settleTimer) return;
      this.settleTimer.cancel();
      this.settleTimer = undefined;
      onSettled();
    };
    this.settleTimer = this.options.clock.setTimer(call, SettleWaitMs);
    void this.queue.whenIdle().then(lookups).then(call);
  }

  async stop(): Promise<void> {
    this.stopped.abort();
    // Not settled by the shutdown's empty queue.
    this.settleTimer?.cancel();
    this.settleTimer = undefined;
    await this.schedules?.stop();
    await this.queue.shutdown();
    await this.requests?.stop();
    await this.fluxObjects.stop();
    await this.policies.stop();
  }
}
