// The policies decide every request that has not started, so an operator that starts (or restarts)
// with requests waiting acts on them once the policies are loaded, not before: each would otherwise
// go through a retry, with an error line apiece. The wait is bounded: policies that cannot be loaded
// leave the requests to wait for them one by one, within their timeouts. The operator talks through
// a proxy that answers 503 to every list and watch of FluxActionPolicies while they are "down".
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { PoliciesWaitMs } from '../../src/operator/manager.js';
import type { FluxSimulator } from '../simulator/flux-simulator.js';
import { FaultProxy } from '../support/fault-proxy.js';
import {
  createFluxObject,
  createRequest,
  ensureInstalled,
  getRequest,
  newOperator,
  startSimulator,
  waitForPhase,
  type TestOperator,
} from '../support/harness.js';
import { JumpClock } from '../support/jump-clock.js';
import { adminKubeConfig, createNamespace, deleteNamespace, waitFor } from '../support/kube.js';

const Policies = /\/fluxactionpolicies(\?|$)/;
let policiesDown = false;
let admin: k8s.KubeConfig;
let ns: string;
let proxy: FaultProxy;
let server: string;
let simulator: FluxSimulator;
let operator: TestOperator | undefined;

beforeAll(async () => {
  admin = adminKubeConfig();
  // The CRDs, before the requests that wait for the operator (which would install them only as it starts).
  await ensureInstalled();
  ns = await createNamespace(admin, 'policies-at-start');
  proxy = new FaultProxy({ admin, fail: ({ method, path }) => policiesDown && method === 'GET' && Policies.test(path) });
  server = await proxy.start();
  simulator = await startSimulator({ namespaces: [ns] });
  await createFluxObject(admin, 'Kustomization', ns, 'app');
});

afterEach(async () => {
  policiesDown = false;
  await operator?.stop();
  operator = undefined;
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed
  await simulator?.stop();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed
  await proxy?.stop();
  await deleteNamespace(admin, ns);
});

async function depth(op: TestOperator): Promise<number> {
  return (await op.operator.metrics.workqueueDepth.get()).values[0]?.value ?? 0;
}

async function retries(op: TestOperator): Promise<number> {
  return (await op.operator.metrics.workqueueRetries.get()).values[0]?.value ?? 0;
}

describe('an operator starting with requests waiting', () => {
  it('acts on them once the policies are loaded, without a retry', async () => {
    await createRequest(admin, ns, 'waiting', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
    policiesDown = true;
    const op = (operator = await newOperator({ watchNamespace: ns }, undefined, server));
    const started = op.operator.start();
    // The requests load while the policies do not: the list of policies fails, and again after its backoff.
    await waitFor('the list of policies to fail', () => (proxy.failed > 0 ? true : undefined));
    const failedOnce = proxy.failed;
    await waitFor('the list of policies to fail again', () => (proxy.failed > failedOnce ? true : undefined));
    expect(op.syncs()).toBe(0);
    expect(await retries(op)).toBe(0);
    expect((await getRequest(admin, ns, 'waiting')).status).toBeUndefined();

    policiesDown = false;
    await started;
    expect(op.syncs()).toBe(1);
    await waitForPhase(admin, ns, 'waiting', 'Succeeded');
    expect(await retries(op)).toBe(0);
  });

  it('starts anyway after PoliciesWaitMs, the requests waiting for the policies one by one', async () => {
    await createRequest(admin, ns, 'later', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
    const tokensBefore = simulator.record('Kustomization', ns, 'app').requestedAt.length;
    policiesDown = true;
    const clock = new JumpClock();
    const op = (operator = await newOperator({ watchNamespace: ns }, undefined, server, clock));
    const started = op.operator.start();
    await waitFor('the list of policies to fail', () => (proxy.failed > 0 ? true : undefined));
    // The requests are loaded (the waiting one is queued), so the wait for the policies has begun.
    await waitFor('the request to be queued', async () => ((await depth(op)) >= 1 ? true : undefined));
    expect(op.syncs()).toBe(0);

    clock.jump(PoliciesWaitMs);
    await started;
    expect(op.syncs()).toBe(1);
    // The request is looked at, and waits: the policies that would decide it are still not loaded.
    await waitFor('the request to be retried', async () => ((await retries(op)) > 0 ? true : undefined));
    const waiting = await getRequest(admin, ns, 'later');
    expect(waiting.status?.token).toBeUndefined();
    expect(simulator.record('Kustomization', ns, 'app').requestedAt).toHaveLength(tokensBefore);

    policiesDown = false;
    await waitForPhase(admin, ns, 'later', 'Succeeded');
  });
});
