// Loading a policy (parse + compile) and choosing the policies that govern a namespace: defaults,
// one-line reasons for policies that cannot be used, never a throw, and label selector semantics.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { appliesTo, globToRegExp, loadPolicy, type LoadedPolicy, type ValidPolicy } from '../../src/policy/evaluate.js';
import type { Rule, Window } from '../../src/policy/types.js';

function raw(rules: unknown, extra: Record<string, unknown> = {}, kind = 'FluxActionPolicy'): unknown {
  return {
    apiVersion: 'fluxaction.io/v1alpha1',
    kind,
    metadata: { name: 'p', ...(kind === 'FluxActionPolicy' ? { namespace: 'apps' } : {}), generation: 3 },
    spec: { rules, ...extra },
  };
}

function valid(p: LoadedPolicy): ValidPolicy {
  if (p.invalid) throw new Error(`invalid: ${p.reason}`);
  return p;
}

function reasonOf(rules: unknown, extra: Record<string, unknown> = {}, kind?: string): string {
  const p = loadPolicy(raw(rules, extra, kind));
  if (!p.invalid) throw new Error('expected an invalid policy');
  return p.reason;
}

const window = (w: Partial<Window>): Rule[] => [{ name: 'w', windows: [{ schedule: '0 16 * * 5', duration: '1h', ...w }] }];

describe('loadPolicy', () => {
  it('names the policy and keeps its generation', () => {
    expect(loadPolicy(raw([{ name: 'r' }]))).toMatchObject({ kind: 'FluxActionPolicy', namespace: 'apps', name: 'p', generation: 3 });
    const c = loadPolicy(raw([{ name: 'r' }], {}, 'ClusterFluxActionPolicy'));
    expect(c).toMatchObject({ kind: 'ClusterFluxActionPolicy', name: 'p', namespaceSelector: {} });
    expect(c).not.toHaveProperty('namespace');
  });

  it('defaults a rule’s effect to Deny', () => {
    expect(valid(loadPolicy(raw([{ name: 'r' }]))).rules[0]!.effect).toBe('Deny');
  });

  it('defaults approvalTimeout to 1h for RequireApproval, and sets none for other effects', () => {
    const rules = valid(
      loadPolicy(
        raw([
          { name: 'a', effect: 'RequireApproval' },
          { name: 'b', effect: 'Allow' },
        ]),
      ),
    ).rules;
    expect(rules[0]).toMatchObject({ approvalTimeout: '1h', approvalTimeoutMs: 3_600_000 });
    expect(rules[1]).not.toHaveProperty('approvalTimeoutMs');
  });

  it('defaults a window’s time zone to UTC and parses its duration', () => {
    const w = valid(loadPolicy(raw(window({})))).rules[0]!.windows![0]!;
    expect(w).toMatchObject({ schedule: '0 16 * * 5', timeZone: 'UTC', duration: '1h', durationMs: 3_600_000 });
  });

  it('parses a rate limit’s per', () => {
    expect(valid(loadPolicy(raw([{ name: 'r', rateLimit: { count: 10, per: '1h30m' } }]))).rules[0]!.rateLimit).toEqual({
      count: 10,
      per: '1h30m',
      perMs: 5_400_000,
    });
  });

  describe('returns invalid with a one-line reason for', () => {
    it('a cron schedule with a bad field', () => {
      expect(reasonOf(window({ schedule: '61 16 * * 5' }))).toBe(
        'rule w: window 1: schedule "61 16 * * 5" is not a cron schedule: Invalid value for minute: 61',
      );
    });

    it('a cron schedule without 5 fields', () => {
      const expected = (s: string): string =>
        `rule w: window 1: schedule "${s}" must have 5 fields (minute hour day-of-month month day-of-week)`;
      expect(reasonOf(window({ schedule: '0 0 16 * * 5' }))).toBe(expected('0 0 16 * * 5'));
      expect(reasonOf(window({ schedule: '@daily' }))).toBe(expected('@daily'));
    });

    it('an unknown time zone', () => {
      expect(reasonOf(window({ timeZone: 'Mars/Olympus' }))).toBe(
        'rule w: window 1: unknown time zone "Mars/Olympus" (use an IANA name such as Europe/Berlin)',
      );
    });

    it('a bad or zero duration', () => {
      expect(reasonOf(window({ duration: '1d' }))).toBe('rule w: window 1: duration "1d" is not a Go duration such as 90s, 5m or 1h30m');
      expect(reasonOf(window({ duration: '0s' }))).toBe('rule w: window 1: duration must be more than 0s');
      expect(reasonOf([{ name: 'r', rateLimit: { count: 1, per: 'hourly' } }])).toBe(
        'rule r: rateLimit.per "hourly" is not a Go duration such as 90s, 5m or 1h30m',
      );
      expect(reasonOf([{ name: 'r', effect: 'RequireApproval', approvalTimeout: '-5m' }])).toBe(
        'rule r: approvalTimeout "-5m" is not a Go duration such as 90s, 5m or 1h30m',
      );
    });

    it('approvalTimeout on a rule that does not require approval', () => {
      expect(reasonOf([{ name: 'r', approvalTimeout: '5m' }])).toBe('rule r: approvalTimeout is only for effect RequireApproval');
    });

    it('a rate limit of less than 1', () => {
      expect(reasonOf([{ name: 'r', rateLimit: { count: 0, per: '1h' } }])).toBe('rule r: rateLimit.count must be at least 1');
    });

    it('no rules, and rule names used twice', () => {
      expect(reasonOf([])).toBe('rules must name at least one rule');
      expect(reasonOf([{ name: 'a' }, { name: 'a' }])).toBe('rule name a is used twice; rule names must be unique');
    });

    it('a namespaceSelector on a FluxActionPolicy', () => {
      expect(reasonOf([{ name: 'r' }], { namespaceSelector: {} })).toBe('namespaceSelector is only for ClusterFluxActionPolicy');
    });

    it('fields of the wrong shape, with their paths', () => {
      expect(reasonOf([{ name: 'r', effect: 'Maybe' }])).toMatch(/^spec\.rules\[0\]\.effect: /);
      expect(reasonOf('nope')).toMatch(/^spec\.rules: /);
      expect(reasonOf([{ name: 'r', effect: 'Maybe' }])).not.toContain('\n');
    });
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const p = loadPolicy(value);
        expect(typeof p.name).toBe('string');
      }),
    );
    fc.assert(
      fc.property(fc.anything(), (rules) => {
        const p = loadPolicy(raw(rules));
        if (p.invalid) expect(p.reason).not.toContain('\n');
      }),
    );
    expect(loadPolicy(null)).toMatchObject({ invalid: true, name: '<unnamed>' });
  });
});

describe('globs', () => {
  it('anchor at both ends and escape everything but * and ?', () => {
    expect(globToRegExp('a*').test('ba')).toBe(false);
    expect(globToRegExp('(x)+[y]').test('(x)+[y]')).toBe(true);
    expect(globToRegExp('a\\b').test('a\\b')).toBe(true);
  });
});

describe('appliesTo', () => {
  const clusterWith = (namespaceSelector?: unknown): LoadedPolicy =>
    loadPolicy(raw([{ name: 'r' }], namespaceSelector === undefined ? {} : { namespaceSelector }, 'ClusterFluxActionPolicy'));

  it('applies a FluxActionPolicy to its own namespace only', () => {
    const p = loadPolicy(raw([{ name: 'r' }]));
    expect(appliesTo(p, 'apps', {})).toBe(true);
    expect(appliesTo(p, 'other', {})).toBe(false);
  });

  it('applies a ClusterFluxActionPolicy without selector, or with an empty one, everywhere', () => {
    expect(appliesTo(clusterWith(), 'any', {})).toBe(true);
    expect(appliesTo(clusterWith({}), 'any', { a: 'b' })).toBe(true);
  });

  it('selects by matchLabels: every label must be there with its value', () => {
    const p = clusterWith({ matchLabels: { env: 'prod', team: 'web' } });
    expect(appliesTo(p, 'n', { env: 'prod', team: 'web', x: 'y' })).toBe(true);
    expect(appliesTo(p, 'n', { env: 'prod' })).toBe(false);
    expect(appliesTo(p, 'n', { env: 'dev', team: 'web' })).toBe(false);
  });

  it('selects by In', () => {
    const p = clusterWith({ matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'staging'] }] });
    expect(appliesTo(p, 'n', { env: 'staging' })).toBe(true);
    expect(appliesTo(p, 'n', { env: 'dev' })).toBe(false);
    expect(appliesTo(p, 'n', {})).toBe(false);
  });

  it('selects by NotIn, a namespace without the label included', () => {
    const p = clusterWith({ matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] });
    expect(appliesTo(p, 'n', { env: 'prod' })).toBe(true);
    expect(appliesTo(p, 'n', {})).toBe(true);
    expect(appliesTo(p, 'n', { env: 'dev' })).toBe(false);
  });

  it('selects by Exists and DoesNotExist', () => {
    const exists = clusterWith({ matchExpressions: [{ key: 'frozen', operator: 'Exists' }] });
    const absent = clusterWith({ matchExpressions: [{ key: 'frozen', operator: 'DoesNotExist' }] });
    expect(appliesTo(exists, 'n', { frozen: '' })).toBe(true);
    expect(appliesTo(exists, 'n', {})).toBe(false);
    expect(appliesTo(absent, 'n', {})).toBe(true);
    expect(appliesTo(absent, 'n', { frozen: 'yes' })).toBe(false);
  });

  it('needs matchLabels and every expression to hold together', () => {
    const p = clusterWith({
      matchLabels: { team: 'web' },
      matchExpressions: [
        { key: 'env', operator: 'In', values: ['prod'] },
        { key: 'frozen', operator: 'DoesNotExist' },
      ],
    });
    expect(appliesTo(p, 'n', { team: 'web', env: 'prod' })).toBe(true);
    expect(appliesTo(p, 'n', { team: 'web', env: 'prod', frozen: 'y' })).toBe(false);
    expect(appliesTo(p, 'n', { team: 'db', env: 'prod' })).toBe(false);
  });

  it('keeps an invalid cluster policy to the namespaces it selects', () => {
    const p = loadPolicy(
      raw([{ name: 'r', effect: 'Maybe' }], { namespaceSelector: { matchLabels: { env: 'prod' } } }, 'ClusterFluxActionPolicy'),
    );
    expect(p.invalid).toBe(true);
    expect(appliesTo(p, 'n', { env: 'prod' })).toBe(true);
    expect(appliesTo(p, 'n', { env: 'dev' })).toBe(false);
  });

  it('applies a cluster policy whose selector cannot be read everywhere (fail closed)', () => {
    const p = loadPolicy(
      raw([{ name: 'r' }], { namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'Near' }] } }, 'ClusterFluxActionPolicy'),
    );
    expect(p.invalid).toBe(true);
    expect(appliesTo(p, 'n', {})).toBe(true);
  });
});
