// Kubernetes Events on requests, one for each transition (Requested, Succeeded, Failed), so
// `kubectl describe far` and `kubectl events` tell a request's story.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ApiVersion, Kind, RequestedByAnnotation, type FluxActionRequest } from '../api/types.js';
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
    const namespace = request.metadata.namespace ?? 'default';
    const now = new Date(this.clock.now());
    const requestedBy = request.status?.requestedBy ?? request.metadata.annotations?.[RequestedByAnnotation];
    const event: k8s.CoreV1Event = {
      // As client-go names events: <object>.<nanoseconds in hex>, so names sort in time order. Who
      // asked rides along as an annotation, as Flux puts its metadata on its Events.
      metadata: {
        name: `${request.metadata.name}.${this.nanos().toString(16)}`,
        namespace,
        ...(requestedBy ? { annotations: { [RequestedByAnnotation]: requestedBy } } : {}),
      },
      involvedObject: {
        apiVersion: ApiVersion,
        kind: Kind,
        name: request.metadata.name,
        namespace,
        ...(request.metadata.uid ? { uid: request.metadata.uid } : {}),
        ...(request.metadata.resourceVersion ? { resourceVersion: request.metadata.resourceVersion } : {}),
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
        { request: `${namespace}/${request.metadata.name}`, reason, err: err instanceof Error ? err.message : String(err) },
        'could not record event',
      );
    }
  }
}
