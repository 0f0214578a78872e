import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { FailureReason } from '../../src/api/conditions.js';
import { DefaultTimeout, DefaultTimeoutMs, formatDuration, parseDuration } from '../../src/api/duration.js';
import { fluxKinds } from '../../src/flux/kinds.js';
import { isHandled, tokenTime } from '../../src/flux/token.js';
import { RequestIndex } from '../../src/operator/request-index.js';
import type { FluxActionRequest } from '../../src/api/types.js';
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
