// Requests for one target that a worker picks while another request's token for that target waits
// for Flux to handle an earlier one: they would share that token, so they write nothing until it
// is sent, then join it, and write their status once, with the outcome.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FluxActionRequest } from '../../src/api/types.js';
import { requestHistory, type HistoryWatch } from '../chaos/support/history.js';
import type { FluxSimulator } from '../simulator/flux-simulator.js';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import {
  createFluxObject,
  createRequest,
  ensureInstalled,
  getRequest,
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
let history: HistoryWatch<FluxActionRequest> | undefined;

beforeAll(async () => {
  // The CRDs, before the watch on requests lists them.
  await ensureInstalled();
  ns = await createNamespace(kc, 'waiting');
  simulator = await startSimulator({ namespaces: [ns] });
  history = requestHistory(kc, ns);
  await history.start();
  // Several workers: each request is picked as soon as it is created.
  operator = await startOperator({ watchNamespace: ns, concurrency: 4 });
});

afterAll(async () => {
  history?.stop();
  await operator?.stop();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await simulator?.stop();
  await deleteNamespace(kc, ns);
});

/** The versions of a request the watch saw that carry a status: one per status write. */
function statusWrites(name: string): number {
  return (history?.versions.get(name) ?? []).filter((v) => v.type !== 'DELETED' && Object.keys(v.object.status ?? {}).length > 0).length;
}

describe('requests picked while a token waits for Flux to handle an earlier one', () => {
  it('join that token when it is sent: two Flux reconciles, two Requested Events, one status write each', async () => {
    // Flux takes a while, so the first token is still unhandled while the others are created.
    await createFluxObject(kc, 'Kustomization', ns, 'slow', { annotations: { [SimAnnotation.delayMs]: '3000' } });
    await waitFor('the simulator to make the Kustomization Ready', () =>
      simulator.record('Kustomization', ns, 'slow').reconciles >= 1 ? true : undefined,
    );
    const spec = { action: 'Reconcile' as const, target: { kind: 'Kustomization', name: 'slow' } };
    // The first request's token is sent; Flux is busy with it.
    await createRequest(kc, ns, 'first', spec);
    await waitFor('the first token to reach the Kustomization', () =>
      simulator.record('Kustomization', ns, 'slow').requestedAt.length >= 1 ? true : undefined,
    );
    // The second mints the next token and writes it, waiting for Flux to handle the first.
    await createRequest(kc, ns, 'second', spec);
    const second = await waitFor('the second request to hold the next token', async () => {
      const request = await getRequest(kc, ns, 'second');
      return request.status?.token ? request : undefined;
    });
    expect(second.status?.message).toMatch(/^waiting for Flux to handle the request .* first$/);
    // These would share the second's token, which is not sent yet.
    const waiting = ['third', 'fourth', 'fifth'];
    for (const name of waiting) await createRequest(kc, ns, name, spec);

    const done: FluxActionRequest[] = [];
    for (const name of ['first', 'second', ...waiting]) done.push(await waitForPhase(kc, ns, name, 'Succeeded', 60_000));
    const written = simulator.record('Kustomization', ns, 'slow').requestedAt;
    expect(written).toHaveLength(2);
    expect(done[0]?.status?.token).toBe(written[0]);
    for (const request of done.slice(1)) expect(request.status?.token).toBe(written[1]);
    // Those that joined wrote their status once, with the outcome; the two that wrote a token, twice or more.
    await waitFor('the watch to see every outcome', () =>
      done.every((r) => history?.versions.get(r.metadata.name)?.some((v) => v.object.status?.phase === 'Succeeded')) ? true : undefined,
    );
    for (const name of waiting) expect([name, statusWrites(name)]).toEqual([name, 1]);
    for (const name of ['first', 'second']) expect(statusWrites(name)).toBeGreaterThanOrEqual(2);
    // Only the two that wrote a token recorded a Requested Event; every one has its outcome Event.
    const events = await waitFor('every request to have its Succeeded Event', async () => {
      const all = await Promise.all(done.map((r) => requestEvents(kc, ns, r.metadata.name)));
      return all.every((list) => list.some((e) => e.reason === 'Succeeded')) ? all : undefined;
    });
    expect(events.map((list) => list.filter((e) => e.reason === 'Requested').length)).toEqual([1, 1, 0, 0, 0]);
  }, 120_000);
});
