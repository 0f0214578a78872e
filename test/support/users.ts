// Users for governance tests: the admin impersonates them (Impersonate-User), so the API server
// authenticates, authorises and admits each call as that user, and RoleBindings grant them roles.
import * as k8s from '@kubernetes/client-node';
import type { RequestSpec } from '../../src/api/types.js';
import { ApiVersion, Group, Kind, Plural, Version } from '../../src/api/types.js';
import { reuseConnections } from '../../src/runtime/kubeconfig.js';

/** A KubeConfig that acts as `user` through the admin's right to impersonate (system:masters). */
export function impersonatedKubeConfig(admin: k8s.KubeConfig, user: string): k8s.KubeConfig {
  const cluster = admin.getCurrentCluster();
  const adminUser = admin.getCurrentUser();
  if (!cluster || !adminUser) throw new Error('admin kubeconfig has no current cluster or user');
  const kc = reuseConnections(new k8s.KubeConfig());
  const name = `as-${user}`;
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ ...adminUser, name, impersonateUser: user }],
    contexts: [{ name, cluster: cluster.name, user: name }],
    currentContext: name,
  });
  return kc;
}

/** Binds a ClusterRole (or a Role of the namespace) to a user in a namespace. */
export async function bindRole(
  admin: k8s.KubeConfig,
  namespace: string,
  user: string,
  role: { kind: 'ClusterRole' | 'Role'; name: string },
): Promise<void> {
  await admin.makeApiClient(k8s.RbacAuthorizationV1Api).createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: `${user}-${role.name}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: role.kind, name: role.name },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
    },
  });
}

/** Creates a Role in a namespace. */
export async function createRole(admin: k8s.KubeConfig, namespace: string, name: string, rules: k8s.V1PolicyRule[]): Promise<void> {
  await admin.makeApiClient(k8s.RbacAuthorizationV1Api).createNamespacedRole({ namespace, body: { metadata: { name }, rules } });
}

export interface RequestInit {
  spec: Partial<RequestSpec> & Pick<RequestSpec, 'action' | 'target'>;
  annotations?: Record<string, string>;
  dryRun?: boolean;
}

/** Creates a FluxActionRequest as whoever kc authenticates as; returns what the API server stored. */
export async function createRequestAs(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  init: RequestInit,
): Promise<{ metadata: { name: string; annotations?: Record<string, string> } }> {
  return (await kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
    group: Group,
    version: Version,
    plural: Plural,
    namespace,
    ...(init.dryRun ? { dryRun: 'All' } : {}),
    body: {
      apiVersion: ApiVersion,
      kind: Kind,
      metadata: { name, namespace, ...(init.annotations ? { annotations: init.annotations } : {}) },
      spec: init.spec,
    },
  })) as { metadata: { name: string; annotations?: Record<string, string> } };
}

export interface Refusal {
  code: number;
  message: string;
}

/** The HTTP status and the API server's message of a call that must fail; throws if it succeeds. */
export async function refusal(call: Promise<unknown>): Promise<Refusal> {
  try {
    await call;
  } catch (err) {
    if (err instanceof k8s.ApiException) {
      const body: unknown = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
      const message = (body as { message?: unknown } | null)?.message;
      return { code: err.code, message: typeof message === 'string' ? message : String(err.body) };
    }
    throw err;
  }
  throw new Error('the API server accepted what it should have refused');
}
