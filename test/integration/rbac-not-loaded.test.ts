// In the seconds after kube-apiserver starts, its RBAC authorizer refuses with 403 and says the roles
// the bindings name were "not found": it has not loaded them yet. Such a refusal says nothing about
// what the rules allow, so a request waits it through (within its timeout) instead of failing with
// Forbidden. Played here by binding the operator to a ClusterRole that is created only later.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import path from 'node:path';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import type { FluxSimulator } from '../simulator/flux-simulator.js';
import { apply, readManifests } from '../support/install.js';
import {
  createFluxObject,
  createRequest,
  ensureInstalled,
  OperatorNamespace,
  startOperator,
  startSimulator,
  waitForPhase,
  type TestOperator,
} from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, randomSuffix, repoRoot, waitFor } from '../support/kube.js';

let kc: k8s.KubeConfig;
let ns: string;
let operator: TestOperator;
let simulator: FluxSimulator;
const account = `late-rbac-${randomSuffix()}`;
const sourcesRole = `${account}-sources`;
const binding = (name: string): k8s.KubernetesObject =>
  ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: [{ kind: 'ServiceAccount', name: account, namespace: OperatorNamespace }],
  }) as k8s.KubernetesObject;

/** The operator's ClusterRole from config/rbac without GitRepositories, which come from sourcesRole. */
function roleWithoutGitRepositories(): k8s.V1ClusterRole {
  const role = readManifests(path.join(repoRoot, 'config', 'rbac', 'role.yaml'))[0] as k8s.V1ClusterRole;
  const rules = (role.rules ?? []).map((rule) => ({ ...rule, resources: rule.resources?.filter((r) => r !== 'gitrepositories') }));
  return { ...role, metadata: { name: account }, rules: rules.filter((rule) => rule.resources?.length !== 0) };
}

beforeAll(async () => {
  kc = adminKubeConfig();
  await ensureInstalled();
  ns = await createNamespace(kc, 'rbac-not-loaded');
  await apply(kc, [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: account, namespace: OperatorNamespace } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', ...roleWithoutGitRepositories(), kind: 'ClusterRole' },
    binding(account),
    // Bound before its ClusterRole exists: the authorizer answers "clusterrole ... not found".
    binding(sourcesRole),
  ]);
  operator = await startOperator({ watchNamespace: ns }, account);
  simulator = await startSimulator({ namespaces: [ns] });
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await operator?.stop();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await simulator?.stop();
  await deleteNamespace(kc, ns);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  for (const name of [account, sourcesRole]) {
    await rbac.deleteClusterRoleBinding({ name }).catch(() => undefined);
    await rbac.deleteClusterRole({ name }).catch(() => undefined);
  }
  await kc
    .makeApiClient(k8s.CoreV1Api)
    .deleteNamespacedServiceAccount({ name: account, namespace: OperatorNamespace })
    .catch(() => undefined);
});

describe('a 403 whose roles the authorizer has not loaded', () => {
  it('is waited through: the request goes on once the role exists, instead of failing with Forbidden', async () => {
    await createFluxObject(kc, 'GitRepository', ns, 'repo', { annotations: { [SimAnnotation.revision]: 'main@sha1:feed' } });
    await createFluxObject(kc, 'Kustomization', ns, 'app', { annotations: { [SimAnnotation.revision]: 'main@sha1:feed' } });
    await createRequest(kc, ns, 'late-rbac', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' }, withSource: true });

    // The operator has met the refusal: its GitRepository informer reports Forbidden.
    const failing = async (): Promise<boolean> => {
      const { values } = await operator.operator.metrics.informerSyncFailing.get();
      return values.some(
        (v) => v.labels.resource === 'gitrepositories.source.toolkit.fluxcd.io' && v.labels.reason === 'Forbidden' && v.value === 1,
      );
    };
    await waitFor('the GitRepository informer to report Forbidden', async () => ((await failing()) ? true : undefined));

    await apply(kc, [
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: sourcesRole },
        rules: [{ apiGroups: ['source.toolkit.fluxcd.io'], resources: ['gitrepositories'], verbs: ['get', 'list', 'watch', 'patch'] }],
      } as k8s.KubernetesObject,
    ]);
    const done = await waitForPhase(kc, ns, 'late-rbac', 'Succeeded', 60000);
    expect(done.status?.source).toMatchObject({ kind: 'GitRepository', name: 'repo', revision: 'main@sha1:feed' });
  });
});
