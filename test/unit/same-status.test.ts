import { describe, expect, it } from '@jest/globals';
import { FluxActionRequestSchema, type FluxActionRequest, type FluxObject } from '../../src/api/types.js';
import { fluxKind } from '../../src/flux/kinds.js';
import { decide } from '../../src/flux/protocol.js';
import { sameStatus } from '../../src/operator/reconciler.js';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const kind = fluxKind('Kustomization')!;
const target: FluxObject = {
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
  metadata: { name: 'web', namespace: 'apps', uid: 'u', generation: 1 },
  spec: {},
  status: { conditions: [{ type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded', message: 'ok', observedGeneration: 1 }] },
};
const request: FluxActionRequest = {
  apiVersion: 'fluxaction.io/v1alpha1',
  kind: 'FluxActionRequest',
  metadata: { name: 'r', namespace: 'apps', generation: 1 },
  spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'web' } },
};

/** What the API server answers: the same JSON with every object's keys sorted (Go maps), parsed as the operator parses it. */
function readBack(r: FluxActionRequest): FluxActionRequest {
  const sorted = JSON.stringify(r, (_k, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
  return FluxActionRequestSchema.parse(JSON.parse(sorted));
}

describe('sameStatus', () => {
  it('finds the status read back from the API server the same as the one the next look decides, so nothing is written again', () => {
    const step = {
      slot: 'target' as const,
      kind,
      ref: { apiVersion: target.apiVersion, kind: 'Kustomization', name: 'web', namespace: 'apps' },
      object: target,
    };
    const first = decide({ request, now: NOW, steps: [step], heldTokens: () => [], mintToken: () => 'T1' });
    const written = readBack({ ...request, status: first.status });
    const patched: FluxObject = { ...target, metadata: { ...target.metadata, annotations: { 'reconcile.fluxcd.io/requestedAt': 'T1' } } };
    const again = decide({
      request: written,
      now: NOW + 5,
      steps: [{ ...step, object: patched }],
      heldTokens: () => [],
      mintToken: () => 'T2',
    });
    expect(sameStatus(written.status ?? {}, again.status)).toBe(true);
  });

  it('tells a changed status apart', () => {
    expect(sameStatus({ phase: 'Running', message: 'a' }, { phase: 'Running', message: 'b' })).toBe(false);
    expect(sameStatus({ phase: 'Running' }, { phase: 'Running', token: undefined })).toBe(true);
  });
});
