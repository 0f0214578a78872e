// get_kubernetes_api_versions: the apiVersions the cluster serves, as `kubectl api-versions` lists
// them, so a model can pick the right apiVersion for the other tools.
import type * as k8s from '@kubernetes/client-node';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { isFluxGroup } from '../flux-crds.js';
import { KubeReader } from '../kube-reader.js';
import { registerTool, type ToolContext } from '../tool.js';

interface ApiVersions {
  versions?: string[];
}
interface ApiGroupList {
  groups?: { name: string; versions?: { groupVersion: string }[]; preferredVersion?: { groupVersion: string } }[];
}

export interface ServedVersion {
  apiVersion: string;
  /** The API group ('' for the core group). */
  group: string;
  /** The group's preferred version (what kubectl uses when none is given). */
  preferred: boolean;
  flux: boolean;
}

/** The served apiVersions from the /api and /apis discovery documents, sorted. */
export async function servedVersions(reader: KubeReader): Promise<ServedVersion[]> {
  const core = (await reader.get('/api')) as ApiVersions;
  const groups = (await reader.get('/apis')) as ApiGroupList;
  const served: ServedVersion[] = (core.versions ?? []).map((v) => ({ apiVersion: v, group: '', preferred: true, flux: false }));
  for (const g of groups.groups ?? []) {
    for (const v of g.versions ?? [])
      served.push({
        apiVersion: v.groupVersion,
        group: g.name,
        preferred: g.preferredVersion?.groupVersion === v.groupVersion,
        flux: isFluxGroup(g.name),
      });
  }
  return served.sort((a, b) => a.apiVersion.localeCompare(b.apiVersion));
}

/** Registers get_kubernetes_api_versions. */
export function registerDiscoveryTools(server: McpServer, ctx: ToolContext, kc: k8s.KubeConfig): void {
  const reader = new KubeReader(kc);
  registerTool(server, ctx, {
    name: 'get_kubernetes_api_versions',
    title: 'List the API versions the cluster serves',
    description:
      "Lists every apiVersion the Kubernetes API server serves (as kubectl api-versions), marking each group's preferred version and the Flux ones. " +
      'Use it to find the apiVersion to give get_kubernetes_resources, trace_flux_resource or the Flux tools, e.g. whether Flux serves helm.toolkit.fluxcd.io/v2.',
    input: {},
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    handler: async () => {
      const served = await servedVersions(reader);
      // "preferred" only says something where a group serves several versions.
      const several = new Set(served.filter((v, i) => served.findIndex((w) => w.group === v.group) !== i).map((v) => v.group));
      const marks = (v: ServedVersion): string =>
        [v.preferred && several.has(v.group) ? 'preferred' : '', v.flux ? 'Flux' : ''].filter(Boolean).join(', ');
      const text = served.map((v) => (marks(v) ? `${v.apiVersion}  (${marks(v)})` : v.apiVersion)).join('\n');
      return { text, structured: { apiVersions: served } };
    },
  });
}
