import { describe, expect, it } from '@jest/globals';
import { FailureReason, Phase, ProgressReason } from '../../../src/api/conditions.js';
import { StepRole, type FluxActionRequest, type FluxObject, type RequestStatus, type StepStatus } from '../../../src/api/types.js';
import { fluxKind, type FluxKind } from '../../../src/flux/kinds.js';
import { refOf } from '../../../src/flux/objects.js';
import { decide, type HeldToken, type Plan, type Step } from '../../../src/flux/protocol.js';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const T0 = '2026-11-25T11:59:58.000000001Z';
const T1 = '2026-11-25T11:59:59.000000001Z';
const RequestedAt = 'reconcile.fluxcd.io/requestedAt';

function kind(name: string): FluxKind {
  const k = fluxKind(name);
  if (!k) throw new Error(`no kind ${name}`);
  return k;
}

const apiVersions: Record<string, string> = {
  Kustomization: 'kustomize.toolkit.fluxcd.io/v1',
  GitRepository: 'source.toolkit.fluxcd.io/v1',
};

/** A Kustomization (or another kind) in apps; `handled` makes Flux's answer to a token: ready or failed. */
function obj(
  name: string,
  o: { kind?: string; requestedAt?: string; handled?: string; ready?: 'True' | 'False'; message?: string; suspend?: boolean } = {},
): FluxObject {
  const k = o.kind ?? 'Kustomization';
  return {
    apiVersion: apiVersions[k] ?? 'x/v1',
    kind: k,
    metadata: {
      name,
      namespace: 'apps',
      generation: 1,
      ...(o.requestedAt ? { annotations: { [RequestedAt]: o.requestedAt } } : {}),
    },
    spec: o.suspend ? { suspend: true } : {},
    status: o.handled
      ? {
          lastHandledReconcileAt: o.handled,
          lastAppliedRevision: `main@sha1:${name}`,
          artifact: { revision: `main@sha1:${name}` },
          conditions: [
            {
              type: 'Ready',
              status: o.ready ?? 'True',
              reason: o.ready === 'False' ? 'HealthCheckFailed' : 'ReconciliationSucceeded',
              message: o.message ?? 'Applied revision',
              observedGeneration: 1,
            },
          ],
        }
      : {},
  };
}

function step(
  index: number,
  role: StepRole,
  object: FluxObject | undefined,
  name = object?.metadata.name ?? '?',
  k = 'Kustomization',
): Step {
  return {
    slot: role === StepRole.Source ? 'source' : 'target',
    kind: kind(object?.kind ?? k),
    ref: object ? refOf(object) : { apiVersion: apiVersions[k] ?? '', kind: k, name, namespace: 'apps' },
    object,
    chain: { index, role },
  };
}

function request(status?: RequestStatus, spec: Partial<FluxActionRequest['spec']> = {}): FluxActionRequest {
  return {
    apiVersion: 'fluxaction.io/v1alpha1',
    kind: 'FluxActionRequest',
    metadata: { name: 'req', namespace: 'apps', generation: 1 },
    spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' }, withDependencies: true, timeout: '5m', ...spec },
    ...(status ? { status } : {}),
  };
}

function run(req: FluxActionRequest, steps: Step[], heldTokens: (key: string) => HeldToken[] = () => []): Plan {
  let n = 0;
  const minted = ['MINTED-1', 'MINTED-2', 'MINTED-3'];
  return decide({ request: req, now: NOW, steps, heldTokens, mintToken: () => minted[n++] ?? 'MINTED-N' });
}

/** A chain in progress: the given step entries, Running. */
function chainStatus(...steps: StepStatus[]): RequestStatus {
  return { phase: Phase.Running, startTime: '2026-11-25T11:59:00Z', steps };
}

const entry = (name: string, role: StepRole, phase: Phase, token?: string, more: Partial<StepStatus> = {}): StepStatus => ({
  apiVersion: apiVersions['Kustomization'],
  kind: 'Kustomization',
  name,
  namespace: 'apps',
  role,
  phase,
  ...(token ? { token, startTime: '2026-11-25T11:59:00Z' } : {}),
  ...more,
});

const chainOf = (infra: FluxObject, database: FluxObject, app: FluxObject | undefined): Step[] => [
  step(0, StepRole.Dependency, infra),
  step(1, StepRole.Dependency, database),
  step(2, StepRole.Target, app, 'app'),
];

describe('decide over a chain (withDependencies)', () => {
  it('records every step at once, Pending, and starts the first: token recorded, requestedAt patched', () => {
    const plan = run(request(), chainOf(obj('infra'), obj('database'), obj('app')));
    expect(plan.status.steps?.map((s) => [s.name, s.role, s.phase, s.token])).toEqual([
      ['infra', StepRole.Dependency, Phase.Running, 'MINTED-1'],
      ['database', StepRole.Dependency, Phase.Pending, undefined],
      ['app', StepRole.Target, Phase.Pending, undefined],
    ]);
    expect(plan.patch).toEqual({
      ref: expect.objectContaining({ kind: 'Kustomization', name: 'infra' }),
      body: { metadata: { annotations: { [RequestedAt]: 'MINTED-1' } } },
    });
    expect(plan.status.conditions?.find((c) => c.type === 'Reconciling')?.reason).toBe(ProgressReason.WaitingForDependency);
    expect(plan.status.token).toBeUndefined();
  });

  it('marks a step Succeeded with its revision once Flux judged it, and starts the next in the same plan', () => {
    const plan = run(
      request(
        chainStatus(
          entry('infra', StepRole.Dependency, Phase.Running, T1),
          entry('database', StepRole.Dependency, Phase.Pending),
          entry('app', StepRole.Target, Phase.Pending),
        ),
      ),
      chainOf(obj('infra', { requestedAt: T1, handled: T1 }), obj('database'), obj('app')),
    );
    expect(plan.status.steps?.[0]).toMatchObject({
      phase: Phase.Succeeded,
      revision: 'main@sha1:infra',
      completionTime: '2026-11-25T12:00:00Z',
    });
    expect(plan.status.steps?.[1]).toMatchObject({ phase: Phase.Running, token: 'MINTED-1', startTime: '2026-11-25T12:00:00Z' });
    expect(plan.patch?.ref.name).toBe('database');
  });

  it('waits on a step whose token is written and not handled, touching nothing else', () => {
    const plan = run(
      request(
        chainStatus(
          entry('infra', StepRole.Dependency, Phase.Running, T1),
          entry('database', StepRole.Dependency, Phase.Pending),
          entry('app', StepRole.Target, Phase.Pending),
        ),
      ),
      chainOf(obj('infra', { requestedAt: T1, handled: T0 }), obj('database'), obj('app')),
    );
    expect(plan.patch).toBeUndefined();
    expect(plan.status.steps?.map((s) => s.phase)).toEqual([Phase.Running, Phase.Pending, Phase.Pending]);
  });

  it("stops at a failed step: DependencyFailed naming it with Flux's message, the later steps untouched", () => {
    const plan = run(
      request(
        chainStatus(
          entry('infra', StepRole.Dependency, Phase.Succeeded, T0),
          entry('database', StepRole.Dependency, Phase.Running, T1),
          entry('app', StepRole.Target, Phase.Pending),
        ),
      ),
      chainOf(
        obj('infra', { requestedAt: T0, handled: T0 }),
        obj('database', {
          requestedAt: T1,
          handled: T1,
          ready: 'False',
          message: 'timeout waiting for: [Deployment/apps/db status: InProgress]',
        }),
        obj('app'),
      ),
    );
    expect(plan.status.phase).toBe(Phase.Failed);
    expect(plan.patch).toBeUndefined();
    expect(plan.status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: FailureReason.DependencyFailed,
    });
    expect(plan.status.message).toBe(
      'dependency Kustomization apps/database: HealthCheckFailed: timeout waiting for: [Deployment/apps/db status: InProgress]; 1 later step was not started',
    );
    expect(plan.status.steps?.map((s) => s.phase)).toEqual([Phase.Succeeded, Phase.Failed, Phase.Pending]);
    expect(plan.status.steps?.[2]?.token).toBeUndefined();
  });

  it('succeeds when the last step is judged Ready, with the target mirrored in status.target and status.token', () => {
    const plan = run(
      request(
        chainStatus(
          entry('infra', StepRole.Dependency, Phase.Succeeded, T0),
          entry('database', StepRole.Dependency, Phase.Succeeded, T0),
          entry('app', StepRole.Target, Phase.Running, T1),
        ),
      ),
      chainOf(
        obj('infra', { requestedAt: T0, handled: T0 }),
        obj('database', { requestedAt: T0, handled: T0 }),
        obj('app', { requestedAt: T1, handled: T1 }),
      ),
    );
    expect(plan.status.phase).toBe(Phase.Succeeded);
    expect(plan.status.message).toBe('3 steps succeeded in order; Kustomization apps/app: applied revision main@sha1:app');
    expect(plan.status.token).toBe(T1);
    expect(plan.status.target).toMatchObject({ name: 'app', token: T1, revision: 'main@sha1:app' });
    expect(plan.status.steps?.every((s) => s.phase === Phase.Succeeded)).toBe(true);
  });

  it('after a restart resumes at the step it was on: a done step is neither judged nor patched again', () => {
    // infra was Succeeded, then someone broke it: the chain does not look back.
    const plan = run(
      request(
        chainStatus(
          entry('infra', StepRole.Dependency, Phase.Succeeded, T0),
          entry('database', StepRole.Dependency, Phase.Running, T1),
          entry('app', StepRole.Target, Phase.Pending),
        ),
      ),
      chainOf(obj('infra', { requestedAt: 'someone-else', handled: T0, ready: 'False' }), obj('database', { requestedAt: T1 }), obj('app')),
    );
    expect(plan.patch).toBeUndefined();
    expect(plan.status.steps?.[1]?.token).toBe(T1);
    expect(plan.status.phase).toBe(Phase.Running);
  });

  it('re-sends a recorded token that was not written before a restart, on the same step', () => {
    const plan = run(
      request(
        chainStatus(
          entry('infra', StepRole.Dependency, Phase.Succeeded, T0),
          entry('database', StepRole.Dependency, Phase.Running, T1),
          entry('app', StepRole.Target, Phase.Pending),
        ),
      ),
      chainOf(obj('infra', { requestedAt: T0, handled: T0 }), obj('database'), obj('app')),
    );
    expect(plan.patch).toMatchObject({ ref: { name: 'database' }, body: { metadata: { annotations: { [RequestedAt]: T1 } } } });
  });

  it('fails a suspended dependency with TargetSuspended naming it, before asking Flux', () => {
    const plan = run(request(), chainOf(obj('infra', { suspend: true }), obj('database'), obj('app')));
    expect(plan.status.phase).toBe(Phase.Failed);
    expect(plan.status.conditions?.find((c) => c.type === 'Ready')?.reason).toBe(FailureReason.TargetSuspended);
    expect(plan.status.message).toMatch(/^dependency Kustomization apps\/infra is suspended/);
    expect(plan.patch).toBeUndefined();
  });

  it('fails a dependency deleted before its turn with TargetNotFound naming it', () => {
    const plan = run(
      request(
        chainStatus(
          entry('infra', StepRole.Dependency, Phase.Running, T1),
          entry('database', StepRole.Dependency, Phase.Pending),
          entry('app', StepRole.Target, Phase.Pending),
        ),
      ),
      [
        step(0, StepRole.Dependency, obj('infra', { requestedAt: T1, handled: T1 })),
        step(1, StepRole.Dependency, undefined, 'database'),
        step(2, StepRole.Target, obj('app')),
      ],
    );
    expect(plan.status.conditions?.find((c) => c.type === 'Ready')?.reason).toBe(FailureReason.TargetNotFound);
    expect(plan.status.message).toBe('dependency Kustomization apps/database not found; 1 later step was not started');
  });

  it("shares another request's unwritten token on a step (coalescing across chains)", () => {
    const held: HeldToken = { token: T0, action: 'Reconcile', force: false, reset: false };
    const plan = run(request(), chainOf(obj('infra'), obj('database'), obj('app')), (key) => (key.endsWith('/infra') ? [held] : []));
    expect(plan.status.steps?.[0]?.token).toBe(T0);
    expect(plan.patch?.body.metadata?.annotations[RequestedAt]).toBe(T0);
  });

  it('sends force only to the target, never to the other steps', () => {
    const hr = (name: string): FluxObject => ({ ...obj(name), apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease' });
    const steps: Step[] = [
      { ...step(0, StepRole.Dependency, hr('infra')), kind: kind('HelmRelease') },
      { ...step(1, StepRole.Target, hr('app')), kind: kind('HelmRelease') },
    ];
    const plan = run(request(undefined, { target: { kind: 'HelmRelease', name: 'app' }, force: true }), steps);
    expect(plan.patch?.body).toEqual({ metadata: { annotations: { [RequestedAt]: 'MINTED-1' } } });
  });
});

describe('decide over a chain (withDependents, withSource)', () => {
  it('fails a dependent with DependencyFailed naming it as a dependent, after the target succeeded', () => {
    const plan = run(
      request(chainStatus(entry('infra', StepRole.Target, Phase.Succeeded, T0), entry('app', StepRole.Dependent, Phase.Running, T1)), {
        target: { kind: 'Kustomization', name: 'infra' },
        withDependencies: false,
        withDependents: true,
      }),
      [
        step(0, StepRole.Target, obj('infra', { requestedAt: T0, handled: T0 })),
        step(1, StepRole.Dependent, obj('app', { requestedAt: T1, handled: T1, ready: 'False', message: 'boom' })),
      ],
    );
    expect(plan.status.conditions?.find((c) => c.type === 'Ready')?.reason).toBe(FailureReason.DependencyFailed);
    expect(plan.status.message).toBe('dependent Kustomization apps/app: HealthCheckFailed: boom');
    expect(plan.status.target).toMatchObject({ name: 'infra' });
  });

  it('reconciles a source as its own step, WaitingForSource, and fails the chain with SourceFailed when it fails', () => {
    const repo = obj('repo', { kind: 'GitRepository' });
    const first = run(request(undefined, { withSource: true }), [step(0, StepRole.Source, repo), step(1, StepRole.Target, obj('app'))]);
    expect(first.status.steps?.[0]).toMatchObject({
      kind: 'GitRepository',
      role: StepRole.Source,
      phase: Phase.Running,
      token: 'MINTED-1',
    });
    expect(first.status.conditions?.find((c) => c.type === 'Reconciling')?.reason).toBe(ProgressReason.WaitingForSource);
    const failed = run(
      request(
        chainStatus(
          entry('repo', StepRole.Source, Phase.Running, T1, { kind: 'GitRepository' }),
          entry('app', StepRole.Target, Phase.Pending),
        ),
        { withSource: true },
      ),
      [
        step(
          0,
          StepRole.Source,
          obj('repo', { kind: 'GitRepository', requestedAt: T1, handled: T1, ready: 'False', message: 'auth failed' }),
        ),
        step(1, StepRole.Target, obj('app')),
      ],
    );
    expect(failed.status.conditions?.find((c) => c.type === 'Ready')?.reason).toBe(FailureReason.SourceFailed);
    expect(failed.status.message).toBe('source GitRepository apps/repo: HealthCheckFailed: auth failed; 1 later step was not started');
  });
});

describe('decide over a chain withSource: a step handled with an older view of its source', () => {
  /** A Kustomization of the chain whose source is `repo`, that Flux answered with `revision`. */
  const applying = (name: string, revision: string): FluxObject => {
    const o = obj(name, { requestedAt: T1, handled: T1 });
    return {
      ...o,
      spec: { sourceRef: { kind: 'GitRepository', name: 'repo' } },
      status: { ...o.status, lastAppliedRevision: revision, lastAttemptedRevision: revision },
    };
  };
  const status = (): RequestStatus =>
    chainStatus(
      entry('repo', StepRole.Source, Phase.Succeeded, T0, { kind: 'GitRepository', revision: 'main@sha1:repo' }),
      entry('infra', StepRole.Dependency, Phase.Running, T1),
      entry('app', StepRole.Target, Phase.Pending),
    );
  const steps = (infra: FluxObject, repo: FluxObject | undefined): Step[] => [
    step(0, StepRole.Source, repo, 'repo', 'GitRepository'),
    step(1, StepRole.Dependency, infra),
    step(2, StepRole.Target, obj('app')),
  ];
  const repo = obj('repo', { kind: 'GitRepository', requestedAt: T0, handled: T0 });

  it("keeps the step Running until Flux applied the source step's revision, then moves on", () => {
    const stale = run(request(status(), { withSource: true }), steps(applying('infra', 'main@sha1:old'), repo));
    expect(stale.status.steps?.[1]?.phase).toBe(Phase.Running);
    expect(stale.status.message).toBe(
      "dependency Kustomization apps/infra: Flux reconciled revision main@sha1:old, not the source's main@sha1:repo; waiting for it to apply main@sha1:repo",
    );
    expect(stale.patch).toBeUndefined();
    const applied = run(request(status(), { withSource: true }), steps(applying('infra', 'main@sha1:repo'), repo));
    expect(applied.status.steps?.[1]).toMatchObject({ phase: Phase.Succeeded, revision: 'main@sha1:repo' });
    expect(applied.patch?.ref.name).toBe('app');
  });

  it('uses the revision the source step recorded when the source is not there to read', () => {
    const stale = run(request(status(), { withSource: true }), steps(applying('infra', 'main@sha1:old'), undefined));
    expect(stale.status.steps?.[1]?.phase).toBe(Phase.Running);
  });
});
