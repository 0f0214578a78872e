// An operator settles once after it starts: when its caches have synced and every request found then
// has been looked at (its work queue empty), or SettleWaitMs after the sync when work keeps it busy.
// The process lifts its start-up heap limit then (src/runtime/heap-growth.ts).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { Group, Plural, Version } from '../../src/api/types.js';
import { ApiCallTimeoutMs } from '../../src/kube/client.js';
import { SettleWaitMs } from '../../src/operator/manager.js';
import { FaultProxy, Hold } from '../support/fault-proxy.js';
import { createRequest, startOperator, type TestOperator } from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, waitFor } from '../support/kube.js';
import { FakeClock, settle } from '../unit/runtime/fake-clock.js';

/** Requests found finished at start, an hour ago (no outcome Event is looked for). */
const Finished = 20;

let admin: k8s.KubeConfig;
const namespaces: string[] = [];
let operator: TestOperator | undefined;
let proxy: FaultProxy | undefined;

/** Creates a request and writes a Succeeded status to it, completed at completedMs, with a TTL when given. */
async function finishByHand(
  ns: string,
  name: string,
  completedMs = Date.now() - 3600_000,
  ttlSecondsAfterFinished?: number,
): Promise<void> {
  const created = await createRequest(admin, ns, name, {
    action: 'Reconcile',
    target: { kind: 'Kustomization', name: 'app' },
    ...(ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished } : {}),
  });
  const at = new Date(completedMs).toISOString().replace(/\.\d+Z$/, 'Z');
  const ready = { type: 'Ready', status: 'True', reason: 'Succeeded', message: 'applied', lastTransitionTime: at };
  await admin.makeApiClient(k8s.CustomObjectsApi).replaceNamespacedCustomObjectStatus({
    group: Group,
    version: Version,
    plural: Plural,
    namespace: ns,
    name,
    body: { ...created, status: { phase: 'Succeeded', message: ready.message, startTime: at, completionTime: at, conditions: [ready] } },
  });
}

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
    await Promise.all(Array.from({ length: Finished }, (_, i) => finishByHand(ns, `done-${i}`)));
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

  it('settles SettleWaitMs after the sync when a request keeps a worker busy', async () => {
    expect(SettleWaitMs).toBeLessThan(ApiCallTimeoutMs);
    const ns = await createNamespace(admin, 'settle-busy');
    namespaces.push(ns);
    const clock = new FakeClock();
    // Finished an hour before the operator's (fake) now, with a TTL of a minute: its first look deletes
    // it, with no policy to consult first. The delete gets no answer: the worker waits for its deadline.
    await finishByHand(ns, 'held', clock.now() - 3600_000, 60);
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
