// The `fields` selection of the read tools: JSONPath expressions that keep only the parts asked for,
// in the object's shape, with the object's identity.
import { describe, expect, it } from '@jest/globals';
import { selectFields, selectObjects } from '../../../src/mcp/fields.js';
import { ToolError } from '../../../src/mcp/tool.js';

const ks = {
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
  metadata: { name: 'apps', namespace: 'flux-system', labels: { team: 'web' } },
  spec: { interval: '10m', path: './apps', sourceRef: { kind: 'GitRepository', name: 'flux-system' } },
  status: {
    conditions: [
      { type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded' },
      { type: 'Healthy', status: 'False', reason: 'HealthCheckFailed' },
    ],
    lastAppliedRevision: 'main@sha1:abc',
  },
};

describe('selectFields', () => {
  it('keeps the identity and the selected paths, in the object shape', () => {
    expect(selectFields(ks, ['status.conditions', 'spec.sourceRef.name']).object).toEqual({
      apiVersion: ks.apiVersion,
      kind: 'Kustomization',
      metadata: { name: 'apps', namespace: 'flux-system' },
      spec: { sourceRef: { name: 'flux-system' } },
      status: { conditions: ks.status.conditions },
    });
  });

  it('takes $-rooted expressions, wildcards and filters, and compacts the arrays they pick from', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: {
        containers: [
          { name: 'a', image: 'a:1' },
          { name: 'b', image: 'b:2' },
        ],
      },
    };
    expect(selectFields(pod, ['$.spec.containers[*].image']).object).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { containers: [{ image: 'a:1' }, { image: 'b:2' }] },
    });
    expect(selectFields(ks, ["status.conditions[?(@.type=='Healthy')].reason"]).object).toMatchObject({
      status: { conditions: [{ reason: 'HealthCheckFailed' }] },
    });
  });

  it('keeps a part selected whole when a path inside it is selected too', () => {
    expect(selectFields(ks, ['status', 'status.conditions[0].type']).object).toMatchObject({ status: ks.status });
  });

  it('names the expressions that match nothing', () => {
    expect(selectFields(ks, ['spec.nope', 'spec.path']).unmatched).toEqual(['spec.nope']);
  });

  it('refuses an expression that does not parse, with a one-line message', () => {
    expect(() => selectFields(ks, ['status.conditions[?(@.type==)]'])).toThrow(ToolError);
    expect(() => selectFields(ks, ['status.conditions[?(@.type==)]'])).toThrow(/^fields: "status.conditions\[\?\(@.type==\)\]" is not/);
  });
});

describe('selectObjects', () => {
  it('leaves objects whole without fields', () => {
    expect(selectObjects([ks], undefined)).toEqual({ objects: [ks], note: '' });
  });

  it('notes the fields that matched nothing in any object', () => {
    const other = { ...ks, spec: { ...ks.spec, prune: true } };
    const out = selectObjects([ks, other], ['spec.prune', 'spec.wait']);
    expect(out.note).toBe('# fields matched nothing: spec.wait\n');
    expect(out.objects[1]).toMatchObject({ spec: { prune: true } });
  });
});
