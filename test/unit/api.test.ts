import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parse } from 'yaml';
import { FailureReason } from '../../src/api/conditions.js';
import { DefaultTimeout, DefaultTimeoutMs, formatDuration, parseDuration } from '../../src/api/duration.js';
import { fluxKinds } from '../../src/flux/kinds.js';
import { isHandled, tokenTime } from '../../src/flux/token.js';
import { RequestIndex } from '../../src/operator/request-index.js';
import { FinishedRequestSchema, FluxActionRequestSchema, isFinishedRequest, type FluxActionRequest } from '../../src/api/types.js';
import { outcomeEvent } from '../../src/flux/protocol.js';
import { repoRoot } from '../support/kube.js';

interface Schema {
  properties?: Record<string, Schema>;
  enum?: string[];
  'x-kubernetes-validations'?: { rule: string }[];
}

const crd = parse(readFileSync(path.join(repoRoot, 'crds', 'fluxaction.io_fluxactionrequests.yaml'), 'utf8')) as {
  spec: { versions: { schema: { openAPIV3Schema: Schema } }[] };
};
const spec = crd.spec.versions[0]!.schema.openAPIV3Schema.properties!['spec']!;
const target = spec.properties!['target']!;

describe('the CRD and the kinds table agree', () => {
  it('accepts exactly the kinds the operator knows', () => {
    expect(target.properties!['kind']!.enum).toEqual(fluxKinds.map((k) => k.kind));
  });

  it('checks target.apiVersion against each kind group', () => {
    const rule = target['x-kubernetes-validations']![0]!.rule;
    for (const kind of fluxKinds) expect(rule).toContain(`'${kind.kind}': '${kind.group}/'`);
  });

  it('allows withSource, force and reset on exactly the kinds that support them', () => {
    const rules = spec['x-kubernetes-validations']!.map((v) => v.rule);
    const listed = (flag: string): string[] => {
      const rule = rules.find((r) => r.includes(`self.${flag}`))!;
      return [...rule.matchAll(/'([A-Za-z]+)'/g)].map((m) => m[1]!).filter((k) => k !== 'Reconcile');
    };
    expect(listed('withSource').sort()).toEqual(
      fluxKinds
        .filter((k) => k.withSource)
        .map((k) => k.kind)
        .sort(),
    );
    expect(listed('force').sort()).toEqual(
      fluxKinds
        .filter((k) => k.force)
        .map((k) => k.kind)
        .sort(),
    );
    expect(listed('reset').sort()).toEqual(
      fluxKinds
        .filter((k) => k.reset)
        .map((k) => k.kind)
        .sort(),
    );
  });

  it('allows withDependencies and withDependents on exactly the kinds with spec.dependsOn', () => {
    const rules = spec['x-kubernetes-validations']!.map((v) => v.rule);
    for (const flag of ['withDependencies', 'withDependents']) {
      const rule = rules.find((r) => r.startsWith(`!has(self.${flag})`))!;
      const listed = [...rule.matchAll(/'([A-Za-z]+)'/g)].map((m) => m[1]!).filter((k) => k !== 'Reconcile');
      expect(listed.sort()).toEqual(
        fluxKinds
          .filter((k) => k.dependsOn)
          .map((k) => k.kind)
          .sort(),
      );
    }
  });

  it('names every failure reason of the design', () => {
    expect(Object.values(FailureReason).sort()).toEqual(
      [
        'TargetNotFound',
        'UnsupportedKind',
        'UnsupportedAction',
        'TargetSuspended',
        'CrossNamespaceForbidden',
        'SourceFailed',
        'ReconciliationFailed',
        'Timeout',
        'Forbidden',
        'TargetDeleted',
        // Added after the design's list: a target that does not parse, named by its bad field.
        'InvalidTarget',
        // Governance (DESIGN.md §7.3, §7.4).
        'PolicyDenied',
        'RateLimited',
        'Rejected',
        'ApprovalExpired',
        // Chains (DESIGN.md §9).
        'DependencyFailed',
        'DependencyCycle',
      ].sort(),
    );
  });
});

describe('durations', () => {
  it.each([
    ['5m', 300_000],
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['1.5s', 1500],
  ])('parses %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('has DefaultTimeoutMs equal to DefaultTimeout', () => {
    expect(parseDuration(DefaultTimeout)).toBe(DefaultTimeoutMs);
  });

  it.each(['', '5', 'five minutes', '-1s', '1d'])('refuses %p', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('formats like Go', () => {
    expect(formatDuration(300_000)).toBe('5m');
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(3_000)).toBe('3s');
  });
});

describe('tokens', () => {
  it('reads the flux CLI format (RFC3339Nano with trailing zeros trimmed) and ours alike', () => {
    expect(tokenTime('2026-11-25T11:00:00.5Z')).toBe(tokenTime('2026-11-25T11:00:00.500000000Z'));
    expect(tokenTime('2026-11-25T12:00:00+01:00')).toBe(tokenTime('2026-11-25T11:00:00Z'));
    expect(tokenTime('manual-1')).toBeUndefined();
  });

  it('counts the token itself, or a later timestamp, as handled', () => {
    expect(isHandled('2026-11-25T11:00:00.1Z', '2026-11-25T11:00:00.1Z')).toBe(true);
    expect(isHandled('2026-11-25T11:00:00.1Z', '2026-11-25T11:00:00.2Z')).toBe(true);
    expect(isHandled('2026-11-25T11:00:00.2Z', '2026-11-25T11:00:00.1Z')).toBe(false);
    expect(isHandled('manual-1', 'manual-2')).toBe(false);
    expect(isHandled('2026-11-25T11:00:00Z', undefined)).toBe(false);
  });
});

describe('RequestIndex', () => {
  const request = (phase: string, token: string, force = false): FluxActionRequest => ({
    apiVersion: 'fluxaction.io/v1alpha1',
    kind: 'FluxActionRequest',
    metadata: { name: 'r', namespace: 'apps' },
    spec: { action: 'Reconcile', target: { kind: 'HelmRelease', name: 'web' }, force },
    status: {
      phase: phase as 'Running',
      target: { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', name: 'web', namespace: 'apps', token },
    },
  });
  const key = 'helm.toolkit.fluxcd.io/HelmRelease/apps/web';

  it('knows the tokens unfinished requests hold, except the asking request own', () => {
    const index = new RequestIndex();
    index.holdFrom('apps/a', request('Running', 'T1', true));
    index.holdFrom('apps/b', request('Running', 'T2'));
    expect(index.heldTokens(key, 'apps/b')).toEqual([{ token: 'T1', action: 'Reconcile', force: true, reset: false }]);
  });

  it('forgets the tokens of finished and forgotten requests', () => {
    const index = new RequestIndex();
    index.holdFrom('apps/a', request('Running', 'T1'));
    index.holdFrom('apps/a', request('Succeeded', 'T1'));
    index.holdFrom('apps/b', request('Running', 'T2'));
    index.forget('apps/b');
    expect(index.heldTokens(key, 'apps/x')).toEqual([]);
  });

  it('wakes the followers of an object', () => {
    const index = new RequestIndex();
    index.follow('apps/a', [key, 'g/K/apps/src']);
    index.follow('apps/b', [key]);
    expect([...index.followersOf(key)].sort()).toEqual(['apps/a', 'apps/b']);
    index.follow('apps/a', ['g/K/apps/src']);
    expect(index.followersOf(key)).toEqual(['apps/b']);
  });
});

describe('FinishedRequestSchema', () => {
  const finished = {
    apiVersion: 'fluxaction.io/v1alpha1',
    kind: 'FluxActionRequest',
    metadata: {
      name: 'deploy-apps',
      namespace: 'team-a',
      uid: 'u-1',
      resourceVersion: '42',
      labels: { 'fluxaction.io/origin': 'mcp' },
      annotations: { 'fluxaction.io/requested-by': 'alice', 'fluxaction.io/requested-by-groups': 'sre,dev', note: 'x'.repeat(200) },
    },
    spec: {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'apps' },
      withSource: true,
      timeout: '5m',
      ttlSecondsAfterFinished: 600,
    },
    status: {
      phase: 'Failed',
      token: '2026-11-29T10:00:00.000000001Z',
      startTime: '2026-11-29T10:00:00Z',
      completionTime: '2026-11-29T10:00:02Z',
      requestedBy: 'alice',
      message: 'kustomize build failed',
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'TargetFailed',
          message: 'kustomize build failed',
          lastTransitionTime: '2026-11-29T10:00:02Z',
        },
      ],
      target: { kind: 'Kustomization', name: 'apps', namespace: 'team-a', token: 't', message: 'y'.repeat(500) },
      source: { kind: 'GitRepository', name: 'apps', namespace: 'team-a', token: 't' },
      approval: { approvedBy: 'bob', expiresAt: '2026-11-29T11:00:00Z' },
    },
  };

  it('keeps what the outcome Event and the TTL need, and the Event is the one the full request makes', () => {
    const narrow = FinishedRequestSchema.parse(finished);
    const full = FluxActionRequestSchema.parse(finished);
    expect(outcomeEvent(narrow.status ?? {})).toEqual(outcomeEvent(full.status ?? {}));
    expect(narrow.spec.ttlSecondsAfterFinished).toBe(600);
    expect(narrow.status?.completionTime).toBe('2026-11-29T10:00:02Z');
    expect(narrow.metadata).toEqual({
      name: 'deploy-apps',
      namespace: 'team-a',
      uid: 'u-1',
      resourceVersion: '42',
      annotations: { 'fluxaction.io/requested-by': 'alice' },
    });
    expect(narrow.status?.approval).toEqual({ approvedBy: 'bob' });
  });

  it('drops the spec, the objects followed and the conditions’ messages', () => {
    const narrow = FinishedRequestSchema.parse(finished);
    expect(narrow.spec).toEqual({ ttlSecondsAfterFinished: 600 });
    expect(Object.keys(narrow.status ?? {}).sort()).toEqual([
      'approval',
      'completionTime',
      'conditions',
      'message',
      'phase',
      'requestedBy',
      'startTime',
    ]);
    expect(narrow.status?.conditions).toEqual([{ type: 'Ready', status: 'False', reason: 'TargetFailed' }]);
  });
});

describe('isFinishedRequest', () => {
  /** A field's value: one the schema takes, or one of a wrong type, or none. */
  const value = <T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
    fc.oneof(
      { weight: 60, arbitrary: good },
      fc.constant(undefined),
      fc.constant(null),
      fc.integer(),
      fc.double(),
      fc.string(),
      fc.constant([]),
      fc.constant({}),
    );
  const optionalString = value(fc.string());
  const record = (fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> => value(fc.record(fields, { requiredKeys: [] }));
  const condition = record({
    type: optionalString,
    status: value(fc.constantFrom('True', 'False', 'Unknown', 'Maybe')),
    reason: optionalString,
    message: value(fc.string()),
  });
  const request = record({
    apiVersion: value(fc.constant('fluxaction.io/v1alpha1')),
    metadata: record({
      name: optionalString,
      namespace: optionalString,
      uid: optionalString,
      resourceVersion: optionalString,
      annotations: record({ 'fluxaction.io/requested-by': optionalString, other: optionalString }),
      labels: value(fc.dictionary(fc.string(), fc.string())),
    }),
    spec: record({
      action: value(fc.constant('Reconcile')),
      ttlSecondsAfterFinished: value(fc.oneof(fc.integer({ min: 0 }), fc.constant(2 ** 60))),
    }),
    status: record({
      phase: value(fc.constantFrom('Succeeded', 'Failed', 'Running', 'Done')),
      startTime: optionalString,
      completionTime: optionalString,
      requestedBy: optionalString,
      message: optionalString,
      conditions: value(fc.array(condition, { maxLength: 3 })),
      approval: record({ approvedBy: optionalString, rejectedBy: optionalString, expiresAt: optionalString }),
      target: value(fc.object()),
    }),
  });

  it('says of any object what FinishedRequestSchema says', () => {
    let accepted = 0;
    fc.assert(
      fc.property(request, (raw) => {
        const parsed = FinishedRequestSchema.safeParse(raw).success;
        if (parsed) accepted += 1;
        expect(isFinishedRequest(raw)).toBe(parsed);
      }),
      { numRuns: 5000, seed: 1129 },
    );
    // Both verdicts came up often enough for the agreement to mean something.
    expect(accepted).toBeGreaterThan(100);
    expect(accepted).toBeLessThan(4900);
  });

  it('reads the cached object itself, with no copy', () => {
    const raw: unknown = {
      metadata: { name: 'r', namespace: 'ns' },
      spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'apps' } },
      status: { phase: 'Succeeded', completionTime: '2026-11-29T10:00:02Z' },
    };
    expect(isFinishedRequest(raw)).toBe(true);
    if (!isFinishedRequest(raw)) return;
    expect(raw.status?.completionTime).toBe('2026-11-29T10:00:02Z');
  });
});
