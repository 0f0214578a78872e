// The shape every tool shares: a name, a title, a description that says when to use it and its
// limits, a zod input schema with a description on every field, annotations, and a small handler.
// Domain failures become isError results with a message that says what to do; the server keeps serving.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { z } from 'zod';
import { InvalidObjectError } from '../api/parse.js';
import { apiMessage, isForbidden, isNotFound, statusCode } from '../kube/errors.js';
import { cap } from './output.js';

/** A failure the model can act on: bad arguments, a missing object, a refusal. */
export class ToolError extends Error {
  override readonly name = 'ToolError';
}

export interface ToolContext {
  log: Logger;
  /** Cap on text output, in characters. */
  maxOutput: number;
  /** The connected client's name and version, for the audit trail of requests. */
  client(): { name: string; version: string } | undefined;
}

export interface ToolDefinition<Shape extends z.ZodRawShape> {
  name: string;
  title: string;
  description: string;
  input: Shape;
  annotations: Required<Pick<ToolAnnotations, 'readOnlyHint' | 'destructiveHint' | 'idempotentHint'>> & ToolAnnotations;
  /** signal aborts when the client cancels the call (notifications/cancelled) or the session closes. */
  handler: (args: z.infer<z.ZodObject<Shape>>, ctx: ToolContext, signal: AbortSignal) => Promise<ToolOutput>;
}

/** What a handler returns: text for the model, and optionally the same facts as structured data. */
export interface ToolOutput {
  text: string;
  structured?: Record<string, unknown>;
  /** The call worked but what it reports is a failure (a Flux reconcile that failed). */
  isError?: boolean;
}

/** Registers a tool; its handler's failures become isError results, never a crash of the server. */
export function registerTool<Shape extends z.ZodRawShape>(server: McpServer, ctx: ToolContext, tool: ToolDefinition<Shape>): void {
  server.registerTool(
    tool.name,
    { title: tool.title, description: tool.description, inputSchema: tool.input, annotations: { title: tool.title, ...tool.annotations } },
    (async (args: z.infer<z.ZodObject<Shape>>, extra: { signal: AbortSignal }): Promise<CallToolResult> => {
      try {
        const out = await tool.handler(args, ctx, extra.signal);
        const result: CallToolResult = { content: [{ type: 'text', text: cap(out.text, ctx.maxOutput) }] };
        if (out.structured) result.structuredContent = out.structured;
        if (out.isError) result.isError = true;
        return result;
      } catch (err) {
        const message = describeFailure(err);
        ctx.log.info({ tool: tool.name, err: message }, 'tool call failed');
        return { isError: true, content: [{ type: 'text', text: message }] };
      }
    }) as never,
  );
}

/** A message for the model: what failed and, where we can tell, what to do about it. */
export function describeFailure(err: unknown): string {
  if (err instanceof ToolError) return err.message;
  if (err instanceof InvalidObjectError)
    return `${err.message}. The object does not have the shape this server reads: is the installed CRD a version it knows?`;
  if (isForbidden(err)) return `forbidden: ${apiMessage(err)}. The MCP server's ServiceAccount lacks this permission (see config/rbac).`;
  if (isNotFound(err)) return `not found: ${apiMessage(err)}`;
  const code = statusCode(err);
  if (code !== undefined) return `the Kubernetes API answered ${code}: ${apiMessage(err)}`;
  return `error: ${err instanceof Error ? err.message : String(err)}`;
}

/** Reusable argument schemas, described for the model. */
export const Arg = {
  name: (what: string) => z.string().min(1).max(253).describe(`Name of the ${what}`),
  namespace: (what: string) => z.string().min(1).max(63).describe(`Namespace of the ${what}`),
  waitTimeout: z
    .string()
    .regex(/^(\d+(\.\d+)?(ms|s|m|h))+$/, 'a Go duration such as 30s or 2m')
    .optional()
    .describe(
      'How long to wait for the outcome before answering with the request name and phase (Go duration, default 60s, at most 10m). The request keeps running after that; follow up with get_flux_action_request.',
    ),
};
