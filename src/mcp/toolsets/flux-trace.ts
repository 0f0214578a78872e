// trace_flux_resource: `flux trace` as one answer — from any object to the Flux object that applied
// it, its source, the revision and the readiness of each link.
import type * as k8s from '@kubernetes/client-node';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { KubeReader } from '../kube-reader.js';
import { registerTool, type ToolContext } from '../tool.js';
import { formatTrace, traceObject } from '../trace.js';
import { getResource } from './kubernetes.js';

/** Registers trace_flux_resource. */
export function registerTraceTool(server: McpServer, ctx: ToolContext, kc: k8s.KubeConfig): void {
  const reader = new KubeReader(kc);
  registerTool(server, ctx, {
    name: 'trace_flux_resource',
    title: 'Trace an object to Flux',
    description:
      'Finds which Flux object applied a Kubernetes object (a Deployment, a Service, a Pod, a Flux object...), as `flux trace` does: the Kustomization or HelmRelease named by its ' +
      "kustomize.toolkit.fluxcd.io or helm.toolkit.fluxcd.io labels (a Pod is followed through its owners, e.g. ReplicaSet then Deployment), that object's source, " +
      'and on up to what applied it in turn. Each link shows its revision and readiness; the answer ends with the first Flux link that is not ready. ' +
      "Use it to answer 'where does this come from?' and 'why is it not updated?'.",
    input: {
      apiVersion: z
        .string()
        .max(253)
        .regex(/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?v[0-9]+((alpha|beta)[0-9]+)?$/, 'an apiVersion such as v1 or apps/v1')
        .describe('apiVersion of the object, e.g. apps/v1, v1, helm.toolkit.fluxcd.io/v2'),
      kind: z
        .string()
        .max(100)
        .regex(/^[A-Za-z][A-Za-z0-9]*$/, 'a kind such as Deployment')
        .describe('Kind of the object, e.g. Deployment, Service, Pod, HelmRelease'),
      name: z
        .string()
        .min(1)
        .max(253)
        .regex(/^(?!\.\.?$)[^/%]+$/, 'a Kubernetes object name')
        .describe('Name of the object'),
      namespace: z
        .string()
        .max(63)
        .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a namespace name')
        .optional()
        .describe('Namespace of the object (omit for cluster-scoped kinds)'),
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    handler: async (a) => {
      const trace = await traceObject(reader, await getResource(reader, a));
      return { text: formatTrace(trace), structured: { managed: trace.managed, links: trace.links } };
    },
  });
}
