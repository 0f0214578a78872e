import { describe, expect, it } from '@jest/globals';
import { InvalidObjectError, fieldPath, parseObject } from '../../src/api/parse.js';
import { FluxActionRequestSchema, FluxObjectSchema } from '../../src/api/types.js';

describe('parseObject', () => {
  it('names the first wrong field of a request, with array indexes', () => {
    const raw = {
      apiVersion: 'fluxaction.io/v1alpha1',
      kind: 'FluxActionRequest',
      metadata: { name: 'r', namespace: 'apps' },
      spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'web' } },
      status: { conditions: [{ type: 'Ready', status: 'Maybe' }] },
    };
    let caught: unknown;
    try {
      parseObject(FluxActionRequestSchema, raw, 'FluxActionRequest apps/r');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidObjectError);
    const error = caught as InvalidObjectError;
    expect(error.field).toBe('status.conditions[0].status');
    expect(error.message).toMatch(/^FluxActionRequest apps\/r does not parse: status\.conditions\[0\]\.status: /);
  });

  it('names a Flux object whose spec is not an object', () => {
    expect(() =>
      parseObject(
        FluxObjectSchema,
        { apiVersion: 'v1', kind: 'Kustomization', metadata: { name: 'web' }, spec: 'x' },
        'Kustomization apps/web',
      ),
    ).toThrow(/^Kustomization apps\/web does not parse: spec: /);
  });

  it('returns what parses', () => {
    const obj = { apiVersion: 'v1', kind: 'Kustomization', metadata: { name: 'web' } };
    expect(parseObject(FluxObjectSchema, obj, 'Kustomization apps/web').metadata.name).toBe('web');
  });
});

describe('fieldPath', () => {
  it('joins keys with dots and indexes with brackets', () => {
    expect(fieldPath(['status', 'conditions', 0, 'status'])).toBe('status.conditions[0].status');
    expect(fieldPath([])).toBe('(root)');
  });
});
