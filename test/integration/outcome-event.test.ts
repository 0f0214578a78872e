// A request's outcome Event is recorded even when the status write that finished it was carried out
// but its answer was lost (the operator talks through a proxy that cuts that one answer), or when
// the operator that finished it died before the Event (played by finishing a request's status by
// hand while no operator runs); an operator that sees a finished request with its Event records none
// again, and one finished long ago gets none.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { Kind } from '../../src/api/types.js';
import type { FluxSimulator } from '../simulator/flux-simulator.js';
import { FaultProxy, LoseAnswer } from '../support/fault-proxy.js';
import {
  createFluxObject,
  createRequest,
  finishRequestByHand,
  startOperator,
  startSimulator,
  waitForPhase,
  type TestOperator,
} from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, waitFor } from '../support/kube.js';

let admin: k8s.KubeConfig;
let ns: string;
let proxy: FaultProxy;
let operator: TestOperator | undefined;
let simulator: FluxSimulator;
/** Status writes of the request named `lost`: the second, which finishes it, loses its answer. */
let lostWrites = 0;

async function eventsOf(name: string): Promise<k8s.CoreV1Event[]> {
  const list = await admin
    .makeApiClient(k8s.CoreV1Api)
    .listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${name},involvedObject.kind=${Kind}` });
  return list.items;
}

const reasons = async (name: string): Promise<string[]> => (await eventsOf(name)).map((e) => e.reason ?? '').sort();

beforeAll(async () => {
  admin = adminKubeConfig();
  ns = await createNamespace(admin, 'outcome-event');
  proxy = new FaultProxy({
    admin,
    fail: ({ method, path }) => {
      if (method !== 'PUT' || !path.endsWith('/fluxactionrequests/lost/status')) return false;
      lostWrites += 1;
      return lostWrites === 2 ? LoseAnswer : false;
    },
  });
  const server = await proxy.start();
  simulator = await startSimulator({ namespaces: [ns] });
  operator = await startOperator({ watchNamespace: ns }, undefined, server);
});

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed */
  await operator?.stop();
  await simulator?.stop();
  await proxy?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
  await deleteNamespace(admin, ns);
});

describe("a request's outcome Event", () => {
  it('is recorded when the answer to the status write that finished the request was lost', async () => {
    await createFluxObject(admin, 'Kustomization', ns, 'app');
    await createRequest(admin, ns, 'lost', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
    await waitForPhase(admin, ns, 'lost', 'Succeeded');
    // The write is carried out before its answer reaches the proxy, which then loses it: the
    // request can show Succeeded a moment before the proxy counts the answer lost.
    await waitFor('the proxy to lose the answer to the second status write', () => (proxy.failed > 0 ? true : undefined), 10_000);
    expect(proxy.failed).toBe(1);
    await waitFor('the outcome Event', async () => ((await reasons('lost')).includes('Succeeded') ? true : undefined));
    expect(await reasons('lost')).toEqual(['Requested', 'Succeeded']);
  });

  it('is recorded by an operator that finds a request finished recently without it, and not for old outcomes', async () => {
    await operator?.stop();
    operator = undefined;
    const now = Date.now();
    await finishRequestByHand(admin, ns, 'orphan', new Date(now - 60_000));
    await finishRequestByHand(admin, ns, 'history', new Date(now - 3_600_000));
    operator = await startOperator({ watchNamespace: ns });
    await waitFor('the orphan outcome Event', async () => ((await reasons('orphan')).includes('Succeeded') ? true : undefined));
    expect(await eventsOf('orphan')).toEqual([
      expect.objectContaining({ reason: 'Succeeded', message: expect.stringContaining('Kustomization applied by hand') }),
    ]);
    // The operator reconciles every request it finds when it starts; one created after them
    // finishing shows it got that far.
    await createRequest(admin, ns, 'after-restart', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
    await waitForPhase(admin, ns, 'after-restart', 'Succeeded');
    await waitFor('the later outcome Event', async () => ((await reasons('after-restart')).includes('Succeeded') ? true : undefined));
    expect(await reasons('history')).toEqual([]);
  });

  it('is not recorded again by an operator started afterwards', async () => {
    await operator?.stop();
    operator = await startOperator({ watchNamespace: ns });
    await createRequest(admin, ns, 'after-second-restart', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
    await waitForPhase(admin, ns, 'after-second-restart', 'Succeeded');
    await waitFor('the later outcome Event', async () =>
      (await reasons('after-second-restart')).includes('Succeeded') ? true : undefined,
    );
    expect(await reasons('lost')).toEqual(['Requested', 'Succeeded']);
    expect(await reasons('orphan')).toEqual(['Succeeded']);
  });
});
