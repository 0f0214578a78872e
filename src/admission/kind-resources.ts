// What admission needs from the kinds table: each kind's API group and plural resource, the names
// the API server's authorizer checks the action verbs on, and the annotations admission guards.
import { fluxKinds } from '../flux/kinds.js';

export { RequestedByAnnotation } from '../api/types.js';

/** The custom verb a request's action needs on its target: `reconcile`, `suspend` or `resume`. */
export const ActionVerbs = { Reconcile: 'reconcile', Suspend: 'suspend', Resume: 'resume' } as const;

/** A kind's API group and plural resource, as RBAC and the authorizer name it. */
export interface KindResource {
  group: string;
  resource: string;
}

/** Kind → group and resource, for every kind the operator acts on, in the table's order. */
export const kindResources: Readonly<Record<string, KindResource>> = Object.fromEntries(
  fluxKinds.map((k) => [k.kind, { group: k.group, resource: k.plural }]),
);

/**
 * The Flux resources of the kinds the operator acts on, grouped by API group in the table's order:
 * the shape of RBAC rules. With reconcilableOnly, kinds with nothing to reconcile (Alert, Provider)
 * are left out.
 */
export function resourcesByGroup(reconcilableOnly = false): { apiGroups: string[]; resources: string[] }[] {
  const groups = new Map<string, string[]>();
  for (const k of fluxKinds) {
    if (reconcilableOnly && !k.reconcilable) continue;
    const list = groups.get(k.group) ?? [];
    list.push(k.plural);
    groups.set(k.group, list);
  }
  return [...groups].map(([group, resources]) => ({ apiGroups: [group], resources }));
}
