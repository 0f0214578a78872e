// A three-level chain of real Kustomizations (infra ← database ← app, one GitRepository from the
// local Git server), reconciled with withDependencies by the real source- and kustomize-controller:
// every step Ready in order; then a broken database stops the chain before app is touched.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FailureReason, Phase } from '../../src/api/conditions.js';
import { StepRole } from '../../src/api/types.js';
import {
  act,
  apply,
  clusterSources,
  configMapData,
  type E2eEnvironment,
  fluxObject,
  readRequest,
  startE2eEnvironment,
  waitForFlux,
  watchFluxObject,
} from '../support/e2e.js';
import { getFluxObject } from '../support/harness.js';
import type { GitRepo } from '../support/sources.js';

const configMap = (name: string, message: string): string => `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
data:
  message: ${message}
`;

// The API server refuses it on apply: data values must be strings.
const brokenConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: broken
data:
  values: [1, 2]
`;

const levels = ['infra', 'database', 'app'] as const;

describe('chains with the real Flux controllers', () => {
  let env: E2eEnvironment;
  let repo: GitRepo;

  beforeAll(async () => {
    env = await startE2eEnvironment('e2e-chain');
    repo = clusterSources().gitRepo(env.ns);
    const first = await repo.commit(Object.fromEntries(levels.map((l) => [`${l}/configmap.yaml`, configMap(l, 'one')])), 'first');
    await apply(env.kc, fluxObject('GitRepository', env.ns, 'repo', { interval: '1h', url: repo.url, ref: { branch: repo.branch } }));
    // One after the other, so none waits out kustomize-controller's dependency retry interval.
    for (const [i, level] of levels.entries()) {
      const dependsOn = i === 0 ? [] : [{ name: levels[i - 1] }];
      await apply(
        env.kc,
        fluxObject('Kustomization', env.ns, level, {
          interval: '1h',
          path: `./${level}`,
          prune: true,
          targetNamespace: env.ns,
          sourceRef: { kind: 'GitRepository', name: 'repo' },
          dependsOn,
        }),
      );
      await waitForFlux(
        env.kc,
        'Kustomization',
        env.ns,
        level,
        `to apply ${first}`,
        (ks) => ks.status?.['lastAppliedRevision'] === `${repo.branch}@sha1:${first}`,
      );
    }
  });

  afterAll(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
    await env?.stop();
  });

  it('reconciles infra, database and app in order after a push: Succeeded, each step with the new revision', async () => {
    const sha = await repo.commit(Object.fromEntries(levels.map((l) => [`${l}/configmap.yaml`, configMap(l, 'two')])), 'second');
    const revision = `${repo.branch}@sha1:${sha}`;
    const outcome = await act(
      env,
      'kubectl',
      { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' }, withDependencies: true, withSource: true },
      { expect: 'Succeeded' },
    );
    expect(outcome).toMatchObject({ phase: Phase.Succeeded, reason: 'Succeeded', revision });
    const request = await readRequest(env.kc, outcome.request);
    const steps = request.status?.steps ?? [];
    // The GitRepository all three share, once, then the chain upstream first.
    expect(steps.map((s) => [s.kind, s.name, s.role, s.phase, s.revision])).toEqual([
      ['GitRepository', 'repo', StepRole.Source, Phase.Succeeded, revision],
      ['Kustomization', 'infra', StepRole.Dependency, Phase.Succeeded, revision],
      ['Kustomization', 'database', StepRole.Dependency, Phase.Succeeded, revision],
      ['Kustomization', 'app', StepRole.Target, Phase.Succeeded, revision],
    ]);
    // Flux handled exactly the token each step recorded, and applied the new manifests.
    for (const step of steps) {
      const obj = await getFluxObject(env.kc, step.kind!, env.ns, step.name!);
      expect(obj.status?.lastHandledReconcileAt).toBe(step.token);
    }
    for (const level of levels) expect(await configMapData(env.kc, env.ns, level)).toEqual({ message: 'two' });
    // Each step started after the one before finished.
    for (let i = 1; i < steps.length; i++) expect(steps[i - 1]!.completionTime! <= steps[i]!.startTime!).toBe(true);
  });

  it("stops at a broken database: DependencyFailed naming it with kustomize-controller's message, app never asked", async () => {
    const appBefore = await getFluxObject(env.kc, 'Kustomization', env.ns, 'app');
    const appTrail = await watchFluxObject(env.kc, 'Kustomization', env.ns, 'app');
    try {
      await repo.commit({ 'database/broken.yaml': brokenConfigMap }, 'break the database');
      const outcome = await act(
        env,
        'kubectl',
        { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' }, withDependencies: true, withSource: true },
        { expect: 'Failed' },
      );
      expect(outcome).toMatchObject({ phase: Phase.Failed, reason: FailureReason.DependencyFailed });
      const database = await getFluxObject(env.kc, 'Kustomization', env.ns, 'database');
      const ready = (database.status?.['conditions'] as { type: string; status: string; message?: string }[]).find(
        (c) => c.type === 'Ready',
      );
      expect(ready?.status).toBe('False');
      expect(outcome.message).toContain(`dependency Kustomization ${env.ns}/database: `);
      // kustomize-controller's own words, and the object it could not apply.
      expect(outcome.message).toContain(ready!.message!.trim());
      expect(outcome.message).toContain('broken');
      const request = await readRequest(env.kc, outcome.request);
      expect(request.status?.steps?.map((s) => [s.name, s.phase])).toEqual([
        ['repo', Phase.Succeeded],
        ['infra', Phase.Succeeded],
        ['database', Phase.Failed],
        ['app', Phase.Pending],
      ]);
      // app was never asked: no requestedAt written, nothing new handled.
      const appAfter = await getFluxObject(env.kc, 'Kustomization', env.ns, 'app');
      expect(appTrail.requestedAt()).toEqual([]);
      expect(appAfter.metadata.annotations?.['reconcile.fluxcd.io/requestedAt']).toBe(
        appBefore.metadata.annotations?.['reconcile.fluxcd.io/requestedAt'],
      );
      expect(request.status?.steps?.[3]?.token).toBeUndefined();
    } finally {
      appTrail.stop();
    }
  });
});
