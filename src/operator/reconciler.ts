// The request reconciler: the I/O around the Flux protocol. For one request key it reads what is,
// asks the protocol what to do, writes the request's status, and only then touches Flux objects.
import type { Logger } from 'pino';
import type { z } from 'zod';
import { FailureReason, ReadyCondition, isFinished } from '../api/conditions.js';
import { formatDuration } from '../api/duration.js';
import { InvalidObjectError } from '../api/parse.js';
import {
  FinishedRequestSchema,
  FluxActionRequestSchema,
  Group,
  isFinishedRequest,
  Plural,
  Version,
  targetOf,
  type FinishedRequest,
  type FluxActionRequest,
  StepRole,
  type FluxObject,
  type ObjectStatus,
  type RequestStatus,
  type StepStatus,
} from '../api/types.js';
import { orderChain } from '../chain/graph.js';
import { fluxKind, type FluxKind } from '../flux/kinds.js';
import {
  ForceAtAnnotation,
  RequestedAtAnnotation,
  ResetAtAnnotation,
  crossNamespaceMessage,
  dependsOnOf,
  describeRef,
  objectKey,
  sourceRefOf,
  type ObjectRef,
} from '../flux/objects.js';
import { decide, isoSeconds, outcomeEvent, timeoutMs, type Plan, type Slot, type Step } from '../flux/protocol.js';
import type { Clock } from '../runtime/clock.js';
import type { OperatorMetrics } from '../runtime/metrics.js';
import { RetryWithinError, type ReconcileResult } from '../runtime/workqueue.js';
import { pastAction, type PastAction, type PolicyDecision } from '../policy/evaluate.js';
import { subjectOf } from '../policy/decider.js';
import { gate, needsDecision } from '../policy/gate.js';
import type { FluxDiscovery } from './discovery.js';
import type { ClusterAccess } from '../kube/access.js';
import { customObjectPath, kubeClient, type KubeClient } from '../kube/client.js';
import { apiMessage, isConflict, isForbidden, isNotFound, isTransient } from '../kube/errors.js';
import type { RefusalCheck } from '../kube/refusal.js';
import type { EventRecorder } from './events.js';
import { DefaultSyncWaitMs, type FluxObjects, type ReadOptions } from './flux-objects.js';
import type { KubeObject } from '../kube/object.js';
import { newerThan, type InformerHandle } from './informers.js';
import { requestHasStatus, requestPhase, requestTargetName } from './request-cache.js';
import type { RequestIndex } from './request-index.js';
import { ByName } from './by-name.js';

/** How often an unfinished request is looked at again even if no watch event arrives (a safety net; reads the cache). */
export const ResyncMs = 60_000;
/** How soon a request waiting to join a token about to be sent looks again, in case it was not sent (see joinWait). */
export const JoinRetryMs = 1_000;
/**
 * How recent an outcome must be for a request seen finished to get its outcome Event when this
 * process did not record it: long enough for an operator restart, short of re-announcing history.
 */
export const RecentOutcomeMs = 10 * 60_000;

export interface ReconcilerDeps {
  kc: ClusterAccess;
  requests: InformerHandle<KubeObject>;
  fluxObjects: FluxObjects;
  discovery: FluxDiscovery;
  index: RequestIndex;
  /** Namespaces whose requests may act on objects in other namespaces. */
  crossNamespaceFrom: readonly string[];
  recorder: EventRecorder;
  clock: Clock;
  log: Logger;
  metrics?: OperatorMetrics;
  mintToken: () => string;
  /**
   * Whether a 403 the operator met while acting stands, or the API server was not ready to judge
   * (src/kube/refusal.ts): then the request retries within its timeout. Absent: every 403 stands.
   */
  refusalStands?: RefusalCheck;
  /**
   * The policies' decision for a request that has not started (FluxActionPolicy,
   * ClusterFluxActionPolicy), given the actions already carried out on its target (for rate
   * limits; read only when a rule that limits the rate matches). Throws while the policies cannot
   * be known (not synced): the request waits, within its timeout. Absent: every request is allowed.
   */
  policy?: (request: FluxActionRequest, history: () => readonly PastAction[], now: number) => PolicyDecision;
  /** Told once about each request that reached its outcome (the audit trail); must return at once. */
  outcomes?: { finished(request: FluxActionRequest): void };
}

/**
 * How long a minted token may wait for its first patch before it is no longer offered to requests
 * waiting in the cache (see adopt): bounds the set of unsent tokens, whatever happened to them.
 */
const UnsentTokenMs = 10 * 60_000;

/**
 * A request that was in the cache, not started, when a token for its target (same options) was first
 * sent: the reconcile Flux runs for that token reads the target after the request existed, so it
 * covers the request, which records nothing until its outcome. Kept in memory only: after a restart
 * such a request takes the ordinary path (its own token, a second reconcile), never none.
 */
interface Joined {
  uid: string;
  token: string;
  /** The record of the target as the request that wrote the token holds it (token, lastHandledReconcileAt before it). */
  record: ObjectStatus;
  startTime: string;
}

type Failure = { reason: FailureReason; message: string };
/** A request as readRequest read it: in full while it has work left, else only what a finished one needs. */
type RequestRead = { request: FluxActionRequest; finished?: undefined } | { finished: FinishedRequest; request?: undefined };
type Resolved = { steps: Step[]; failure?: undefined } | { steps: Step[]; failure: Failure };

/** Thrown when the request changed under us; the queue retries with the fresh copy. */
class StaleRequestError extends Error {
  override readonly name = 'StaleRequestError';
}

export class RequestReconciler {
  private readonly client: KubeClient;
  /** Requests whose status we just wrote, newer than the cache until the watch delivers them. */
  private readonly fresh = new Map<string, FluxActionRequest>();
  /**
   * Unfinished requests as parsed from the cache's objects, by object: the cache replaces an object
   * on every change, so a request is parsed once per version however often it is looked at. Not the
   * finished ones, which are looked at rarely and would double what the cache holds of them.
   */
  private readonly parsed = new WeakMap<object, FluxActionRequest>();
  /** Patches under way, by object and body: requests sharing a token wait for one patch, not send their own. */
  private readonly patching = new Map<string, Promise<unknown>>();
  /**
   * Requests the policies let start, by key, until the cache shows their startTime: a rate limit
   * counts them even when two workers decide on the same target before either status is written.
   */
  private readonly starting = new Map<string, PastAction>();
  /** The uid of each finished request whose outcome Event this process recorded, by namespace and name (see announceOutcome). */
  private readonly announced = new ByName<string>();
  /** Tokens this process minted whose first patch is not sent yet, with when they were minted. */
  private readonly unsent = new Map<string, number>();
  /** Requests that joined a token sent after they were created (see Joined), by key. */
  private readonly joined = new Map<string, Joined>();
  /** Keys being reconciled now: a request a worker is deciding on is not adopted by another's patch. */
  private readonly active = new Set<string>();
  private readonly mintToken: () => string;

  constructor(private readonly deps: ReconcilerDeps) {
    this.client = kubeClient(deps.kc);
    this.mintToken = () => {
      const token = deps.mintToken();
      const now = deps.clock.now();
      for (const [old, at] of this.unsent) if (now - at > UnsentTokenMs) this.unsent.delete(old);
      this.unsent.set(token, now);
      return token;
    };
  }

  /** Requests waiting for the outcome of a token they joined (for tests and metrics). */
  joinedCount(): number {
    return this.joined.size;
  }

  /** Loads the tokens every unfinished request recorded, from the request cache (at start). */
  loadHeldTokens(): void {
    for (const raw of this.deps.requests.list()) {
      // A finished request holds no token: not parsed (an operator may start on thousands).
      if (isFinished(requestPhase(raw))) continue;
      const parsed = FluxActionRequestSchema.safeParse(raw);
      if (parsed.success) this.deps.index.holdFrom(keyOf(parsed.data), parsed.data);
    }
  }

  /**
   * Reconciles one request by its `namespace/name` key. Level-triggered and idempotent. signal (the
   * work queue's) ends waits early when the queue shuts down.
   */
  async reconcile(key: string, signal?: AbortSignal): Promise<ReconcileResult | undefined> {
    this.active.add(key);
    try {
      return await this.reconcileKey(key, signal);
    } finally {
      this.active.delete(key);
    }
  }

  private async reconcileKey(key: string, signal?: AbortSignal): Promise<ReconcileResult | undefined> {
    const { index, clock } = this.deps;
    // Fetch.
    const read = this.readRequest(key);
    if (!read) {
      index.forget(key);
      this.starting.delete(key);
      this.announced.delete(...splitKey(key));
      this.joined.delete(key);
      return;
    }
    if ((read.request ?? read.finished).status?.startTime) this.starting.delete(key);
    // Finished already? Only its TTL is left to honour, and its outcome Event if it may be missing.
    if (read.finished) {
      index.forget(key);
      this.joined.delete(key);
      this.announceOutcome(read.finished, undefined);
      return this.expire(read.finished, signal);
    }
    const request = read.request;
    if (request.metadata.deletionTimestamp) return;
    const log = this.deps.log.child({ request: key, action: request.spec.action, target: describeRef(targetOf(request)) });

    // Joined a token sent after it was created: wait for that token's outcome, writing nothing until then.
    const joined = this.joined.get(key);
    if (joined) {
      if (!request.status?.startTime && joined.uid === request.metadata.uid) return this.followJoined(request, joined, log, signal);
      this.joined.delete(key);
    }

    // Policy: decided once, before anything is read or touched; a request held for approval waits here.
    let decision: PolicyDecision | undefined;
    try {
      decision = this.deps.policy && needsDecision(request) ? this.decidePolicy(this.deps.policy, request) : undefined;
    } catch (err) {
      return this.unreadable(request, err, log, signal);
    }
    const gated = gate({ request, now: clock.now(), ...(decision ? { decision } : {}) });
    if ('plan' in gated) {
      const written = await this.commit(request, gated.plan, log, signal);
      if (!written) return { requeueAfter: 100 };
      if (isFinished(gated.plan.status.phase)) return this.finished(written, log, signal);
      return { requeueAfter: Math.min(gated.plan.requeueAfterMs ?? ResyncMs, ResyncMs) };
    }
    if (decision?.effect === 'Allow') this.starting.set(key, pastAction(subjectOf(request), clock.now()));
    const allowed: FluxActionRequest = { ...request, status: gated.proceed };

    // Resolve the target and its sources.
    let resolved: Resolved;
    try {
      resolved = await this.resolve(allowed, signal);
    } catch (err) {
      return this.unreadable(allowed, err, log, signal);
    }
    index.follow(
      key,
      resolved.steps.map((s) => objectKey(s.ref)),
    );

    // Decide, and hold the plan's tokens at once so concurrent requests on the same object share them.
    const plan = decide({
      request: allowed,
      now: clock.now(),
      steps: resolved.steps,
      ...(resolved.failure ? { failure: resolved.failure } : {}),
      heldTokens: (objectKey) => index.heldTokens(objectKey, key),
      mintToken: this.mintToken,
    });
    // Sharing a token that another request holds and has not sent yet: write nothing now. When the
    // token is first sent, this request is in the cache and not started, so it joins it (see
    // joiners) and writes its status once, with the outcome.
    const joinWait = this.joinWait(request, plan, resolved.steps, decision);
    if (joinWait !== undefined) return { requeueAfter: joinWait };
    index.holdFrom(key, { ...request, status: plan.status });

    // Record: the status (and the token in it) is written before any Flux object is touched.
    const written = await this.commit(request, plan, log, signal, gated.event);
    if (!written) return { requeueAfter: 100 };
    if (isFinished(plan.status.phase)) return this.finished(written, log, signal);

    // Act.
    if (plan.patch) return this.patch(written, plan.patch, log, signal);
    return { requeueAfter: Math.min(plan.requeueAfterMs ?? ResyncMs, ResyncMs) };
  }

  private async patch(
    request: FluxActionRequest,
    patch: NonNullable<Plan['patch']>,
    log: Logger,
    signal?: AbortSignal,
  ): Promise<ReconcileResult | undefined> {
    const kind = fluxKind(patch.ref.kind);
    // The CRD admits only the table's kinds, so a plan never targets another.
    if (!kind) throw new Error(`cannot patch a ${patch.ref.kind}: not a Flux kind the operator knows`);
    const id = `${objectKey(patch.ref)} ${JSON.stringify(patch.body)}`;
    // Requests in the cache before the token's first send are covered by it (see Joined).
    const token = patch.body.metadata?.annotations[RequestedAtAnnotation];
    let joiners: ReturnType<RequestReconciler['joiners']> = [];
    let record: ObjectStatus | undefined;
    if (token && this.unsent.has(token) && !this.patching.has(id)) {
      record = recordOf(request.status ?? {}, objectKey(patch.ref), token);
      if (record) joiners = this.joiners(request, patch);
      this.unsent.delete(token);
    }
    // Joined as the patch goes out, not once it is answered: the watch may show the token on the
    // target first and wake them, and they must not take a token of their own then.
    if (token && record && joiners.length > 0) this.adopt(joiners, token, record, patch.ref);
    try {
      let pending = this.patching.get(id);
      if (!pending) {
        pending = this.client
          .mergePatch(customObjectPath({ ...crdCoordinates(kind, patch.ref), name: patch.ref.name }), patch.body, { signal })
          .finally(() => this.patching.delete(id));
        this.patching.set(id, pending);
      }
      const updated = await pending;
      this.deps.fluxObjects.remember(updated as FluxObject);
      log.debug({ object: describeRef(patch.ref), patch: patch.body }, 'patched');
      // Look again at once: the patched object may already settle the step.
      return { requeueAfter: 1 };
    } catch (err) {
      // The token may not be on the target: those that joined it take the ordinary path when next looked at.
      if (token) this.leave(joiners, token);
      if (isNotFound(err)) return { requeueAfter: 1 };
      if (isForbidden(err) && !isTransient(err)) {
        if (this.deps.refusalStands && !(await this.deps.refusalStands(err, signal))) return this.unreadable(request, err, log, signal);
        const message = `the operator may not patch ${kind.plural}.${kind.group} in namespace ${patch.ref.namespace}: ${apiMessage(err)}`;
        return this.fail(request, FailureReason.Forbidden, message, log, signal);
      }
      throw err;
    }
  }

  /** Records the joiners of a token as its first patch goes out; each is looked at again when the target changes. */
  private adopt(joiners: ReturnType<RequestReconciler['joiners']>, token: string, record: ObjectStatus, ref: ObjectRef): void {
    const now = this.deps.clock.now();
    const startTime = isoSeconds(now);
    for (const { key, request } of joiners) {
      this.joined.set(key, { uid: request.metadata.uid ?? '', token, record, startTime });
      this.deps.index.follow(key, [objectKey(ref)]);
      // A rate limit on the target counts them from now, as it counts requests that started.
      this.starting.set(key, pastAction(subjectOf(request), now));
    }
    this.deps.log.debug({ object: describeRef(ref), token, joined: joiners.length }, 'requests joined a token');
  }

  /** Undoes adopt for the joiners still waiting on token, whose first patch failed. */
  private leave(joiners: ReturnType<RequestReconciler['joiners']>, token: string): void {
    for (const { key } of joiners) if (this.joined.get(key)?.token === token) this.joined.delete(key);
  }

  /**
   * The target or a source could not be read (its informer does not sync, discovery fails): the queue
   * retries with backoff, but never past the request's timeout, which then ends it with what kept failing.
   */
  private async unreadable(
    request: FluxActionRequest,
    err: unknown,
    log: Logger,
    signal?: AbortSignal,
  ): Promise<ReconcileResult | undefined> {
    const why = err instanceof Error ? err.message : String(err);
    const left = deadlineOf(request) - this.deps.clock.now();
    if (left <= 0) {
      const message = `no outcome within ${formatDuration(timeoutMs(request))}: ${why}`;
      return this.fail(request, FailureReason.Timeout, message, log, signal);
    }
    throw new RetryWithinError(why, left, { cause: err });
  }

  /** Ends a request with a failure found while acting, through the same path as every other outcome. */
  private async fail(
    request: FluxActionRequest,
    reason: FailureReason,
    message: string,
    log: Logger,
    signal?: AbortSignal,
  ): Promise<ReconcileResult | undefined> {
    const plan = decide({
      request,
      now: this.deps.clock.now(),
      steps: [],
      failure: { reason, message },
      heldTokens: () => [],
      mintToken: this.mintToken,
    });
    const written = await this.commit(request, plan, log, signal);
    if (!written) return { requeueAfter: 100 };
    return this.finished(written, log, signal);
  }

  /**
   * A request that joined a token: judged like one that recorded the token itself, its status
   * written once, with the outcome. Should the token be gone from the target unhandled (overwritten
   * by another client), it leaves the token and takes the ordinary path.
   */
  private async followJoined(
    request: FluxActionRequest,
    joined: Joined,
    log: Logger,
    signal?: AbortSignal,
  ): Promise<ReconcileResult | undefined> {
    const key = keyOf(request);
    const view: FluxActionRequest = { ...request, status: { startTime: joined.startTime, token: joined.token, target: joined.record } };
    let resolved: Resolved;
    try {
      resolved = await this.resolve(view, signal);
    } catch (err) {
      return this.unreadable(view, err, log, signal);
    }
    this.deps.index.follow(
      key,
      resolved.steps.map((s) => objectKey(s.ref)),
    );
    const plan = decide({
      request: view,
      now: this.deps.clock.now(),
      steps: resolved.steps,
      ...(resolved.failure ? { failure: resolved.failure } : {}),
      heldTokens: () => [],
      mintToken: this.mintToken,
    });
    if (!isFinished(plan.status.phase)) {
      if (!plan.patch) return { requeueAfter: Math.min(plan.requeueAfterMs ?? ResyncMs, ResyncMs) };
      log.info({ token: joined.token }, 'the joined token is no longer on the target; requesting on its own');
      this.joined.delete(key);
      return { requeueAfter: 1 };
    }
    const written = await this.commit(request, plan, log, signal);
    if (!written) return { requeueAfter: 100 };
    this.joined.delete(key);
    return this.finished(written, log, signal);
  }

  /**
   * The requests a first patch of a token covers: Reconcile requests for the same object and options,
   * in the cache and not started (so created before the patch is sent), that no worker is deciding on
   * and no policy rule matches. Each would otherwise write its own token and cost Flux a reconcile.
   */
  private joiners(leader: FluxActionRequest, patch: NonNullable<Plan['patch']>): { key: string; request: FluxActionRequest }[] {
    const annotations = patch.body.metadata?.annotations ?? {};
    const token = annotations[RequestedAtAnnotation];
    if (!token || patch.body.spec || !this.unsent.has(token)) return [];
    const options = { force: annotations[ForceAtAnnotation] === token, reset: annotations[ResetAtAnnotation] === token };
    const ref = patch.ref;
    const out: { key: string; request: FluxActionRequest }[] = [];
    // Only requests naming the same object are looked at (the cache's index by target name).
    for (const raw of this.deps.requests.indexed(ref.name)) {
      if (requestTargetName(raw) !== ref.name) continue;
      // Only a request with no status yet can join: the others (most, once a target has a history) are not parsed.
      if (requestHasStatus(raw)) continue;
      const request = this.parse(raw);
      if (!request) continue;
      const key = keyOf(request);
      if (key === keyOf(leader) || this.active.has(key) || this.joined.has(key)) continue;
      if (this.mayJoin(request, ref, options)) out.push({ key, request });
    }
    return out;
  }

  /**
   * Whether a request with no status yet may join a token for ref written with these options: a
   * plain Reconcile of that very object that waits for its outcome, in a namespace allowed to name
   * it, and that no policy rule matches. decision: the policies' decision on it, when already made.
   */
  private mayJoin(
    request: FluxActionRequest,
    ref: ObjectRef,
    options: { force: boolean; reset: boolean },
    decision?: PolicyDecision,
  ): boolean {
    const spec = request.spec;
    const target = targetOf(request);
    const namespace = request.metadata.namespace ?? '';
    if (request.metadata.deletionTimestamp || !request.metadata.uid) return false;
    if (spec.action !== 'Reconcile' || spec.withSource || spec.withDependencies || spec.withDependents || spec.wait === false) return false;
    if ((spec.force ?? false) !== options.force || (spec.reset ?? false) !== options.reset) return false;
    if (fluxKind(target.kind)?.kind !== ref.kind || target.name !== ref.name || target.namespace !== ref.namespace) return false;
    if (target.apiVersion !== undefined && target.apiVersion !== ref.apiVersion) return false;
    if (target.namespace !== namespace && !this.deps.crossNamespaceFrom.includes(namespace)) return false;
    if (!this.deps.policy) return true;
    if (decision) return !decision.policy;
    try {
      return !this.decidePolicy(this.deps.policy, request).policy;
    } catch {
      return false;
    }
  }

  /**
   * How long a request with no status yet waits to join a token rather than write it too, or
   * undefined when it does not: when its plan shares a token that another request holds, that this
   * process minted and has not sent, and that the request may join. Behind an earlier token Flux
   * has not handled (the plan patches nothing), it waits for the target to change, as it would
   * have. Otherwise the holder is about to send it (the same change woke both): it looks again
   * within JoinRetryMs, in case the holder does not. decision: the policies' decision on it, if made.
   */
  private joinWait(request: FluxActionRequest, plan: Plan, steps: readonly Step[], decision?: PolicyDecision): number | undefined {
    if (requestHasStatus(request) || isFinished(plan.status.phase)) return undefined;
    const token = plan.status.target?.token;
    const target = steps.find((s) => s.slot === 'target' && !s.chain);
    if (!token || !target || !this.unsent.has(token)) return undefined;
    if (plan.patch && plan.patch.body.metadata?.annotations[RequestedAtAnnotation] !== token) return undefined;
    const holders = this.deps.index.heldTokens(objectKey(target.ref), keyOf(request));
    if (!holders.some((h) => h.token === token)) return undefined;
    const options = { force: request.spec.force ?? false, reset: request.spec.reset ?? false };
    if (!this.mayJoin(request, target.ref, options, decision)) return undefined;
    const untilDeadline = plan.requeueAfterMs ?? ResyncMs;
    return Math.max(1, Math.min(untilDeadline, plan.patch ? JoinRetryMs : ResyncMs));
  }

  /**
   * Writes the plan's status and records its Event; undefined when our copy was stale (the cache
   * lags our own writes), to look again at the fresh one, touching nothing.
   */
  private async commit(
    request: FluxActionRequest,
    plan: Plan,
    log: Logger,
    signal?: AbortSignal,
    before?: Plan['event'],
  ): Promise<FluxActionRequest | undefined> {
    let written: FluxActionRequest;
    try {
      written = await this.writeStatus(request, plan.status, signal);
    } catch (err) {
      if (!(err instanceof StaleRequestError)) throw err;
      log.debug({ err: err.message }, 'request changed; looking again');
      return undefined;
    }
    // Events are best effort and not on the request's path: a worker does not wait for them.
    if (before) void this.deps.recorder.record(written, before.type, before.reason, before.message);
    if (isFinished(plan.status.phase)) this.announceOutcome(written, plan.event);
    else if (plan.event) void this.deps.recorder.record(written, plan.event.type, plan.event.reason, plan.event.message);
    return written;
  }

  /**
   * Records a finished request's outcome Event, once per request in this process. written: the
   * Event of the outcome this process just wrote, which is new. Otherwise the request was seen finished
   * without this process having recorded its outcome (the status write whose answer was lost, a
   * restart between the write and the Event): the Event is recorded unless the request has it. Only
   * for recent outcomes: a restart does not re-announce history.
   */
  private announceOutcome(request: FinishedRequest, written: Plan['event'] | undefined): void {
    const uid = request.metadata.uid;
    const { namespace = '', name } = request.metadata;
    if (!uid || this.announced.get(namespace, name) === uid) return;
    const completion = Date.parse(request.status?.completionTime ?? '');
    if (!written && !(this.deps.clock.now() - completion <= RecentOutcomeMs)) return;
    this.announced.set(namespace, name, uid);
    if (written) {
      void this.deps.recorder.record(request, written.type, written.reason, written.message);
      return;
    }
    const event = outcomeEvent(request.status ?? {});
    void this.deps.recorder.recordOutcome(request, event.type, event.reason, event.message);
  }

  /** A request reached its outcome: count it, stop following its objects, and honour its TTL. */
  private finished(request: FluxActionRequest, log: Logger, signal?: AbortSignal): Promise<ReconcileResult | undefined> {
    log.info(
      { phase: request.status?.phase, reason: readyReason(request.status ?? {}), message: request.status?.message },
      'request finished',
    );
    this.observe(request);
    this.deps.outcomes?.finished(request);
    this.deps.index.forget(keyOf(request));
    return this.expire(request, signal);
  }

  /**
   * The request from the cache, or the copy we just wrote when the cache has not caught up. A
   * finished one is only checked as far as its outcome Event and its TTL read it (FinishedRequest).
   */
  private readRequest(key: string): RequestRead | undefined {
    const [namespace, name] = splitKey(key);
    const cached = this.deps.requests.get(name, namespace);
    const fresh = this.fresh.get(key);
    let raw: object | undefined = cached;
    if (
      fresh &&
      cached &&
      fresh.metadata.uid === cached.metadata?.uid &&
      newerThan(fresh.metadata.resourceVersion, cached.metadata?.resourceVersion)
    )
      raw = fresh;
    else this.fresh.delete(key);
    if (!raw) return undefined;
    if (raw === fresh) return isFinished(fresh.status?.phase) ? { finished: fresh } : { request: fresh };
    if (isFinished(requestPhase(raw))) {
      // The cached object itself, checked in place (read-only): a restart looks at thousands at once.
      if (isFinishedRequest(raw)) return { finished: raw };
      this.logUnparsable(key, FinishedRequestSchema, raw);
      return undefined;
    }
    const request = this.parse(raw);
    if (request) return { request };
    this.logUnparsable(key, FluxActionRequestSchema, raw);
    return undefined;
  }

  /** Logs why a cached request does not parse (the schema's issues), which the CRD should have refused. */
  private logUnparsable(key: string, schema: z.ZodType, raw: object): void {
    const { error } = schema.safeParse(raw);
    this.deps.log.error({ request: key, issues: error?.issues }, 'request does not parse; the CRD should have refused it');
  }

  /** An unfinished request from the cache, parsed once per version (see parsed); undefined when it does not parse. */
  private parse(raw: object): FluxActionRequest | undefined {
    const known = this.parsed.get(raw);
    if (known) return known;
    const parsed = FluxActionRequestSchema.safeParse(raw);
    if (!parsed.success) return undefined;
    this.parsed.set(raw, parsed.data);
    return parsed.data;
  }

  /** Writes the status when it changed, with optimistic concurrency: a conflict retries from fresh state. */
  private async writeStatus(request: FluxActionRequest, status: RequestStatus, signal?: AbortSignal): Promise<FluxActionRequest> {
    if (sameStatus(request.status ?? {}, status)) return request;
    const key = keyOf(request);
    try {
      const body = { ...request, status };
      const updated: unknown = await this.client.replace(
        customObjectPath(
          { group: Group, version: Version, plural: Plural, namespace: request.metadata.namespace ?? '', name: request.metadata.name },
          'status',
        ),
        body,
        { signal },
      );
      const parsed = FluxActionRequestSchema.parse(updated);
      this.fresh.set(key, parsed);
      return parsed;
    } catch (err) {
      // The token we meant to hold was never recorded.
      this.deps.index.holdFrom(key, request);
      if (isConflict(err) || isNotFound(err)) throw new StaleRequestError(`request ${key} changed: ${apiMessage(err)}`);
      throw err;
    }
  }

  /** Asks the policies about a request that has not started, with the actions already carried out on its target. */
  private decidePolicy(policy: NonNullable<ReconcilerDeps['policy']>, request: FluxActionRequest): PolicyDecision {
    return policy(request, () => this.pastActions(request), this.deps.clock.now());
  }

  /** The actions carried out on the request's target by other requests: those started, from the cache, and those starting. */
  private pastActions(request: FluxActionRequest): PastAction[] {
    const key = keyOf(request);
    const target = targetOf(request);
    const onTarget = (t: PastAction['target']): boolean =>
      t.kind === target.kind && t.name === target.name && t.namespace === target.namespace;
    const history = new Map<string, PastAction>();
    // Only requests naming the same target are looked at (the cache's index by target name).
    for (const raw of this.deps.requests.indexed(target.name)) {
      if (requestTargetName(raw) !== target.name) continue;
      const other = FluxActionRequestSchema.safeParse(raw);
      if (!other.success || keyOf(other.data) === key) continue;
      const otherTarget = targetOf(other.data);
      const started = other.data.status?.startTime;
      if (!started || !onTarget(otherTarget)) continue;
      this.starting.delete(keyOf(other.data));
      history.set(keyOf(other.data), pastAction(subjectOf(other.data), Date.parse(started)));
    }
    for (const [other, action] of this.starting) {
      if (other !== key && onTarget(action.target) && !history.has(other)) history.set(other, action);
    }
    return [...history.values()];
  }

  /** Resolves the target and, for withSource, its sources, or a chain's steps; a failure ends the request. */
  private async resolve(request: FluxActionRequest, signal: AbortSignal | undefined): Promise<Resolved> {
    const spec = request.spec;
    const requestNs = request.metadata.namespace ?? '';
    const kind = fluxKind(spec.target.kind);
    if (!kind) return failed(FailureReason.UnsupportedKind, `${spec.target.kind} is not a kind flux-action-operator acts on`);
    const targetRef = { kind: kind.kind, name: spec.target.name, namespace: targetOf(request).namespace };
    // A read waits for its informer at most a few seconds, and never past the request's timeout.
    const read = {
      timeoutMs: Math.max(1, Math.min(DefaultSyncWaitMs, deadlineOf(request) - this.deps.clock.now())),
      ...(signal ? { signal } : {}),
    };
    const isChain = spec.action === 'Reconcile' && (spec.withDependencies === true || spec.withDependents === true);
    // A chain that started follows the steps it recorded, so a restart resumes where it was.
    const recorded = request.status?.steps;
    if (isChain && recorded && recorded.length > 0) return this.resolveRecorded(recorded, requestNs, read);
    const target = await this.resolveStep('target', kind, targetRef, spec.target.apiVersion, requestNs, read);
    if ('failure' in target) return failed(target.failure.reason, target.failure.message);
    if (isChain && target.object) return this.resolveChain(request, target, requestNs, read);
    const steps: Step[] = [target];
    if (spec.action !== 'Reconcile' || !spec.withSource || !target.object) return { steps };
    const started = request.status?.target?.token !== undefined;
    // Once the target has its token the sources are done: they are read again only for the
    // revision a kind that applies its source's artifact must apply (protocol.ts staleAttempt).
    if (started && !kind.revision.sourceAttempt) return { steps };
    const sources = await this.resolveSources(target, requestNs, read);
    if (started) return { steps: 'failure' in sources ? steps : [...sources, target] };
    if ('failure' in sources) return failed(sources.failure.reason, sources.failure.message);
    return { steps: [...sources, target] };
  }

  /**
   * The sources of a resolved object, the deepest first: its source and, when that has one, the
   * source's own (a HelmChart's repository).
   */
  private async resolveSources(of: Step, requestNs: string, read: ReadOptions): Promise<Step[] | { failure: Failure }> {
    const steps: Step[] = [];
    let from = of.object;
    let fromKind = of.kind;
    for (const slot of ['source', 'chartSource'] as const) {
      if (!from) break;
      const ref = sourceRefOf(from, fromKind);
      if ('error' in ref) return { failure: { reason: FailureReason.SourceFailed, message: ref.error } };
      const sourceKind = fluxKind(ref.kind);
      if (!sourceKind)
        return {
          failure: {
            reason: FailureReason.UnsupportedKind,
            message: `source ${describeRef(ref)} of ${describeRef(of.ref)} is a ${ref.kind}, which flux-action-operator cannot reconcile`,
          },
        };
      const step = await this.resolveStep(slot, sourceKind, ref, ref.apiVersion, requestNs, read);
      if ('failure' in step) return step;
      steps.unshift(step);
      if (sourceKind.sourceRefs.length === 0) break;
      from = step.object;
      fromKind = sourceKind;
    }
    return steps;
  }

  /**
   * A chain's steps, the first time: the objects of the target's kind ordered by spec.dependsOn
   * (src/chain), each after its sources with withSource (a source shared by several steps once).
   * Every step is read and checked against the cross-namespace rule before anything is touched.
   */
  private async resolveChain(request: FluxActionRequest, target: Step, requestNs: string, read: ReadOptions): Promise<Resolved> {
    const spec = request.spec;
    let objects: FluxObject[];
    try {
      objects = await this.deps.fluxObjects.list(target.kind, target.ref.apiVersion, read);
    } catch (err) {
      if (isForbidden(err) && !isTransient(err))
        return failed(FailureReason.Forbidden, `the operator may not list ${target.kind.plural}.${target.kind.group}: ${apiMessage(err)}`);
      throw new Error(`could not list ${target.kind.plural}.${target.kind.group}: ${apiMessage(err)}`, { cause: err });
    }
    const order = orderChain({
      kind: target.kind.kind,
      target: target.ref,
      nodes: objects.map((o) => ({ namespace: o.metadata.namespace ?? '', name: o.metadata.name, dependsOn: dependsOnOf(o) })),
      withDependencies: spec.withDependencies === true,
      withDependents: spec.withDependents === true,
      mayReach: (namespace) => namespace === requestNs || this.deps.crossNamespaceFrom.includes(requestNs),
      requestNamespace: requestNs,
    });
    if ('failure' in order) return failed(order.failure.reason, order.failure.message);
    const steps: Step[] = [];
    const seen = new Set<string>();
    const add = (step: Step, role: StepRole): void => {
      seen.add(objectKey(step.ref));
      steps.push({ ...step, chain: { index: steps.length, role } });
    };
    for (const member of order.members) {
      const ref = { kind: target.kind.kind, name: member.name, namespace: member.namespace };
      const step =
        member.role === StepRole.Target
          ? target
          : await this.resolveStep('target', target.kind, ref, target.ref.apiVersion, requestNs, read, member.role);
      if ('failure' in step) return failed(step.failure.reason, step.failure.message);
      if (spec.withSource) {
        const sources = await this.resolveSources(step, requestNs, read);
        if ('failure' in sources) return failed(sources.failure.reason, sources.failure.message);
        for (const source of sources) if (!seen.has(objectKey(source.ref))) add(source, StepRole.Source);
      }
      add(step, member.role);
    }
    return { steps };
  }

  /** A started chain's steps, read again in the order recorded. */
  private async resolveRecorded(recorded: readonly StepStatus[], requestNs: string, read: ReadOptions): Promise<Resolved> {
    const steps: Step[] = [];
    for (const [index, entry] of recorded.entries()) {
      const kind = fluxKind(entry.kind ?? '');
      const role = entry.role ?? StepRole.Target;
      if (!kind || !entry.name) return failed(FailureReason.InvalidTarget, `status.steps[${index}] does not name a Flux object`);
      const ref = { kind: kind.kind, name: entry.name, namespace: entry.namespace ?? requestNs };
      const slot = role === StepRole.Source ? 'source' : 'target';
      const step = await this.resolveStep(slot, kind, ref, entry.apiVersion, requestNs, read, role);
      if ('failure' in step) return failed(step.failure.reason, step.failure.message);
      steps.push({ ...step, chain: { index, role } });
    }
    return { steps };
  }

  private async resolveStep(
    slot: Slot,
    kind: FluxKind,
    ref: { kind: string; name: string; namespace: string },
    apiVersion: string | undefined,
    requestNs: string,
    read: ReadOptions,
    role?: StepRole,
  ): Promise<Step | { failure: Failure }> {
    const part =
      role === StepRole.Dependency ? 'dependency ' : role === StepRole.Dependent ? 'dependent ' : slot === 'target' ? '' : 'source ';
    const what = `${part}${describeRef(ref)}`;
    if (ref.namespace !== requestNs && !this.deps.crossNamespaceFrom.includes(requestNs)) {
      return {
        failure: {
          reason: FailureReason.CrossNamespaceForbidden,
          message: crossNamespaceMessage(what, requestNs),
        },
      };
    }
    let version: Awaited<ReturnType<FluxDiscovery['resolve']>>;
    try {
      version = await this.deps.discovery.resolve(kind, apiVersion);
    } catch (err) {
      throw new Error(`could not discover the served versions of ${kind.kind}: ${apiMessage(err)}`, { cause: err });
    }
    if ('error' in version) return { failure: { reason: FailureReason.UnsupportedKind, message: version.error } };
    const fullRef: ObjectRef = { ...ref, apiVersion: version.apiVersion };
    try {
      const object = await this.deps.fluxObjects.get(kind, version.apiVersion, ref.namespace, ref.name, read);
      return { slot, kind, ref: fullRef, object };
    } catch (err) {
      if (err instanceof InvalidObjectError) {
        return { failure: { reason: FailureReason.InvalidTarget, message: `${part}${err.message}` } };
      }
      if (isForbidden(err) && !isTransient(err)) {
        return {
          failure: {
            reason: FailureReason.Forbidden,
            message: `the operator may not read ${kind.plural}.${kind.group}: ${apiMessage(err)}`,
          },
        };
      }
      throw new Error(`could not read ${what}: ${apiMessage(err)}`, { cause: err });
    }
  }

  /** Deletes a finished request once its ttlSecondsAfterFinished has passed, else looks again then. */
  private async expire(request: FinishedRequest, signal?: AbortSignal): Promise<ReconcileResult | undefined> {
    const ttl = request.spec.ttlSecondsAfterFinished;
    const completion = request.status?.completionTime;
    if (ttl === undefined || !completion) return;
    const due = Date.parse(completion) + ttl * 1000;
    const now = this.deps.clock.now();
    if (now < due) return { requeueAfter: due - now };
    try {
      await this.client.delete(
        customObjectPath({
          group: Group,
          version: Version,
          plural: Plural,
          namespace: request.metadata.namespace ?? '',
          name: request.metadata.name,
        }),
        { preconditions: { uid: request.metadata.uid ?? '' } },
        { signal },
      );
      this.deps.log.info({ request: keyOf(request), ttlSecondsAfterFinished: ttl }, 'deleted finished request after its TTL');
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  private observe(request: FluxActionRequest): void {
    const metrics = this.deps.metrics;
    if (!metrics) return;
    const labels = { action: request.spec.action, kind: request.spec.target.kind, result: readyReason(request.status ?? {}) ?? 'Unknown' };
    metrics.requestsTotal.inc(labels);
    const created = request.metadata.creationTimestamp;
    const createdMs = created instanceof Date ? created.getTime() : created ? Date.parse(created) : NaN;
    if (!Number.isNaN(createdMs)) metrics.requestDuration.observe(labels, Math.max(0, this.deps.clock.now() - createdMs) / 1000);
  }
}

/**
 * Whether two statuses say the same, as the API server stores them: key order aside (the status read
 * back has its keys in another order than the one built) and undefined fields dropped.
 */
export function sameStatus(a: RequestStatus, b: RequestStatus): boolean {
  return sameJson(a, b);
}

/**
 * Whether two values are equal once written as JSON: object keys in any order, a field set to
 * undefined as one left out, undefined in an array as null. Compared in place, without the copies a
 * round trip through JSON.stringify and JSON.parse would make on every status write.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v: unknown, i) => sameJson(v ?? null, b[i] ?? null));
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x).filter((k) => x[k] !== undefined);
  if (keys.length !== Object.keys(y).filter((k) => y[k] !== undefined).length) return false;
  return keys.every((k) => Object.hasOwn(y, k) && sameJson(x[k], y[k]));
}

/** The record of an object in a request's status that holds `token` (status.target, a source, a chain step). */
function recordOf(status: RequestStatus, key: string, token: string): ObjectStatus | undefined {
  const records: (ObjectStatus | undefined)[] = [status.target, status.source, status.chartSource, ...(status.steps ?? [])];
  for (const r of records) {
    if (!r?.token || r.token !== token || !r.kind || !r.name) continue;
    if (objectKey({ apiVersion: r.apiVersion, kind: r.kind, namespace: r.namespace, name: r.name }) !== key) continue;
    const { role: _role, phase: _phase, startTime: _start, completionTime: _completion, ...object } = r as StepStatus;
    return object;
  }
  return undefined;
}

/** When the request's timeout runs out: from its start, or its creation when it never started. */
function deadlineOf(request: FluxActionRequest): number {
  const started = request.status?.startTime;
  const created = request.metadata.creationTimestamp;
  const from = started ? Date.parse(started) : created instanceof Date ? created.getTime() : created ? Date.parse(created) : Number.NaN;
  // No time to count from (never the case for an object read from the API server): no deadline yet.
  return Number.isNaN(from) ? Number.POSITIVE_INFINITY : from + timeoutMs(request);
}

function failed(reason: FailureReason, message: string): Resolved {
  return { steps: [], failure: { reason, message } };
}

function readyReason(status: RequestStatus): string | undefined {
  return status.conditions?.find((c) => c.type === ReadyCondition)?.reason;
}

function crdCoordinates(kind: FluxKind, ref: ObjectRef): { group: string; version: string; plural: string; namespace: string } {
  return {
    group: kind.group,
    version: ref.apiVersion.slice(ref.apiVersion.indexOf('/') + 1),
    plural: kind.plural,
    namespace: ref.namespace,
  };
}

/** `namespace/name` of a request. */
export function keyOf(request: { metadata: { namespace?: string | undefined; name: string } }): string {
  return `${request.metadata.namespace ?? ''}/${request.metadata.name}`;
}

function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}
