// A request's outcome as a Flux event, the payload Flux's own controllers post to
// notification-controller, so Flux Alerts report actions as they report reconciles.
//
// What Flux defines and accepts, from its sources (fluxcd/pkg and fluxcd/notification-controller):
// - apis/event/v1beta1/event.go: Event{involvedObject (corev1.ObjectReference), severity
//   ("trace" | "info" | "error"), timestamp (metav1.Time: RFC 3339, whole seconds), message
//   (at most 39000 characters), reason, metadata (map[string]string, omitempty),
//   reportingController, reportingInstance (omitempty)}; every other field is required. Group
//   "event.toolkit.fluxcd.io". apis/event/v1beta1/metadata.go: metadata keys "revision",
//   "originRevision", "token", ...
// - runtime/events/recorder.go: a controller POSTs the event as JSON to its --events-addr
//   (http://notification-controller.flux-system.svc.cluster.local./) with go-retryablehttp:
//   5 s per attempt, 4 retries with exponential backoff from 1 s to 30 s on connection errors and
//   5xx, none on 429 (notification-controller's answer to a duplicate). It refuses to post without
//   an involved object kind, name and namespace, and copies the object's annotations prefixed
//   "event.toolkit.fluxcd.io/" into metadata. Controllers key their own metadata by their API group
//   ("kustomize.toolkit.fluxcd.io/revision"; kustomize-controller's and helm-controller's event()).
// - notification-controller internal/server/event_server.go: decodes the body into v1beta1.Event
//   (400 when it does not decode, so every metadata value must be a string), keeps only metadata
//   keys prefixed with "event.toolkit.fluxcd.io/" or with the involved object's API group (taken
//   from involvedObject.apiVersion), and answers 429 to an event whose object, message and
//   <group>/revision and <group>/token metadata it saw within --rate-limit-interval (5m).
// - internal/server/event_handlers.go: strips <group>/token before dispatch, strips both prefixes
//   from the keys the providers see, and matches Alerts by involvedObject kind, name and namespace
//   (and severity); an event no Alert matches is answered 202 and discarded. It does not check
//   reportingController. An Alert's eventSources accept only the kinds of its CRD's enum
//   (api/v1/reference_types.go: Bucket, GitRepository, Kustomization, HelmRelease, HelmChart,
//   HelmRepository, ImageRepository, ImagePolicy, ImageUpdateAutomation, OCIRepository).
import { Phase, ReadyCondition, SuccessReason } from '../api/conditions.js';
import { RequestedByAnnotation, targetOf, type FluxActionRequest } from '../api/types.js';
import { fluxKind } from '../flux/kinds.js';

/** The controller name the operator reports its events under (also on its Kubernetes Events). */
export const ReportingController = 'flux-action-operator';

/** The API group of Flux's event API: target annotations with this prefix ride along as metadata. */
export const EventGroup = 'event.toolkit.fluxcd.io';

/** Longest message notification-controller's Event type allows. */
export const MaxMessageLength = 39_000;

/** Event severities (v1beta1.EventSeverityInfo, EventSeverityError); the operator never sends trace. */
export const Severity = { Info: 'info', Error: 'error' } as const;
export type Severity = (typeof Severity)[keyof typeof Severity];

/**
 * The metadata keys of an outcome event, each posted as `<target API group>/<key>` (notification-
 * controller keeps only keys with that prefix and shows them to providers without it).
 */
export const MetadataKey = {
  /** The request's action: Reconcile, Suspend or Resume. */
  Action: 'action',
  /** Who created the request (status.requestedBy). */
  Requester: 'requester',
  /** Who approved it (status.approval.approvedBy), when a policy rule required approval and someone gave it. */
  Approver: 'approver',
  /** Who rejected it (status.approval.rejectedBy): the request Failed with reason Rejected. */
  Rejecter: 'rejecter',
  /** The request, as namespace/name. */
  Request: 'request',
  /**
   * The revision Flux applied or fetched (status.target.revision), only when Flux reported the
   * target Ready after the request (reason Succeeded). A failed request's status holds the revision
   * applied before it, and a Requested one's the revision before Flux acted: sent with severity or
   * success, either would be read as the outcome of that revision (git commit-status providers
   * set a commit's status from <group>/revision).
   */
  Revision: 'revision',
  /**
   * notification-controller's de-duplication key, never shown to providers: the request's
   * requestedAt token and its uid, so each request is reported once even when several shared one
   * Flux reconcile, and a re-sent event is not reported twice.
   */
  Token: 'token',
} as const;

/** corev1.ObjectReference, as JSON (every field optional there; kind, name and namespace are always set here). */
export interface ObjectReference {
  kind: string;
  namespace: string;
  name: string;
  apiVersion: string;
  uid?: string;
}

/** Flux's event (github.com/fluxcd/pkg/apis/event/v1beta1 Event), as JSON. */
export interface FluxEvent {
  involvedObject: ObjectReference;
  severity: Severity;
  /** RFC 3339 in whole seconds, as metav1.Time marshals. */
  timestamp: string;
  message: string;
  reason: string;
  metadata?: Record<string, string>;
  reportingController: string;
  reportingInstance?: string;
}

export interface OutcomeEventOptions {
  /** This operator replica (reportingInstance). */
  instance: string;
  /** When the event is recorded, in ms since the epoch; used when the request has no completionTime. */
  now: number;
  /** The target's annotations, when known: those prefixed event.toolkit.fluxcd.io/ become metadata, as Flux does. */
  targetAnnotations?: Readonly<Record<string, string>>;
}

/**
 * The Flux event reporting a finished request's outcome: about its Flux target, severity info for
 * Succeeded and error for Failed, the Ready condition's reason and the request's message, with the
 * metadata of MetadataKey. Undefined for a request that has not finished.
 */
export function outcomeEvent(request: FluxActionRequest, options: OutcomeEventOptions): FluxEvent | undefined {
  const status = request.status;
  const phase = status?.phase;
  if (phase !== Phase.Succeeded && phase !== Phase.Failed) return undefined;
  const target = targetOf(request);
  const seen = status?.target;
  const kind = fluxKind(target.kind);
  // The group decides which metadata notification-controller keeps: from the apiVersion the request
  // resolved, else the one it named, else the kinds table's newest version.
  const apiVersion = seen?.apiVersion ?? target.apiVersion ?? (kind ? `${kind.group}/${kind.versions[0] ?? ''}` : '');
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  const key = (name: string): string => `${group}/${name}`;

  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.targetAnnotations ?? {})) {
    if (name.startsWith(`${EventGroup}/`)) metadata[name] = value;
  }
  const requestName = `${request.metadata.namespace ?? ''}/${request.metadata.name}`;
  const requester = status?.requestedBy ?? request.metadata.annotations?.[RequestedByAnnotation];
  // The approval the operator honoured (status), not an annotation set on a request that needed none.
  const approver = status?.approval?.approvedBy;
  const rejecter = status?.approval?.rejectedBy;
  metadata[key(MetadataKey.Action)] = request.spec.action;
  if (requester) metadata[key(MetadataKey.Requester)] = requester;
  if (approver) metadata[key(MetadataKey.Approver)] = approver;
  if (rejecter) metadata[key(MetadataKey.Rejecter)] = rejecter;
  metadata[key(MetadataKey.Request)] = requestName;
  const reason = status?.conditions?.find((c) => c.type === ReadyCondition)?.reason ?? phase;
  if (seen?.revision && reason === SuccessReason.Succeeded) metadata[key(MetadataKey.Revision)] = seen.revision;
  metadata[key(MetadataKey.Token)] = [status?.token, request.metadata.uid ?? requestName].filter((p) => p).join('/');

  const message = status?.message ?? '';
  return {
    involvedObject: {
      kind: seen?.kind ?? target.kind,
      namespace: seen?.namespace ?? target.namespace,
      name: seen?.name ?? target.name,
      apiVersion,
      ...(seen?.uid ? { uid: seen.uid } : {}),
    },
    severity: phase === Phase.Succeeded ? Severity.Info : Severity.Error,
    timestamp: rfc3339Seconds(status?.completionTime, options.now),
    message: message.length > MaxMessageLength ? `${message.slice(0, MaxMessageLength - 3)}...` : message,
    reason,
    metadata,
    reportingController: ReportingController,
    reportingInstance: options.instance,
  };
}

/** A time as metav1.Time marshals it: RFC 3339 in UTC, whole seconds. */
function rfc3339Seconds(time: string | undefined, fallback: number): string {
  const parsed = time === undefined ? Number.NaN : Date.parse(time);
  const ms = Number.isNaN(parsed) ? fallback : parsed;
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}
