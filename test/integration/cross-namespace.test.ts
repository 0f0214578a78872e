import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { FailureReason } from '../../src/api/conditions.js';
import type { FluxSimulator } from '../simulator/flux-simulator.js';
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
let tenant: string;
let other: string;
let platform: string;
let operators: TestOperator[] = [];
let simulator: FluxSimulator;

beforeAll(async () => {
  kc = adminKubeConfig();
  tenant = await createNamespace(kc, 'tenant');
  other = await createNamespace(kc, 'other');
  platform = await createNamespace(kc, 'platform');
  // One operator per namespace whose requests it handles; only `platform` may cross namespaces.
  operators = [
    await startOperator({ watchNamespace: tenant, crossNamespaceFrom: [platform] }),
    await startOperator({ watchNamespace: platform, crossNamespaceFrom: [platform] }),
  ];
  simulator = await startSimulator({ namespaces: [other] });
  await createFluxObject(kc, 'Kustomization', other, 'infra');
});

afterAll(async () => {
  for (const operator of operators) await operator.stop();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await simulator?.stop();
  for (const ns of [tenant, other, platform]) await deleteNamespace(kc, ns);
});

describe('cross-namespace policy', () => {
  it('refuses a request for another namespace and leaves the target untouched', async () => {
    await createRequest(kc, tenant, 'reach-over', {
      action: 'Suspend',
      target: { kind: 'Kustomization', name: 'infra', namespace: other },
    });
    const done = await waitForPhase(kc, tenant, 'reach-over', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.CrossNamespaceForbidden);
    expect(done.status?.message).toContain(
      `Kustomization ${other}/infra is in another namespace; requests in namespace ${tenant} may act only on their own namespace`,
    );
    const infra = await getFluxObject(kc, 'Kustomization', other, 'infra');
    expect(infra.spec['suspend']).toBeUndefined();
    expect(infra.metadata.annotations).toBeUndefined();
  });

  it('lets a namespace listed in --cross-namespace-from act on another namespace', async () => {
    await createRequest(kc, platform, 'reconcile-infra', {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'infra', namespace: other },
    });
    const done = await waitForPhase(kc, platform, 'reconcile-infra', 'Succeeded');
    expect(done.status?.target).toMatchObject({ namespace: other, name: 'infra', ready: 'True' });
  });
});
