import { describe, expect, it } from '@jest/globals';
import { fluxKind, fluxKinds } from '../../../src/flux/kinds.js';
import { project, readStatusPaths, revisionOf, slimFluxObject } from '../../../src/flux/objects.js';
import type { FluxObject } from '../../../src/api/types.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { LastAppliedAnnotation, withoutBookkeeping } from '../../../src/kube/slim.js';
import { RecentStrings, StringPool } from '../../../src/kube/strings.js';
import { cachedRequest } from '../../../src/operator/request-cache.js';

const managedFields = [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:interval': {} } } }];

describe('withoutBookkeeping', () => {
  it('drops managedFields and the last-applied annotation, keeping every other annotation', () => {
    const obj: KubeObject = {
      metadata: { name: 'a', namespace: 'apps', managedFields, annotations: { [LastAppliedAnnotation]: '{"big":1}', keep: 'me' } },
      spec: { x: 1 },
    };
    expect(withoutBookkeeping(obj)).toEqual({ metadata: { name: 'a', namespace: 'apps', annotations: { keep: 'me' } }, spec: { x: 1 } });
    // The object as the watch delivered it is left alone.
    expect(obj.metadata?.managedFields).toBe(managedFields);
  });

  it('returns the same object when there is nothing to drop', () => {
    const obj: KubeObject = { metadata: { name: 'a', annotations: { keep: 'me' } } };
    expect(withoutBookkeeping(obj)).toBe(obj);
  });
});

describe('project', () => {
  it('keeps only the paths asked for, an array index keeping that element at its place', () => {
    const value = { a: { b: 1, c: 2 }, list: [{ x: 1, y: 2 }, { x: 3 }], other: 'dropped' };
    expect(
      project(value, [
        ['a', 'b'],
        ['list', '0', 'x'],
      ]),
    ).toEqual({ a: { b: 1 }, list: [{ x: 1 }] });
  });

  it('keeps a whole subtree for a path that ends there', () => {
    expect(project({ conditions: [{ type: 'Ready' }, { type: 'Stalled' }] }, [['conditions']])).toEqual({
      conditions: [{ type: 'Ready' }, { type: 'Stalled' }],
    });
  });
});

describe('slimFluxObject', () => {
  it("keeps of a Kustomization's status what the operator reads, not its inventory or history", () => {
    const kind = fluxKind('Kustomization')!;
    const status = {
      conditions: [{ type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded', message: 'ok', observedGeneration: 2 }],
      observedGeneration: 2,
      lastHandledReconcileAt: 't1',
      lastAppliedRevision: 'main@sha1:abc',
      lastAttemptedRevision: 'main@sha1:abc',
      inventory: { entries: Array.from({ length: 1000 }, (_, i) => ({ id: `apps_cm${i}__ConfigMap`, v: 'v1' })) },
      history: [{ digest: 'sha256:0', totalReconciliations: 3 }],
    };
    const obj: KubeObject = {
      metadata: { name: 'web', namespace: 'apps', managedFields },
      spec: { interval: '10m', sourceRef: { kind: 'GitRepository', name: 'repo' } },
      status,
    };
    const slim = slimFluxObject(kind)(obj);
    expect(slim).toEqual({
      metadata: { name: 'web', namespace: 'apps' },
      spec: obj['spec'],
      status: {
        conditions: status.conditions,
        observedGeneration: 2,
        lastHandledReconcileAt: 't1',
        lastAppliedRevision: 'main@sha1:abc',
        lastAttemptedRevision: 'main@sha1:abc',
      },
    });
  });

  it("keeps a HelmRelease's newest history entry's chart version, where its revision is read", () => {
    const kind = fluxKind('HelmRelease')!;
    const obj = {
      apiVersion: 'helm.toolkit.fluxcd.io/v2',
      kind: 'HelmRelease',
      metadata: { name: 'web', namespace: 'apps' },
      status: {
        history: [
          { chartVersion: '6.5.1', manifest: 'x'.repeat(10_000) },
          { chartVersion: '6.5.0', manifest: 'x'.repeat(10_000) },
        ],
        lastHandledForceAt: 'f',
      },
    };
    const slim = slimFluxObject(kind)(obj) as unknown as typeof obj;
    expect(slim.status).toEqual({ history: [{ chartVersion: '6.5.1' }], lastHandledForceAt: 'f' });
    expect(revisionOf(slim as unknown as FluxObject, kind)).toBe('6.5.1');
  });

  it('reads every kind whose revision is in its status from the paths kept', () => {
    for (const name of ['GitRepository', 'ResourceSet', 'ImagePolicy', 'ImageUpdateAutomation']) {
      const kind = fluxKind(name)!;
      for (const path of kind.revision.paths) expect(readStatusPaths(kind)).toContainEqual(path.slice(1));
    }
  });

  it('keeps where a kind records the source artifact an attempt used (withSource reads it)', () => {
    for (const kind of fluxKinds) {
      for (const field of Object.values(kind.revision.sourceAttempt?.fields ?? {}))
        expect(readStatusPaths(kind)).toContainEqual(field.path.slice(1));
    }
    expect(readStatusPaths(fluxKind('HelmRelease')!)).toContainEqual(['lastAttemptedRevisionDigest']);
  });
});

describe('cachedRequest', () => {
  const target = { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', name: 'web', namespace: 'apps', token: 't' };
  const request = (phase: string): KubeObject => ({
    metadata: { name: 'r', namespace: 'apps', managedFields },
    spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'web' }, ttlSecondsAfterFinished: 60 },
    status: {
      phase,
      startTime: '2026-11-25T12:00:00Z',
      token: 't',
      message: 'done',
      conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded' }],
      target,
      source: target,
    },
  });

  it('keeps what an unfinished request recorded of its objects: it goes on from there', () => {
    expect((cachedRequest(request('Running'))['status'] as Record<string, unknown>)['target']).toEqual(target);
  });

  it("keeps a finished request's outcome, times and spec, not its object records", () => {
    const cached = cachedRequest(request('Succeeded'));
    expect(cached.metadata).toEqual({ name: 'r', namespace: 'apps' });
    expect(cached['spec']).toEqual(request('Succeeded')['spec']);
    expect(cached['status']).toEqual({
      phase: 'Succeeded',
      startTime: '2026-11-25T12:00:00Z',
      token: 't',
      message: 'done',
      conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded' }],
    });
  });

  it('pools the strings requests carry alike, and their times and messages apart, not names or uids, and changes no value', () => {
    const pool = new StringPool(100);
    const recent = new RecentStrings(100);
    const asked = (i: number): KubeObject => ({
      apiVersion: 'fluxaction.io/v1alpha1',
      kind: 'FluxActionRequest',
      metadata: {
        name: `r-${i}`,
        namespace: 'apps',
        uid: `uid-${i}`,
        annotations: { 'fluxaction.io/requested-by': 'alice', 'fluxaction.io/requested-by-groups': 'sre,system:authenticated' },
        labels: { 'fluxaction.io/origin': 'mcp' },
      },
      spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: `web-${i}` } },
      status: {
        phase: 'Succeeded',
        requestedBy: 'alice',
        completionTime: `2026-11-25T12:00:0${i}Z`,
        message: `Kustomization apps/web-${i}: applied revision main@sha1:${i}`,
        conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: `m-${i}` }],
      },
    });
    for (const i of [1, 2, 3]) expect(cachedRequest(asked(i), { alike: pool, recent })).toEqual(asked(i));
    for (const shared of [
      'fluxaction.io/v1alpha1',
      'FluxActionRequest',
      'apps',
      'alice',
      'sre,system:authenticated',
      'mcp',
      'Reconcile',
      'Kustomization',
      'Succeeded',
      'Ready',
      'True',
    ])
      expect(pool.has(shared)).toBe(true);
    for (const own of ['r-1', 'uid-2', 'web-3', '2026-11-25T12:00:01Z', 'm-1']) expect(pool.has(own)).toBe(false);
    // Each value once, however many requests carry it.
    expect(pool.size).toBe(11);
    for (const together of ['2026-11-25T12:00:01Z', 'Kustomization apps/web-2: applied revision main@sha1:2', 'm-3'])
      expect(recent.has(together)).toBe(true);
    for (const own of ['r-1', 'uid-2', 'web-3', 'alice']) expect(recent.has(own)).toBe(false);
    expect(recent.size).toBe(9);
  });

  it("keeps a request's equal times and its condition's copy of the status message once, changing no value", () => {
    const at = (s: number): string => `2026-11-25T12:00:0${s}Z`;
    // As the watch delivers it: creationTimestamp a string.
    const asked = (conditionMessage: string, completion: string): KubeObject => ({
      metadata: { name: 'r', namespace: 'apps', creationTimestamp: at(0) as unknown as Date },
      spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'web' } },
      status: {
        phase: 'Failed',
        startTime: at(0),
        completionTime: completion,
        message: 'Kustomization apps/web: build failed',
        conditions: [
          { type: 'Ready', status: 'False', reason: 'FluxFailed', message: conditionMessage, lastTransitionTime: completion },
          { type: 'Approved', status: 'True', reason: 'Approved', message: 'approved by bob', lastTransitionTime: at(1) },
        ],
      },
    });
    for (const [message, completion] of [
      ['Kustomization apps/web: build failed', at(0)],
      ['another message', at(2)],
    ] as const)
      expect(cachedRequest(asked(message, completion), { alike: new StringPool(10), recent: new RecentStrings(10) })).toEqual(
        asked(message, completion),
      );
  });
});

describe('RecentStrings', () => {
  it('keeps the strings of its last two generations, moving one seen again to the current, and no long ones', () => {
    const recent = new RecentStrings(2);
    for (const value of ['a', 'b', 'c']) recent.intern(value);
    // Generations: [a, b] then [c].
    expect(['a', 'b', 'c'].map((v) => recent.has(v))).toEqual([true, true, true]);
    recent.intern('a'); // found in the previous generation: now in the current one too, [c, a]
    recent.intern('d'); // the current one full: [c, a] becomes the previous one, [a, b] is forgotten
    expect(['a', 'b', 'c', 'd'].map((v) => recent.has(v))).toEqual([true, false, true, true]);
    expect(recent.size).toBe(3);
    recent.intern('x'.repeat(513));
    expect(recent.has('x'.repeat(513))).toBe(false);
  });
});

describe('StringPool', () => {
  it('gives the copy it holds, and holds no more than its capacity, nor long strings', () => {
    const pool = new StringPool(2);
    expect(pool.intern('a')).toBe('a');
    pool.intern('b');
    pool.intern('c');
    pool.intern('a');
    expect([pool.has('a'), pool.has('b'), pool.has('c'), pool.size]).toEqual([true, true, false, 2]);
    const roomy = new StringPool(10);
    roomy.intern('x'.repeat(257));
    expect(roomy.size).toBe(0);
  });
});
