import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { FailureReason, SuccessReason } from '../../src/api/conditions.js';
import type { FluxSimulator } from '../simulator/flux-simulator.js';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import {
  createFluxObject,
  createRequest,
  getFluxObject,
  readyReason,
  startOperator,
  startSimulator,
  waitForPhase,
  type TestOperator,
} from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace } from '../support/kube.js';

let kc: k8s.KubeConfig;
let ns: string;
let operator: TestOperator;
let simulator: FluxSimulator;

beforeAll(async () => {
  kc = adminKubeConfig();
  operator = await startOperator();
  ns = await createNamespace(kc, 'reconcile');
  simulator = await startSimulator({ namespaces: [ns] });
});

afterAll(async () => {
  await operator?.stop();
  await simulator?.stop();
  await deleteNamespace(kc, ns);
});

describe('Reconcile', () => {
  it('writes one token, follows Flux and reports the applied revision', async () => {
    await createFluxObject(kc, 'Kustomization', ns, 'app', { annotations: { [SimAnnotation.revision]: 'main@sha1:1a2b3c' } });
    await createRequest(kc, ns, 'reconcile-app', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
    const done = await waitForPhase(kc, ns, 'reconcile-app', 'Succeeded');
    expect(readyReason(done)).toBe(SuccessReason.Succeeded);
    expect(done.status?.message).toBe(`Kustomization ${ns}/app: applied revision main@sha1:1a2b3c`);
    const target = await getFluxObject(kc, 'Kustomization', ns, 'app');
    expect(target.metadata.annotations?.['reconcile.fluxcd.io/requestedAt']).toBe(done.status?.token);
    expect(target.status?.lastHandledReconcileAt).toBe(done.status?.token);
    expect(simulator.record('Kustomization', ns, 'app').requestedAt).toEqual([done.status?.token]);
  });

  it('reports a failing reconcile with Flux message long before the timeout', async () => {
    await createFluxObject(kc, 'Kustomization', ns, 'broken', {
      annotations: { [SimAnnotation.outcome]: 'Failed', [SimAnnotation.reason]: 'BuildFailed', [SimAnnotation.message]: 'kustomize build failed: accumulating resources' },
    });
    const started = Date.now();
    await createRequest(kc, ns, 'reconcile-broken', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'broken' }, timeout: '5m' });
    const done = await waitForPhase(kc, ns, 'reconcile-broken', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.ReconciliationFailed);
    expect(done.status?.message).toBe(`Kustomization ${ns}/broken: BuildFailed: kustomize build failed: accumulating resources`);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('refuses a missing target', async () => {
    await createRequest(kc, ns, 'reconcile-missing', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'missing' } });
    const done = await waitForPhase(kc, ns, 'reconcile-missing', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.TargetNotFound);
  });
});
