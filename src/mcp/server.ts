// The MCP adapter: one McpServer with the tool sets, over stdio or Streamable HTTP.
import type * as k8s from '@kubernetes/client-node';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Logger } from 'pino';
import { DefaultMaxOutput } from './output.js';
import { CancellableTaskStore } from './tasks.js';
import { RequestService } from '../client/requests.js';
import type { ToolContext } from './tool.js';
import { registerFluxActionTools } from './toolsets/flux-actions.js';
import { registerKubernetesTools } from './toolsets/kubernetes.js';
import { registerFluxInstanceTools } from './toolsets/flux-instance.js';
import { registerDocsTools } from './toolsets/docs.js';
import { registerFluxReconcileTool } from './toolsets/flux-reconcile.js';
import { registerTraceTool } from './toolsets/flux-trace.js';
import { registerLogsTool } from './toolsets/logs.js';
import { registerDiscoveryTools } from './toolsets/discovery.js';
import { registerReferenceTool } from './toolsets/flux-reference.js';
import { Instructions, registerPrompts } from './prompts.js';
import type { Identity } from '../client/requests.js';
import { RateLimiter, type AuditLog, type RateLimit } from './guard.js';
import { registerRequestResources } from './resources.js';

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
  /** kc authenticates as this caller (--auth passthrough): refusals are theirs, the audit log names them. */
  caller?: Identity;
  /** Ask the person to confirm each action through elicitation (--confirm). */
  confirm?: boolean;
  /** This session's limit on tool calls (--rate-limit). */
  rateLimit?: RateLimit;
  /** Where every tool call is logged (--audit-log). */
  audit?: AuditLog;
  /** How long a resource subscription follows a request that does not finish, in ms (1h). */
  subscriptionLifetimeMs?: number;
  /** The clock of the rate limit. */
  now?: () => number;
}

export const ServerName = 'flux-action-operator';

/** Creates the MCP server with every tool set registered. */
export function createMcpServer(options: McpOptions): McpServer {
  const tasks = new CancellableTaskStore();
  const server = new McpServer(
    { name: ServerName, version: options.version },
    {
      capabilities: {
        tools: {},
        prompts: {},
        // The action tools are also offered as tasks (taskSupport optional), kept per session.
        ...(options.readOnly ? {} : { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } }),
      },
      instructions: Instructions,
      ...(options.readOnly ? {} : { taskStore: tasks }),
    },
  );
  const requests = new RequestService({ kc: options.kc, ttlSeconds: options.requestTtlSeconds ?? 3600, log: options.log });
  const caller = options.caller;
  const ctx: ToolContext = {
    log: options.log,
    maxOutput: options.maxOutput ?? DefaultMaxOutput,
    client: () => server.server.getClientVersion(),
    clientCapabilities: () => server.server.getClientCapabilities(),
    identity: caller ? () => Promise.resolve(caller.username) : async () => (await requests.whoAmI()).username,
    ...(caller ? { asCaller: true } : {}),
    ...(options.rateLimit ? { limiter: new RateLimiter(options.rateLimit, options.now) } : {}),
    ...(options.audit ? { audit: options.audit } : {}),
    ...(options.readOnly ? {} : { tasks }),
    ...(options.confirm
      ? { confirmActions: true, elicit: (params, requestOptions) => server.server.elicitInput(params, requestOptions) }
      : {}),
  };
  const actions = { requests, defaultWaitMs: options.waitTimeoutMs ?? 60_000 };
  registerFluxActionTools(server, ctx, actions, options.readOnly);
  if (!options.readOnly) registerFluxReconcileTool(server, ctx, actions);
  registerKubernetesTools(server, ctx, options.kc);
  registerFluxInstanceTools(server, ctx, options.kc);
  registerDocsTools(server, ctx, { kc: options.kc, docsDir: options.docsDir });
  registerTraceTool(server, ctx, options.kc);
  registerLogsTool(server, ctx, options.kc);
  registerDiscoveryTools(server, ctx, options.kc);
  registerReferenceTool(server, ctx, options.kc);
  registerPrompts(server);
  // The session closed: drop its tasks and their timers.
  const previous = server.server.onclose;
  server.server.onclose = () => {
    tasks.cleanup();
    previous?.();
  };
  registerRequestResources(server, { requests, log: options.log, subscriptionLifetimeMs: options.subscriptionLifetimeMs ?? 3_600_000 });
  return server;
}
