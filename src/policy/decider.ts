// The policies' answer for one request, from the policy store's caches: what the reconciler's
// `policy` dependency calls before a request may start.
import { OriginLabel, RequestedByAnnotation, RequestedByGroupsAnnotation, targetOf, type FluxActionRequest } from '../api/types.js';
import { evaluate, type LoadedPolicy, type PastAction, type PolicyDecision, type PolicySubject } from './evaluate.js';

/** What the decider needs of the policy store. */
export interface PolicySource {
  readonly synced: boolean;
  watchFailing(): string | undefined;
  knowsNamespace(namespace: string): boolean;
  policiesFor(namespace: string): readonly LoadedPolicy[];
}

/** Thrown while the policies cannot be known yet: the request waits (within its timeout) instead of being decided blind. */
export class PoliciesNotLoadedError extends Error {
  override readonly name = 'PoliciesNotLoadedError';
}

/** The request as policies see it: its target, origin label, and who asked (annotations checked at admission). */
export function subjectOf(request: FluxActionRequest): PolicySubject {
  const annotations = request.metadata.annotations ?? {};
  const groups = annotations[RequestedByGroupsAnnotation];
  const target = targetOf(request);
  return {
    namespace: request.metadata.namespace ?? '',
    name: request.metadata.name,
    action: request.spec.action,
    target: { kind: target.kind, namespace: target.namespace, name: target.name },
    origin: request.metadata.labels?.[OriginLabel],
    requestedBy: annotations[RequestedByAnnotation],
    groups: groups ? groups.split(',').filter((g) => g !== '') : [],
  };
}

/**
 * The reconciler's `policy` dependency over a policy store: evaluates the policies that govern the
 * request's namespace. Throws PoliciesNotLoadedError until the store has loaded the policies and
 * the namespace's labels (a ClusterFluxActionPolicy's selector needs them), and while one of their
 * watches is restarting after an error.
 */
export function policyDecider(
  store: PolicySource,
): (request: FluxActionRequest, history: () => readonly PastAction[], now: number) => PolicyDecision {
  return (request, history, now) => {
    const namespace = request.metadata.namespace ?? '';
    if (!store.synced)
      throw new PoliciesNotLoadedError(
        'the FluxActionPolicies and ClusterFluxActionPolicies are not loaded yet (is their CRD installed, and may the operator list them?)',
      );
    // A policy made while its watch was down would be missed: a request is not decided blind.
    const failing = store.watchFailing();
    if (failing !== undefined) throw new PoliciesNotLoadedError(`${failing}; a policy made meanwhile would not be seen yet`);
    if (!store.knowsNamespace(namespace)) throw new PoliciesNotLoadedError(`the labels of namespace ${namespace} are not loaded yet`);
    return evaluate({ request: subjectOf(request), now, policies: store.policiesFor(namespace), history });
  };
}
