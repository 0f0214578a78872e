// The MCP adapter's ClusterRole outside the Flux kinds: exactly what its tools read (pods, logs,
// events, the workloads get_kubernetes_logs and trace_flux_resource follow, CRDs), the same in
// config/rbac and in the chart.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { repoRoot } from '../../support/kube.js';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** The rules of the first document's ClusterRole (the chart's template text has no template directives there). */
function rulesIn(file: string): { rules: Rule[]; text: string } {
  const all = readFileSync(path.join(repoRoot, file), 'utf8');
  const start = all.indexOf('\nrules:\n');
  const text = all.slice(start + 1, all.indexOf('\n---', start));
  return { rules: (parse(text) as { rules: Rule[] }).rules, text: text.replace(/^\s*#.*\n/gm, '') };
}

const isFlux = (r: Rule): boolean => r.apiGroups.some((g) => g.endsWith('fluxcd.io') || g === 'fluxcd.controlplane.io');

describe("the MCP adapter's ClusterRole", () => {
  const config = rulesIn('config/rbac/mcp_role.yaml');

  it('reads exactly the non-Flux resources its tools need', () => {
    expect(config.rules.filter((r) => !isFlux(r))).toEqual([
      { apiGroups: ['fluxaction.io'], resources: ['fluxactionrequests'], verbs: ['create', 'get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['pods', 'pods/log', 'events', 'services'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['apps'], resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['get', 'list', 'watch'] },
    ]);
  });

  it("is the chart's too", () => {
    expect(rulesIn('charts/flux-action-operator/templates/mcp-rbac.yaml').text).toBe(config.text);
  });
});
