// Kubernetes Events on requests, one for each transition (AwaitingApproval, Approved, Requested,
// Succeeded, Failed), each naming who asked and who approved, so `kubectl describe far` and
// `kubectl events` tell a request's story.
import type { Logger } from 'pino';
import { ApiVersion, ApprovedByAnnotation, Kind, RejectedByAnnotation, RequestedByAnnotation, type FinishedRequest } from '../api/types.js';
import { delay, monotonicNanos, type Clock } from '../runtime/clock.js';
import type { ClusterAccess } from '../kube/access.js';
import { kubeClient, type KubeClient, type ObjectList } from '../kube/client.js';
import { ListPageSize } from './informers.js';
import { describeError, isConflict, isForbidden, isTransient, statusCode } from '../kube/errors.js';
import type { RefusalCheck } from '../kube/refusal.js';

/** The component name Events are reported under. */
export const ReportingComponent = 'flux-action-operator';

/** How many times an Event's create is tried before it is given up (logged). */
export const EventAttempts = 8;
/** The wait before the second try; doubled before each further one up to EventRetryMaxMs (0.5 s, 1 s, 2 s, 4 s, 8 s, 8 s, 8 s). */
export const EventRetryMs = 500;
/** The longest wait between two tries: the 8 tries span about 30 s, a kube-apiserver's restart. */
export const EventRetryMaxMs = 8000;

/** The wait after the attempt-th failed try. */
export function eventRetryWaitMs(attempt: number): number {
  return Math.min(EventRetryMs * 2 ** (attempt - 1), EventRetryMaxMs);
}

/**
 * Up to this many unconfirmed outcomes in a namespace are looked for one by one; more, with one list
 * of the namespace's request Events.
 */
export const OutcomeLookupBatch = 5;

/** The object an Event is about, as far as the Event names it. */
interface EventObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string | undefined;
  uid?: string | undefined;
  resourceVersion?: string | undefined;
}

/** What an Event on a request needs of it: the object it is about, and who asked and decided. */
interface EventSubject {
  object: EventObject;
  requestedBy: string | undefined;
  approvedBy: string | undefined;
  rejectedBy: string | undefined;
}

/** As much of a request as an Event about it names: a whole request, or a finished one as the reconciler reads it. */
export type EventSource = Pick<FinishedRequest, 'metadata' | 'status'>;

/** The request's EventSubject: the object an Event names, and who asked and decided. */
function eventSubject(request: EventSource): EventSubject {
  const { name, namespace, uid, resourceVersion } = request.metadata;
  return {
    object: { apiVersion: ApiVersion, kind: Kind, name, namespace, uid, resourceVersion },
    requestedBy: request.status?.requestedBy ?? request.metadata.annotations?.[RequestedByAnnotation],
    approvedBy: request.status?.approval?.approvedBy,
    rejectedBy: request.status?.approval?.rejectedBy,
  };
}

/**
 * A finished request whose outcome Event may be missing, with the Event it should have. It holds the
 * request it was given (the cache's object, not a copy) and strings it already has: an operator that
 * starts queues thousands at once.
 */
interface UnconfirmedOutcome {
  request: EventSource;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** A core/v1 Event, as far as the operator writes and reads one. */
interface CoreEvent {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  involvedObject: { apiVersion?: string; kind?: string; name?: string; namespace?: string; uid?: string; resourceVersion?: string };
  type?: string;
  reason?: string;
  message?: string;
  source?: { component?: string };
  reportingComponent?: string;
  reportingInstance?: string;
  firstTimestamp?: Date;
  lastTimestamp?: Date;
  count?: number;
}

/** Events longer than this are cut (the API server refuses messages over 1 KiB in events.k8s.io). */
const MaxMessage = 1024;

export class EventRecorder {
  private readonly client: KubeClient;
  /** Event names end in these: strictly increasing, so names sort in time order. */
  private readonly nanos: () => bigint;
  /** Finished requests whose outcome Event is to be looked for, by namespace. */
  private readonly unconfirmed = new Map<string, UnconfirmedOutcome[]>();
  /** The lookup running in each namespace. */
  private readonly lookups = new Map<string, Promise<void>>();

  constructor(
    kc: ClusterAccess,
    private readonly instance: string,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** Whether a 403 stands (the API server is ready); without it, every 403 does. */
    private readonly refusalStands?: RefusalCheck,
  ) {
    this.client = kubeClient(kc);
    this.nanos = monotonicNanos(() => clock.now());
  }

  /** Records an Event on a request. Best effort: a failure is retried, then logged; it never fails the request. */
  record(request: EventSource, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    return this.recordAbout(eventSubject(request), type, reason, message);
  }

  private async recordAbout(subject: EventSubject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const { requestedBy, approvedBy, rejectedBy } = subject;
    const annotations: Record<string, string> = {};
    if (requestedBy) annotations[RequestedByAnnotation] = requestedBy;
    if (approvedBy) annotations[ApprovedByAnnotation] = approvedBy;
    if (rejectedBy) annotations[RejectedByAnnotation] = rejectedBy;
    // Who asked and who approved, in the message too: `kubectl events` shows no annotations.
    const who = [requestedBy && `requested by ${requestedBy}`, approvedBy && `approved by ${approvedBy}`].filter(Boolean).join(', ');
    const full = who && !message.includes(who) ? `${message} (${who})` : message;
    await this.recordOn(subject.object, type, reason, full, annotations);
  }

  /**
   * Records a request's outcome Event unless the request has one with that reason already: for a
   * request found finished by an operator that did not record its outcome (an answer lost, a
   * predecessor that died between the status write and the Event). Requests found meanwhile in the
   * same namespace are looked for together: one lookup runs per namespace at a time, and what
   * arrives while it runs is looked for by the next, with one list of the namespace's request Events
   * when there are more than OutcomeLookupBatch (an operator that starts finds every request it
   * finished recently at once). A lookup is tried again like a create (EventAttempts tries); when the
   * Events still cannot be listed it records nothing: an Event missing is better than one doubled.
   */
  recordOutcome(request: EventSource, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const namespace = request.metadata.namespace ?? 'default';
    const waiting = this.unconfirmed.get(namespace) ?? [];
    waiting.push({ request, type, reason, message });
    this.unconfirmed.set(namespace, waiting);
    // One promise for all the namespace's outcomes: the lookup ends only once it has looked for
    // every outcome queued while it ran, this one included.
    let lookup = this.lookups.get(namespace);
    if (!lookup) {
      lookup = this.lookForOutcomes(namespace);
      this.lookups.set(namespace, lookup);
    }
    return lookup;
  }

  /**
   * Resolves once no outcome-Event lookup is running (at once when none is), including lookups that
   * start while it waits. A lookup ends: its list calls are bounded and tried EventAttempts times.
   */
  async outcomesLookedFor(): Promise<void> {
    while (this.lookups.size > 0) await Promise.allSettled(this.lookups.values());
  }

  /** Looks for the outcome Events of the namespace's unconfirmed requests until none is left. */
  private async lookForOutcomes(namespace: string): Promise<void> {
    // The first look waits for the current turn to end: what else it queues is looked for with it.
    await Promise.resolve();
    try {
      for (;;) {
        const batch = this.unconfirmed.get(namespace);
        if (!batch?.length) return;
        this.unconfirmed.delete(namespace);
        // Those with their Event (most, after a restart: thousands) need nothing more; only the
        // missing ones are created.
        const missing = await this.outcomesMissing(namespace, batch);
        await Promise.all(missing.map((o) => this.record(o.request, o.type, o.reason, o.message)));
      }
    } finally {
      // Synchronously after the last look at the map: a request added later starts a new lookup.
      this.lookups.delete(namespace);
    }
  }

  /**
   * The batch's outcomes whose request has no Event with the outcome's reason (one list per request
   * for a small batch, one list of the namespace's request Events otherwise), each once; none when
   * listing failed. Only the batch is kept while the Events are read, by uid, not the Events.
   */
  private async outcomesMissing(namespace: string, batch: readonly UnconfirmedOutcome[]): Promise<UnconfirmedOutcome[]> {
    // A request's outcome is final: one outcome Event per request, however often it was queued.
    const wanted = new Map<string, UnconfirmedOutcome>();
    for (const o of batch) {
      const uid = o.request.metadata.uid ?? '';
      if (!wanted.has(uid)) wanted.set(uid, o);
    }
    const list = (fieldSelector: string, page?: string): Promise<ObjectList<CoreEvent>> =>
      this.retrying(() =>
        this.client.list<CoreEvent>(`/api/v1/namespaces/${namespace}/events`, { fieldSelector, limit: ListPageSize, continue: page }),
      );
    try {
      if (wanted.size <= OutcomeLookupBatch) {
        for (const [uid, o] of wanted) {
          const existing = await list(`involvedObject.uid=${uid},reason=${o.reason}`);
          if (existing.items.length > 0) wanted.delete(uid);
        }
        return [...wanted.values()];
      }
      let page: string | undefined;
      do {
        const events = await list(`involvedObject.kind=${Kind}`, page);
        for (const e of events.items) {
          const uid = e.involvedObject.uid ?? '';
          if (wanted.get(uid)?.reason === e.reason) wanted.delete(uid);
        }
        page = events.metadata?.continue || undefined;
      } while (page);
      return [...wanted.values()];
    } catch (err) {
      this.log.warn(
        { namespace, requests: batch.map((o) => o.request.metadata.name), err: describeError(err) },
        'could not look for the outcome events',
      );
      return [];
    }
  }

  /**
   * Runs call (given its try's number), trying again after a lost connection, a 5xx, a 429 or a 403
   * from an API server not ready yet: EventAttempts tries, waiting eventRetryWaitMs between them.
   * Rejects with the last try's error.
   */
  private async retrying<T>(call: (attempt: number) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await call(attempt);
      } catch (err) {
        if (!(attempt < EventAttempts && (statusCode(err) === undefined || isTransient(err) || (await this.refusedUnready(err)))))
          throw err;
        await delay(this.clock, eventRetryWaitMs(attempt));
      }
    }
  }

  /**
   * Records an Event on any object of the project's (a request, a schedule). Best effort: a failure
   * is retried, then logged.
   */
  async recordOn(
    object: EventObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    annotations: Record<string, string> = {},
  ): Promise<void> {
    const namespace = object.namespace ?? 'default';
    const now = new Date(this.clock.now());
    const event: CoreEvent = {
      // As client-go names events: <object>.<nanoseconds in hex>, so names sort in time order. Who
      // asked rides along as an annotation, as Flux puts its metadata on its Events.
      metadata: {
        name: `${object.name}.${this.nanos().toString(16)}`,
        namespace,
        ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
      },
      involvedObject: {
        apiVersion: object.apiVersion,
        kind: object.kind,
        name: object.name,
        namespace,
        ...(object.uid ? { uid: object.uid } : {}),
        ...(object.resourceVersion ? { resourceVersion: object.resourceVersion } : {}),
      },
      type,
      reason,
      message: message.length > MaxMessage ? `${message.slice(0, MaxMessage - 3)}...` : message,
      source: { component: ReportingComponent },
      reportingComponent: ReportingComponent,
      reportingInstance: this.instance,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    await this.create(namespace, event, `${object.kind} ${namespace}/${object.name}`);
  }

  /** A 403 from an API server that is not ready yet (its RBAC not loaded): not its verdict, so tried again. */
  private async refusedUnready(err: unknown): Promise<boolean> {
    return isForbidden(err) && this.refusalStands !== undefined && !(await this.refusalStands(err));
  }

  /**
   * Creates the Event, trying again after a lost connection, a 5xx or a 429 (EventAttempts tries in
   * all, the waits doubling from EventRetryMs up to EventRetryMaxMs): a request's story should survive an API server that
   * drops a call. The name is fixed before the first try, so a create that reached the server but
   * whose answer was lost comes back AlreadyExists, which is success: an Event is never doubled.
   */
  private async create(namespace: string, event: CoreEvent, object: string): Promise<void> {
    let attempts = 0;
    try {
      await this.retrying(async (attempt) => {
        attempts = attempt;
        try {
          // The Event as created is not read: not parsed either.
          await this.client.create(`/api/v1/namespaces/${namespace}/events`, event, { ignoreAnswer: true });
        } catch (err) {
          // The name is this Event's alone: an earlier try's answer was lost.
          if (!(attempt > 1 && isConflict(err))) throw err;
        }
      });
    } catch (err) {
      this.log.warn({ object, reason: event.reason, attempts, err: describeError(err) }, 'could not record event');
    }
  }
}
