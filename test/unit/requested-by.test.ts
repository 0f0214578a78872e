// decide() copies who asked (annotation fluxaction.io/requested-by) into status.requestedBy.
import { describe, expect, it } from '@jest/globals';
import type { FluxActionRequest, RequestStatus } from '../../src/api/types.js';
import { RequestedByAnnotation } from '../../src/api/types.js';
import { fluxKind } from '../../src/flux/kinds.js';
import { decide } from '../../src/flux/protocol.js';

const NOW = Date.parse('2026-11-25T12:00:00Z');

function request(annotations: Record<string, string> | undefined, status?: RequestStatus): FluxActionRequest {
  return {
    apiVersion: 'fluxaction.io/v1alpha1',
    kind: 'FluxActionRequest',
    metadata: { name: 'req', namespace: 'apps', generation: 1, ...(annotations ? { annotations } : {}) },
    spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'podinfo' } },
    ...(status ? { status } : {}),
  };
}

function plannedRequestedBy(req: FluxActionRequest): string | undefined {
  const kind = fluxKind('Kustomization')!;
  const ref = { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', name: 'podinfo', namespace: 'apps' };
  const object = { ...ref, metadata: { name: 'podinfo', namespace: 'apps', uid: 'u', generation: 1 }, spec: {}, status: {} };
  const plan = decide({
    request: req,
    now: NOW,
    steps: [{ slot: 'target', kind, ref, object }],
    heldTokens: () => [],
    mintToken: () => 'T',
  });
  return plan.status.requestedBy;
}

describe('status.requestedBy', () => {
  it('is the requested-by annotation', () => {
    expect(plannedRequestedBy(request({ [RequestedByAnnotation]: 'alice' }))).toBe('alice');
  });

  it('follows the annotation over a status someone else wrote', () => {
    expect(plannedRequestedBy(request({ [RequestedByAnnotation]: 'alice' }, { requestedBy: 'mallory' }))).toBe('alice');
  });

  it('is left out when nobody recorded who asked', () => {
    expect(plannedRequestedBy(request(undefined))).toBeUndefined();
  });

  it('is also in the status of a request that fails at once', () => {
    const plan = decide({
      request: request({ [RequestedByAnnotation]: 'alice' }),
      now: NOW,
      steps: [],
      failure: { reason: 'TargetNotFound', message: 'gone' },
      heldTokens: () => [],
      mintToken: () => 'T',
    });
    expect(plan.status.requestedBy).toBe('alice');
  });
});
