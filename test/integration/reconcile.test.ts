import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FailureReason, SuccessReason } from '../../src/api/conditions.js';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import {
  createFluxObject,
  createRequest,
  deleteFluxObject,
  getFluxObject,
  readyReason,
  waitForFluxObject,
  waitForPhase,
  startOperatorEnvironment,
  type OperatorEnvironment,
} from '../support/harness.js';

let env: OperatorEnvironment;

beforeAll(async () => {
  env = await startOperatorEnvironment('reconcile');
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await env?.stop();
});

describe('Reconcile', () => {
  it('writes one token, follows Flux and reports the applied revision', async () => {
    await createFluxObject(env.kc, 'Kustomization', env.ns, 'app', { annotations: { [SimAnnotation.revision]: 'main@sha1:1a2b3c' } });
    await createRequest(env.kc, env.ns, 'reconcile-app', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
    const done = await waitForPhase(env.kc, env.ns, 'reconcile-app', 'Succeeded');
    expect(readyReason(done)).toBe(SuccessReason.Succeeded);
    expect(done.status?.message).toBe(`Kustomization ${env.ns}/app: applied revision main@sha1:1a2b3c`);
    expect(done.status?.target).toMatchObject({
      kind: 'Kustomization',
      name: 'app',
      namespace: env.ns,
      ready: 'True',
      revision: 'main@sha1:1a2b3c',
    });
    const target = await getFluxObject(env.kc, 'Kustomization', env.ns, 'app');
    expect(target.metadata.annotations?.['reconcile.fluxcd.io/requestedAt']).toBe(done.status?.token);
    expect(target.status?.lastHandledReconcileAt).toBe(done.status?.token);
    expect(env.simulator.record('Kustomization', env.ns, 'app').requestedAt).toEqual([done.status?.token]);
  });

  it('reports a failing reconcile with Flux reason and message long before the timeout', async () => {
    await createFluxObject(env.kc, 'Kustomization', env.ns, 'broken', {
      annotations: {
        [SimAnnotation.outcome]: 'Failed',
        [SimAnnotation.reason]: 'BuildFailed',
        [SimAnnotation.message]: 'kustomize build failed: accumulating resources',
      },
    });
    await createRequest(env.kc, env.ns, 'reconcile-broken', {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'broken' },
      timeout: '5m',
    });
    // The wait's deadline (30s) is a tenth of the request's timeout: the failure must come from Flux's verdict.
    const done = await waitForPhase(env.kc, env.ns, 'reconcile-broken', 'Failed', 30_000);
    expect(readyReason(done)).toBe(FailureReason.ReconciliationFailed);
    expect(done.status?.message).toBe(`Kustomization ${env.ns}/broken: BuildFailed: kustomize build failed: accumulating resources`);
    expect(done.status?.conditions?.find((c) => c.type === 'Stalled')).toMatchObject({
      status: 'True',
      reason: FailureReason.ReconciliationFailed,
    });
  });

  it('reports a stalled target as failed with the Stalled message', async () => {
    await createFluxObject(env.kc, 'Kustomization', env.ns, 'stalled', {
      annotations: {
        [SimAnnotation.outcome]: 'Stalled',
        [SimAnnotation.reason]: 'InvalidPath',
        [SimAnnotation.message]: 'path ./nope not found',
      },
    });
    await createRequest(env.kc, env.ns, 'reconcile-stalled', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'stalled' } });
    const done = await waitForPhase(env.kc, env.ns, 'reconcile-stalled', 'Failed');
    expect(done.status?.message).toBe(`Kustomization ${env.ns}/stalled: InvalidPath: path ./nope not found`);
  });

  it('refuses a missing target', async () => {
    await createRequest(env.kc, env.ns, 'reconcile-missing', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'missing' } });
    const done = await waitForPhase(env.kc, env.ns, 'reconcile-missing', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.TargetNotFound);
    expect(done.status?.message).toBe(`Kustomization ${env.ns}/missing not found`);
  });

  it('times out when Flux never handles the request', async () => {
    await createFluxObject(env.kc, 'Kustomization', env.ns, 'ignored', { annotations: { [SimAnnotation.outcome]: 'Ignore' } });
    await createRequest(env.kc, env.ns, 'reconcile-ignored', {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'ignored' },
      timeout: '3s',
    });
    const done = await waitForPhase(env.kc, env.ns, 'reconcile-ignored', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.Timeout);
    expect(done.status?.message).toBe(
      `no outcome within 3s: waiting for Flux to handle the request on Kustomization ${env.ns}/ignored (requestedAt ${done.status?.token})`,
    );
  });

  it('reports TargetDeleted when the target is deleted while the request waits', async () => {
    await createFluxObject(env.kc, 'Kustomization', env.ns, 'doomed', { annotations: { [SimAnnotation.outcome]: 'Ignore' } });
    await createRequest(env.kc, env.ns, 'reconcile-doomed', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'doomed' } });
    await waitForFluxObject(
      env.kc,
      'Kustomization',
      env.ns,
      'doomed',
      'to carry a requestedAt token',
      (o) => !!o.metadata.annotations?.['reconcile.fluxcd.io/requestedAt'],
    );
    await deleteFluxObject(env.kc, 'Kustomization', env.ns, 'doomed');
    const done = await waitForPhase(env.kc, env.ns, 'reconcile-doomed', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.TargetDeleted);
  });

  it('with wait: false succeeds as Requested once the token is written, without following Flux', async () => {
    await createFluxObject(env.kc, 'Kustomization', env.ns, 'fire-and-forget', { annotations: { [SimAnnotation.outcome]: 'Ignore' } });
    await createRequest(env.kc, env.ns, 'reconcile-nowait', {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'fire-and-forget' },
      wait: false,
    });
    const done = await waitForPhase(env.kc, env.ns, 'reconcile-nowait', 'Succeeded');
    expect(readyReason(done)).toBe(SuccessReason.Requested);
    const target = await getFluxObject(env.kc, 'Kustomization', env.ns, 'fire-and-forget');
    expect(target.metadata.annotations?.['reconcile.fluxcd.io/requestedAt']).toBe(done.status?.token);
  });

  it('sets forceAt and resetAt to the token on a HelmRelease and reports the chart version', async () => {
    await createFluxObject(env.kc, 'HelmRelease', env.ns, 'web', { annotations: { [SimAnnotation.revision]: '6.5.4' } });
    await createRequest(env.kc, env.ns, 'force-web', {
      action: 'Reconcile',
      target: { kind: 'HelmRelease', name: 'web' },
      force: true,
      reset: true,
    });
    const done = await waitForPhase(env.kc, env.ns, 'force-web', 'Succeeded');
    const hr = await getFluxObject(env.kc, 'HelmRelease', env.ns, 'web');
    const token = done.status?.token;
    expect(hr.metadata.annotations).toMatchObject({
      'reconcile.fluxcd.io/requestedAt': token,
      'reconcile.fluxcd.io/forceAt': token,
      'reconcile.fluxcd.io/resetAt': token,
    });
    expect(hr.status?.['lastHandledForceAt']).toBe(token);
    expect(done.status?.message).toBe(`HelmRelease ${env.ns}/web: applied revision 6.5.4`);
  });

  it('refuses to reconcile an Alert: Flux has nothing to reconcile', async () => {
    await createFluxObject(env.kc, 'Alert', env.ns, 'slack');
    await createRequest(env.kc, env.ns, 'reconcile-alert', { action: 'Reconcile', target: { kind: 'Alert', name: 'slack' } });
    const done = await waitForPhase(env.kc, env.ns, 'reconcile-alert', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.UnsupportedAction);
    const alert = await getFluxObject(env.kc, 'Alert', env.ns, 'slack');
    expect(alert.metadata.annotations?.['reconcile.fluxcd.io/requestedAt']).toBeUndefined();
  });

  // One kind of each family: sources, flux-operator, image automation, notification.
  it.each([
    ['GitRepository', 'fetched'],
    ['OCIRepository', 'fetched'],
    ['Bucket', 'fetched'],
    ['HelmRepository', 'fetched'],
    ['HelmChart', 'fetched'],
    ['ResourceSet', 'applied'],
    ['ResourceSetInputProvider', 'fetched'],
    ['FluxInstance', 'applied'],
    ['ImageRepository', 'fetched'],
    ['ImagePolicy', 'fetched'],
    ['ImageUpdateAutomation', 'fetched'],
  ])('reconciles a %s and reports its revision', async (kind, verb) => {
    // A FluxInstance may only be named flux.
    const name = kind === 'FluxInstance' ? 'flux' : kind.toLowerCase();
    await createFluxObject(env.kc, kind, env.ns, name, { annotations: { [SimAnnotation.revision]: `rev-${name}` } });
    await createRequest(env.kc, env.ns, `reconcile-${name}`, { action: 'Reconcile', target: { kind, name } });
    const done = await waitForPhase(env.kc, env.ns, `reconcile-${name}`, 'Succeeded');
    expect(done.status?.message).toBe(`${kind} ${env.ns}/${name}: ${verb} revision rev-${name}`);
    expect(env.simulator.record(kind, env.ns, name).requestedAt).toEqual([done.status?.token]);
  });

  it('reconciles a Receiver', async () => {
    await createFluxObject(env.kc, 'Receiver', env.ns, 'github');
    await createRequest(env.kc, env.ns, 'reconcile-receiver', { action: 'Reconcile', target: { kind: 'Receiver', name: 'github' } });
    const done = await waitForPhase(env.kc, env.ns, 'reconcile-receiver', 'Succeeded');
    expect(done.status?.message).toBe(`Receiver ${env.ns}/github: reconciled`);
  });
});
