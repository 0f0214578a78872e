// Chains (withDependencies, withDependents): the spec.dependsOn graph reconciled in order, each
// step waited for and judged, with the simulator playing Flux per object.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FailureReason } from '../../src/api/conditions.js';
import type { FluxActionRequest } from '../../src/api/types.js';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import {
  createFluxObject,
  createRequest,
  readyReason,
  waitForPhase,
  startOperatorEnvironment,
  type OperatorEnvironment,
} from '../support/harness.js';

let env: OperatorEnvironment;

beforeAll(async () => {
  env = await startOperatorEnvironment('chains');
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await env?.stop();
});

/** The requestedAt tokens the simulator saw on a Kustomization, in order. */
const tokensOf = (name: string, kind = 'Kustomization'): string[] => env.simulator.record(kind, env.ns, name).requestedAt;

/** A Kustomization named `<prefix>-<name>` depending on the others named, with a revision and extra annotations. */
async function ks(
  prefix: string,
  name: string,
  dependsOn: string[] = [],
  annotations: Record<string, string> = {},
  spec = {},
): Promise<void> {
  await createFluxObject(env.kc, 'Kustomization', env.ns, `${prefix}-${name}`, {
    spec: { dependsOn: dependsOn.map((d) => ({ name: `${prefix}-${d}` })), ...spec },
    annotations: { [SimAnnotation.revision]: `main@sha1:${name}`, ...annotations },
  });
}

/** infra ← database ← app, each named `<prefix>-…`; database's Flux outcome as given. */
async function threeLevels(prefix: string, database: Record<string, string> = {}): Promise<void> {
  await ks(prefix, 'infra');
  await ks(prefix, 'database', ['infra'], database);
  await ks(prefix, 'app', ['database']);
}

const steps = (request: FluxActionRequest): string[] =>
  (request.status?.steps ?? []).map((s) => `${s.role} ${s.name} ${s.phase}${s.revision ? ` ${s.revision}` : ''}`);

describe('Reconcile withDependencies', () => {
  it('reconciles infra, database and app in that order, each after the one before was Ready', async () => {
    await threeLevels('ok');
    await createRequest(env.kc, env.ns, 'ok-chain', {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'ok-app' },
      withDependencies: true,
    });
    const done = await waitForPhase(env.kc, env.ns, 'ok-chain', 'Succeeded');
    expect(steps(done)).toEqual([
      'Dependency ok-infra Succeeded main@sha1:infra',
      'Dependency ok-database Succeeded main@sha1:database',
      'Target ok-app Succeeded main@sha1:app',
    ]);
    expect(done.status?.message).toBe(`3 steps succeeded in order; Kustomization ${env.ns}/ok-app: applied revision main@sha1:app`);
    // One token per object, each the one its step recorded, written in the chain's order.
    const written = ['infra', 'database', 'app'].map((n) => tokensOf(`ok-${n}`));
    expect(written).toEqual(done.status!.steps!.map((s) => [s.token]));
    const [infra, database, app] = done.status!.steps!;
    expect(infra!.completionTime! <= database!.startTime!).toBe(true);
    expect(database!.completionTime! <= app!.startTime!).toBe(true);
    expect(infra!.token! < database!.token! && database!.token! < app!.token!).toBe(true);
    expect(done.status?.token).toBe(app!.token);
    expect(done.status?.target).toMatchObject({ name: 'ok-app', revision: 'main@sha1:app' });
  });

  it("stops at a broken middle step: DependencyFailed naming it with Flux's message, app never asked", async () => {
    await threeLevels('broken', {
      [SimAnnotation.outcome]: 'Failed',
      [SimAnnotation.reason]: 'HealthCheckFailed',
      [SimAnnotation.message]: 'timeout waiting for: [Deployment/db/postgres status: InProgress]',
    });
    await createRequest(env.kc, env.ns, 'broken-chain', {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'broken-app' },
      withDependencies: true,
    });
    const done = await waitForPhase(env.kc, env.ns, 'broken-chain', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.DependencyFailed);
    expect(done.status?.message).toBe(
      `dependency Kustomization ${env.ns}/broken-database: HealthCheckFailed: timeout waiting for: [Deployment/db/postgres status: InProgress]; 1 later step was not started`,
    );
    expect(steps(done)).toEqual([
      'Dependency broken-infra Succeeded main@sha1:infra',
      expect.stringMatching(/^Dependency broken-database Failed/),
      'Target broken-app Pending',
    ]);
    expect(tokensOf('broken-infra')).toHaveLength(1);
    expect(tokensOf('broken-database')).toHaveLength(1);
    expect(tokensOf('broken-app')).toEqual([]);
  });

  it('refuses a cycle with DependencyCycle naming it, touching nothing', async () => {
    await ks('cyc', 'a', ['c']);
    await ks('cyc', 'b', ['a']);
    await ks('cyc', 'c', ['b']);
    await createRequest(env.kc, env.ns, 'cycle', {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'cyc-c' },
      withDependencies: true,
    });
    const done = await waitForPhase(env.kc, env.ns, 'cycle', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.DependencyCycle);
    const k = (n: string): string => `Kustomization ${env.ns}/cyc-${n}`;
    expect(done.status?.message).toBe(`spec.dependsOn has a cycle: ${k('c')} → ${k('b')} → ${k('a')} → ${k('c')}`);
    for (const n of ['a', 'b', 'c']) expect(tokensOf(`cyc-${n}`)).toEqual([]);
  });

  it('refuses a missing dependency with TargetNotFound naming it, touching nothing', async () => {
    await ks('gap', 'database', ['infra']);
    await ks('gap', 'app', ['database']);
    await createRequest(env.kc, env.ns, 'gap', {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'gap-app' },
      withDependencies: true,
    });
    const done = await waitForPhase(env.kc, env.ns, 'gap', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.TargetNotFound);
    expect(done.status?.message).toBe(
      `dependency Kustomization ${env.ns}/gap-infra not found (in the spec.dependsOn of Kustomization ${env.ns}/gap-database)`,
    );
    expect(tokensOf('gap-database')).toEqual([]);
    expect(tokensOf('gap-app')).toEqual([]);
  });

  it('fails a suspended dependency with TargetSuspended naming it, before the target is asked', async () => {
    await ks('susp', 'infra', [], {}, { suspend: true });
    await ks('susp', 'app', ['infra']);
    await createRequest(env.kc, env.ns, 'susp', {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'susp-app' },
      withDependencies: true,
    });
    const done = await waitForPhase(env.kc, env.ns, 'susp', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.TargetSuspended);
    expect(done.status?.message).toMatch(new RegExp(`^dependency Kustomization ${env.ns}/susp-infra is suspended`));
    expect(tokensOf('susp-app')).toEqual([]);
  });

  it('with withSource reconciles a GitRepository shared by every step once, before the first step', async () => {
    await createFluxObject(env.kc, 'GitRepository', env.ns, 'shared-repo', { annotations: { [SimAnnotation.revision]: 'main@sha1:feed' } });
    const spec = { sourceRef: { kind: 'GitRepository', name: 'shared-repo' } };
    // Each applies the source's revision, as kustomize-controller does.
    const applies = { [SimAnnotation.revision]: 'main@sha1:feed' };
    await ks('src', 'infra', [], applies, spec);
    await ks('src', 'app', ['infra'], applies, spec);
    await createRequest(env.kc, env.ns, 'src-chain', {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'src-app' },
      withDependencies: true,
      withSource: true,
    });
    const done = await waitForPhase(env.kc, env.ns, 'src-chain', 'Succeeded');
    expect(steps(done)).toEqual([
      'Source shared-repo Succeeded main@sha1:feed',
      'Dependency src-infra Succeeded main@sha1:feed',
      'Target src-app Succeeded main@sha1:feed',
    ]);
    expect(tokensOf('shared-repo', 'GitRepository')).toHaveLength(1);
  });
});

describe('Reconcile withDependents', () => {
  it('reconciles the target, then what depends on it, in dependsOn order', async () => {
    await threeLevels('down');
    await createRequest(env.kc, env.ns, 'down-chain', {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'down-infra' },
      withDependents: true,
    });
    const done = await waitForPhase(env.kc, env.ns, 'down-chain', 'Succeeded');
    expect(steps(done)).toEqual([
      'Target down-infra Succeeded main@sha1:infra',
      'Dependent down-database Succeeded main@sha1:database',
      'Dependent down-app Succeeded main@sha1:app',
    ]);
    expect(done.status?.token).toBe(done.status?.steps?.[0]?.token);
  });
});

describe('overlapping chains', () => {
  it('share the tokens of their common steps: 10 chains through infra and database make Flux reconcile each a handful of times', async () => {
    await ks('many', 'infra', [], { [SimAnnotation.delayMs]: '300' });
    await ks('many', 'database', ['infra'], { [SimAnnotation.delayMs]: '300' });
    const names = Array.from({ length: 10 }, (_, i) => `app${i}`);
    for (const name of names) await ks('many', name, ['database']);
    await Promise.all(
      names.map((name) =>
        createRequest(env.kc, env.ns, `many-${name}`, {
          action: 'Reconcile',
          target: { kind: 'Kustomization', name: `many-${name}` },
          withDependencies: true,
        }),
      ),
    );
    const done: FluxActionRequest[] = [];
    for (const name of names) done.push(await waitForPhase(env.kc, env.ns, `many-${name}`, 'Succeeded', 60_000));
    for (const shared of ['infra', 'database']) {
      const written = tokensOf(`many-${shared}`);
      expect(written.length).toBeGreaterThanOrEqual(1);
      expect(written.length).toBeLessThanOrEqual(3);
      // Every chain's step on the shared object carries one of the tokens Flux was asked with.
      for (const request of done) expect(written).toContain(request.status?.steps?.find((s) => s.name === `many-${shared}`)?.token);
    }
  }, 120_000);
});
