// Users for governance tests: the admin impersonates them (Impersonate-User), so the API server
// authenticates, authorises and admits each call as that user, and RoleBindings grant them roles.
import * as k8s from '@kubernetes/client-node';
import type { RequestSpec } from '../../src/api/types.js';
import { ApiVersion, Group, Kind, Plural, RequestedByAnnotation, Version } from '../../src/api/types.js';
import { waitFor } from './kube.js';
import { apiMessage, statusCode } from '../../src/kube/errors.js';
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
  labels?: Record<string, string>;
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
      metadata: {
        name,
        namespace,
        ...(init.annotations ? { annotations: init.annotations } : {}),
        ...(init.labels ? { labels: init.labels } : {}),
      },
      spec: init.spec,
    },
  })) as { metadata: { name: string; annotations?: Record<string, string> } };
}

/** Merge-patches a request's annotations (null removes one) as whoever kc authenticates as. */
export function patchAnnotations(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  annotations: Record<string, string | null>,
): Promise<unknown> {
  return kc
    .makeApiClient(k8s.CustomObjectsApi)
    .patchNamespacedCustomObject(
      { group: Group, version: Version, plural: Plural, namespace, name, body: { metadata: { annotations } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
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
    // client-node's ApiException and the operator's client's ApiError alike (the RequestService's).
    const code = statusCode(err);
    if (code !== undefined) return { code, message: apiMessage(err) };
    throw err;
  }
  throw new Error('the API server accepted what it should have refused');
}

/**
 * Labels a namespace fluxaction.io/requested-by=client, which the mutating requested-by policy
 * leaves out (as a cluster without MutatingAdmissionPolicy would), and waits until the API server
 * acts on it: the binding's namespaceSelector sees a new label shortly after it is set. The probe
 * is a dry run as `as` (default: the admin).
 */
export async function leaveOutOfFillingIn(admin: k8s.KubeConfig, namespace: string, as: k8s.KubeConfig = admin): Promise<void> {
  await admin
    .makeApiClient(k8s.CoreV1Api)
    .patchNamespace(
      { name: namespace, body: { metadata: { labels: { 'fluxaction.io/requested-by': 'client' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  await waitFor('the filling-in policy to leave the namespace out', async () => {
    const probe = await createRequestAs(as, namespace, 'probe', {
      spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'probe' } },
      dryRun: true,
    });
    return probe.metadata.annotations?.[RequestedByAnnotation] === undefined ? true : undefined;
  });
}
