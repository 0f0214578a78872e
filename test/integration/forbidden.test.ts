// When the operator's own RBAC refuses what a request needs, the request fails with Forbidden and
// the API server's words, instead of retrying forever.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { FailureReason } from '../../src/api/conditions.js';
import { apply, readManifests } from '../support/install.js';
import {
  createFluxObject,
  createRequest,
  ensureInstalled,
  getFluxObject,
  OperatorNamespace,
  readyReason,
  startOperator,
  waitForPhase,
  type TestOperator,
} from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, randomSuffix, repoRoot } from '../support/kube.js';
import path from 'node:path';

let kc: k8s.KubeConfig;
let ns: string;
let operator: TestOperator;
const account = `limited-${randomSuffix()}`;

/** The operator's ClusterRole from config/rbac, with `patch` taken away from Kustomizations. */
function roleWithoutKustomizationPatch(): k8s.V1ClusterRole {
  const role = readManifests(path.join(repoRoot, 'config', 'rbac', 'role.yaml'))[0] as k8s.V1ClusterRole;
  const rules = (role.rules ?? []).map((rule) =>
    rule.resources?.includes('kustomizations') ? { ...rule, verbs: rule.verbs.filter((v) => v !== 'patch') } : rule,
  );
  return { ...role, metadata: { name: account }, rules };
}

beforeAll(async () => {
  kc = adminKubeConfig();
  await ensureInstalled();
  ns = await createNamespace(kc, 'forbidden');
  await apply(kc, [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: account, namespace: OperatorNamespace } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', ...roleWithoutKustomizationPatch(), kind: 'ClusterRole' },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: account },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: account },
      subjects: [{ kind: 'ServiceAccount', name: account, namespace: OperatorNamespace }],
    } as k8s.KubernetesObject,
  ]);
  operator = await startOperator({ watchNamespace: ns }, account);
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await operator?.stop();
  await deleteNamespace(kc, ns);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  await rbac.deleteClusterRoleBinding({ name: account }).catch(() => undefined);
  await rbac.deleteClusterRole({ name: account }).catch(() => undefined);
  await kc
    .makeApiClient(k8s.CoreV1Api)
    .deleteNamespacedServiceAccount({ name: account, namespace: OperatorNamespace })
    .catch(() => undefined);
});

describe('the operator RBAC refuses', () => {
  it('fails the request with Forbidden and the API server message when it may not patch the target', async () => {
    await createFluxObject(kc, 'Kustomization', ns, 'guarded');
    await createRequest(kc, ns, 'needs-patch', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'guarded' } });
    const done = await waitForPhase(kc, ns, 'needs-patch', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.Forbidden);
    expect(done.status?.message).toContain(`the operator may not patch kustomizations.kustomize.toolkit.fluxcd.io in namespace ${ns}`);
    expect(done.status?.message).toContain(`system:serviceaccount:${OperatorNamespace}:${account}`);
    const target = await getFluxObject(kc, 'Kustomization', ns, 'guarded');
    expect(target.metadata.annotations?.['reconcile.fluxcd.io/requestedAt']).toBeUndefined();
  });
});
