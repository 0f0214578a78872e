// Two operator replicas, one Lease: only the leader acts, and the standby takes over when it goes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import type { FluxSimulator } from '../simulator/flux-simulator.js';
import {
  createFluxObject,
  createRequest,
  OperatorNamespace,
  startOperator,
  startSimulator,
  waitForPhase,
  type TestOperator,
} from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, randomSuffix, waitFor } from '../support/kube.js';

let kc: k8s.KubeConfig;
let ns: string;
let simulator: FluxSimulator;
const leaseName = `failover-${randomSuffix()}`;
const replicas: TestOperator[] = [];

async function holder(): Promise<string | undefined> {
  const lease = await kc.makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ name: leaseName, namespace: OperatorNamespace });
  return lease.spec?.holderIdentity || undefined;
}

beforeAll(async () => {
  kc = adminKubeConfig();
  ns = await createNamespace(kc, 'failover');
  simulator = await startSimulator({ namespaces: [ns] });
  await createFluxObject(kc, 'Kustomization', ns, 'app');
  for (let i = 0; i < 2; i++) replicas.push(await startOperator({ watchNamespace: ns, leaderElect: true, leaseName }));
});

afterAll(async () => {
  for (const r of replicas) await r.stop();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await simulator?.stop();
  await deleteNamespace(kc, ns);
  await kc
    .makeApiClient(k8s.CoordinationV1Api)
    .deleteNamespacedLease({ name: leaseName, namespace: OperatorNamespace })
    .catch(() => undefined);
});

describe('leader election', () => {
  it('lets one replica act, and the other take over when the leader stops', async () => {
    const first = await waitFor('a leader', holder);
    const leader = replicas.find((r) => r.operator.identity === first)!;
    const standby = replicas.find((r) => r.operator.identity !== first)!;
    expect(leader).toBeDefined();
    await createRequest(kc, ns, 'before-failover', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
    await waitForPhase(kc, ns, 'before-failover', 'Succeeded');
    expect((await leader.operator.metrics.leader.get()).values[0]?.value).toBe(1);
    expect((await standby.operator.metrics.leader.get()).values[0]?.value ?? 0).toBe(0);
    // Only the leader's controllers started, and synced once.
    expect(leader.syncs()).toBe(1);
    expect(standby.syncs()).toBe(0);

    await leader.stop();
    await waitFor('the standby to hold the Lease', async () => ((await holder()) === standby.operator.identity ? true : undefined), 30_000);
    await createRequest(kc, ns, 'after-failover', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
    await waitForPhase(kc, ns, 'after-failover', 'Succeeded');
    expect(standby.syncs()).toBe(1);
  }, 60_000);
});
