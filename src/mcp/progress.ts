// Where a request stands, in one line: what MCP progress notifications and resource reads say while
// Flux works (source fetched, revision applied, health checks, a step of a chain, approval awaited).
import { Phase, ReadyCondition, ReconcilingCondition, ConditionStatus } from '../api/conditions.js';
import { targetOf, type FluxActionRequest, type ObjectStatus } from '../api/types.js';
import { describeRef, findCondition } from '../flux/objects.js';
import { awaitsApproval, describeRule } from '../policy/gate.js';

/** What a Flux object's status in the request says: Ready, its reason and message, its revision. */
function objectLine(role: string, o: ObjectStatus): string | undefined {
  if (!o.ready && !o.revision && !o.reason) return undefined;
  const ref = o.kind && o.name ? `${o.kind}/${o.name}` : role;
  const verdict = o.ready === ConditionStatus.True ? 'ready' : o.ready === ConditionStatus.False ? 'not ready' : 'in progress';
  const parts = [`${role} ${ref} ${verdict}`];
  if (o.revision) parts.push(`revision ${o.revision}`);
  if (o.reason) parts.push(o.message ? `${o.reason}: ${o.message}` : o.reason);
  return parts.join(', ');
}

/**
 * One line saying where the request stands: its phase and reason, what awaits approval and from
 * whom, the source and target as the operator saw them in Flux (revision, Ready reason and
 * message, e.g. a health check), and a chain's current step. A new line means a new transition.
 */
export function describeProgress(request: FluxActionRequest): string {
  const status = request.status ?? {};
  const conditions = status.conditions ?? [];
  const phase = status.phase ?? Phase.Pending;
  const reason =
    findCondition(conditions, ReconcilingCondition)?.status === ConditionStatus.True
      ? findCondition(conditions, ReconcilingCondition)?.reason
      : findCondition(conditions, ReadyCondition)?.reason;
  const parts: (string | undefined)[] = [
    `${request.spec.action} ${describeRef(targetOf(request))}: ${phase}${reason ? ` (${reason})` : ''}`,
  ];
  if (awaitsApproval(request)) {
    parts.push(
      `awaits approval: ${describeRule(status.policy)} requires a person with verb approve on fluxactionrequests in namespace ${request.metadata.namespace ?? '?'}, not the requester${status.approval?.expiresAt ? `, by ${status.approval.expiresAt}` : ''}`,
    );
  }
  if (status.chartSource) parts.push(objectLine('chart source', status.chartSource));
  if (status.source) parts.push(objectLine('source', status.source));
  if (status.steps?.length) {
    const current = status.steps.findIndex((s) => s.phase !== Phase.Succeeded);
    const index = current === -1 ? status.steps.length - 1 : current;
    const step = status.steps[index];
    if (step)
      parts.push(
        `step ${index + 1}/${status.steps.length} ${step.role ?? ''} ${describeRef(step)}: ${step.phase ?? Phase.Pending}${step.reason ? ` (${step.reason})` : ''}`,
      );
  } else if (status.target) parts.push(objectLine('target', status.target));
  if (status.message) parts.push(status.message);
  return parts.filter((p): p is string => Boolean(p)).join('; ');
}
