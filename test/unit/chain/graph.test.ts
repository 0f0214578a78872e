import { describe, expect, it } from '@jest/globals';
import { FailureReason } from '../../../src/api/conditions.js';
import { orderChain, type ChainInput, type ChainNode } from '../../../src/chain/graph.js';

/** A node in namespace apps depending on the named nodes (`ns/name` for another namespace). */
function node(name: string, ...dependsOn: string[]): ChainNode {
  const [namespace, local] = name.includes('/') ? name.split('/') : ['apps', name];
  return {
    namespace: namespace ?? 'apps',
    name: local ?? name,
    dependsOn: dependsOn.map((d) =>
      d.includes('/') ? { namespace: d.split('/')[0] ?? '', name: d.split('/')[1] ?? '' } : { namespace: 'apps', name: d },
    ),
  };
}

function order(
  target: string,
  nodes: ChainNode[],
  flags: Partial<Pick<ChainInput, 'withDependencies' | 'withDependents'>>,
): string[] | string {
  const result = orderChain({
    kind: 'Kustomization',
    target: { namespace: 'apps', name: target },
    nodes,
    withDependencies: flags.withDependencies ?? false,
    withDependents: flags.withDependents ?? false,
  });
  if ('failure' in result) return `${result.failure.reason}: ${result.failure.message}`;
  return result.members.map((m) => `${m.role}:${m.namespace === 'apps' ? '' : `${m.namespace}/`}${m.name}`);
}

describe('orderChain', () => {
  const chain = [node('infra'), node('database', 'infra'), node('app', 'database'), node('other')];

  it('puts the dependencies upstream first, then the target', () => {
    expect(order('app', chain, { withDependencies: true })).toEqual(['Dependency:infra', 'Dependency:database', 'Target:app']);
  });

  it('puts the dependents after the target, transitively, in dependsOn order', () => {
    expect(order('infra', chain, { withDependents: true })).toEqual(['Target:infra', 'Dependent:database', 'Dependent:app']);
  });

  it('does both around the target', () => {
    expect(order('database', chain, { withDependencies: true, withDependents: true })).toEqual([
      'Dependency:infra',
      'Target:database',
      'Dependent:app',
    ]);
  });

  it('lists a dependency shared by two branches once, before both (a diamond)', () => {
    const diamond = [node('base'), node('left', 'base'), node('right', 'base'), node('top', 'left', 'right')];
    expect(order('top', diamond, { withDependencies: true })).toEqual([
      'Dependency:base',
      'Dependency:left',
      'Dependency:right',
      'Target:top',
    ]);
    expect(order('base', diamond, { withDependents: true })).toEqual(['Target:base', 'Dependent:left', 'Dependent:right', 'Dependent:top']);
  });

  it('orders a dependent after another dependent it depends on, whatever their names', () => {
    const nodes = [node('root'), node('b-second', 'root', 'z-first'), node('z-first', 'root')];
    expect(order('root', nodes, { withDependents: true })).toEqual(['Target:root', 'Dependent:z-first', 'Dependent:b-second']);
  });

  it("follows dependsOn into other namespaces (the namespace defaults are the reader's)", () => {
    const nodes = [node('platform/infra'), node('app', 'platform/infra')];
    expect(order('app', nodes, { withDependencies: true })).toEqual(['Dependency:platform/infra', 'Target:app']);
  });

  it('leaves out what is not asked for: without withDependents no dependent, without withDependencies no dependency', () => {
    expect(order('database', chain, { withDependencies: true })).toEqual(['Dependency:infra', 'Target:database']);
    expect(order('database', chain, { withDependents: true })).toEqual(['Target:database', 'Dependent:app']);
  });

  it('names a cycle among the dependencies', () => {
    const nodes = [node('a', 'b'), node('b', 'c'), node('c', 'a')];
    expect(order('a', nodes, { withDependencies: true })).toBe(
      `${FailureReason.DependencyCycle}: spec.dependsOn has a cycle: Kustomization apps/a → Kustomization apps/b → Kustomization apps/c → Kustomization apps/a`,
    );
  });

  it('names a cycle among the dependents', () => {
    const nodes = [node('root'), node('x', 'root', 'y'), node('y', 'x')];
    expect(order('root', nodes, { withDependents: true })).toMatch(
      /^DependencyCycle: spec.dependsOn has a cycle: Kustomization apps\/(x|y) → Kustomization apps\/(x|y) → Kustomization apps\/(x|y)$/,
    );
  });

  it('names an object that depends on itself', () => {
    expect(order('a', [node('a', 'a')], { withDependencies: true })).toBe(
      `${FailureReason.DependencyCycle}: spec.dependsOn has a cycle: Kustomization apps/a → Kustomization apps/a`,
    );
  });

  it('names a missing dependency and the object that names it', () => {
    const nodes = [node('database', 'infra'), node('app', 'database')];
    expect(order('app', nodes, { withDependencies: true })).toBe(
      `${FailureReason.TargetNotFound}: dependency Kustomization apps/infra not found (in the spec.dependsOn of Kustomization apps/database)`,
    );
  });

  it('does not read the dependencies of a dependent outside the chain', () => {
    // app also waits for "cache", which is not part of a chain from infra's dependents.
    const nodes = [node('infra'), node('app', 'infra', 'cache'), node('cache')];
    expect(order('infra', nodes, { withDependents: true })).toEqual(['Target:infra', 'Dependent:app']);
  });
});

describe('orderChain and the cross-namespace rule', () => {
  const input = (nodes: ChainNode[], flags: Partial<ChainInput>): ChainInput => ({
    kind: 'Kustomization',
    target: { namespace: 'apps', name: 'app' },
    nodes,
    withDependencies: false,
    withDependents: false,
    mayReach: (ns) => ns === 'apps',
    requestNamespace: 'apps',
    ...flags,
  });

  it('refuses a dependency in another namespace, existing or not, naming it', () => {
    for (const nodes of [[node('platform/infra'), node('app', 'platform/infra')], [node('app', 'platform/infra')]]) {
      const result = orderChain(input(nodes, { withDependencies: true }));
      expect(result).toEqual({
        failure: {
          reason: FailureReason.CrossNamespaceForbidden,
          message:
            "dependency Kustomization platform/infra is in another namespace; requests in namespace apps may act only on their own namespace (the operator's --cross-namespace-from lists namespaces that may do more)",
        },
      });
    }
  });

  it('refuses a dependent in another namespace, naming it', () => {
    const result = orderChain(input([node('app'), node('team/web', 'apps/app')], { withDependents: true }));
    expect('failure' in result && result.failure.reason).toBe(FailureReason.CrossNamespaceForbidden);
    expect('failure' in result && result.failure.message).toMatch(/^dependent Kustomization team\/web is in another namespace/);
  });
});
