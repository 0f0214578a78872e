// The governance gate, pure: before a request touches Flux, the policy decision is recorded on it,
// and a request a rule holds for approval waits (phase Pending, Approved=Unknown) until an approver
// decides or the rule's approvalTimeout passes. The reconciler does the I/O: it evaluates the
// policies once, for a request that has not started and carries no decision, and runs the Flux
// protocol only when the gate lets the request through.
import {
  ApprovalReason,
  ApprovedCondition,
  ConditionStatus,
  EventReason,
  FailureReason,
  Phase,
  ProgressReason,
  ReadyCondition,
  isFinished,
} from '../api/conditions.js';
import {
  ApprovedByAnnotation,
  Group,
  Plural,
  RejectedByAnnotation,
  type FluxActionRequest,
  type PolicyRef,
  type RequestStatus,
} from '../api/types.js';
import { finishRequest, isoSeconds, requestedBy, setCondition, type Plan } from '../flux/protocol.js';
import { describePolicy, type PolicyDecision, type PolicyRef as DecidingRule } from './evaluate.js';

export interface GateInput {
  request: FluxActionRequest;
  /** Milliseconds since the epoch. */
  now: number;
  /**
   * The policies' decision, evaluated now; given only when needsDecision(request). A request that
   * carries a decision keeps it: a window that closes or a policy edited while it waits changes nothing.
   */
  decision?: PolicyDecision;
}

/**
 * The gate's answer: `proceed` with the status the Flux protocol starts from (the decision and the
 * approval recorded in it), or a plan to write instead (waiting for approval, or finished).
 */
export type GateResult = { proceed: RequestStatus; event?: Plan['event'] } | { plan: Plan };

/** Whether the policies must be evaluated for this request: it has not started and carries no decision. */
export function needsDecision(request: FluxActionRequest): boolean {
  return !request.status?.startTime && !request.status?.policy;
}

/** Decides whether the request may go on to Flux. Level-triggered: deciding twice changes nothing. */
export function gate(input: GateInput): GateResult {
  const { request, now } = input;
  const current = request.status ?? {};
  // Started already (allowed, or approved) or decided before: nothing left to gate.
  if (current.startTime && (current.policy?.effect !== 'RequireApproval' || current.approval?.approvedBy)) return { proceed: current };

  // Who asked is on the request from the start, also while it waits or when it is denied.
  let status: RequestStatus = { ...current, ...requestedBy(request, current) };
  if (!current.policy && input.decision) {
    const decision = input.decision;
    if (!decision.policy) return { proceed: current };
    status = { ...status, policy: policyRef(decision.policy, decision.effect) };
    if (decision.effect === 'Deny') return { plan: finishRequest(request, status, now, FailureReason[decision.reason], decision.message) };
    if (decision.effect === 'Allow') return { proceed: status };
    status = {
      ...status,
      approval: { expiresAt: isoSeconds(now + decision.approvalTimeoutMs) },
      message: awaitingMessage(request, status.policy, decision.message, now + decision.approvalTimeoutMs),
    };
  }
  if (status.policy?.effect !== 'RequireApproval') return { proceed: status };
  return approval(request, status, now);
}

/** A request held for approval: approved, rejected, expired, or still waiting. */
function approval(request: FluxActionRequest, status: RequestStatus, now: number): GateResult {
  const annotations = request.metadata.annotations ?? {};
  const generation = request.metadata.generation;
  const approvedBy = nonEmpty(annotations[ApprovedByAnnotation]);
  const rejectedBy = nonEmpty(annotations[RejectedByAnnotation]);
  const rule = describeRule(status.policy);

  if (rejectedBy) {
    const message = `rejected by ${rejectedBy} (${rule} requires approval)`;
    const decided: RequestStatus = {
      ...status,
      approval: { ...status.approval, rejectedBy },
      conditions: setCondition(
        status.conditions,
        ApprovedCondition,
        ConditionStatus.False,
        FailureReason.Rejected,
        message,
        generation,
        now,
      ),
    };
    return { plan: finishRequest(request, decided, now, FailureReason.Rejected, message) };
  }
  if (approvedBy) {
    const message = `approved by ${approvedBy}`;
    const decided: RequestStatus = {
      ...status,
      approval: { ...status.approval, approvedBy },
      conditions: setCondition(
        status.conditions,
        ApprovedCondition,
        ConditionStatus.True,
        ApprovalReason.Approved,
        message,
        generation,
        now,
      ),
    };
    const alreadyApproved = status.approval?.approvedBy === approvedBy;
    return alreadyApproved
      ? { proceed: decided }
      : { proceed: decided, event: { reason: EventReason.Approved, type: 'Normal', message: `${message}; starting the action` } };
  }

  const expiresAt = status.approval?.expiresAt ? Date.parse(status.approval.expiresAt) : Number.NaN;
  if (!Number.isNaN(expiresAt) && now >= expiresAt) {
    const waited = status.approval?.expiresAt ? ` (until ${status.approval.expiresAt})` : '';
    const message = `nobody approved or rejected the request in time${waited}; ${rule} requires approval: create a new request`;
    const decided: RequestStatus = {
      ...status,
      conditions: setCondition(
        status.conditions,
        ApprovedCondition,
        ConditionStatus.False,
        FailureReason.ApprovalExpired,
        message,
        generation,
        now,
      ),
    };
    return { plan: finishRequest(request, decided, now, FailureReason.ApprovalExpired, message) };
  }

  // Still waiting: Pending, and Flux is not touched.
  const message = status.message ?? awaitingMessage(request, status.policy, '', expiresAt);
  let conditions = setCondition(
    status.conditions,
    ApprovedCondition,
    ConditionStatus.Unknown,
    ProgressReason.AwaitingApproval,
    message,
    generation,
    now,
  );
  conditions = setCondition(conditions, ReadyCondition, ConditionStatus.Unknown, ProgressReason.AwaitingApproval, message, generation, now);
  const waiting: RequestStatus = {
    ...status,
    phase: Phase.Pending,
    message,
    conditions,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  const plan: Plan = { status: waiting };
  if (!Number.isNaN(expiresAt)) plan.requeueAfterMs = Math.max(0, expiresAt - now);
  if (request.status?.phase !== Phase.Pending || !request.status.policy) {
    plan.event = { reason: EventReason.AwaitingApproval, type: 'Normal', message };
  }
  return { plan };
}

/**
 * What a waiting request says: why (the policy decision's message, else the rule), who may decide,
 * how — `fluxact approve` or the annotation — and by when.
 */
function awaitingMessage(request: FluxActionRequest, policy: PolicyRef | undefined, why: string, expiresAt: number): string {
  const namespace = request.metadata.namespace ?? '';
  const until = Number.isNaN(expiresAt) ? '' : ` by ${isoSeconds(expiresAt)}`;
  return (
    `${why || `approval required by ${describeRule(policy)}`}; someone else with verb approve on ${Plural}.${Group} in namespace ` +
    `${namespace} runs 'fluxact approve ${request.metadata.name} -n ${namespace}', or sets annotation ${ApprovedByAnnotation} or ` +
    `${RejectedByAnnotation} to their username,${until || ' now'}`
  );
}

function policyRef(rule: DecidingRule, effect: string): PolicyRef {
  return {
    kind: rule.kind,
    ...(rule.namespace ? { namespace: rule.namespace } : {}),
    name: rule.name,
    ...(rule.rule ? { rule: rule.rule } : {}),
    effect,
  };
}

/** `FluxActionPolicy apps/guardrails rule agents-need-approval`. */
export function describeRule(policy: PolicyRef | undefined): string {
  if (!policy) return 'a policy';
  const name = describePolicy(policy);
  return policy.rule ? `${name} rule ${policy.rule}` : name;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value && value.length > 0 ? value : undefined;
}

/** Whether a request waits for an approver (Approved=Unknown): a client stops waiting and says so. */
export function awaitsApproval(request: Pick<FluxActionRequest, 'status'>): boolean {
  return (
    !isFinished(request.status?.phase) &&
    request.status?.conditions?.some((c) => c.type === ApprovedCondition && c.status === ConditionStatus.Unknown) === true
  );
}
