// The governance gate (src/policy/gate.ts): the policy decision recorded once, Deny ending the
// request untouched, and the approval wait — approved, rejected, expired — with injected time.
import { describe, expect, it } from '@jest/globals';
import { ApprovedCondition, FailureReason, Phase, ProgressReason, ReadyCondition, EventReason } from '../../src/api/conditions.js';
import type { FluxActionRequest, RequestStatus } from '../../src/api/types.js';
import { ApprovedByAnnotation, RejectedByAnnotation, RequestedByAnnotation } from '../../src/api/types.js';
import { decide } from '../../src/flux/protocol.js';
import type { PolicyDecision } from '../../src/policy/evaluate.js';
import { gate, needsDecision, type GateResult } from '../../src/policy/gate.js';
import type { Plan } from '../../src/flux/protocol.js';

const NOW = Date.parse('2026-11-28T12:00:00Z');
const HOUR = 3_600_000;
const rule = { kind: 'FluxActionPolicy' as const, namespace: 'apps', name: 'guardrails', rule: 'agents-need-approval' };
const approvalRequired: PolicyDecision = {
  effect: 'RequireApproval',
  approvalTimeoutMs: HOUR,
  message:
    "approval required by FluxActionPolicy apps/guardrails rule agents-need-approval: agents' HelmRelease actions need an SRE's approval",
  policy: rule,
};

function request(annotations: Record<string, string> = {}, status?: RequestStatus): FluxActionRequest {
  return {
    apiVersion: 'fluxaction.io/v1alpha1',
    kind: 'FluxActionRequest',
    metadata: {
      name: 'mcp-reconcile-web',
      namespace: 'apps',
      generation: 1,
      creationTimestamp: '2026-11-28T11:59:00Z',
      annotations: { [RequestedByAnnotation]: 'agent', ...annotations },
    },
    spec: { action: 'Reconcile', target: { kind: 'HelmRelease', name: 'web' } },
    ...(status ? { status } : {}),
  };
}

function plan(result: GateResult): Plan {
  if (!('plan' in result)) throw new Error(`expected a plan, the gate let the request through: ${JSON.stringify(result)}`);
  return result.plan;
}

function proceed(result: GateResult): RequestStatus {
  if (!('proceed' in result)) throw new Error(`expected the request to go on, got ${JSON.stringify(result.plan.status)}`);
  return result.proceed;
}

function condition(status: RequestStatus, type: string): { status: string; reason?: string; message?: string } | undefined {
  return status.conditions?.find((c) => c.type === type);
}

/** The status a request held for approval carries after the first decision. */
function waitingStatus(): RequestStatus {
  return plan(gate({ request: request(), now: NOW, decision: approvalRequired })).status;
}

describe('needsDecision', () => {
  it('asks for a decision on a request that has neither started nor been decided', () => {
    expect(needsDecision(request())).toBe(true);
  });
  it('does not ask again once a decision is recorded', () => {
    expect(needsDecision(request({}, waitingStatus()))).toBe(false);
  });
  it('does not ask about a request that started (before any policy existed, or allowed)', () => {
    expect(needsDecision(request({}, { startTime: '2026-11-28T11:59:30Z' }))).toBe(false);
  });
});

describe('the decision', () => {
  it('lets a request through untouched when no rule matched', () => {
    expect(gate({ request: request(), now: NOW, decision: { effect: 'Allow' } })).toEqual({ proceed: {} });
  });

  it('records the rule that allowed it', () => {
    const status = proceed(gate({ request: request(), now: NOW, decision: { effect: 'Allow', policy: rule } }));
    expect(status.policy).toEqual({ ...rule, effect: 'Allow' });
  });

  it.each([
    ['PolicyDenied', 'denied by FluxActionPolicy apps/guardrails rule weekend-freeze: production is frozen'],
    ['RateLimited', 'FluxActionPolicy apps/guardrails rule not-too-often: 10 actions per 1h on HelmRelease apps/web'],
  ] as const)('ends a denied request as Failed/%s with the rule and its message, touching nothing', (reason, message) => {
    const result = plan(gate({ request: request(), now: NOW, decision: { effect: 'Deny', reason, message, policy: rule } }));
    expect(result.patch).toBeUndefined();
    expect(result.status.phase).toBe(Phase.Failed);
    expect(result.status.message).toBe(message);
    expect(result.status.policy).toEqual({ ...rule, effect: 'Deny' });
    expect(condition(result.status, ReadyCondition)).toMatchObject({ status: 'False', reason, message });
    expect(result.event).toEqual({ reason: EventReason.Failed, type: 'Warning', message: `${reason}: ${message}` });
  });

  it('keeps the recorded decision: a policy that changed meanwhile does not change it', () => {
    const waiting = waitingStatus();
    const again = plan(gate({ request: request({}, waiting), now: NOW + 1000, decision: { effect: 'Allow' } }));
    expect(again.status.policy).toEqual({ ...rule, effect: 'RequireApproval' });
    expect(again.status.phase).toBe(Phase.Pending);
  });
});

describe('awaiting approval', () => {
  it('waits Pending with Approved=Unknown and Ready=Unknown (AwaitingApproval), naming who may approve and until when', () => {
    const status = waitingStatus();
    expect(status.phase).toBe(Phase.Pending);
    expect(status.startTime).toBeUndefined();
    expect(status.approval).toEqual({ expiresAt: '2026-11-28T13:00:00Z' });
    // Each thing said once: why, who decides, the two ways to decide, the deadline.
    expect(status.message).toBe(
      "approval required by FluxActionPolicy apps/guardrails rule agents-need-approval: agents' HelmRelease actions need an SRE's " +
        'approval; someone else with verb approve on fluxactionrequests.fluxaction.io in namespace apps runs ' +
        "'fluxact approve mcp-reconcile-web -n apps', or sets annotation fluxaction.io/approved-by or fluxaction.io/rejected-by " +
        'to their username, by 2026-11-28T13:00:00Z',
    );
    expect(condition(status, ApprovedCondition)).toMatchObject({ status: 'Unknown', reason: ProgressReason.AwaitingApproval });
    expect(condition(status, ReadyCondition)).toMatchObject({ status: 'Unknown', reason: ProgressReason.AwaitingApproval });
  });

  it('records who asked in status.requestedBy while it waits, and when it is denied', () => {
    expect(waitingStatus().requestedBy).toBe('agent');
    const denied: PolicyDecision = { effect: 'Deny', reason: 'PolicyDenied', message: 'frozen', policy: rule };
    expect(plan(gate({ request: request(), now: NOW, decision: denied })).status.requestedBy).toBe('agent');
  });

  it('records AwaitingApproval once, not on every look', () => {
    const first = plan(gate({ request: request(), now: NOW, decision: approvalRequired }));
    expect(first.event?.reason).toBe(EventReason.AwaitingApproval);
    const second = plan(gate({ request: request({}, first.status), now: NOW + 5000 }));
    expect(second.event).toBeUndefined();
    expect(second.status).toEqual(first.status);
  });

  it('looks again when the approval expires', () => {
    const second = plan(gate({ request: request({}, waitingStatus()), now: NOW + 20 * 60_000 }));
    expect(second.requeueAfterMs).toBe(40 * 60_000);
  });

  it('lets an approved request through with Approved=True and an Approved event naming the approver', () => {
    const result = gate({ request: request({ [ApprovedByAnnotation]: 'sre' }, waitingStatus()), now: NOW + 60_000 });
    const status = proceed(result);
    expect(status.approval).toEqual({ expiresAt: '2026-11-28T13:00:00Z', approvedBy: 'sre' });
    expect(condition(status, ApprovedCondition)).toMatchObject({ status: 'True', reason: 'Approved', message: 'approved by sre' });
    expect('event' in result && result.event).toEqual({
      reason: EventReason.Approved,
      type: 'Normal',
      message: 'approved by sre; starting the action',
    });
  });

  it('starts the action timeout at approval, not at creation', () => {
    const approvedAt = NOW + 50 * 60_000;
    const status = proceed(gate({ request: request({ [ApprovedByAnnotation]: 'sre' }, waitingStatus()), now: approvedAt }));
    const next = decide({
      request: request({ [ApprovedByAnnotation]: 'sre' }, status),
      now: approvedAt,
      steps: [],
      heldTokens: () => [],
      mintToken: () => 'token',
    });
    expect(next.status.startTime).toBe('2026-11-28T12:50:00Z');
  });

  it('lets a started, approved request through without a second Approved event', () => {
    const approved = proceed(gate({ request: request({ [ApprovedByAnnotation]: 'sre' }, waitingStatus()), now: NOW + 60_000 }));
    const started = { ...approved, startTime: '2026-11-28T12:01:00Z', phase: Phase.Running };
    const result = gate({ request: request({ [ApprovedByAnnotation]: 'sre' }, started), now: NOW + 120_000 });
    expect(result).toEqual({ proceed: started });
  });

  it('ends a rejected request as Failed/Rejected naming who rejected it', () => {
    const result = plan(gate({ request: request({ [RejectedByAnnotation]: 'sre' }, waitingStatus()), now: NOW + 60_000 }));
    expect(result.status.phase).toBe(Phase.Failed);
    expect(result.status.message).toBe('rejected by sre (FluxActionPolicy apps/guardrails rule agents-need-approval requires approval)');
    expect(result.status.approval?.rejectedBy).toBe('sre');
    expect(condition(result.status, ApprovedCondition)).toMatchObject({ status: 'False', reason: FailureReason.Rejected });
    expect(condition(result.status, ReadyCondition)).toMatchObject({ status: 'False', reason: FailureReason.Rejected });
  });

  it('ends a request nobody decided on in time as Failed/ApprovalExpired', () => {
    const result = plan(gate({ request: request({}, waitingStatus()), now: NOW + HOUR }));
    expect(result.status.phase).toBe(Phase.Failed);
    expect(condition(result.status, ReadyCondition)).toMatchObject({ status: 'False', reason: FailureReason.ApprovalExpired });
    expect(condition(result.status, ApprovedCondition)).toMatchObject({ status: 'False', reason: FailureReason.ApprovalExpired });
    expect(result.status.message).toBe(
      'nobody approved or rejected the request in time (until 2026-11-28T13:00:00Z); ' +
        'FluxActionPolicy apps/guardrails rule agents-need-approval requires approval: create a new request',
    );
  });

  it('still waits a moment before the approval expires', () => {
    expect(plan(gate({ request: request({}, waitingStatus()), now: NOW + HOUR - 1 })).status.phase).toBe(Phase.Pending);
  });

  it('takes an approval given before the decision was recorded (the approver was quick)', () => {
    const result = gate({ request: request({ [ApprovedByAnnotation]: 'sre' }), now: NOW, decision: approvalRequired });
    expect(proceed(result).approval?.approvedBy).toBe('sre');
  });

  it('ignores an empty annotation', () => {
    expect(plan(gate({ request: request({ [ApprovedByAnnotation]: '' }, waitingStatus()), now: NOW + 1 })).status.phase).toBe(
      Phase.Pending,
    );
  });
});
