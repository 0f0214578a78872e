// The shape every tool shares: a name, a title, a description that says when to use it and its
// limits, a zod input schema with a description on every field, annotations, and a small handler.
// Domain failures become isError results with a message that says what to do; the server keeps serving.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CreateTaskRequestHandlerExtra, TaskRequestHandlerExtra } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import type { CancellableTaskStore } from './tasks.js';
import type {
  CallToolResult,
  ElicitRequestFormParams,
  ClientCapabilities,
  ElicitResult,
  RequestId,
  ToolAnnotations,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { z } from 'zod';
import { InvalidObjectError } from '../api/parse.js';
import { apiMessage, isForbidden, isNotFound, statusCode } from '../kube/errors.js';
import { cap } from './output.js';
import type { AuditLog, RateLimiter } from './guard.js';

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
  /** What the connected client declared it can do (elicitation, …). */
  clientCapabilities(): ClientCapabilities | undefined;
  /** The Kubernetes user calls run as, for the audit log (the caller's own in passthrough mode). */
  identity(): Promise<string>;
  /** Calls run as the caller (--auth passthrough): a refusal is the caller's RBAC, not the adapter's. */
  asCaller?: boolean;
  /** This session's limit on tool calls (--rate-limit). */
  limiter?: RateLimiter;
  /** Where every tool call is logged (--audit-log). */
  audit?: AuditLog;
  /** The server keeps MCP tasks: tools marked `task` are offered as tasks too. */
  tasks?: CancellableTaskStore;
  /** Ask the person behind the client to confirm each action before it is requested (--confirm). */
  confirmActions?: boolean;
  /** Sends an elicitation request to the client (the server's elicitInput). */
  elicit?: (params: ElicitRequestFormParams, options: RequestOptions) => Promise<ElicitResult>;
}

/** Reports progress of a call to a client that asked for it (a progressToken); a no-op otherwise. */
export type Progress = (message: string) => void;

/** What a handler may do during its call besides computing the answer. */
export interface ToolCall {
  progress: Progress;
  /**
   * Asks the person to confirm `message` when --confirm is on (MCP elicitation); throws a
   * RefusedError when they decline, do not answer in time, or the client cannot ask.
   */
  confirm(message: string): Promise<void>;
}

/** How long a person has to answer a confirmation. */
export const ConfirmTimeoutMs = 300_000;

/** What the SDK hands a tool handler besides the arguments (the part this server uses). */
interface CallExtra {
  signal: AbortSignal;
  requestId: RequestId;
  sessionId?: string;
  _meta?: { progressToken?: string | number };
  sendNotification: (notification: {
    method: 'notifications/progress';
    params: { progressToken: string | number; progress: number; message: string };
  }) => Promise<void>;
}

export interface ToolDefinition<Shape extends z.ZodRawShape> {
  name: string;
  title: string;
  description: string;
  input: Shape;
  annotations: Required<Pick<ToolAnnotations, 'readOnlyHint' | 'destructiveHint' | 'idempotentHint'>> & ToolAnnotations;
  /** Offered as an MCP task too (a long-running action), where the server keeps tasks. */
  task?: boolean;
  /** signal aborts when the client cancels the call (notifications/cancelled) or the session closes. */
  handler: (args: z.infer<z.ZodObject<Shape>>, ctx: ToolContext, signal: AbortSignal, call: ToolCall) => Promise<ToolOutput>;
}

/** What a handler returns: text for the model, and optionally the same facts as structured data. */
export interface ToolOutput {
  text: string;
  structured?: Record<string, unknown>;
  /** The call worked but what it reports is a failure (a Flux reconcile that failed). */
  isError?: boolean;
}

/** How long a task and its result stay readable when the client asks for no ttl, in ms; asked ones are held to 1m..1h. */
export const TaskTtlMs = 600_000;
/** How often a client should poll a task, in ms; also how often the SDK polls for a call made without a task. */
export const TaskPollMs = 250;

/**
 * Registers a tool; its handler's failures become isError results, never a crash of the server.
 * Every call first passes the session's rate limit, and is written to the audit log when one is kept.
 * A tool marked `task`, on a server with a task store, is also offered as an MCP task (taskSupport
 * optional): a client may call it task-augmented and poll tasks/get, tasks/result.
 */
export function registerTool<Shape extends z.ZodRawShape>(server: McpServer, ctx: ToolContext, tool: ToolDefinition<Shape>): void {
  type Args = z.infer<z.ZodObject<Shape>>;
  const run = async (args: Args, extra: CallExtra, progress: Progress): Promise<CallToolResult> => {
    const started = Date.now();
    let outcome: 'ok' | 'error' | 'refused' = 'ok';
    let result: CallToolResult;
    const refusal = ctx.limiter?.admit();
    if (refusal) {
      outcome = 'refused';
      ctx.log.info({ tool: tool.name, err: refusal }, 'tool call refused');
      result = { isError: true, content: [{ type: 'text', text: refusal }] };
    } else {
      try {
        const out = await tool.handler(args, ctx, extra.signal, { progress, confirm: (m) => confirm(ctx, extra, m) });
        result = { content: [{ type: 'text', text: cap(out.text, ctx.maxOutput) }] };
        if (out.structured) result.structuredContent = out.structured;
        if (out.isError) {
          result.isError = true;
          outcome = 'error';
        }
      } catch (err) {
        const message =
          ctx.asCaller && isForbidden(err)
            ? `forbidden: ${apiMessage(err)}. You (${await ctx.identity().catch(() => 'the caller')}) lack this permission: the server acts with your own token, so the cluster's RBAC and admission policies apply to you. Ask an administrator for a RoleBinding granting it.`
            : describeFailure(err);
        outcome = err instanceof RefusedError ? 'refused' : 'error';
        ctx.log.info({ tool: tool.name, err: message }, 'tool call failed');
        result = { isError: true, content: [{ type: 'text', text: message }] };
      }
    }
    if (ctx.audit) {
      const client = ctx.client();
      ctx.audit.write({
        time: new Date(started).toISOString(),
        session: extra.sessionId ?? 'stdio',
        identity: await ctx.identity().catch(() => 'unknown'),
        ...(client ? { client: `${client.name}/${client.version}` } : {}),
        tool: tool.name,
        arguments: args,
        outcome,
        resultBytes: Buffer.byteLength(JSON.stringify(result)),
        durationMs: Date.now() - started,
      });
    }
    return result;
  };
  const config = {
    title: tool.title,
    description: tool.description,
    inputSchema: tool.input,
    annotations: { title: tool.title, ...tool.annotations },
  };
  if (!tool.task || !ctx.tasks) {
    server.registerTool(tool.name, config, (async (args: Args, extra: CallExtra) => run(args, extra, progressOf(extra))) as never);
    return;
  }
  server.experimental.tasks.registerToolTask(
    tool.name,
    { ...config, execution: { taskSupport: 'optional' } },
    {
      createTask: (async (args: Args, extra: CallExtra & CreateTaskRequestHandlerExtra) => {
        const store = extra.taskStore;
        const ttl = Math.min(3_600_000, Math.max(60_000, extra.taskRequestedTtl ?? TaskTtlMs));
        const task = await store.createTask({ ttl, pollInterval: TaskPollMs });
        // Answer once the request exists (after any confirmation, asked within this call) or the call ended.
        let begun: () => void = () => undefined;
        const created = new Promise<void>((resolve) => {
          begun = resolve;
        });
        const progress = progressOf(extra);
        // Status updates in order, each done before the next, the result after the last.
        let updates = Promise.resolve();
        // tasks/cancel stops the work (a wait) as the client's notifications/cancelled stops a call's.
        const tasks = ctx.tasks;
        const signal = tasks ? AbortSignal.any([extra.signal, tasks.signal(task.taskId)]) : extra.signal;
        void run(args, { ...extra, signal }, (message) => {
          progress(message);
          updates = updates.then(() => store.updateTaskStatus(task.taskId, 'working', message)).catch(() => undefined);
          void updates.then(begun);
        })
          .then(async (result) => {
            await updates;
            await store.storeTaskResult(task.taskId, result.isError ? 'failed' : 'completed', result);
          })
          // A task cancelled (tasks/cancel) or expired meanwhile keeps its state; the request keeps running.
          .catch((err: unknown) => {
            ctx.log.info({ tool: tool.name, task: task.taskId, err: describeFailure(err) }, 'task result not stored');
          })
          .finally(() => {
            tasks?.release(task.taskId);
            begun();
          });
        await created;
        return { task: await store.getTask(task.taskId) };
      }) as never,
      getTask: (async (_args: Args, extra: TaskRequestHandlerExtra) => extra.taskStore.getTask(extra.taskId)) as never,
      getTaskResult: (async (_args: Args, extra: TaskRequestHandlerExtra) => extra.taskStore.getTaskResult(extra.taskId)) as never,
    },
  );
}

/** Sends notifications/progress with a rising count when the client gave a progressToken. */
function progressOf(extra: CallExtra): Progress {
  const token = extra._meta?.progressToken;
  if (token === undefined) return () => undefined;
  let count = 0;
  return (message) => {
    count += 1;
    void extra
      .sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: count, message } })
      .catch(() => undefined);
  };
}

/**
 * Asks for a confirmation through form elicitation, related to the tool call so it reaches the
 * client on the call's own stream. Refuses (fails closed) when the client cannot ask a person.
 */
async function confirm(ctx: ToolContext, extra: CallExtra, message: string): Promise<void> {
  if (!ctx.confirmActions) return;
  const refused = (why: string): RefusedError => new RefusedError(`${why}: no FluxActionRequest was created.`);
  if (!ctx.elicit || !ctx.clientCapabilities()?.elicitation)
    throw refused(
      'this server asks a person to confirm every action (--confirm), and this client does not support MCP elicitation, so nobody can be asked. Use a client that supports elicitation, or create the FluxActionRequest with fluxact or kubectl',
    );
  let answer: ElicitResult;
  try {
    answer = await ctx.elicit(
      {
        mode: 'form',
        message,
        requestedSchema: {
          type: 'object',
          properties: { confirm: { type: 'boolean', title: 'Create the request', description: 'Yes to ask Flux to act' } },
          required: ['confirm'],
        },
      },
      { signal: extra.signal, timeout: ConfirmTimeoutMs, relatedRequestId: extra.requestId },
    );
  } catch (err) {
    throw refused(`the confirmation could not be asked or was not answered (${err instanceof Error ? err.message : String(err)})`);
  }
  if (answer.action !== 'accept') throw refused(`the person ${answer.action === 'decline' ? 'declined' : 'cancelled'} the confirmation`);
  if (answer.content?.['confirm'] !== true) throw refused('the person did not confirm');
}

/** A call the adapter would not carry out (confirmation declined or impossible): outcome refused. */
export class RefusedError extends ToolError {}

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
