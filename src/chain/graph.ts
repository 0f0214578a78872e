// Chains, pure: from the spec.dependsOn graph of one kind to the ordered objects a request
// reconciles — the target's dependencies upstream first, the target, then the objects that depend
// on it. The reconciler reads the objects; this module only orders them, or says why it cannot.
import { FailureReason } from '../api/conditions.js';
import { StepRole } from '../api/types.js';
import { crossNamespaceMessage, type DependencyRef } from '../flux/objects.js';

/** An object of the chain's kind and the objects it depends on (spec.dependsOn). */
export interface ChainNode {
  namespace: string;
  name: string;
  dependsOn: readonly DependencyRef[];
}

/** One object of the chain, in the order the chain runs. */
export interface ChainMember {
  namespace: string;
  name: string;
  role: typeof StepRole.Dependency | typeof StepRole.Target | typeof StepRole.Dependent;
}

export interface ChainInput {
  /** The kind of every node, for messages. */
  kind: string;
  target: { namespace: string; name: string };
  /** Every object of the kind the operator can see (the target among them). */
  nodes: readonly ChainNode[];
  withDependencies: boolean;
  withDependents: boolean;
  /**
   * Whether the request may act in a namespace (the cross-namespace rule, per step); an object it
   * may not reach fails the chain with CrossNamespaceForbidden whether or not it exists. Default: any.
   */
  mayReach?: (namespace: string) => boolean;
  /** The request's namespace, for that message. */
  requestNamespace?: string;
}

export type ChainOrder =
  | { members: ChainMember[] }
  | {
      failure: {
        reason: typeof FailureReason.DependencyCycle | typeof FailureReason.TargetNotFound | typeof FailureReason.CrossNamespaceForbidden;
        message: string;
      };
    };

const keyOf = (r: { namespace: string; name: string }): string => `${r.namespace}/${r.name}`;

/**
 * Orders a chain: with withDependencies, the target's dependsOn graph in topological order (a
 * dependency before every object that depends on it; siblings in dependsOn order), then the
 * target; with withDependents, after the target every object that depends on it directly or
 * through others, again in topological order (ties by namespace/name). A cycle is a
 * DependencyCycle naming it; a dependency that does not exist is TargetNotFound naming it and the
 * object that depends on it; an object in a namespace the request may not reach is
 * CrossNamespaceForbidden naming it.
 */
export function orderChain(input: ChainInput): ChainOrder {
  const nodes = new Map(input.nodes.map((n) => [keyOf(n), n]));
  const name = (key: string): string => `${input.kind} ${key}`;
  const targetKey = keyOf(input.target);

  // Depth first along dependsOn, from the given roots; `within` limits the walk to a set of nodes.
  const walk = (
    roots: readonly string[],
    part: 'dependency' | 'dependent',
    within?: ReadonlySet<string>,
  ): { order: string[] } | { failure: ChainOrderFailure } => {
    const order: string[] = [];
    const done = new Set<string>();
    const path: string[] = [];
    const visit = (key: string, from: string | undefined): ChainOrderFailure | undefined => {
      if (done.has(key)) return undefined;
      const onPath = path.indexOf(key);
      if (onPath >= 0) {
        const cycle = [...path.slice(onPath), key].map(name).join(' → ');
        return { reason: FailureReason.DependencyCycle, message: `spec.dependsOn has a cycle: ${cycle}` };
      }
      const namespace = key.slice(0, key.indexOf('/'));
      if (key !== targetKey && input.mayReach && !input.mayReach(namespace)) {
        return {
          reason: FailureReason.CrossNamespaceForbidden,
          message: crossNamespaceMessage(`${part} ${name(key)}`, input.requestNamespace ?? ''),
        };
      }
      const node = nodes.get(key);
      if (!node) {
        const of = from === undefined ? '' : ` (in the spec.dependsOn of ${name(from)})`;
        return { reason: FailureReason.TargetNotFound, message: `dependency ${name(key)} not found${of}` };
      }
      path.push(key);
      for (const dep of node.dependsOn) {
        const depKey = keyOf(dep);
        if (within && !within.has(depKey)) continue;
        const failure = visit(depKey, key);
        if (failure) return failure;
      }
      path.pop();
      done.add(key);
      order.push(key);
      return undefined;
    };
    for (const root of roots) {
      const failure = visit(root, undefined);
      if (failure) return { failure };
    }
    return { order };
  };

  const members: ChainMember[] = [];
  const member = (key: string, role: ChainMember['role']): ChainMember => {
    const slash = key.indexOf('/');
    return { namespace: key.slice(0, slash), name: key.slice(slash + 1), role };
  };

  if (input.withDependencies) {
    const walked = walk([targetKey], 'dependency');
    if ('failure' in walked) return walked;
    members.push(...walked.order.filter((k) => k !== targetKey).map((k) => member(k, StepRole.Dependency)));
  }
  members.push(member(targetKey, StepRole.Target));

  if (input.withDependents) {
    // Everything that reaches the target through dependsOn.
    const dependents = new Map<string, string[]>();
    for (const node of nodes.values()) {
      for (const dep of node.dependsOn) dependents.set(keyOf(dep), [...(dependents.get(keyOf(dep)) ?? []), keyOf(node)]);
    }
    const reached = new Set<string>([targetKey]);
    const queue = [targetKey];
    for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
      for (const next of dependents.get(key) ?? []) {
        if (!reached.has(next)) {
          reached.add(next);
          queue.push(next);
        }
      }
    }
    const walked = walk([...reached].sort(), 'dependent', reached);
    if ('failure' in walked) return walked;
    members.push(...walked.order.filter((k) => k !== targetKey).map((k) => member(k, StepRole.Dependent)));
  }
  return { members };
}

type ChainOrderFailure = Extract<ChainOrder, { failure: unknown }>['failure'];
