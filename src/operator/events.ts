// Kubernetes Events on requests, one for each transition (AwaitingApproval, Approved, Requested,
// Succeeded, Failed), each naming who asked and who approved, so `kubectl describe far` and
// `kubectl events` tell a request's story.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  ApiVersion,
  ApprovedByAnnotation,
  Kind,
  RejectedByAnnotation,
  RequestedByAnnotation,
  type FluxActionRequest,
} from '../api/types.js';
import { delay, monotonicNanos, type Clock } from '../runtime/clock.js';
import { bounded } from '../kube/bounded.js';
import { describeError, isConflict, isTransient, statusCode } from '../kube/errors.js';

/** The component name Events are reported under. */
export const ReportingComponent = 'flux-action-operator';

/** How many times an Event's create is tried before it is given up (logged). */
export const EventAttempts = 5;
/** The wait before the second try; doubled before each further one (0.5 s, 1 s, 2 s, 4 s). */
export const EventRetryMs = 500;

/** Events longer than this are cut (the API server refuses messages over 1 KiB in events.k8s.io). */
const MaxMessage = 1024;

export class EventRecorder {
  private readonly core: k8s.CoreV1Api;
  /** Event names end in these: strictly increasing, so names sort in time order. */
  private readonly nanos: () => bigint;

  constructor(
    kc: k8s.KubeConfig,
    private readonly instance: string,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.nanos = monotonicNanos(() => clock.now());
  }

  /** Records an Event on a request. Best effort: a failure is retried, then logged; it never fails the request. */
  async record(request: FluxActionRequest, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const requestedBy = request.status?.requestedBy ?? request.metadata.annotations?.[RequestedByAnnotation];
    const approvedBy = request.status?.approval?.approvedBy;
    const rejectedBy = request.status?.approval?.rejectedBy;
    const annotations: Record<string, string> = {};
    if (requestedBy) annotations[RequestedByAnnotation] = requestedBy;
    if (approvedBy) annotations[ApprovedByAnnotation] = approvedBy;
    if (rejectedBy) annotations[RejectedByAnnotation] = rejectedBy;
    // Who asked and who approved, in the message too: `kubectl events` shows no annotations.
    const who = [requestedBy && `requested by ${requestedBy}`, approvedBy && `approved by ${approvedBy}`].filter(Boolean).join(', ');
    const full = who && !message.includes(who) ? `${message} (${who})` : message;
    await this.recordOn({ apiVersion: ApiVersion, kind: Kind, ...request.metadata }, type, reason, full, annotations);
  }

  /**
   * Records a request's outcome Event unless the request has one with that reason already: for a
   * request found finished by an operator that did not record its outcome (an answer lost, a
   * predecessor that died between the status write and the Event). When the request's Events cannot
   * be listed, it records nothing: an Event missing is better than one doubled.
   */
  async recordOutcome(request: FluxActionRequest, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const namespace = request.metadata.namespace ?? 'default';
    const uid = request.metadata.uid ?? '';
    try {
      const existing = await this.core.listNamespacedEvent(
        { namespace, fieldSelector: `involvedObject.uid=${uid},reason=${reason}`, limit: 1 },
        bounded(),
      );
      if (existing.items.length > 0) return;
    } catch (err) {
      this.log.warn(
        { object: `${Kind} ${namespace}/${request.metadata.name}`, reason, err: describeError(err) },
        'could not look for the outcome event',
      );
      return;
    }
    await this.record(request, type, reason, message);
  }

  /**
   * Records an Event on any object of the project's (a request, a schedule). Best effort: a failure
   * is retried, then logged.
   */
  async recordOn(
    object: {
      apiVersion: string;
      kind: string;
      name: string;
      namespace?: string | undefined;
      uid?: string | undefined;
      resourceVersion?: string | undefined;
    },
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    annotations: Record<string, string> = {},
  ): Promise<void> {
    const namespace = object.namespace ?? 'default';
    const now = new Date(this.clock.now());
    const event: k8s.CoreV1Event = {
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

  /**
   * Creates the Event, trying again after a lost connection, a 5xx or a 429 (EventAttempts tries in
   * all, the waits doubling from EventRetryMs): a request's story should survive an API server that
   * drops a call. The name is fixed before the first try, so a create that reached the server but
   * whose answer was lost comes back AlreadyExists, which is success: an Event is never doubled.
   */
  private async create(namespace: string, event: k8s.CoreV1Event, object: string): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.core.createNamespacedEvent({ namespace, body: event }, bounded());
        return;
      } catch (err) {
        // The name is this Event's alone: an earlier try's answer was lost.
        if (attempt > 1 && isConflict(err)) return;
        const retry = attempt < EventAttempts && (statusCode(err) === undefined || isTransient(err));
        if (!retry) {
          this.log.warn({ object, reason: event.reason, attempts: attempt, err: describeError(err) }, 'could not record event');
          return;
        }
        await delay(this.clock, EventRetryMs * 2 ** (attempt - 1));
      }
    }
  }
}
