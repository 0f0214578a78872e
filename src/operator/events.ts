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
import { monotonicNanos, type Clock } from '../runtime/clock.js';

/** The component name Events are reported under. */
export const ReportingComponent = 'flux-action-operator';

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

  /** Records an Event on a request. Best effort: a failure is logged, never fails the request. */
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

  /** Records an Event on any object of the project's (a request, a schedule). Best effort: a failure is logged. */
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
    try {
      await this.core.createNamespacedEvent({ namespace, body: event });
    } catch (err) {
      this.log.warn(
        { object: `${object.kind} ${namespace}/${object.name}`, reason, err: err instanceof Error ? err.message : String(err) },
        'could not record event',
      );
    }
  }
}
