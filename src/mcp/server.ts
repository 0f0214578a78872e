// The MCP adapter: one McpServer with the tool sets, over stdio or Streamable HTTP.
import type * as k8s from '@kubernetes/client-node';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Logger } from 'pino';
import { DefaultMaxOutput } from './output.js';
import { RequestService } from './requests.js';
import type { ToolContext } from './tool.js';
import { registerFluxActionTools } from './toolsets/flux-actions.js';
import { registerKubernetesTools } from './toolsets/kubernetes.js';
import { registerFluxInstanceTools } from './toolsets/flux-instance.js';
import { registerDocsTools } from './toolsets/docs.js';

export interface McpOptions {
  kc: k8s.KubeConfig;
  log: Logger;
  version: string;
  /** Register no tool that changes anything. */
  readOnly: boolean;
  /** Default wait for an action's outcome, in ms (60s). */
  waitTimeoutMs?: number;
  /** ttlSecondsAfterFinished of the requests the adapter creates (3600). */
  requestTtlSeconds?: number;
  /** Cap on a tool's text output, in characters (50000). */
  maxOutput?: number;
  /** Markdown files to index for search_flux_docs, besides the Flux CRD schemas. */
  docsDir?: string;
}

export const ServerName = 'flux-action-operator';

const instructions = `Tools to inspect and act on FluxCD in a Kubernetes cluster.
Actions (reconcile, suspend, resume) are carried out by the flux-action-operator as FluxActionRequests: each tool creates one, waits for Flux's verdict and reports it (phase, reason, Flux's message, revision). If a wait runs out, follow up with get_flux_action_request.`;

/** Creates the MCP server with every tool set registered. */
export function createMcpServer(options: McpOptions): McpServer {
  const server = new McpServer({ name: ServerName, version: options.version }, { capabilities: { tools: {} }, instructions });
  const ctx: ToolContext = {
    log: options.log,
    maxOutput: options.maxOutput ?? DefaultMaxOutput,
    client: () => server.server.getClientVersion(),
  };
  const requests = new RequestService({ kc: options.kc, ttlSeconds: options.requestTtlSeconds ?? 3600, log: options.log });
  registerFluxActionTools(server, ctx, { requests, defaultWaitMs: options.waitTimeoutMs ?? 60_000 }, options.readOnly);
  registerKubernetesTools(server, ctx, options.kc);
  registerFluxInstanceTools(server, ctx, options.kc);
  registerDocsTools(server, ctx, { kc: options.kc, docsDir: options.docsDir });
  return server;
}
