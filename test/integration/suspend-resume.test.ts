import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FailureReason } from '../../src/api/conditions.js';
import {
  createFluxObject,
  createRequest,
  getFluxObject,
  readyReason,
  waitForPhase,
  startOperatorEnvironment,
  type OperatorEnvironment,
} from '../support/harness.js';

let env: OperatorEnvironment;

beforeAll(async () => {
  env = await startOperatorEnvironment('suspend');
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await env?.stop();
});

describe('Suspend, then Reconcile refused, then Resume', () => {
  it('suspends a Kustomization with spec.suspend and names the request on it', async () => {
    await createFluxObject(env.kc, 'Kustomization', env.ns, 'app');
    await createRequest(env.kc, env.ns, 'suspend-app', { action: 'Suspend', target: { kind: 'Kustomization', name: 'app' } });
    const done = await waitForPhase(env.kc, env.ns, 'suspend-app', 'Succeeded');
    expect(done.status?.message).toBe(`Kustomization ${env.ns}/app suspended`);
    const ks = await getFluxObject(env.kc, 'Kustomization', env.ns, 'app');
    expect(ks.spec['suspend']).toBe(true);
    expect(ks.metadata.annotations?.['fluxaction.io/suspended-by']).toBe(`${env.ns}/suspend-app`);
  });

  it('refuses to reconcile the suspended Kustomization and does not touch it', async () => {
    await createRequest(env.kc, env.ns, 'reconcile-suspended', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
    const done = await waitForPhase(env.kc, env.ns, 'reconcile-suspended', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.TargetSuspended);
    const ks = await getFluxObject(env.kc, 'Kustomization', env.ns, 'app');
    expect(ks.metadata.annotations?.['reconcile.fluxcd.io/requestedAt']).toBeUndefined();
  });

  it('resumes it with a token in the same patch, clears suspended-by, and waits until Flux reconciled it', async () => {
    await createRequest(env.kc, env.ns, 'resume-app', { action: 'Resume', target: { kind: 'Kustomization', name: 'app' } });
    const done = await waitForPhase(env.kc, env.ns, 'resume-app', 'Succeeded');
    const ks = await getFluxObject(env.kc, 'Kustomization', env.ns, 'app');
    expect(ks.spec['suspend']).toBe(false);
    expect(ks.metadata.annotations?.['fluxaction.io/suspended-by']).toBeUndefined();
    expect(ks.status?.lastHandledReconcileAt).toBe(done.status?.token);
    expect(done.status?.target?.ready).toBe('True');
  });

  it('suspends an already suspended object without changing who suspended it', async () => {
    await createFluxObject(env.kc, 'Kustomization', env.ns, 'frozen', { spec: { suspend: true } });
    await createRequest(env.kc, env.ns, 'suspend-frozen', { action: 'Suspend', target: { kind: 'Kustomization', name: 'frozen' } });
    const done = await waitForPhase(env.kc, env.ns, 'suspend-frozen', 'Succeeded');
    expect(done.status?.message).toBe(`Kustomization ${env.ns}/frozen was already suspended`);
    const ks = await getFluxObject(env.kc, 'Kustomization', env.ns, 'frozen');
    expect(ks.metadata.annotations?.['fluxaction.io/suspended-by']).toBeUndefined();
  });
});

describe('flux-operator kinds', () => {
  it.each([
    ['ResourceSet', 'apps'],
    ['FluxInstance', 'flux'],
  ])('suspends and resumes a %s through the fluxcd.controlplane.io/reconcile annotation', async (kind, name) => {
    await createFluxObject(env.kc, kind, env.ns, name);
    await createRequest(env.kc, env.ns, `suspend-${name}`, { action: 'Suspend', target: { kind, name } });
    await waitForPhase(env.kc, env.ns, `suspend-${name}`, 'Succeeded');
    let obj = await getFluxObject(env.kc, kind, env.ns, name);
    expect(obj.metadata.annotations?.['fluxcd.controlplane.io/reconcile']).toBe('disabled');
    expect(obj.spec['suspend']).toBeUndefined();

    await createRequest(env.kc, env.ns, `reconcile-${name}`, { action: 'Reconcile', target: { kind, name } });
    expect(readyReason(await waitForPhase(env.kc, env.ns, `reconcile-${name}`, 'Failed'))).toBe(FailureReason.TargetSuspended);

    await createRequest(env.kc, env.ns, `resume-${name}`, { action: 'Resume', target: { kind, name } });
    const resumed = await waitForPhase(env.kc, env.ns, `resume-${name}`, 'Succeeded');
    obj = await getFluxObject(env.kc, kind, env.ns, name);
    expect(obj.metadata.annotations?.['fluxcd.controlplane.io/reconcile']).toBe('enabled');
    expect(obj.status?.lastHandledReconcileAt).toBe(resumed.status?.token);
  });
});

describe('kinds with nothing to reconcile', () => {
  it('suspends and resumes an Alert without a token', async () => {
    await createFluxObject(env.kc, 'Alert', env.ns, 'pager');
    await createRequest(env.kc, env.ns, 'suspend-pager', { action: 'Suspend', target: { kind: 'Alert', name: 'pager' } });
    await waitForPhase(env.kc, env.ns, 'suspend-pager', 'Succeeded');
    expect((await getFluxObject(env.kc, 'Alert', env.ns, 'pager')).spec['suspend']).toBe(true);
    await createRequest(env.kc, env.ns, 'resume-pager', { action: 'Resume', target: { kind: 'Alert', name: 'pager' } });
    const done = await waitForPhase(env.kc, env.ns, 'resume-pager', 'Succeeded');
    const alert = await getFluxObject(env.kc, 'Alert', env.ns, 'pager');
    expect(alert.spec['suspend']).toBe(false);
    expect(alert.metadata.annotations?.['reconcile.fluxcd.io/requestedAt']).toBeUndefined();
    expect(done.status?.token).toBeUndefined();
  });
});
