// What the command line shows of a request: transition lines, the live line, get's table.
import { describe, expect, it } from '@jest/globals';
import type { FluxActionRequest } from '../../../src/api/types.js';
import { formatAge, formatElapsed, liveText, requestTable, stateOf, stepLine, transitionLine } from '../../../src/cli/render.js';

function request(status?: FluxActionRequest['status'], name = 'cli-reconcile-kustomization-app-1a2b3c'): FluxActionRequest {
  return {
    apiVersion: 'fluxaction.io/v1alpha1',
    kind: 'FluxActionRequest',
    metadata: { name, namespace: 'apps', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } },
    ...(status ? { status } : {}),
  };
}

const running = request({
  phase: 'Running',
  message: 'Kustomization apps/app: reconciling',
  conditions: [{ type: 'Ready', status: 'Unknown', reason: 'Progressing', message: '', lastTransitionTime: '2026-01-01T00:00:01Z' }],
});

describe('transitions', () => {
  it('shows phase, reason and message with the elapsed time', () => {
    expect(transitionLine(running, 2140)).toBe('[  2.1s] Running Progressing: Kustomization apps/app: reconciling');
    expect(transitionLine(request(), 0)).toBe('[  0.0s] Pending');
  });

  it('counts a change of phase, reason or message as a transition, nothing else', () => {
    const same = { ...running, metadata: { ...running.metadata, resourceVersion: '99' } };
    expect(stateOf(same)).toBe(stateOf(running));
    expect(stateOf(request({ ...running.status, message: 'other' }))).not.toBe(stateOf(running));
    expect(stateOf(request({ ...running.status, phase: 'Succeeded' }))).not.toBe(stateOf(running));
  });

  it("shows a chain step's transition: its place, part and object, the revision on success and Flux's message on failure", () => {
    const step = (name: string, phase: string, more = {}) => ({
      kind: 'Kustomization',
      namespace: 'apps',
      name,
      role: 'Dependency' as const,
      phase: phase as 'Running',
      ...more,
    });
    const chain = request({
      phase: 'Failed',
      steps: [
        step('infra', 'Succeeded', { revision: 'main@sha1:1a2b3c' }),
        step('database', 'Failed', { message: 'health check failed\n' }),
        { ...step('app', 'Pending'), role: 'Target' as const },
      ],
    });
    expect(stepLine(chain, 0, 1200)).toBe('[  1.2s]   step 1/3 Dependency Kustomization apps/infra: Succeeded main@sha1:1a2b3c');
    expect(stepLine(chain, 1, 3400)).toBe('[  3.4s]   step 2/3 Dependency Kustomization apps/database: Failed: health check failed');
  });

  it('says what is being done in the live line', () => {
    expect(liveText(running, 65_000)).toBe('Reconcile Kustomization apps/app: Progressing (1m05s)');
  });

  it('formats elapsed time and age', () => {
    expect(formatElapsed(400)).toBe('0.4s');
    expect(formatElapsed(125_000)).toBe('2m05s');
    const created = '2026-01-01T00:00:00Z';
    const at = Date.parse(created);
    expect(formatAge(created, at + 42_000)).toBe('42s');
    expect(formatAge(created, at + 300_000)).toBe('5m');
    expect(formatAge(created, at + 3 * 3_600_000)).toBe('3h');
    expect(formatAge(created, at + 50 * 3_600_000)).toBe('2d');
  });
});

describe('the table of get', () => {
  it('has the printer columns, aligned, and NAMESPACE with -A', () => {
    const now = Date.parse('2026-01-01T00:01:00Z');
    expect(requestTable([running], now, false)).toBe(
      'NAME                                     ACTION      KIND            TARGET   PHASE     REASON        APPROVAL   AGE\n' +
        'cli-reconcile-kustomization-app-1a2b3c   Reconcile   Kustomization   app      Running   Progressing              60s\n',
    );
    expect(requestTable([running], now, true).split('\n')[0]).toMatch(/^NAMESPACE +NAME +ACTION/);
  });
});
