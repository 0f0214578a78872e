// The schedule controller (DESIGN §10): a thin loop around due(). For each FluxActionSchedule it
// creates the due slot's FluxActionRequest under a deterministic name, writes the schedule's status,
// deletes finished requests beyond the history limits, and looks again at the next slot. It runs in
// the operator process, only on the leader.
import type { Logger } from 'pino';
import { ConditionStatus, Phase } from '../api/conditions.js';
import {
  ApiVersion,
  Group,
  Kind,
  OriginLabel,
  Plural,
  RequestedByAnnotation,
  RequestedByGroupsAnnotation,
  RequestStatusSchema,
  Version,
  type Condition,
} from '../api/types.js';
import { invalidObject } from '../api/parse.js';
import type { Identity } from '../client/requests.js';
import type { ClusterAccess } from '../kube/access.js';
import { customObjectPath, kubeClient, type KubeClient } from '../kube/client.js';
import { apiMessage, isConflict, isNotFound } from '../kube/errors.js';
import type { KubeObject } from '../kube/object.js';
import type { EventRecorder } from '../operator/events.js';
import { customObjects, startInformer, type InformerHandle, type SyncFailureReason } from '../operator/informers.js';
import type { Clock } from '../runtime/clock.js';
import { TerminalError, WorkQueue, type ReconcileResult } from '../runtime/workqueue.js';
import { activeRequests, compileSchedule, due, historyToDelete, isProblem, slotRequestName, type ScheduledRequest } from './due.js';
import {
  DefaultFailedHistoryLimit,
  DefaultSuccessfulHistoryLimit,
  FluxActionScheduleSchema,
  ScheduledAtAnnotation,
  ScheduleEventReason,
  ScheduleKind,
  ScheduleLabel,
  ScheduleOrigin,
  SchedulePlural,
  ScheduleReadyCondition,
  ScheduleReadyReason,
  type FluxActionSchedule,
  type ScheduleStatus,
} from './types.js';

/** How long one API call of the controller may take before it is abandoned (and retried). */
const CallTimeoutMs = 30_000;
/** What createRequest says when the slot's name is held by a request that is not the schedule's. */
const Taken = Symbol('taken');

/** The longest wait before a schedule is looked at again. */
export const MaxRequeueMs = 3_600_000;

export interface ScheduleControllerOptions {
  kc: ClusterAccess;
  log: Logger;
  clock: Clock;
  /** The operator's request informer: the schedule's requests are read from its cache. */
  requests: InformerHandle<KubeObject>;
  recorder: EventRecorder;
  /** Who the operator is to the API server: the requested-by of the requests it creates. */
  whoAmI: () => Promise<Identity>;
  /** Only this namespace's schedules (--watch-namespace); default all. */
  namespace?: string;
  onSyncFailing?: (resource: string, reason: SyncFailureReason | undefined) => void;
}

/** A request of a schedule's, with the slot it runs. */
interface OwnedRequest extends ScheduledRequest {
  uid: string | undefined;
  completionTime: string | undefined;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** `2026-11-30 08:00 Europe/Berlin`: a slot as the schedule's time zone reads it. */
function localTime(ms: number, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  return `${parts['year']}-${parts['month']}-${parts['day']} ${parts['hour']}:${parts['minute']} ${timeZone}`;
}

function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Creates each FluxActionSchedule's requests at its slots. Call start() once, stop() once. */
export class ScheduleController {
  private readonly queue: WorkQueue;
  private readonly client: KubeClient;
  private schedules: InformerHandle<KubeObject> | undefined;
  /** The latest slot created per schedule uid, so a cache that has not seen our status write yet cannot run a slot twice. */
  private readonly created = new Map<string, number>();
  /** Slots already reported as skipped or held (per schedule uid), so a slot gets one Event, not one per look. */
  private readonly reported = new Map<string, string>();
  private stopped = false;

  constructor(private readonly options: ScheduleControllerOptions) {
    this.queue = new WorkQueue({ clock: options.clock, logger: options.log });
    this.client = kubeClient(options.kc);
  }

  /**
   * Starts the schedule informer, and the queue once it has synced. Does not wait for that: an
   * operator whose cluster lacks the FluxActionSchedule CRD still carries out requests, and the
   * informer says once a minute what is missing.
   */
  start(): void {
    const { kc, log, clock, namespace, onSyncFailing } = this.options;
    this.schedules = startInformer<KubeObject>({
      kc,
      ...customObjects(this.client, Group, Version, SchedulePlural, namespace),
      log,
      clock,
      ...(onSyncFailing ? { onSyncFailing } : {}),
      onChange: (obj, event) => {
        const name = obj.metadata?.name;
        const ns = obj.metadata?.namespace;
        if (!name || !ns) return;
        if (event === 'delete' && obj.metadata?.uid) {
          this.created.delete(obj.metadata.uid);
          this.reported.delete(obj.metadata.uid);
        }
        this.queue.add(keyOf(ns, name));
      },
    });
    const schedules = this.schedules;
    void schedules.whenSynced(false).then(
      () => {
        if (!this.stopped) this.queue.start((key, signal) => this.reconcile(key, signal), { concurrency: 2 });
      },
      () => undefined,
    );
  }

  /** A request changed: look again at the schedule that owns it (its active list, its history). */
  onRequest(obj: KubeObject): void {
    const schedule = obj.metadata?.labels?.[ScheduleLabel];
    const ns = obj.metadata?.namespace;
    if (schedule && ns && obj.metadata?.ownerReferences?.some((o) => o.kind === ScheduleKind && o.name === schedule))
      this.queue.add(keyOf(ns, schedule));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.queue.shutdown();
    await this.schedules?.stop();
  }

  /** One look at a schedule: fetch; compile; decide; create the slot's request; write status; prune history. */
  async reconcile(key: string, signal: AbortSignal): Promise<ReconcileResult | undefined> {
    const { clock, log } = this.options;
    const [namespace = '', name = ''] = key.split('/');
    // Fetch from the cache; a deleted schedule's requests go with it (owner references).
    const raw = this.schedules?.get(name, namespace);
    if (!raw || raw.metadata?.deletionTimestamp) return undefined;
    const parsed = FluxActionScheduleSchema.safeParse(raw);
    if (!parsed.success) throw new TerminalError(invalidObject(`${ScheduleKind} ${key}`, parsed.error).message);
    const schedule = parsed.data;
    const uid = schedule.metadata.uid;
    const now = clock.now();
    const owned = this.ownedRequests(schedule);
    const status: ScheduleStatus = { ...schedule.status };
    const generation = schedule.metadata.generation;

    // Compile the cron expression in its time zone; one that cannot be used says why in Ready.
    const compiled = compileSchedule(schedule.spec);
    if (isProblem(compiled)) {
      if (this.reported.get(uid) !== compiled.message) {
        this.reported.set(uid, compiled.message);
        await this.event(schedule, 'Warning', ScheduleEventReason.InvalidSchedule, compiled.message);
      }
      delete status.nextScheduleTime;
      await this.writeStatus(
        schedule,
        this.finalStatus(status, owned, generation, ConditionStatus.False, compiled.reason, compiled.message),
        signal,
      );
      return undefined;
    }

    // Decide what the time asks for.
    const recordedLast = status.lastScheduleTime ? Date.parse(status.lastScheduleTime) : undefined;
    const createdLast = this.created.get(uid);
    const lastScheduleTime = Math.max(recordedLast ?? 0, createdLast ?? 0) || undefined;
    const createdAt = schedule.metadata.creationTimestamp ? new Date(schedule.metadata.creationTimestamp).getTime() : now;
    const active = activeRequests(owned);
    const decision = due({
      schedule: compiled,
      now,
      createdAt,
      ...(lastScheduleTime !== undefined ? { lastScheduleTime } : {}),
      ...(schedule.spec.startingDeadlineSeconds !== undefined ? { startingDeadlineSeconds: schedule.spec.startingDeadlineSeconds } : {}),
      ...(schedule.spec.suspend !== undefined ? { suspend: schedule.spec.suspend } : {}),
      ...(schedule.spec.concurrencyPolicy ? { concurrencyPolicy: schedule.spec.concurrencyPolicy } : {}),
      active: active.length,
    });
    if (lastScheduleTime !== undefined) status.lastScheduleTime = iso(lastScheduleTime);

    // Act on it: create the slot's request (its name is the slot's, so a second try is AlreadyExists), or say why not.
    let createError: unknown;
    switch (decision.action) {
      case 'create': {
        const requestName = slotRequestName(name, decision.slot);
        try {
          const made = await this.createRequest(schedule, raw, requestName, decision.slot, signal);
          if (made === Taken)
            await this.event(
              schedule,
              'Warning',
              ScheduleEventReason.FailedCreate,
              `request ${requestName} exists and does not belong to this schedule: the slot at ${iso(decision.slot)} is skipped`,
            );
          else if (made !== undefined) {
            const skipped =
              decision.skipped > 0 ? `; ${decision.skipped} earlier missed slot${decision.skipped === 1 ? ' was' : 's were'} skipped` : '';
            await this.event(
              schedule,
              'Normal',
              ScheduleEventReason.Created,
              `created request ${requestName} for the slot at ${iso(decision.slot)}${skipped}`,
            );
            owned.push({ name: requestName, uid: made, phase: Phase.Pending, slot: decision.slot, completionTime: undefined });
          }
          this.created.set(uid, decision.slot);
          status.lastScheduleTime = iso(decision.slot);
        } catch (err) {
          createError = err;
          if (this.once(uid, `failed/${decision.slot}/${apiMessage(err)}`))
            await this.event(
              schedule,
              'Warning',
              ScheduleEventReason.FailedCreate,
              `cannot create request ${requestName}: ${apiMessage(err)}`,
            );
        }
        break;
      }
      case 'tooLate':
        if (this.once(uid, `late/${decision.slot}`))
          await this.event(
            schedule,
            'Warning',
            ScheduleEventReason.MissedSchedule,
            `missed the slot at ${iso(decision.slot)} by more than startingDeadlineSeconds (${schedule.spec.startingDeadlineSeconds ?? 0}s): skipped` +
              (decision.skipped > 0 ? `, with ${decision.skipped} earlier slot${decision.skipped === 1 ? '' : 's'}` : ''),
          );
        break;
      case 'forbidden':
        if (this.once(uid, `active/${decision.slot}`))
          await this.event(
            schedule,
            'Normal',
            ScheduleEventReason.AlreadyActive,
            `the slot at ${iso(decision.slot)} waits: request ${active.map((r) => r.name).join(', ')} has not finished (concurrencyPolicy Forbid)`,
          );
        break;
      case 'wait':
        break;
    }

    // Write status: the slot recorded before any request is deleted, so a restart finds it.
    if (decision.next !== undefined) status.nextScheduleTime = iso(decision.next);
    else delete status.nextScheduleTime;
    const ready = createError
      ? {
          status: ConditionStatus.False,
          reason: ScheduleEventReason.FailedCreate,
          message: `cannot create the slot's request: ${apiMessage(createError)}`,
        }
      : schedule.spec.suspend
        ? {
            status: ConditionStatus.True,
            reason: ScheduleReadyReason.Suspended,
            message: 'suspended: no requests are created until spec.suspend is false',
          }
        : {
            status: ConditionStatus.True,
            reason: ScheduleReadyReason.Scheduled,
            message:
              decision.next !== undefined
                ? `next request at ${iso(decision.next)} (${localTime(decision.next, compiled.timeZone)})`
                : 'no further slots',
          };
    await this.writeStatus(schedule, this.finalStatus(status, owned, generation, ready.status, ready.reason, ready.message), signal);
    if (createError)
      throw new Error(`cannot create the request of ${ScheduleKind} ${key}: ${apiMessage(createError)}`, { cause: createError });

    // Prune the history beyond its limits.
    const surplus = historyToDelete(
      owned,
      schedule.spec.successfulHistoryLimit ?? DefaultSuccessfulHistoryLimit,
      schedule.spec.failedHistoryLimit ?? DefaultFailedHistoryLimit,
    );
    for (const r of surplus) await this.deleteRequest(namespace, r, signal);
    if (surplus.length > 0)
      log.info({ schedule: key, deleted: surplus.map((r) => r.name) }, 'deleted finished requests beyond the history limits');

    // Look again at the next slot (a moment after it, so the clock has passed it), or within the hour:
    // a timer beyond 24.8 days would overflow setTimeout and fire at once.
    return decision.next !== undefined
      ? { requeueAfter: Math.min(MaxRequeueMs, Math.max(1, decision.next - clock.now() + 100)) }
      : undefined;
  }

  /** Whether a note (per schedule) is new; remembers it. */
  private once(uid: string, note: string): boolean {
    if (this.reported.get(uid) === note) return false;
    this.reported.set(uid, note);
    return true;
  }

  /** The schedule's requests in the cache: its label, and its uid as their owner. */
  private ownedRequests(schedule: FluxActionSchedule): OwnedRequest[] {
    const { namespace, name, uid } = schedule.metadata;
    return this.options.requests
      .list(namespace)
      .filter((r) => r.metadata?.labels?.[ScheduleLabel] === name && r.metadata.ownerReferences?.some((o) => o.uid === uid))
      .map((r) => {
        const status = RequestStatusSchema.safeParse(r['status']);
        const scheduledAt = r.metadata?.annotations?.[ScheduledAtAnnotation];
        const created = r.metadata?.creationTimestamp;
        const slot = scheduledAt ? Date.parse(scheduledAt) : created ? new Date(created).getTime() : 0;
        return {
          name: r.metadata?.name ?? '',
          uid: r.metadata?.uid,
          phase: status.success ? status.data.phase : undefined,
          completionTime: status.success ? status.data.completionTime : undefined,
          slot: Number.isNaN(slot) ? 0 : slot,
        };
      });
  }

  /**
   * Creates the slot's request; returns its uid, undefined when it exists already (created before
   * a restart, or by another replica), or Taken when a request of that name is not the schedule's.
   * Its requester is the operator itself: admission checks requested-by against whoever creates it.
   */
  private async createRequest(
    schedule: FluxActionSchedule,
    raw: KubeObject,
    requestName: string,
    slot: number,
    signal: AbortSignal,
  ): Promise<string | typeof Taken | undefined> {
    const { namespace, name, uid } = schedule.metadata;
    const me = await this.options.whoAmI();
    // The template as written, not as parsed: fields this version does not know pass through to the API server.
    const spec = (raw['spec'] as { requestTemplate: { spec: unknown } }).requestTemplate.spec;
    const body = {
      apiVersion: ApiVersion,
      kind: Kind,
      metadata: {
        name: requestName,
        namespace,
        labels: { [OriginLabel]: ScheduleOrigin, [ScheduleLabel]: name },
        annotations: {
          [RequestedByAnnotation]: me.username,
          [RequestedByGroupsAnnotation]: me.groups.join(','),
          [ScheduledAtAnnotation]: iso(slot),
        },
        ownerReferences: [{ apiVersion: ApiVersion, kind: ScheduleKind, name, uid, controller: true }],
      },
      spec,
    };
    try {
      const created = await this.client.create(customObjectPath({ group: Group, version: Version, plural: Plural, namespace }), body, {
        signal,
        timeoutMs: CallTimeoutMs,
      });
      this.options.log.info({ schedule: `${namespace}/${name}`, request: requestName, slot: iso(slot) }, 'created scheduled request');
      return created.metadata?.uid ?? '';
    } catch (err) {
      // 409 on create: AlreadyExists.
      if (!isConflict(err)) throw err;
      // The slot ran already. A request of that name that is not ours is a name taken by someone else.
      const existing = await this.client.get(
        customObjectPath({ group: Group, version: Version, plural: Plural, namespace, name: requestName }),
        {
          signal,
          timeoutMs: CallTimeoutMs,
        },
      );
      return existing.metadata?.ownerReferences?.some((o) => o.uid === uid) ? undefined : Taken;
    }
  }

  private async deleteRequest(namespace: string, request: OwnedRequest, signal: AbortSignal): Promise<void> {
    try {
      await this.client.delete(
        customObjectPath({ group: Group, version: Version, plural: Plural, namespace, name: request.name }),
        // Only the request the history judged, not a new one of the same name.
        request.uid ? { preconditions: { uid: request.uid } } : undefined,
        { signal, timeoutMs: CallTimeoutMs },
      );
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return;
      throw err;
    }
  }

  /** status with active, lastSuccessfulTime, observedGeneration and the Ready condition filled in. */
  private finalStatus(
    status: ScheduleStatus,
    owned: readonly OwnedRequest[],
    generation: number | undefined,
    readyStatus: ConditionStatus,
    reason: string,
    message: string,
  ): ScheduleStatus {
    const active = activeRequests(owned).map((r) => ({ name: r.name, ...(r.uid ? { uid: r.uid } : {}) }));
    const successes = owned
      .filter((r) => r.phase === Phase.Succeeded && r.completionTime)
      .map((r) => Date.parse(r.completionTime ?? ''))
      .filter((t) => !Number.isNaN(t));
    const known = status.lastSuccessfulTime ? Date.parse(status.lastSuccessfulTime) : Number.NaN;
    const lastSuccess = Math.max(...successes, Number.isNaN(known) ? 0 : known);
    const have = status.conditions?.find((c) => c.type === ScheduleReadyCondition);
    const lastTransitionTime =
      have?.status === readyStatus && have.lastTransitionTime ? have.lastTransitionTime : iso(this.options.clock.now());
    const ready: Condition = {
      type: ScheduleReadyCondition,
      status: readyStatus,
      reason,
      message,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      lastTransitionTime,
    };
    return {
      ...status,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      ...(lastSuccess > 0 ? { lastSuccessfulTime: iso(lastSuccess) } : {}),
      active,
      conditions: [...(status.conditions ?? []).filter((c) => c.type !== ScheduleReadyCondition), ready],
    };
  }

  /** Writes status when it differs from what the cache holds (a merge patch of the status subresource). */
  private async writeStatus(schedule: FluxActionSchedule, next: ScheduleStatus, signal: AbortSignal): Promise<void> {
    const current = schedule.status ?? {};
    if (sameStatus(current, next)) return;
    const { namespace, name } = schedule.metadata;
    // Fields that went away are written as null, which a merge patch removes.
    const body = {
      status: {
        ...next,
        nextScheduleTime: next.nextScheduleTime ?? null,
        active: next.active && next.active.length > 0 ? next.active : null,
      },
    };
    try {
      await this.client.mergePatch(
        customObjectPath({ group: Group, version: Version, plural: SchedulePlural, namespace, name }, 'status'),
        body,
        {
          signal,
          timeoutMs: CallTimeoutMs,
        },
      );
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }

  private async event(schedule: FluxActionSchedule, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const { name, namespace, uid, resourceVersion } = schedule.metadata;
    await this.options.recorder.recordOn(
      { apiVersion: ApiVersion, kind: ScheduleKind, name, namespace, uid, resourceVersion },
      type,
      reason,
      message,
    );
  }
}

/** Whether two statuses say the same (the Ready condition's time aside when nothing else changed). */
function sameStatus(a: ScheduleStatus, b: ScheduleStatus): boolean {
  const norm = (s: ScheduleStatus): string =>
    JSON.stringify({
      observedGeneration: s.observedGeneration,
      lastScheduleTime: s.lastScheduleTime,
      lastSuccessfulTime: s.lastSuccessfulTime,
      nextScheduleTime: s.nextScheduleTime,
      active: (s.active ?? []).map((r) => `${r.name}/${r.uid ?? ''}`),
      conditions: (s.conditions ?? [])
        .map(
          (c) => `${c.type}/${c.status}/${c.reason ?? ''}/${c.message ?? ''}/${c.observedGeneration ?? ''}/${c.lastTransitionTime ?? ''}`,
        )
        .sort(),
    });
  return norm(a) === norm(b);
}
