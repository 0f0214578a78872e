// The kinds table is consistent, and the code reads its columns: a kind that is only a row
// (Widget, below) gets its source found, its revision read and named, its static objects skipped.
import { describe, expect, it } from '@jest/globals';
import { Phase } from '../../src/api/conditions.js';
import type { Condition, FluxObject } from '../../src/api/types.js';
import { fluxKind, fluxKinds, fluxReadOnlyKinds, row, sourceKinds, type FluxKind } from '../../src/flux/kinds.js';
import { isStatic, refOf, revisionOf, sourceRefOf } from '../../src/flux/objects.js';
import { decide, judge, type Step } from '../../src/flux/protocol.js';

function kind(name: string): FluxKind {
  const k = fluxKind(name);
  if (!k) throw new Error(`no kind ${name}`);
  return k;
}

function obj(k: string, spec: Record<string, unknown> = {}, status: Record<string, unknown> = {}): FluxObject {
  return { apiVersion: 'x/v1', kind: k, metadata: { name: 'podinfo', namespace: 'apps', generation: 1 }, spec, status };
}

const readyTrue: Condition = { type: 'Ready', status: 'True', reason: 'Succeeded', message: 'done', observedGeneration: 1 };

/** A kind that exists only as a row: its source generated from spec.template.ref, an attempted revision, static when spec.mode is frozen. */
const widget = row({
  kind: 'Widget',
  group: 'widgets.example.fluxcd.io',
  plural: 'widgets',
  versions: ['v1'],
  withSource: true,
  sourceRefs: [
    { path: ['spec', 'ref'] },
    { path: ['spec', 'template', 'ref'], generated: { kind: 'Gizmo', name: (o) => `${o.name}-gizmo-${o.namespace}` } },
  ],
  staticWhen: { path: ['spec', 'mode'], equals: 'frozen', described: 'a frozen Widget' },
  revision: { paths: [['status', 'applied']], verb: 'applied', attemptedPath: ['status', 'attempted'] },
});

describe('the kinds table', () => {
  it('names each kind and each resource once', () => {
    const all = [...fluxKinds, ...fluxReadOnlyKinds];
    expect(new Set(all.map((k) => k.kind)).size).toBe(all.length);
    expect(new Set(all.map((k) => `${k.plural}.${k.group}`)).size).toBe(all.length);
  });

  it('gives every kind that allows withSource a way to find its source, and every source found a row', () => {
    for (const k of fluxKinds.filter((k) => k.withSource)) expect(k.sourceRefs.length).toBeGreaterThan(0);
    for (const k of fluxKinds) for (const f of k.sourceRefs) if (f.generated) expect(fluxKind(f.generated.kind)).toBeDefined();
  });

  it('lists the reconcilable source-controller kinds as sources', () => {
    expect(sourceKinds).toEqual(['GitRepository', 'OCIRepository', 'Bucket', 'HelmChart', 'HelmRepository']);
  });
});

describe('finding a source from the sourceRefs column', () => {
  it('reads a Kustomization spec.sourceRef, defaulting its namespace', () => {
    expect(sourceRefOf(obj('Kustomization', { sourceRef: { kind: 'GitRepository', name: 'repo' } }), kind('Kustomization'))).toEqual({
      kind: 'GitRepository',
      name: 'repo',
      namespace: 'apps',
    });
  });

  it('prefers a HelmRelease spec.chartRef, with its apiVersion', () => {
    const hr = obj('HelmRelease', {
      chartRef: { kind: 'OCIRepository', name: 'chart', namespace: 'charts', apiVersion: 'source.toolkit.fluxcd.io/v1' },
      chart: { spec: { sourceRef: { kind: 'HelmRepository', name: 'repo' } } },
    });
    expect(sourceRefOf(hr, kind('HelmRelease'))).toEqual({
      kind: 'OCIRepository',
      name: 'chart',
      namespace: 'charts',
      apiVersion: 'source.toolkit.fluxcd.io/v1',
    });
  });

  it("finds a HelmRelease's generated HelmChart in its sourceRef's namespace", () => {
    const hr = obj('HelmRelease', { chart: { spec: { sourceRef: { kind: 'HelmRepository', name: 'repo', namespace: 'flux-system' } } } });
    expect(sourceRefOf(hr, kind('HelmRelease'))).toEqual({ kind: 'HelmChart', name: 'apps-podinfo', namespace: 'flux-system' });
  });

  it('says which fields it looked in when none is usable', () => {
    expect(sourceRefOf(obj('HelmRelease'), kind('HelmRelease'))).toEqual({
      error: 'HelmRelease apps/podinfo has no spec.chartRef or spec.chart.spec.sourceRef',
    });
    expect(sourceRefOf(obj('HelmRelease', { chartRef: { name: 'x' } }), kind('HelmRelease'))).toEqual({
      error: 'HelmRelease apps/podinfo has no spec.chartRef',
    });
    expect(sourceRefOf(obj('GitRepository'), kind('GitRepository'))).toEqual({ error: 'GitRepository has no source' });
  });

  it('reads a new row the same way, generated sources included', () => {
    expect(sourceRefOf(obj('Widget', { ref: { kind: 'GitRepository', name: 'repo' } }), widget)).toEqual({
      kind: 'GitRepository',
      name: 'repo',
      namespace: 'apps',
    });
    expect(sourceRefOf(obj('Widget', { template: { ref: { kind: 'Bucket', name: 'b', namespace: 'other' } } }), widget)).toEqual({
      kind: 'Gizmo',
      name: 'podinfo-gizmo-apps',
      namespace: 'other',
    });
    expect(sourceRefOf(obj('Widget'), widget)).toEqual({ error: 'Widget apps/podinfo has no spec.ref or spec.template.ref' });
  });
});

describe('the revision and static columns', () => {
  it('reads the revision from the first path present', () => {
    expect(revisionOf(obj('Widget', {}, { applied: 'v2' }), widget)).toBe('v2');
    expect(revisionOf(obj('HelmRelease', {}, { lastAttemptedRevision: '1.0.0' }), kind('HelmRelease'))).toBe('1.0.0');
  });

  it('waits for the applied revision to catch up with the attempted one before counting Ready=True', () => {
    const behind = obj('Widget', {}, { conditions: [readyTrue], attempted: 'v3', applied: 'v2' });
    expect(judge(behind, widget).state).toBe('progressing');
    expect(judge(obj('Widget', {}, { conditions: [readyTrue], attempted: 'v3', applied: 'v3' }), widget).state).toBe('ready');
    // A kind without the column does not wait for it.
    expect(judge(behind, kind('GitRepository')).state).toBe('ready');
  });

  it('tells static objects by the staticWhen column', () => {
    expect(isStatic(obj('HelmRepository', { type: 'oci' }), kind('HelmRepository'))).toBe(true);
    expect(isStatic(obj('HelmRepository', { type: 'default' }), kind('HelmRepository'))).toBe(false);
    expect(isStatic(obj('Widget', { mode: 'frozen' }), widget)).toBe(true);
    expect(isStatic(obj('GitRepository', { type: 'oci' }), kind('GitRepository'))).toBe(false);
  });

  it("names a new kind's revision with its verb, and refuses to reconcile its static objects in its words", () => {
    const request = {
      apiVersion: 'fluxaction.io/v1alpha1',
      kind: 'FluxActionRequest',
      metadata: { name: 'req', namespace: 'apps', generation: 1 },
      spec: { action: 'Reconcile' as const, target: { kind: 'Widget', name: 'podinfo' } },
      status: { phase: Phase.Running, startTime: '2026-11-25T11:59:00Z', token: 'T', target: { token: 'T' } },
    };
    const step = (o: FluxObject): Step => ({ slot: 'target', kind: widget, ref: refOf(o), object: o });
    const done = obj('Widget', {}, { lastHandledReconcileAt: 'T', conditions: [readyTrue], applied: 'v2' });
    const input = { request, now: Date.parse('2026-11-25T12:00:00Z'), heldTokens: () => [], mintToken: () => 'M' };
    expect(decide({ ...input, steps: [step(done)] }).status.message).toBe('Widget apps/podinfo: applied revision v2');
    const frozen = obj('Widget', { mode: 'frozen' });
    expect(decide({ ...input, steps: [step(frozen)] }).status.message).toBe(
      'Widget apps/podinfo is a frozen Widget: Flux has nothing to reconcile',
    );
  });
});
