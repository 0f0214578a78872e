// A Kustomization and its GitRepository, reconciled by the real source- and kustomize-controller
// from the local Git server: a new commit applied, a broken manifest failing with
// kustomize-controller's own message, and suspend / refused reconcile / resume. Each through a
// request applied with kubectl and through the MCP tools.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FailureReason } from '../../src/api/conditions.js';
import {
  act,
  bothWays,
  brokenConfigMapManifest,
  condition,
  configMapData,
  configMapManifest,
  type E2eEnvironment,
  gitKustomization,
  readRequest,
  startE2eEnvironment,
  waitForFlux,
} from '../support/e2e.js';
import { getFluxObject } from '../support/harness.js';
import type { GitRepo } from '../support/sources.js';

describe.each(bothWays)('Kustomization via %s', (via) => {
  let env: E2eEnvironment;
  let repo: GitRepo;

  beforeAll(async () => {
    env = await startE2eEnvironment(`e2e-ks-${via}`);
    repo = await gitKustomization(env);
  });

  afterAll(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
    await env?.stop();
  });

  it('reconciles with source after a push: Succeeded with the new revision, and the new manifest applied', async () => {
    const sha = await repo.commit({ 'app/configmap.yaml': configMapManifest('two') }, 'second');
    const outcome = await act(
      env,
      via,
      { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' }, withSource: true },
      { expect: 'Succeeded' },
    );
    expect(outcome).toMatchObject({
      phase: 'Succeeded',
      reason: 'Succeeded',
      revision: `${repo.branch}@sha1:${sha}`,
      sourceRevision: `${repo.branch}@sha1:${sha}`,
    });
    expect(await configMapData(env.kc, env.ns, 'greeting')).toEqual({ message: 'two' });
    // Flux handled exactly the tokens the request wrote, source first.
    const request = await readRequest(env.kc, outcome.request);
    const source = await getFluxObject(env.kc, 'GitRepository', env.ns, 'repo');
    const ks = await getFluxObject(env.kc, 'Kustomization', env.ns, 'app');
    expect(source.status?.lastHandledReconcileAt).toBe(request.status?.source?.token);
    expect(ks.status?.lastHandledReconcileAt).toBe(request.status?.token);
  });

  it("fails with kustomize-controller's own message when a broken manifest is pushed, without waiting for the timeout", async () => {
    await repo.commit({ 'app/broken.yaml': brokenConfigMapManifest }, 'broken');
    const outcome = await act(
      env,
      via,
      { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' }, withSource: true, timeout: '5m' },
      { expect: 'Failed' },
    );
    expect(outcome).toMatchObject({ phase: 'Failed', reason: FailureReason.ReconciliationFailed });
    const ready = condition(await getFluxObject(env.kc, 'Kustomization', env.ns, 'app'), 'Ready');
    expect(ready).toMatchObject({ status: 'False' });
    // The request says what kustomize-controller said, word for word.
    expect(outcome.message).toContain(ready!.message!.trim());
    expect(ready!.message).toContain('broken');
    // Failed on Flux's verdict, not at the 5m timeout.
    expect(outcome.durationSeconds).toBeLessThan(300);

    await repo.commit({ 'app/broken.yaml': null }, 'fix');
    const fixed = await act(
      env,
      via,
      { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' }, withSource: true },
      { expect: 'Succeeded' },
    );
    expect(fixed.phase).toBe('Succeeded');
  });

  it('suspends, refuses a reconcile as TargetSuspended, then resumes: reconciled and Ready', async () => {
    const suspended = await act(env, via, { action: 'Suspend', target: { kind: 'Kustomization', name: 'app' } }, { expect: 'Succeeded' });
    expect(suspended.phase).toBe('Succeeded');
    let ks = await getFluxObject(env.kc, 'Kustomization', env.ns, 'app');
    expect(ks.spec['suspend']).toBe(true);
    expect(ks.metadata.annotations?.['fluxaction.io/suspended-by']).toBe(suspended.request);
    // kustomize-controller itself reports the suspension.
    await waitForFlux(
      env.kc,
      'Kustomization',
      env.ns,
      'app',
      'to be seen suspended by kustomize-controller',
      (k) => k.spec['suspend'] === true,
    );

    const before = ks.metadata.annotations?.['reconcile.fluxcd.io/requestedAt'];
    const refused = await act(env, via, { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } }, { expect: 'Failed' });
    expect(refused).toMatchObject({ phase: 'Failed', reason: FailureReason.TargetSuspended });
    ks = await getFluxObject(env.kc, 'Kustomization', env.ns, 'app');
    expect(ks.metadata.annotations?.['reconcile.fluxcd.io/requestedAt']).toBe(before);

    const resumed = await act(env, via, { action: 'Resume', target: { kind: 'Kustomization', name: 'app' } }, { expect: 'Succeeded' });
    expect(resumed).toMatchObject({ phase: 'Succeeded', reason: 'Succeeded' });
    ks = await getFluxObject(env.kc, 'Kustomization', env.ns, 'app');
    expect(ks.spec['suspend']).toBe(false);
    expect(ks.metadata.annotations?.['fluxaction.io/suspended-by']).toBeUndefined();
    expect(ks.status?.lastHandledReconcileAt).toBe(resumed.token);
    expect(condition(ks, 'Ready')?.status).toBe('True');
  });
});
