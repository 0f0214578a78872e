// Who creates the bench's load and plays Flux. The kubeconfig's own user is system:masters, which
// API Priority and Fairness exempts from queueing: load created as it would be served ahead of
// the operator, whose ServiceAccount queues. A ServiceAccount of the bench's namespace, bound to
// cluster-admin for the run, queues as the operator, Flux's controllers and CI pipelines do.
import * as k8s from '@kubernetes/client-node';
import { statusCode } from '../../src/kube/errors.js';
import { serviceAccountKubeConfig } from '../support/harness.js';
import { waitFor } from '../support/kube.js';
import type { LoadUser } from './options.js';

/** The load's ServiceAccount, in the bench's namespace. */
export const LoadServiceAccount = 'bench-load';

export interface Load {
  kc: k8s.KubeConfig;
  /** Who it is, for the report. */
  user: string;
  /** Removes what was made for it (the namespace takes the ServiceAccount with it). */
  remove(): Promise<void>;
}

/** The kubeconfig the load runs as: the admin's own, or a ServiceAccount's, valid for a day. */
export async function loadKubeConfig(admin: k8s.KubeConfig, ns: string, as: LoadUser): Promise<Load> {
  if (as === 'admin')
    return { kc: admin, user: `${admin.getCurrentUser()?.name ?? 'admin'} (exempt from queueing)`, remove: async () => {} };
  const core = admin.makeApiClient(k8s.CoreV1Api);
  const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: LoadServiceAccount } } });
  // The simulator watches Flux kinds cluster-wide (it ignores other namespaces' objects).
  const binding = `fluxact-bench-load-${ns}`;
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: binding },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: LoadServiceAccount, namespace: ns }],
    },
  });
  const remove = async (): Promise<void> => {
    await rbac.deleteClusterRoleBinding({ name: binding }).catch(() => undefined);
  };
  try {
    const kc = await serviceAccountKubeConfig(admin, ns, LoadServiceAccount, 24 * 3600);
    // A new binding takes a moment to reach the authorizer's cache: until then the simulator's first
    // list would be refused and its informer would back off.
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    await waitFor(
      "the load ServiceAccount's binding to take effect",
      async () => {
        try {
          await custom.listClusterCustomObject({ group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations', limit: 1 });
          return true;
        } catch (err) {
          if (statusCode(err) === 403) return undefined;
          throw err;
        }
      },
      30_000,
      100,
    );
    return { kc, user: `system:serviceaccount:${ns}:${LoadServiceAccount}`, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}
