// The adapter's ServiceAccount (config/rbac/mcp_role.yaml) may create requests but may not touch a
// Flux object: every action goes through the operator.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { statusCode } from '../../../src/kube/errors.js';
import { createFluxObject, createRequest, OperatorNamespace, patchFluxObject, serviceAccountKubeConfig } from '../../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace } from '../../support/kube.js';
import { mcpKubeconfigFile, McpServiceAccount } from '../../support/mcp.js';

let admin: k8s.KubeConfig;
let adapter: k8s.KubeConfig;
let ns: string;

beforeAll(async () => {
  admin = adminKubeConfig();
  await mcpKubeconfigFile(); // installs the project, RBAC included
  adapter = await serviceAccountKubeConfig(admin, OperatorNamespace, McpServiceAccount);
  ns = await createNamespace(admin, 'mcp-rbac');
  await createFluxObject(admin, 'Kustomization', ns, 'app');
});

afterAll(async () => {
  await deleteNamespace(admin, ns);
});

describe('the MCP adapter ServiceAccount', () => {
  it('may create a FluxActionRequest', async () => {
    const created = await createRequest(adapter, ns, 'from-mcp', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
    expect(created.metadata.name).toBe('from-mcp');
  });

  it('may not patch a Kustomization', async () => {
    const refused = await patchFluxObject(adapter, 'Kustomization', ns, 'app', {
      metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': 'now' } },
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(statusCode(refused)).toBe(403);
  });

  it('may not read Secrets, nor write request status', async () => {
    const core = adapter.makeApiClient(k8s.CoreV1Api);
    expect(statusCode(await core.listNamespacedSecret({ namespace: ns }).catch((e: unknown) => e))).toBe(403);
    const review = await adapter.makeApiClient(k8s.AuthorizationV1Api).createSelfSubjectAccessReview({
      body: {
        spec: {
          resourceAttributes: {
            group: 'fluxaction.io',
            resource: 'fluxactionrequests',
            subresource: 'status',
            verb: 'update',
            namespace: ns,
          },
        },
      },
    });
    expect(review.status?.allowed).toBe(false);
  });

  it('may read what get_kubernetes_logs and trace_flux_resource follow, and no other workload or config kind', async () => {
    const may = async (verb: string, group: string, resource: string, subresource?: string): Promise<boolean> => {
      const review = await adapter.makeApiClient(k8s.AuthorizationV1Api).createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { group, resource, verb, namespace: ns, ...(subresource ? { subresource } : {}) } } },
      });
      return review.status?.allowed === true;
    };
    for (const [group, resource] of [
      ['apps', 'deployments'],
      ['apps', 'replicasets'],
      ['apps', 'statefulsets'],
      ['apps', 'daemonsets'],
      ['batch', 'jobs'],
      ['', 'services'],
      ['', 'pods'],
    ] as const) {
      expect([resource, await may('list', group, resource)]).toEqual([resource, true]);
      expect([resource, await may('patch', group, resource)]).toEqual([resource, false]);
    }
    expect(await may('get', '', 'pods', 'log')).toBe(true);
    for (const [group, resource] of [
      ['batch', 'cronjobs'],
      ['apps', 'controllerrevisions'],
      ['', 'configmaps'],
      ['', 'serviceaccounts'],
      ['', 'endpoints'],
      ['', 'secrets'],
    ] as const) {
      expect([resource, await may('get', group, resource)]).toEqual([resource, false]);
    }
  });
});
