// A target whose kind the API server keeps refusing to list (here with 429s from API Priority and
// Fairness, as an overloaded or initialising server answers) holds no worker and still ends by the
// request's timeout, with a message saying what kept failing.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { FailureReason } from '../../src/api/conditions.js';
import { apply, readManifests } from '../support/install.js';
import {
  createFluxObject,
  createRequest,
  ensureInstalled,
  OperatorNamespace,
  readyReason,
  serviceAccountKubeConfig,
  startOperator,
  testApiVersion,
  waitForPhase,
  type TestOperator,
} from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, randomSuffix, repoRoot, waitFor } from '../support/kube.js';

let kc: k8s.KubeConfig;
let ns: string;
let operator: TestOperator;
const account = `throttled-${randomSuffix()}`;
const kustomizations = 'kustomizations.kustomize.toolkit.fluxcd.io';

beforeAll(async () => {
  kc = adminKubeConfig();
  await ensureInstalled();
  ns = await createNamespace(kc, 'unreadable');
  const role = readManifests(path.join(repoRoot, 'config', 'rbac', 'role.yaml'))[0] as k8s.V1ClusterRole;
  await apply(kc, [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: account, namespace: OperatorNamespace } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: account },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata?.name ?? '' },
      subjects: [{ kind: 'ServiceAccount', name: account, namespace: OperatorNamespace }],
    } as k8s.KubernetesObject,
    // A priority level with no seats that rejects, and this account's Kustomization reads sent to it.
    {
      apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
      kind: 'PriorityLevelConfiguration',
      metadata: { name: account },
      spec: {
        type: 'Limited',
        limited: { nominalConcurrencyShares: 0, lendablePercent: 0, borrowingLimitPercent: 0, limitResponse: { type: 'Reject' } },
      },
    } as k8s.KubernetesObject,
    {
      apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
      kind: 'FlowSchema',
      metadata: { name: account },
      spec: {
        priorityLevelConfiguration: { name: account },
        matchingPrecedence: 100,
        distinguisherMethod: { type: 'ByUser' },
        rules: [
          {
            subjects: [{ kind: 'ServiceAccount', serviceAccount: { name: account, namespace: OperatorNamespace } }],
            resourceRules: [
              {
                verbs: ['list', 'watch'],
                apiGroups: ['kustomize.toolkit.fluxcd.io'],
                resources: ['kustomizations'],
                namespaces: ['*'],
                clusterScope: true,
              },
            ],
          },
        ],
      },
    } as k8s.KubernetesObject,
  ]);
  // The API server picks up flow control changes asynchronously: wait until it refuses this account.
  const throttled = (await serviceAccountKubeConfig(kc, OperatorNamespace, account)).makeApiClient(k8s.CustomObjectsApi);
  const version = testApiVersion('Kustomization').split('/')[1] ?? '';
  await waitFor('the API server to answer 429 to the account listing Kustomizations', async () =>
    throttled.listNamespacedCustomObject({ group: 'kustomize.toolkit.fluxcd.io', version, namespace: ns, plural: 'kustomizations' }).then(
      () => undefined,
      (err: unknown) => ((err as { code?: number }).code === 429 ? true : undefined),
    ),
  );
  operator = await startOperator({ watchNamespace: ns, concurrency: 1 }, account);
});

afterAll(async () => {
  await operator?.stop();
  await deleteNamespace(kc, ns);
  const flow = kc.makeApiClient(k8s.FlowcontrolApiserverV1Api);
  await flow.deleteFlowSchema({ name: account }).catch(() => undefined);
  await flow.deletePriorityLevelConfiguration({ name: account }).catch(() => undefined);
  await kc
    .makeApiClient(k8s.RbacAuthorizationV1Api)
    .deleteClusterRoleBinding({ name: account })
    .catch(() => undefined);
  await kc
    .makeApiClient(k8s.CoreV1Api)
    .deleteNamespacedServiceAccount({ name: account, namespace: OperatorNamespace })
    .catch(() => undefined);
});

describe('a target whose kind cannot be listed', () => {
  it('ends the request by its timeout with what kept failing, without holding the only worker', async () => {
    await createFluxObject(kc, 'Kustomization', ns, 'unlistable');
    await createFluxObject(kc, 'GitRepository', ns, 'readable');
    await createRequest(kc, ns, 'stuck', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'unlistable' }, timeout: '8s' });
    await createRequest(kc, ns, 'other', { action: 'Reconcile', target: { kind: 'GitRepository', name: 'readable' }, wait: false });

    // With one worker, the other request is carried out while the stuck one is still running.
    const other = await waitForPhase(kc, ns, 'other', 'Succeeded', 20_000);
    expect(readyReason(other)).toBe('Requested');
    const stillRunning = await kc.makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({
      group: 'fluxaction.io',
      version: 'v1alpha1',
      plural: 'fluxactionrequests',
      namespace: ns,
      name: 'stuck',
    });
    expect((stillRunning as { status?: { phase?: string } }).status?.phase ?? 'Pending').not.toMatch(/Succeeded|Failed/);

    const stuck = await waitForPhase(kc, ns, 'stuck', 'Failed', 30_000);
    expect(readyReason(stuck)).toBe(FailureReason.Timeout);
    expect(stuck.status?.message).toMatch(
      new RegExp(
        `^no outcome within 8s: could not read Kustomization ${ns}/unlistable: the cache of ${kustomizations.replace(/\./g, '\\.')} has not synced`,
      ),
    );
    expect(stuck.status?.message).toContain('listing keeps failing: ');
    // By its timeout: creation and completion are whole seconds, and a retry lands on the deadline.
    const created = Date.parse(String(stuck.metadata.creationTimestamp));
    const completed = Date.parse(stuck.status?.completionTime ?? '');
    expect(completed - created).toBeGreaterThanOrEqual(7_000);
    expect(completed - created).toBeLessThanOrEqual(11_000);

    const metrics = await operator.operator.metrics.registry.metrics();
    expect(metrics).toContain(`fluxact_informer_sync_failing{resource="${kustomizations}",reason="Unavailable"} 1`);
  });
});
