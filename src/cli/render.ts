// What the command line shows of a request: a line per transition, the live line's text, the table
// of `get` and the page of `describe`. Pure functions of the request (and the clock's reading).
import type * as k8s from '@kubernetes/client-node';
import { ApprovedCondition, ReadyCondition } from '../api/conditions.js';
import { OriginLabel, targetOf, type Condition, type FluxActionRequest } from '../api/types.js';

function condition(request: FluxActionRequest, type: string): Condition | undefined {
  return request.status?.conditions?.find((c) => c.type === type);
}

/** What changes a transition: the phase, the Ready reason and the message. */
export function stateOf(request: FluxActionRequest): string {
  const ready = condition(request, ReadyCondition);
  return `${request.status?.phase ?? 'New'}\u0000${ready?.reason ?? ''}\u0000${request.status?.message ?? ''}`;
}

/** Elapsed time as people read it: `0.4s`, `12.0s`, `2m05s`. */
export function formatElapsed(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.floor(ms / 1000);
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}

/** One transition's line: `[  2.1s] Running Progressing: Kustomization apps/web: reconciling`. */
export function transitionLine(request: FluxActionRequest, elapsedMs: number): string {
  const ready = condition(request, ReadyCondition);
  const phase = request.status?.phase ?? 'Pending';
  const reason = ready?.reason && ready.reason !== phase ? ` ${ready.reason}` : '';
  const message = request.status?.message ? `: ${request.status.message}` : '';
  return `[${formatElapsed(elapsedMs).padStart(6)}] ${phase}${reason}${message}`;
}

/**
 * One line for a chain step's transition:
 * `[  2.1s]   step 2/3 Dependency Kustomization apps/database: Succeeded main@sha1:1a2b3c`.
 */
export function stepLine(request: FluxActionRequest, index: number, elapsedMs: number): string {
  const steps = request.status?.steps ?? [];
  const step = steps[index];
  if (!step) return '';
  const phase = step.phase ?? 'Pending';
  const detail =
    phase === 'Succeeded' && step.revision ? ` ${step.revision}` : phase === 'Failed' && step.message ? `: ${step.message.trim()}` : '';
  const object = `${step.kind ?? '?'} ${step.namespace ?? ''}/${step.name ?? '?'}`;
  return `[${formatElapsed(elapsedMs).padStart(6)}]   step ${index + 1}/${steps.length} ${step.role ?? ''} ${object}: ${phase}${detail}`;
}

/** The live line's text while following a request. */
export function liveText(request: FluxActionRequest, elapsedMs: number): string {
  const target = targetOf(request);
  const ready = condition(request, ReadyCondition);
  const state = ready?.reason ?? request.status?.phase ?? 'Pending';
  return `${request.spec.action} ${target.kind} ${target.namespace}/${target.name}: ${state} (${formatElapsed(elapsedMs)})`;
}

/** kubectl's age: `42s`, `5m`, `3h`, `2d`. */
export function formatAge(created: string | Date | undefined, now: number): string {
  if (created === undefined) return '<unknown>';
  const ms = now - new Date(created).getTime();
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** Columns padded to their widest cell, two spaces apart, like kubectl's tables. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map(
      (row) =>
        row
          .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
          .join('   ')
          .trimEnd() + '\n',
    )
    .join('');
}

/** The table of `fluxact get requests`, with the CRD's printer columns (and NAMESPACE with -A). */
export function requestTable(requests: readonly FluxActionRequest[], now: number, withNamespace: boolean): string {
  const header = ['NAME', 'ACTION', 'KIND', 'TARGET', 'PHASE', 'REASON', 'APPROVAL', 'AGE'];
  const rows = requests.map((r) => [
    r.metadata.name,
    r.spec.action,
    r.spec.target.kind,
    r.spec.target.name,
    r.status?.phase ?? '',
    condition(r, ReadyCondition)?.reason ?? '',
    condition(r, ApprovedCondition)?.reason ?? '',
    formatAge(r.metadata.creationTimestamp, now),
  ]);
  if (!withNamespace) return table([header, ...rows]);
  return table([['NAMESPACE', ...header], ...rows.map((row, i) => [requests[i]?.metadata.namespace ?? '', ...row])]);
}

/** The page of `fluxact describe`: the request, its status, conditions and events. */
export function describeRequest(request: FluxActionRequest, events: readonly k8s.CoreV1Event[], now: number): string {
  const status = request.status;
  const target = targetOf(request);
  const fields: [string, string | undefined][] = [
    ['Name', request.metadata.name],
    ['Namespace', request.metadata.namespace],
    ['Action', request.spec.action],
    ['Target', `${target.kind} ${target.namespace}/${target.name}`],
    [
      'Options',
      [
        request.spec.withSource ? 'withSource' : '',
        request.spec.withDependencies ? 'withDependencies' : '',
        request.spec.withDependents ? 'withDependents' : '',
        request.spec.force ? 'force' : '',
        request.spec.reset ? 'reset' : '',
        request.spec.wait === false ? 'wait: false' : '',
        request.spec.timeout ? `timeout ${request.spec.timeout}` : '',
      ]
        .filter((o) => o !== '')
        .join(', ') || undefined,
    ],
    ['Origin', request.metadata.labels?.[OriginLabel]],
    ['Requested By', status?.requestedBy],
    ['Phase', status?.phase],
    ['Message', status?.message],
    ['Revision', status?.target?.revision],
    ['Source', status?.source ? `${status.source.kind ?? ''} ${status.source.namespace ?? ''}/${status.source.name ?? ''}` : undefined],
    [
      'Policy',
      status?.policy
        ? `${status.policy.kind} ${status.policy.name} rule ${status.policy.rule ?? '-'} (${status.policy.effect})`
        : undefined,
    ],
    ['Approval Expires', status?.approval?.expiresAt],
    ['Approved By', status?.approval?.approvedBy],
    ['Rejected By', status?.approval?.rejectedBy],
    ['Created', request.metadata.creationTimestamp ? new Date(request.metadata.creationTimestamp).toISOString() : undefined],
    ['Started', status?.startTime],
    ['Completed', status?.completionTime],
  ];
  const present = fields.filter((f): f is [string, string] => f[1] !== undefined && f[1] !== '');
  const width = Math.max(...present.map(([k]) => k.length)) + 2;
  let out = present.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}\n`).join('');
  const steps = status?.steps ?? [];
  if (steps.length > 0) {
    out += '\nSteps:\n';
    out += indent(
      table([
        ['#', 'ROLE', 'OBJECT', 'PHASE', 'REVISION', 'MESSAGE'],
        ...steps.map((s, i) => [
          String(i + 1),
          s.role ?? '',
          `${s.kind ?? '?'} ${s.namespace ?? ''}/${s.name ?? '?'}`,
          s.phase ?? '',
          s.revision ?? '',
          s.phase === 'Failed' ? (s.message?.trim() ?? '') : '',
        ]),
      ]),
    );
  }
  const conditions = status?.conditions ?? [];
  out += '\nConditions:\n';
  out +=
    conditions.length === 0
      ? '  <none>\n'
      : indent(
          table([['TYPE', 'STATUS', 'REASON', 'MESSAGE'], ...conditions.map((c) => [c.type, c.status, c.reason ?? '', c.message ?? ''])]),
        );
  out += '\nEvents:\n';
  out +=
    events.length === 0
      ? '  <none>\n'
      : indent(
          table([
            ['TYPE', 'REASON', 'AGE', 'MESSAGE'],
            ...events.map((e) => [
              e.type ?? '',
              e.reason ?? '',
              formatAge(e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp, now),
              e.message ?? '',
            ]),
          ]),
        );
  return out;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : `  ${l}`))
    .join('\n');
}
