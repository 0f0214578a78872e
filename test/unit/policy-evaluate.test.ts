// Policy evaluation (DESIGN §7.4): order, each match field, effects and their defaults, windows in
// time zones and across DST changes, rate limits at their boundaries, and invalid policies failing
// closed. The clock is a parameter; nothing here sleeps.
import { describe, expect, it } from '@jest/globals';
import {
  evaluate,
  loadPolicy,
  type LoadedPolicy,
  pastAction,
  type PastAction,
  type PolicyDecision,
  type PolicySubject,
} from '../../src/policy/evaluate.js';
import type { Rule } from '../../src/policy/types.js';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const HOUR = 3_600_000;

function subject(over: Partial<PolicySubject> = {}): PolicySubject {
  return {
    namespace: 'apps',
    name: 'reconcile-podinfo',
    action: 'Reconcile',
    target: { kind: 'Kustomization', namespace: 'apps', name: 'podinfo' },
    origin: undefined,
    requestedBy: 'alice',
    groups: [],
    ...over,
  };
}

function namespaced(name: string, rules: Rule[], namespace = 'apps'): LoadedPolicy {
  return loadPolicy({ apiVersion: 'fluxaction.io/v1alpha1', kind: 'FluxActionPolicy', metadata: { name, namespace }, spec: { rules } });
}

function cluster(name: string, rules: Rule[]): LoadedPolicy {
  return loadPolicy({ apiVersion: 'fluxaction.io/v1alpha1', kind: 'ClusterFluxActionPolicy', metadata: { name }, spec: { rules } });
}

function run(policies: LoadedPolicy[], over: Partial<PolicySubject> = {}, now = NOW, history: PastAction[] = []): PolicyDecision {
  for (const p of policies) if (p.invalid) throw new Error(`test policy ${p.name} is invalid: ${p.reason}`);
  return evaluate({ request: subject(over), now, policies, history: () => history });
}

/** One rule that decides with effect when its match holds: Allow if the request got past it. */
function effectOf(rule: Omit<Rule, 'name'>, over: Partial<PolicySubject> = {}, now = NOW, history: PastAction[] = []): string {
  return run([namespaced('p', [{ name: 'r', effect: 'Deny', ...rule }])], over, now, history).effect;
}

describe('evaluation order', () => {
  it('allows when there is no policy, naming none', () => {
    expect(run([])).toEqual({ effect: 'Allow' });
  });

  it('allows when no rule matches, naming none', () => {
    expect(run([namespaced('p', [{ name: 'suspends', match: { actions: ['Suspend'] } }])])).toEqual({ effect: 'Allow' });
  });

  it('lets the first matching rule of a policy decide', () => {
    const p = namespaced('p', [
      { name: 'allow-alice', match: { requesters: { users: ['alice'] } }, effect: 'Allow' },
      { name: 'deny-all', effect: 'Deny' },
    ]);
    expect(run([p])).toEqual({ effect: 'Allow', policy: { kind: 'FluxActionPolicy', namespace: 'apps', name: 'p', rule: 'allow-alice' } });
    expect(run([p], { requestedBy: 'bob' })).toMatchObject({ effect: 'Deny', policy: { rule: 'deny-all' } });
  });

  it('goes on to the next policy when a policy has no matching rule', () => {
    const a = namespaced('a', [{ name: 'suspends', match: { actions: ['Suspend'] } }]);
    const b = namespaced('b', [{ name: 'all' }]);
    expect(run([a, b])).toMatchObject({ effect: 'Deny', policy: { name: 'b', rule: 'all' } });
  });

  it('looks at ClusterFluxActionPolicies before the namespace’s FluxActionPolicies, whatever order they come in', () => {
    const deny = namespaced('a-deny', [{ name: 'all', effect: 'Deny' }]);
    const allow = cluster('z-allow', [{ name: 'all', effect: 'Allow' }]);
    expect(run([deny, allow])).toEqual({ effect: 'Allow', policy: { kind: 'ClusterFluxActionPolicy', name: 'z-allow', rule: 'all' } });
  });

  it('orders policies of one kind by name', () => {
    const b = namespaced('b', [{ name: 'all', effect: 'Deny' }]);
    const a = namespaced('a', [{ name: 'all', effect: 'Allow' }]);
    expect(run([b, a])).toMatchObject({ effect: 'Allow', policy: { name: 'a' } });
    const cb = cluster('b', [{ name: 'all', effect: 'Allow' }]);
    const ca = cluster('a', [{ name: 'all', effect: 'RequireApproval' }]);
    expect(run([cb, ca])).toMatchObject({ effect: 'RequireApproval', policy: { name: 'a' } });
  });

  it('lets a cluster policy’s Allow stop evaluation before a namespaced Deny', () => {
    const allow = cluster('platform', [{ name: 'sre', match: { requesters: { groups: ['sre'] } }, effect: 'Allow' }]);
    const deny = namespaced('guardrails', [{ name: 'all' }]);
    expect(run([allow, deny], { groups: ['sre'] }).effect).toBe('Allow');
    expect(run([allow, deny], { groups: ['dev'] }).effect).toBe('Deny');
  });
});

describe('match', () => {
  it('matches any request with no match or an empty match', () => {
    expect(run([namespaced('p', [{ name: 'r' }])]).effect).toBe('Deny');
    expect(effectOf({ match: {} })).toBe('Deny');
  });

  it('treats an empty list as any', () => {
    expect(effectOf({ match: { actions: [], kinds: [], names: [], origins: [], requesters: { users: [], groups: [] } } })).toBe('Deny');
  });

  it('matches actions', () => {
    expect(effectOf({ match: { actions: ['Suspend', 'Resume'] } }, { action: 'Suspend' })).toBe('Deny');
    expect(effectOf({ match: { actions: ['Suspend', 'Resume'] } }, { action: 'Reconcile' })).toBe('Allow');
  });

  it('matches the target’s kind', () => {
    const hr = { kind: 'HelmRelease', namespace: 'apps', name: 'podinfo' };
    expect(effectOf({ match: { kinds: ['HelmRelease'] } }, { target: hr })).toBe('Deny');
    expect(effectOf({ match: { kinds: ['HelmRelease'] } })).toBe('Allow');
  });

  it('matches the target’s name with * globs', () => {
    const named = (name: string): Partial<PolicySubject> => ({ target: { kind: 'Kustomization', namespace: 'apps', name } });
    expect(effectOf({ match: { names: ['prod-*'] } }, named('prod-web'))).toBe('Deny');
    expect(effectOf({ match: { names: ['prod-*'] } }, named('prod-'))).toBe('Deny');
    expect(effectOf({ match: { names: ['prod-*'] } }, named('staging-prod-web'))).toBe('Allow');
    expect(effectOf({ match: { names: ['*-db'] } }, named('orders-db'))).toBe('Deny');
    expect(effectOf({ match: { names: ['*'] } }, named('anything'))).toBe('Deny');
  });

  it('matches the target’s name with ? as exactly one character', () => {
    const named = (name: string): Partial<PolicySubject> => ({ target: { kind: 'Kustomization', namespace: 'apps', name } });
    expect(effectOf({ match: { names: ['web-?'] } }, named('web-1'))).toBe('Deny');
    expect(effectOf({ match: { names: ['web-?'] } }, named('web-10'))).toBe('Allow');
    expect(effectOf({ match: { names: ['web-?'] } }, named('web-'))).toBe('Allow');
  });

  it('reads other characters in a glob literally', () => {
    const named = (name: string): Partial<PolicySubject> => ({ target: { kind: 'Kustomization', namespace: 'apps', name } });
    expect(effectOf({ match: { names: ['a.b'] } }, named('a.b'))).toBe('Deny');
    expect(effectOf({ match: { names: ['a.b'] } }, named('axb'))).toBe('Allow');
    expect(effectOf({ match: { names: ['podinfo'] } }, named('podinfo-2'))).toBe('Allow');
  });

  it('matches when any of several globs does', () => {
    const named = (name: string): Partial<PolicySubject> => ({ target: { kind: 'Kustomization', namespace: 'apps', name } });
    expect(effectOf({ match: { names: ['prod-*', 'live-*'] } }, named('live-web'))).toBe('Deny');
  });

  it('matches the origin label, and not a request without one', () => {
    expect(effectOf({ match: { origins: ['mcp'] } }, { origin: 'mcp' })).toBe('Deny');
    expect(effectOf({ match: { origins: ['mcp'] } }, { origin: 'cli' })).toBe('Allow');
    expect(effectOf({ match: { origins: ['mcp'] } }, { origin: undefined })).toBe('Allow');
  });

  it('matches requesters by user', () => {
    expect(effectOf({ match: { requesters: { users: ['alice'] } } })).toBe('Deny');
    expect(effectOf({ match: { requesters: { users: ['alice'] } } }, { requestedBy: 'bob' })).toBe('Allow');
    expect(effectOf({ match: { requesters: { users: ['alice'] } } }, { requestedBy: undefined })).toBe('Allow');
  });

  it('matches requesters by any of their groups', () => {
    expect(effectOf({ match: { requesters: { groups: ['sre'] } } }, { groups: ['dev', 'sre'] })).toBe('Deny');
    expect(effectOf({ match: { requesters: { groups: ['sre'] } } }, { groups: ['dev'] })).toBe('Allow');
    expect(effectOf({ match: { requesters: { groups: ['sre'] } } }, { groups: [] })).toBe('Allow');
  });

  it('matches requesters when either the user or a group is listed', () => {
    const match = { requesters: { users: ['carol'], groups: ['sre'] } };
    expect(effectOf({ match }, { requestedBy: 'carol' })).toBe('Deny');
    expect(effectOf({ match }, { requestedBy: 'bob', groups: ['sre'] })).toBe('Deny');
    expect(effectOf({ match }, { requestedBy: 'bob', groups: ['dev'] })).toBe('Allow');
  });

  it('matches only when every field given holds', () => {
    const match = { actions: ['Reconcile' as const], kinds: ['Kustomization'], names: ['pod*'], origins: ['mcp'] };
    expect(effectOf({ match }, { origin: 'mcp' })).toBe('Deny');
    expect(effectOf({ match }, { origin: 'cli' })).toBe('Allow');
    expect(effectOf({ match }, { origin: 'mcp', action: 'Suspend' })).toBe('Allow');
    expect(effectOf({ match }, { origin: 'mcp', target: { kind: 'HelmRelease', namespace: 'apps', name: 'podinfo' } })).toBe('Allow');
    expect(effectOf({ match }, { origin: 'mcp', target: { kind: 'Kustomization', namespace: 'apps', name: 'web' } })).toBe('Allow');
  });
});

describe('effects', () => {
  it('denies with a rule that names no effect (a guardrail rule denies), naming the policy, rule and message', () => {
    const decision = run([namespaced('guardrails', [{ name: 'no-suspend', match: { actions: ['Suspend'] }, message: 'ask #sre' }])], {
      action: 'Suspend',
    });
    expect(decision).toEqual({
      effect: 'Deny',
      reason: 'PolicyDenied',
      message: 'denied by FluxActionPolicy apps/guardrails rule no-suspend: ask #sre',
      policy: { kind: 'FluxActionPolicy', namespace: 'apps', name: 'guardrails', rule: 'no-suspend' },
    });
  });

  it('says only who denied when the rule has no message; a cluster policy is named without namespace', () => {
    expect(run([cluster('platform', [{ name: 'all' }])])).toMatchObject({
      message: 'denied by ClusterFluxActionPolicy platform rule all',
    });
  });

  it('allows with effect Allow, naming the rule', () => {
    expect(run([namespaced('p', [{ name: 'ok', effect: 'Allow' }])])).toEqual({
      effect: 'Allow',
      policy: { kind: 'FluxActionPolicy', namespace: 'apps', name: 'p', rule: 'ok' },
    });
  });

  it('requires approval for 1h by default, saying why (the gate adds how to approve)', () => {
    const decision = run([namespaced('p', [{ name: 'agents', effect: 'RequireApproval', message: 'an SRE approves' }])]);
    expect(decision).toEqual({
      effect: 'RequireApproval',
      approvalTimeoutMs: HOUR,
      message: 'approval required by FluxActionPolicy apps/p rule agents: an SRE approves',
      policy: { kind: 'FluxActionPolicy', namespace: 'apps', name: 'p', rule: 'agents' },
    });
  });

  it('requires approval within the rule’s approvalTimeout', () => {
    const decision = run([namespaced('p', [{ name: 'agents', effect: 'RequireApproval', approvalTimeout: '1h30m' }])]);
    expect(decision).toMatchObject({ effect: 'RequireApproval', approvalTimeoutMs: 1.5 * HOUR });
  });
});

describe('windows', () => {
  // The DESIGN example: from Friday 16:00 in Berlin, for 64 hours.
  const freeze = (now: number, timeZone = 'Europe/Berlin'): PolicyDecision =>
    run(
      [
        namespaced('guardrails', [
          {
            name: 'weekend-freeze',
            match: { actions: ['Reconcile', 'Resume'], names: ['prod-*'] },
            windows: [{ schedule: '0 16 * * 5', duration: '64h', timeZone }],
            effect: 'Deny',
            message: 'no deploys over the weekend',
          },
        ]),
      ],
      { target: { kind: 'Kustomization', namespace: 'apps', name: 'prod-web' } },
      now,
    );

  it('matches inside a window and says when it ends', () => {
    // Friday 2026-12-04 16:00 CET is 15:00Z; 64h later is Monday 07:00Z.
    expect(freeze(Date.parse('2026-12-05T10:00:00Z'))).toEqual({
      effect: 'Deny',
      reason: 'PolicyDenied',
      message:
        'denied by FluxActionPolicy apps/guardrails rule weekend-freeze: no deploys over the weekend; the window 0 16 * * 5 (Europe/Berlin, 64h) ends at 2026-12-07T07:00:00Z',
      policy: { kind: 'FluxActionPolicy', namespace: 'apps', name: 'guardrails', rule: 'weekend-freeze' },
    });
  });

  it('opens at the fire time, not a millisecond before', () => {
    expect(freeze(Date.parse('2026-12-04T15:00:00Z')).effect).toBe('Deny');
    expect(freeze(Date.parse('2026-12-04T15:00:00Z') - 1).effect).toBe('Allow');
  });

  it('closes duration after the fire time', () => {
    expect(freeze(Date.parse('2026-12-07T07:00:00Z') - 1).effect).toBe('Deny');
    expect(freeze(Date.parse('2026-12-07T07:00:00Z')).effect).toBe('Allow');
  });

  it('does not match outside the window (mid-week)', () => {
    expect(freeze(Date.parse('2026-12-02T12:00:00Z'))).toEqual({ effect: 'Allow' });
  });

  it('reads the schedule in the window’s time zone', () => {
    // 16:00 in New York (EST, -5) is 21:00Z: at 18:00Z on that Friday only the Berlin window is open.
    const at = Date.parse('2026-12-04T18:00:00Z');
    expect(freeze(at, 'Europe/Berlin').effect).toBe('Deny');
    expect(freeze(at, 'America/New_York').effect).toBe('Allow');
    expect(freeze(Date.parse('2026-12-04T21:00:00Z'), 'America/New_York').effect).toBe('Deny');
    expect(freeze(Date.parse('2026-12-04T21:00:00Z') - 1, 'America/New_York').effect).toBe('Allow');
  });

  it('reads a schedule without time zone in UTC', () => {
    const rule = { windows: [{ schedule: '0 9 * * *', duration: '1h' }] };
    expect(effectOf(rule, {}, Date.parse('2026-07-01T09:30:00Z'))).toBe('Deny');
    expect(effectOf(rule, {}, Date.parse('2026-07-01T10:00:00Z'))).toBe('Allow');
  });

  it('follows summer time: 09:00 in New York is 13:00Z in July and 14:00Z in January', () => {
    const rule = { windows: [{ schedule: '0 9 * * *', duration: '1h', timeZone: 'America/New_York' }] };
    expect(effectOf(rule, {}, Date.parse('2026-07-01T13:30:00Z'))).toBe('Deny');
    expect(effectOf(rule, {}, Date.parse('2026-07-01T14:30:00Z'))).toBe('Allow');
    expect(effectOf(rule, {}, Date.parse('2026-01-15T14:30:00Z'))).toBe('Deny');
    expect(effectOf(rule, {}, Date.parse('2026-01-15T13:30:00Z'))).toBe('Allow');
  });

  it('counts the duration in elapsed hours across the autumn DST change', () => {
    // Friday 2026-10-23 16:00 CEST is 14:00Z; Berlin falls back on Sunday the 25th; 64h later is 06:00Z (07:00 CET).
    expect(freeze(Date.parse('2026-10-26T06:00:00Z') - 1)).toMatchObject({
      message: expect.stringContaining('ends at 2026-10-26T06:00:00Z') as unknown,
    });
    expect(freeze(Date.parse('2026-10-26T06:00:00Z')).effect).toBe('Allow');
    expect(freeze(Date.parse('2026-10-23T14:00:00Z')).effect).toBe('Deny');
    expect(freeze(Date.parse('2026-10-23T14:00:00Z') - 1).effect).toBe('Allow');
  });

  it('counts the duration in elapsed hours across the spring DST change', () => {
    // Friday 2026-03-27 16:00 CET is 15:00Z; Berlin springs forward on Sunday the 29th; 64h later is 07:00Z (09:00 CEST).
    expect(freeze(Date.parse('2026-03-30T07:00:00Z') - 1).effect).toBe('Deny');
    expect(freeze(Date.parse('2026-03-30T07:00:00Z')).effect).toBe('Allow');
  });

  it('opens a window whose local time is skipped by DST at the first time after the gap', () => {
    // 02:30 does not exist in Berlin on 2026-03-29 (02:00 CET → 03:00 CEST = 01:00Z).
    const rule = { windows: [{ schedule: '30 2 * * *', duration: '30m', timeZone: 'Europe/Berlin' }] };
    expect(effectOf(rule, {}, Date.parse('2026-03-29T01:15:00Z'))).toBe('Deny');
    expect(effectOf(rule, {}, Date.parse('2026-03-29T01:00:00Z') - 1)).toBe('Allow');
    expect(effectOf(rule, {}, Date.parse('2026-03-29T01:30:00Z'))).toBe('Allow');
  });

  it('opens a window whose local time happens twice (DST ends) once, at the first', () => {
    // 02:30 happens at 00:30Z (CEST) and 01:30Z (CET) on 2026-10-25 in Berlin.
    const rule = { windows: [{ schedule: '30 2 * * *', duration: '30m', timeZone: 'Europe/Berlin' }] };
    expect(effectOf(rule, {}, Date.parse('2026-10-25T00:45:00Z'))).toBe('Deny');
    expect(effectOf(rule, {}, Date.parse('2026-10-25T01:45:00Z'))).toBe('Allow');
  });

  it('matches when any of several windows is open', () => {
    const rule = {
      windows: [
        { schedule: '0 9 * * *', duration: '1h' },
        { schedule: '0 18 * * *', duration: '1h' },
      ],
    };
    expect(effectOf(rule, {}, Date.parse('2026-07-01T18:30:00Z'))).toBe('Deny');
    expect(effectOf(rule, {}, Date.parse('2026-07-01T12:00:00Z'))).toBe('Allow');
  });

  it('names the window that stays open longest when windows overlap', () => {
    const decision = run(
      [
        namespaced('p', [
          {
            name: 'r',
            windows: [
              { schedule: '0 9 * * *', duration: '3h' },
              { schedule: '0 10 * * *', duration: '1h' },
            ],
          },
        ]),
      ],
      {},
      Date.parse('2026-07-01T10:30:00Z'),
    );
    expect(decision).toMatchObject({
      message: expect.stringContaining('the window 0 9 * * * (UTC, 3h) ends at 2026-07-01T12:00:00Z') as unknown,
    });
  });

  it('goes on to the next rule outside the window', () => {
    const p = namespaced('p', [
      { name: 'night', windows: [{ schedule: '0 22 * * *', duration: '8h' }], effect: 'Deny' },
      { name: 'day', effect: 'RequireApproval' },
    ]);
    expect(run([p], {}, Date.parse('2026-07-01T23:00:00Z'))).toMatchObject({ effect: 'Deny', policy: { rule: 'night' } });
    expect(run([p], {}, Date.parse('2026-07-01T12:00:00Z'))).toMatchObject({ effect: 'RequireApproval', policy: { rule: 'day' } });
  });
});

describe('rate limits', () => {
  const target = { kind: 'Kustomization', namespace: 'apps', name: 'podinfo' };
  const at = (msAgo: number, t = target, over: Partial<PolicySubject> = {}): PastAction =>
    pastAction(subject({ target: t, ...over }), NOW - msAgo);
  const limit = (history: PastAction[]): PolicyDecision =>
    run([namespaced('p', [{ name: 'not-too-often', rateLimit: { count: 2, per: '1h' }, message: 'slow down' }])], {}, NOW, history);

  it('does not match under the limit', () => {
    expect(limit([at(10_000)])).toEqual({ effect: 'Allow' });
  });

  it('reads the history only for a matching rule that limits the rate, and once', () => {
    let reads = 0;
    const history = (): PastAction[] => {
      reads += 1;
      return [at(10_000)];
    };
    const limited = (name: string, match: Rule['match']): Rule => ({
      name,
      rateLimit: { count: 5, per: '1h' },
      ...(match ? { match } : {}),
    });
    // No rule limits the rate, or the one that does matches other targets: the cache is not read.
    evaluate({
      request: subject(),
      now: NOW,
      policies: [namespaced('p', [{ name: 'deny-helm', effect: 'Deny', match: { kinds: ['HelmRelease'] } }])],
      history,
    });
    evaluate({ request: subject(), now: NOW, policies: [namespaced('p', [limited('helm', { kinds: ['HelmRelease'] })])], history });
    expect(reads).toBe(0);
    // Two rules that limit the rate and match: read once for both.
    evaluate({ request: subject(), now: NOW, policies: [namespaced('p', [limited('a', undefined), limited('b', undefined)])], history });
    expect(reads).toBe(1);
  });

  it('denies with RateLimited at the limit, naming count, per and when the next slot frees up', () => {
    expect(limit([at(10 * 60_000), at(40 * 60_000)])).toEqual({
      effect: 'Deny',
      reason: 'RateLimited',
      message:
        'rate limited by FluxActionPolicy apps/p rule not-too-often: slow down; 2 actions on Kustomization apps/podinfo in the last 1h (limit 2 per 1h); the next slot frees up at 2026-11-25T12:20:00Z',
      policy: { kind: 'FluxActionPolicy', namespace: 'apps', name: 'p', rule: 'not-too-often' },
    });
  });

  it('frees the next slot when the count-th most recent action ages out', () => {
    // Three actions 5, 10 and 50 minutes ago with a limit of 2: the one 10 minutes ago must age out.
    expect(limit([at(50 * 60_000), at(5 * 60_000), at(10 * 60_000)])).toMatchObject({
      message: expect.stringContaining(
        '3 actions on Kustomization apps/podinfo in the last 1h (limit 2 per 1h); the next slot frees up at 2026-11-25T12:50:00Z',
      ) as unknown,
    });
  });

  it('counts an action per after it happened no more, one a millisecond younger still', () => {
    expect(limit([at(1000), at(HOUR)]).effect).toBe('Allow');
    expect(limit([at(1000), at(HOUR - 1)]).effect).toBe('Deny');
  });

  it('counts an action at now', () => {
    expect(limit([at(0), at(0)]).effect).toBe('Deny');
  });

  it('counts only actions on the same target (kind, namespace and name)', () => {
    const others = [
      at(1000, { ...target, name: 'other' }),
      at(1000, { ...target, namespace: 'other' }),
      at(1000, { ...target, kind: 'HelmRelease' }),
    ];
    expect(limit([at(1000), ...others]).effect).toBe('Allow');
  });

  it('goes on to the next rule under the limit', () => {
    const p = namespaced('p', [
      { name: 'limit', rateLimit: { count: 1, per: '10m' } },
      { name: 'approve', effect: 'RequireApproval' },
    ]);
    expect(run([p], {}, NOW, [])).toMatchObject({ effect: 'RequireApproval', policy: { rule: 'approve' } });
    expect(run([p], {}, NOW, [at(60_000)])).toMatchObject({ effect: 'Deny', reason: 'RateLimited', policy: { rule: 'limit' } });
  });

  it('requires approval over the limit when the rule says so', () => {
    const p = namespaced('p', [{ name: 'limit', rateLimit: { count: 1, per: '10m' }, effect: 'RequireApproval' }]);
    expect(run([p], {}, NOW, [at(60_000)])).toMatchObject({ effect: 'RequireApproval', approvalTimeoutMs: HOUR });
  });

  it('counts only the past actions the rule matches: an agents’ limit ignores a person’s actions', () => {
    const p = namespaced('p', [{ name: 'agents', match: { origins: ['mcp'] }, rateLimit: { count: 1, per: '1h' } }]);
    const agent = { origin: 'mcp' };
    expect(run([p], agent, NOW, [at(60_000, target, { origin: 'cli' }), at(60_000, target, { origin: undefined })]).effect).toBe('Allow');
    expect(run([p], agent, NOW, [at(60_000, target, agent)]).effect).toBe('Deny');
  });

  it('counts only the past actions of the actions and requesters the rule matches', () => {
    const byAction = namespaced('p', [{ name: 'reconciles', match: { actions: ['Reconcile'] }, rateLimit: { count: 1, per: '1h' } }]);
    expect(run([byAction], {}, NOW, [at(60_000, target, { action: 'Suspend' })]).effect).toBe('Allow');
    expect(run([byAction], {}, NOW, [at(60_000, target, { action: 'Reconcile' })]).effect).toBe('Deny');
    const byGroup = namespaced('p', [
      { name: 'interns', match: { requesters: { groups: ['interns'] } }, rateLimit: { count: 1, per: '1h' } },
    ]);
    const intern = { requestedBy: 'ivy', groups: ['interns'] };
    expect(run([byGroup], intern, NOW, [at(60_000, target, { requestedBy: 'sre', groups: ['sre'] })]).effect).toBe('Allow');
    expect(run([byGroup], intern, NOW, [at(60_000, target, { requestedBy: 'ian', groups: ['interns'] })]).effect).toBe('Deny');
  });

  it('must also match the rule’s other fields', () => {
    const p = namespaced('p', [{ name: 'limit', match: { actions: ['Suspend'] }, rateLimit: { count: 1, per: '10m' } }]);
    expect(run([p], {}, NOW, [at(60_000)]).effect).toBe('Allow');
  });
});

describe('invalid policies', () => {
  const broken = loadPolicy({
    kind: 'FluxActionPolicy',
    metadata: { name: 'broken', namespace: 'apps' },
    spec: { rules: [{ name: 'freeze', windows: [{ schedule: '0 16 * * 5', duration: '64h', timeZone: 'Europe/Berln' }] }] },
  });

  it('deny every request they govern, saying which policy and why (fail closed)', () => {
    expect(evaluate({ request: subject(), now: NOW, policies: [broken], history: () => [] })).toEqual({
      effect: 'Deny',
      reason: 'PolicyDenied',
      message:
        'denied: FluxActionPolicy apps/broken cannot be used (rule freeze: window 1: unknown time zone "Europe/Berln" (use an IANA name such as Europe/Berlin)); it denies every request it governs until it is fixed',
      policy: { kind: 'FluxActionPolicy', namespace: 'apps', name: 'broken' },
    });
  });

  it('take their place in the order: a cluster policy that allows first still decides', () => {
    const allow = cluster('platform', [{ name: 'all', effect: 'Allow' }]);
    expect(evaluate({ request: subject(), now: NOW, policies: [broken, allow], history: () => [] }).effect).toBe('Allow');
  });

  it('deny before a later valid policy that would allow', () => {
    const later = namespaced('zz-allow', [{ name: 'all', effect: 'Allow' }]);
    expect(evaluate({ request: subject(), now: NOW, policies: [later, broken], history: () => [] })).toMatchObject({
      effect: 'Deny',
      policy: { name: 'broken' },
    });
  });
});
