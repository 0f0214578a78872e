// An operator settles once after it starts: when its caches have synced and every request found then
// has been looked at (its work queue empty), or SettleWaitMs after the sync when work keeps it busy.
// The process lifts its start-up heap limit then (src/runtime/heap-growth.ts).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { ApiCallTimeoutMs } from '../../src/kube/client.js';
import { SettleWaitMs } from '../../src/operator/manager.js';
import { FaultProxy, Hold } from '../support/fault-proxy.js';
import { finishRequestByHand, startOperator, type TestOperator } from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, waitFor } from '../support/kube.js';
import { FakeClock, settle } from '../unit/runtime/fake-clock.js';

/** Requests found finished at start, an hour ago (no outcome Event is looked for). */
const Finished = 20;

let admin: k8s.KubeConfig;
const namespaces: string[] = [];
let operator: TestOperator | undefined;
let proxy: FaultProxy | undefined;

beforeAll(() => {
  admin = adminKubeConfig();
});

afterAll(async () => {
  await operator?.stop();
  await proxy?.stop();
  for (const ns of namespaces) await deleteNamespace(admin, ns);
});

describe('an operator settling after its start', () => {
  it('settles once its work queue has handled every request found at the sync', async () => {
    const ns = await createNamespace(admin, 'settle');
    namespaces.push(ns);
    await Promise.all(
      Array.from({ length: Finished }, (_, i) => finishRequestByHand(admin, ns, `done-${i}`, new Date(Date.now() - 3600_000))),
    );
    operator = await startOperator({ watchNamespace: ns });
    const startup = operator.startup;
    await waitFor('the operator to settle', () => (startup.length === 2 && startup.every((h) => h.depth !== undefined) ? true : undefined));
    expect(startup).toEqual([
      { hook: 'synced', depth: Finished },
      { hook: 'settled', depth: 0 },
    ]);
    await operator.stop();
    operator = undefined;
  });

  it('settles only once the outcome Events of the requests that finished recently have been looked for', async () => {
    const ns = await createNamespace(admin, 'settle-lookup');
    namespaces.push(ns);
    // Finished just now: the operator looks for each one's outcome Event at start (RecentOutcomeMs).
    await Promise.all(Array.from({ length: Finished }, (_, i) => finishRequestByHand(admin, ns, `recent-${i}`, new Date())));
    let holdLookups = true;
    const eventLists = `/api/v1/namespaces/${ns}/events?`;
    proxy = new FaultProxy({
      admin,
      fail: ({ method, path }) => (holdLookups && method === 'GET' && path.startsWith(eventLists) ? Hold : false),
    });
    const server = await proxy.start();
    operator = await startOperator({ watchNamespace: ns }, undefined, server);
    const { startup, operator: running } = operator;
    const held = proxy;
    await waitFor('the first lookup to be held', () => (held.holding === 1 ? true : undefined));
    // Every request has been looked at: nothing is queued, the held lookup is all that is left.
    await waitFor('the work queue to empty', async () =>
      (await running.metrics.workqueueDepth.get()).values[0]?.value === 0 ? true : undefined,
    );
    await settle();
    expect(startup.map((h) => h.hook)).toEqual(['synced']);
    holdLookups = false;
    held.release();
    // The cut list is tried again (EventRetryMs later), then the rest of the batch is looked for.
    await waitFor('the operator to settle', () => (startup.length === 2 && startup[1]?.depth !== undefined ? true : undefined));
    expect(startup).toEqual([
      { hook: 'synced', depth: Finished },
      { hook: 'settled', depth: 0 },
    ]);
    await operator.stop();
    operator = undefined;
    await proxy.stop();
    proxy = undefined;
  });

  it('settles SettleWaitMs after the sync when a request keeps a worker busy', async () => {
    expect(SettleWaitMs).toBeLessThan(ApiCallTimeoutMs);
    const ns = await createNamespace(admin, 'settle-busy');
    namespaces.push(ns);
    const clock = new FakeClock();
    // Finished an hour before the operator's (fake) now, with a TTL of a minute: its first look deletes
    // it, with no policy to consult first. The delete gets no answer: the worker waits for its deadline.
    await finishRequestByHand(admin, ns, 'held', new Date(clock.now() - 3600_000), { ttlSecondsAfterFinished: 60 });
    proxy = new FaultProxy({
      admin,
      fail: ({ method, path }) => (method === 'DELETE' && path.endsWith(`/namespaces/${ns}/fluxactionrequests/held`) ? Hold : false),
    });
    const server = await proxy.start();
    operator = await startOperator({ watchNamespace: ns }, undefined, server, clock);
    const held = proxy;
    await waitFor('the delete to be held', () => (held.holding === 1 ? true : undefined));
    clock.advance(SettleWaitMs - 1);
    await settle();
    expect(operator.startup.map((h) => h.hook)).toEqual(['synced']);
    clock.advance(1);
    const startup = operator.startup;
    await waitFor('the operator to settle', () => (startup.length === 2 ? true : undefined));
    expect(startup.map((h) => h.hook)).toEqual(['synced', 'settled']);
    // Settled by the wait, not by an idle queue: the delete is still held.
    expect(held.holding).toBe(1);
  });
});
