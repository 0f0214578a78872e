import { describe, expect, it } from '@jest/globals';
import { FluxActionRequestSchema, type FluxActionRequest, type FluxObject } from '../../src/api/types.js';
import { fluxKind } from '../../src/flux/kinds.js';
import { decide } from '../../src/flux/protocol.js';
import { sameJson, sameStatus } from '../../src/operator/reconciler.js';

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

describe('sameJson', () => {
  // Every pair is checked against what a round trip through JSON says.
  const viaJson = (a: unknown, b: unknown): boolean => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
  const sortKeys = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map((e: unknown) => sortKeys(e ?? null))
      : typeof v === 'object' && v !== null
        ? Object.fromEntries(
            Object.entries(v)
              .filter(([, e]) => e !== undefined)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([k, e]) => [k, sortKeys(e)]),
          )
        : v;
  const pairs: [unknown, unknown, boolean][] = [
    [{ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 }, true],
    [{ a: 1, b: undefined }, { a: 1 }, true],
    [{ a: 1 }, { a: 1, b: undefined, c: undefined }, true],
    [{ a: 1, b: undefined }, { a: 1, c: 2 }, false],
    [[1, undefined], [1, null], true],
    [[1, 2], [2, 1], false],
    [[1], [1, 1], false],
    [{ a: [] }, { a: {} }, false],
    [{ a: null }, { a: undefined }, false],
    [{ a: '1' }, { a: 1 }, false],
    [{ c: [{ t: 'Ready', m: 'x' }] }, { c: [{ m: 'x', t: 'Ready' }] }, true],
    [{ c: [{ t: 'Ready', m: 'x' }] }, { c: [{ m: 'y', t: 'Ready' }] }, false],
  ];
  it.each(pairs)('%j and %j: %s, as JSON says', (a, b, same) => {
    expect(sameJson(a, b)).toBe(same);
    expect(sameJson(b, a)).toBe(same);
    expect(viaJson(a, b)).toBe(same);
  });
});
