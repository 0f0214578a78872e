// Condition types, reasons and phases of a FluxActionRequest: the API that the operator writes,
// the MCP adapter reads and the tests assert. They follow Flux and kstatus conventions, so
// `kubectl wait --for=condition=Ready` and kstatus-based health checks work on requests.

/** Ready is True when the action succeeded, False when it failed, Unknown while it runs. */
export const ReadyCondition = 'Ready';
/** Reconciling is True while the action runs and absent once it finished (kstatus InProgress). */
export const ReconcilingCondition = 'Reconciling';
/** Stalled is True when the action failed for good; it is never retried (kstatus Failed). */
export const StalledCondition = 'Stalled';

/**
 * Approved is present only on requests a policy rule holds for approval: Unknown while waiting
 * (AwaitingApproval), True once approved, False when rejected or expired.
 */
export const ApprovedCondition = 'Approved';

export type ConditionType = typeof ReadyCondition | typeof ReconcilingCondition | typeof StalledCondition | typeof ApprovedCondition;

/** A condition's status, as in Kubernetes' metav1.Condition (also what the Flux controllers write). */
export const ConditionStatus = {
  True: 'True',
  False: 'False',
  Unknown: 'Unknown',
} as const;
export type ConditionStatus = (typeof ConditionStatus)[keyof typeof ConditionStatus];

/** The lifecycle of a request: Pending until first seen, Running until the outcome is known. */
export const Phase = {
  Pending: 'Pending',
  Running: 'Running',
  Succeeded: 'Succeeded',
  Failed: 'Failed',
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

/** Reasons of Reconciling=True while a request runs. */
export const ProgressReason = {
  /** The action was sent to Flux and the operator is following the Flux controller. */
  Progressing: 'Progressing',
  /** A source of the target (withSource) is being reconciled first. */
  WaitingForSource: 'WaitingForSource',
  /** An object the target depends on (withDependencies, spec.dependsOn) is being reconciled first. */
  WaitingForDependency: 'WaitingForDependency',
  /** Another request's reconcile of the same object must be handled by Flux first (coalescing). */
  WaitingForTarget: 'WaitingForTarget',
  /** A policy rule requires approval and nobody decided yet; Flux is not touched (phase Pending). */
  AwaitingApproval: 'AwaitingApproval',
} as const;
export type ProgressReason = (typeof ProgressReason)[keyof typeof ProgressReason];

/** Reasons of Ready=True. */
export const SuccessReason = {
  /** Flux carried out the action and reported the target Ready for its generation. */
  Succeeded: 'Succeeded',
  /** wait: false, and the request was written to the target; Flux's outcome was not followed. */
  Requested: 'Requested',
} as const;
export type SuccessReason = (typeof SuccessReason)[keyof typeof SuccessReason];

/** Reasons of Ready=False and Stalled=True; also the Reason printer column. */
export const FailureReason = {
  /** The target object does not exist. */
  TargetNotFound: 'TargetNotFound',
  /** The target kind is not served by this cluster, or is not a kind the operator acts on. */
  UnsupportedKind: 'UnsupportedKind',
  /** The kind has nothing to reconcile (Alert, Provider, OCI HelmRepository). */
  UnsupportedAction: 'UnsupportedAction',
  /** The target (or a source) is suspended: Flux ignores reconcile requests on it. */
  TargetSuspended: 'TargetSuspended',
  /** The request targets another namespace and its namespace may not do that. */
  CrossNamespaceForbidden: 'CrossNamespaceForbidden',
  /** A source reconciled first (withSource) failed; the target was not touched. */
  SourceFailed: 'SourceFailed',
  /**
   * A step of a chain (withDependencies, withDependents) other than the target failed; the message
   * names it and carries Flux's; later steps were not touched.
   */
  DependencyFailed: 'DependencyFailed',
  /** The spec.dependsOn graph of a chain has a cycle (the message names it); nothing was touched. */
  DependencyCycle: 'DependencyCycle',
  /** Flux handled the request and reported the target failed (Stalled, or Ready=False). */
  ReconciliationFailed: 'ReconciliationFailed',
  /** No outcome within spec.timeout. */
  Timeout: 'Timeout',
  /** The operator's own RBAC refused a read or write it needed. */
  Forbidden: 'Forbidden',
  /** The target was deleted while the operator followed it. */
  TargetDeleted: 'TargetDeleted',
  /**
   * The target (or a source) does not have the shape the operator reads (a field of the wrong type,
   * e.g. from a CRD version it does not know); the message names the field. Not retried.
   */
  InvalidTarget: 'InvalidTarget',
  /** A FluxActionPolicy or ClusterFluxActionPolicy rule denied the action (or a policy is invalid: fail closed). */
  PolicyDenied: 'PolicyDenied',
  /** A policy rule's rate limit for the target was reached. */
  RateLimited: 'RateLimited',
  /** An approver rejected the request (annotation fluxaction.io/rejected-by). */
  Rejected: 'Rejected',
  /** Nobody approved or rejected the request within the rule's approvalTimeout. */
  ApprovalExpired: 'ApprovalExpired',
} as const;
export type FailureReason = (typeof FailureReason)[keyof typeof FailureReason];

/** The reason of Approved=True. */
export const ApprovalReason = {
  Approved: 'Approved',
} as const;

/** Kubernetes Event reasons recorded on a request at each transition. */
export const EventReason = {
  AwaitingApproval: 'AwaitingApproval',
  Approved: 'Approved',
  Requested: 'Requested',
  Succeeded: 'Succeeded',
  Failed: 'Failed',
} as const;
export type EventReason = (typeof EventReason)[keyof typeof EventReason];

/** Whether a phase is final: a finished request is never acted on again. */
export function isFinished(phase: string | undefined): boolean {
  return phase === Phase.Succeeded || phase === Phase.Failed;
}
