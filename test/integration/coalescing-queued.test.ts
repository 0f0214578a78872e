// Requests for one target that wait in the operator's queue while another request's token for that
// target is sent join that token: Flux reconciles once for all of them, and they write their status
// once, with the outcome.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FluxSimulator } from '../simulator/flux-simulator.js';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import {
  createFluxObject,
  createRequest,
  requestEvents,
  startOperator,
  startSimulator,
  waitForPhase,
  type TestOperator,
} from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, waitFor } from '../support/kube.js';

const kc = adminKubeConfig();
let ns: string;
let simulator: FluxSimulator;
let operator: TestOperator | undefined;

beforeAll(async () => {
  ns = await createNamespace(kc, 'queued');
  simulator = await startSimulator({ namespaces: [ns] });
});

afterAll(async () => {
  await operator?.stop();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await simulator?.stop();
  await deleteNamespace(kc, ns);
});

describe('requests waiting in the queue', () => {
  it('join the token sent for their target while they wait: one Flux reconcile, one Requested Event, every outcome recorded', async () => {
    // Flux takes a while, so the first token is not handled yet when the next request is picked.
    await createFluxObject(kc, 'Kustomization', ns, 'queued', { annotations: { [SimAnnotation.delayMs]: '500' } });
    await waitFor('the simulator to make the Kustomization Ready', () =>
      simulator.record('Kustomization', ns, 'queued').reconciles >= 1 ? true : undefined,
    );
    // The requests exist before the operator starts, and one worker takes them one at a time: when
    // the first one's token is sent, the others wait in the queue.
    const names = Array.from({ length: 5 }, (_, i) => `queued-${i}`);
    for (const name of names) await createRequest(kc, ns, name, { action: 'Reconcile', target: { kind: 'Kustomization', name: 'queued' } });
    operator = await startOperator({ watchNamespace: ns, concurrency: 1 });

    const done = [];
    for (const name of names) done.push(await waitForPhase(kc, ns, name, 'Succeeded', 60_000));
    const written = simulator.record('Kustomization', ns, 'queued').requestedAt;
    expect(written).toHaveLength(1);
    for (const request of done) {
      expect(request.status?.token).toBe(written[0]);
      expect(request.status?.message).toMatch(/^Kustomization .*\/queued: applied revision /);
    }
    // Only the request that wrote the token went through Running; each has its outcome Event.
    const events = await waitFor('every request to have its Succeeded Event', async () => {
      const all = await Promise.all(names.map((name) => requestEvents(kc, ns, name)));
      return all.every((list) => list.some((e) => e.reason === 'Succeeded')) ? all : undefined;
    });
    const requested = events.map((list) => list.filter((e) => e.reason === 'Requested').length);
    expect(requested.reduce((a, b) => a + b, 0)).toBe(1);
    for (const list of events) expect(list.filter((e) => e.reason === 'Succeeded')).toHaveLength(1);
  }, 120_000);
});
