// Whether an API server's 403 is its verdict. Right after kube-apiserver starts it serves requests
// before its RBAC authorizer has loaded the roles and bindings, and refuses what they would allow:
// with "role ... not found" when it has the bindings but not the roles (isRoleNotFound), with a
// plain refusal when it has neither. /readyz answers 200 only once its informers (RBAC's among
// them) have synced, so a refusal from an API server that is not ready is not a verdict.
import type { ClusterAccess } from './access.js';
import { kubeClient } from './client.js';
import { isForbidden, isRoleNotFound } from './errors.js';

/** Answers whether a 403 stands: true when the API server that gave it is ready (/readyz is 200). */
export type RefusalCheck = (err: unknown, signal?: AbortSignal) => Promise<boolean>;

/** How long /readyz may take to answer before the API server counts as not ready. */
const ReadyzTimeoutMs = 5_000;

/** A RefusalCheck against kc's API server. */
export function refusalCheck(kc: ClusterAccess): RefusalCheck {
  const client = kubeClient(kc);
  return async (err, signal) => {
    if (!isForbidden(err) || isRoleNotFound(err)) return false;
    try {
      // Any answer but 200 reads as not ready: a 403 for /readyz itself (system:public-info-viewer
      // not loaded yet) too.
      await client.request('GET', '/readyz', { signal, timeoutMs: ReadyzTimeoutMs });
      return true;
    } catch {
      return false;
    }
  };
}
