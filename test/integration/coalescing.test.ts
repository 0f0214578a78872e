// A burst of requests for one target makes Flux reconcile once or twice, and every request gets
// the outcome of a reconcile that started after it was made.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import type { FluxSimulator } from '../simulator/flux-simulator.js';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import { createFluxObject, createRequest, getRequest, startOperator, startSimulator, waitForPhase, type TestOperator } from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace } from '../support/kube.js';

let kc: k8s.KubeConfig;
let ns: string;
let operator: TestOperator;
let simulator: FluxSimulator;

beforeAll(async () => {
  kc = adminKubeConfig();
  ns = await createNamespace(kc, 'burst');
  operator = await startOperator({ watchNamespace: ns });
  simulator = await startSimulator({ namespaces: [ns] });
});

afterAll(async () => {
  await operator?.stop();
  await simulator?.stop();
  await deleteNamespace(kc, ns);
});

describe('coalescing', () => {
  it('100 concurrent reconcile requests for one Kustomization all succeed with a handful of tokens written', async () => {
    // A reconcile takes a while, as Flux's does, so requests pile up while one is in flight.
    await createFluxObject(kc, 'Kustomization', ns, 'busy', { annotations: { [SimAnnotation.delayMs]: '300' } });
    const names = Array.from({ length: 100 }, (_, i) => `burst-${i}`);
    await Promise.all(names.map((name) => createRequest(kc, ns, name, { action: 'Reconcile', target: { kind: 'Kustomization', name: 'busy' } })));
    const done = [];
    for (const name of names) done.push(await waitForPhase(kc, ns, name, 'Succeeded', 60_000));

    const written = simulator.record('Kustomization', ns, 'busy').requestedAt;
    expect(written.length).toBeGreaterThanOrEqual(1);
    expect(written.length).toBeLessThanOrEqual(5);
    // Every request shares one of the written tokens, and was handled by a reconcile of it.
    for (const request of done) expect(written).toContain(request.status?.token);
    expect(simulator.record('Kustomization', ns, 'busy').reconciles).toBeLessThanOrEqual(written.length + 1);
  }, 120_000);

  it('does not share a token across requests with different options (force)', async () => {
    await createFluxObject(kc, 'HelmRelease', ns, 'mixed', { annotations: { [SimAnnotation.delayMs]: '200' } });
    await Promise.all([
      createRequest(kc, ns, 'plain-1', { action: 'Reconcile', target: { kind: 'HelmRelease', name: 'mixed' } }),
      createRequest(kc, ns, 'forced-1', { action: 'Reconcile', target: { kind: 'HelmRelease', name: 'mixed' }, force: true }),
      createRequest(kc, ns, 'plain-2', { action: 'Reconcile', target: { kind: 'HelmRelease', name: 'mixed' } }),
    ]);
    for (const name of ['plain-1', 'forced-1', 'plain-2']) await waitForPhase(kc, ns, name, 'Succeeded');
    const forced = await getRequest(kc, ns, 'forced-1');
    const plain = [await getRequest(kc, ns, 'plain-1'), await getRequest(kc, ns, 'plain-2')];
    for (const p of plain) expect(p.status?.token).not.toBe(forced.status?.token);
  });
});
