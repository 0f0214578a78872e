// The Flux simulator's own reading of Flux objects, checked against how the controllers read them.
import { describe, expect, it } from '@jest/globals';
import {
  FluxAnnotation,
  lastHandledRequest,
  lastHandledToken,
  requestToken,
  simKinds,
  staticSource,
  suspended,
  type SimKind,
  type SimObject,
} from '../simulator/flux-contract.js';

const kind = (name: string): SimKind => simKinds.find((k) => k.kind === name)!;

function obj(parts: { annotations?: Record<string, string>; spec?: Record<string, unknown>; status?: Record<string, unknown> }): SimObject {
  return { apiVersion: 'x/v1', kind: 'X', metadata: { name: 'o', namespace: 'ns', annotations: parts.annotations }, ...parts };
}

describe('the simulator reads Flux objects as the controllers do', () => {
  it('toolkit kinds are suspended by spec.suspend: true only', () => {
    const ks = kind('Kustomization');
    expect(suspended(obj({ spec: { suspend: true } }), ks)).toBe(true);
    expect(suspended(obj({ spec: { suspend: false } }), ks)).toBe(false);
    expect(suspended(obj({ spec: {} }), ks)).toBe(false);
    // flux-operator's annotation means nothing to the toolkit controllers.
    expect(suspended(obj({ annotations: { [FluxAnnotation.controlPlaneReconcile]: 'disabled' } }), ks)).toBe(false);
  });

  it("flux-operator's kinds are suspended by its reconcile annotation, 'disabled' in any case", () => {
    for (const name of ['ResourceSet', 'ResourceSetInputProvider', 'FluxInstance']) {
      const k = kind(name);
      for (const value of ['disabled', 'Disabled', 'DISABLED'])
        expect(suspended(obj({ annotations: { [FluxAnnotation.controlPlaneReconcile]: value } }), k)).toBe(true);
      expect(suspended(obj({ annotations: { [FluxAnnotation.controlPlaneReconcile]: 'enabled' } }), k)).toBe(false);
      // spec.suspend is not flux-operator's switch.
      expect(suspended(obj({ spec: { suspend: true } }), k)).toBe(false);
    }
  });

  it('reads the requestedAt token, an empty value included, and lastHandledReconcileAt', () => {
    expect(requestToken(obj({ annotations: { [FluxAnnotation.requestedAt]: 't1' } }))).toBe('t1');
    expect(requestToken(obj({ annotations: { [FluxAnnotation.requestedAt]: '' } }))).toBe('');
    expect(requestToken(obj({}))).toBeUndefined();
    expect(lastHandledToken(obj({ status: { lastHandledReconcileAt: 't1' } }))).toBe('t1');
    expect(lastHandledToken(obj({}))).toBe('');
  });

  it('forceAt becomes lastHandledForceAt whenever it is there, matching requestedAt or not', () => {
    const at = (annotations: Record<string, string>, status: Record<string, unknown> = {}): string | undefined =>
      lastHandledRequest(obj({ annotations, status }), FluxAnnotation.forceAt, 'lastHandledForceAt');
    expect(at({ [FluxAnnotation.requestedAt]: 't2', [FluxAnnotation.forceAt]: 't2' })).toBe('t2');
    expect(at({ [FluxAnnotation.requestedAt]: 't2', [FluxAnnotation.forceAt]: 't1' })).toBe('t1');
    expect(at({ [FluxAnnotation.requestedAt]: 't2' }, { lastHandledForceAt: 't0' })).toBe('t0');
    expect(at({ [FluxAnnotation.requestedAt]: 't2' })).toBeUndefined();
  });

  it('HelmRepositories of type oci are static; Alert and Provider are never reconciled', () => {
    const repo = kind('HelmRepository');
    expect(staticSource(obj({ spec: { type: 'oci' } }), repo)).toBe(true);
    expect(staticSource(obj({ spec: { type: 'default' } }), repo)).toBe(false);
    expect(staticSource(obj({ spec: { type: 'oci' } }), kind('OCIRepository'))).toBe(false);
    expect(simKinds.filter((k) => !k.reconciled).map((k) => k.kind)).toEqual(['Alert', 'Provider']);
  });
});
