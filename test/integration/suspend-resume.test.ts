import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { FailureReason } from '../../src/api/conditions.js';
import type { FluxSimulator } from '../simulator/flux-simulator.js';
import { createFluxObject, createRequest, getFluxObject, readyReason, startOperator, startSimulator, waitForPhase, type TestOperator } from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace } from '../support/kube.js';

let kc: k8s.KubeConfig;
let ns: string;
let operator: TestOperator;
let simulator: FluxSimulator;

beforeAll(async () => {
  kc = adminKubeConfig();
  ns = await createNamespace(kc, 'suspend');
  operator = await startOperator({ watchNamespace: ns });
  simulator = await startSimulator({ namespaces: [ns] });
});

afterAll(async () => {
  await operator?.stop();
  await simulator?.stop();
  await deleteNamespace(kc, ns);
});

describe('Suspend, then Reconcile refused, then Resume', () => {
  it('suspends a Kustomization with spec.suspend and names the request on it', async () => {
    await createFluxObject(kc, 'Kustomization', ns, 'app');
    await createRequest(kc, ns, 'suspend-app', { action: 'Suspend', target: { kind: 'Kustomization', name: 'app' } });
    const done = await waitForPhase(kc, ns, 'suspend-app', 'Succeeded');
    expect(done.status?.message).toBe(`Kustomization ${ns}/app suspended`);
    const ks = await getFluxObject(kc, 'Kustomization', ns, 'app');
    expect(ks.spec['suspend']).toBe(true);
    expect(ks.metadata.annotations?.['fluxaction.io/suspended-by']).toBe(`${ns}/suspend-app`);
  });

  it('refuses to reconcile the suspended Kustomization and does not touch it', async () => {
    await createRequest(kc, ns, 'reconcile-suspended', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
    const done = await waitForPhase(kc, ns, 'reconcile-suspended', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.TargetSuspended);
    const ks = await getFluxObject(kc, 'Kustomization', ns, 'app');
    expect(ks.metadata.annotations?.['reconcile.fluxcd.io/requestedAt']).toBeUndefined();
  });

  it('resumes it with a token in the same patch, clears suspended-by, and waits until Flux reconciled it', async () => {
    await createRequest(kc, ns, 'resume-app', { action: 'Resume', target: { kind: 'Kustomization', name: 'app' } });
    const done = await waitForPhase(kc, ns, 'resume-app', 'Succeeded');
    const ks = await getFluxObject(kc, 'Kustomization', ns, 'app');
    expect(ks.spec['suspend']).toBe(false);
    expect(ks.metadata.annotations?.['fluxaction.io/suspended-by']).toBeUndefined();
    expect(ks.status?.lastHandledReconcileAt).toBe(done.status?.token);
    expect(done.status?.target?.ready).toBe('True');
  });

  it('suspends an already suspended object without changing who suspended it', async () => {
    await createFluxObject(kc, 'Kustomization', ns, 'frozen', { spec: { suspend: true } });
    await createRequest(kc, ns, 'suspend-frozen', { action: 'Suspend', target: { kind: 'Kustomization', name: 'frozen' } });
    const done = await waitForPhase(kc, ns, 'suspend-frozen', 'Succeeded');
    expect(done.status?.message).toBe(`Kustomization ${ns}/frozen was already suspended`);
    const ks = await getFluxObject(kc, 'Kustomization', ns, 'frozen');
    expect(ks.metadata.annotations?.['fluxaction.io/suspended-by']).toBeUndefined();
  });
});

describe('flux-operator kinds', () => {
  it.each([
    ['ResourceSet', 'apps'],
    ['FluxInstance', 'flux'],
  ])('suspends and resumes a %s through the fluxcd.controlplane.io/reconcile annotation', async (kind, name) => {
    await createFluxObject(kc, kind, ns, name);
    await createRequest(kc, ns, `suspend-${name}`, { action: 'Suspend', target: { kind, name } });
    await waitForPhase(kc, ns, `suspend-${name}`, 'Succeeded');
    let obj = await getFluxObject(kc, kind, ns, name);
    expect(obj.metadata.annotations?.['fluxcd.controlplane.io/reconcile']).toBe('disabled');
    expect(obj.spec['suspend']).toBeUndefined();

    await createRequest(kc, ns, `reconcile-${name}`, { action: 'Reconcile', target: { kind, name } });
    expect(readyReason(await waitForPhase(kc, ns, `reconcile-${name}`, 'Failed'))).toBe(FailureReason.TargetSuspended);

    await createRequest(kc, ns, `resume-${name}`, { action: 'Resume', target: { kind, name } });
    const resumed = await waitForPhase(kc, ns, `resume-${name}`, 'Succeeded');
    obj = await getFluxObject(kc, kind, ns, name);
    expect(obj.metadata.annotations?.['fluxcd.controlplane.io/reconcile']).toBe('enabled');
    expect(obj.status?.lastHandledReconcileAt).toBe(resumed.status?.token);
  });
});

describe('kinds with nothing to reconcile', () => {
  it('suspends and resumes an Alert without a token', async () => {
    await createFluxObject(kc, 'Alert', ns, 'pager');
    await createRequest(kc, ns, 'suspend-pager', { action: 'Suspend', target: { kind: 'Alert', name: 'pager' } });
    await waitForPhase(kc, ns, 'suspend-pager', 'Succeeded');
    expect((await getFluxObject(kc, 'Alert', ns, 'pager')).spec['suspend']).toBe(true);
    await createRequest(kc, ns, 'resume-pager', { action: 'Resume', target: { kind: 'Alert', name: 'pager' } });
    const done = await waitForPhase(kc, ns, 'resume-pager', 'Succeeded');
    const alert = await getFluxObject(kc, 'Alert', ns, 'pager');
    expect(alert.spec['suspend']).toBe(false);
    expect(alert.metadata.annotations?.['reconcile.fluxcd.io/requestedAt']).toBeUndefined();
    expect(done.status?.token).toBeUndefined();
  });
});
