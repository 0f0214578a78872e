// Tools that act on Flux — by creating FluxActionRequests, never by patching Flux objects — and
// tools to follow up on requests.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { Phase, ReadyCondition, isFinished } from '../../api/conditions.js';
import { parseDuration } from '../../api/duration.js';
import { targetOf, type FluxActionRequest, type RequestSpec } from '../../api/types.js';
import { fluxKinds, sourceKinds } from '../../flux/kinds.js';
import { describeRef, findCondition } from '../../flux/objects.js';
import { apiMessage, isInvalid } from '../../kube/errors.js';
import { awaitsApproval, describeRule } from '../../policy/gate.js';
import type { RequestService } from '../../client/requests.js';
import { Arg, registerTool, ToolError, type ToolCall, type ToolContext, type ToolOutput } from '../tool.js';
import { describeProgress } from '../progress.js';

export interface FluxActionOptions {
  requests: RequestService;
  /** Default wait for an outcome, in ms (60s). */
  defaultWaitMs: number;
}

const MaxWaitMs = 600_000;

/**
 * Creates a request for the action (after the person confirmed it, with --confirm), waits (bounded)
 * and reports the outcome. Each transition seen while waiting goes to `progress`.
 */
export async function act(
  ctx: ToolContext,
  options: FluxActionOptions,
  namespace: string,
  spec: RequestSpec,
  waitTimeout: string | undefined,
  signal: AbortSignal,
  call?: ToolCall,
): Promise<ToolOutput> {
  const progress = call?.progress ?? ((): void => undefined);
  const waitMs = waitTimeout === undefined ? options.defaultWaitMs : parseDuration(waitTimeout);
  if (waitMs === undefined || waitMs > MaxWaitMs)
    throw new ToolError(`wait_timeout ${waitTimeout} is not a duration of at most 10m, such as 30s or 2m`);
  await call?.confirm(describeSpec(namespace, spec));
  const client = ctx.client();
  let request: FluxActionRequest;
  try {
    request = await options.requests.create(namespace, spec, {
      origin: 'mcp',
      ...(client ? { client: `${client.name}/${client.version}` } : {}),
    });
  } catch (err) {
    // The API server's admission message says what to fix; pass it on as it is.
    if (isInvalid(err)) throw new ToolError(`the request was refused: ${apiMessage(err)}`);
    throw err;
  }
  progress(`created FluxActionRequest ${namespace}/${request.metadata.name}`);
  let last = '';
  const report = (r: FluxActionRequest): void => {
    const line = describeProgress(r);
    if (line === last) return;
    last = line;
    progress(line);
  };
  report(request);
  const started = Date.now();
  // A client that cancels the call stops the wait at once; the request itself keeps running.
  const outcome = await options.requests.waitFinished(request, waitMs, signal, report);
  if (signal.aborted) {
    ctx.log.info({ request: `${namespace}/${request.metadata.name}` }, 'the client cancelled the call; stopped waiting for the request');
  }
  return describeOutcome(outcome, Date.now() - started);
}

/** The action in words, for the person asked to confirm it. */
export function describeSpec(namespace: string, spec: RequestSpec): string {
  const options = [
    spec.withSource ? 'its source first' : '',
    spec.withDependencies ? 'its dependencies first' : '',
    spec.withDependents ? 'then its dependents' : '',
    spec.force ? 'forced' : '',
    spec.reset ? 'resetting failure counts' : '',
  ].filter(Boolean);
  return `${spec.action} ${spec.target.kind} ${namespace}/${spec.target.name}${options.length ? ` (${options.join(', ')})` : ''}: create a FluxActionRequest for it?`;
}

/** The outcome of a request for the model: phase, reason, Flux's message, revision, and how to follow up. */
export function describeOutcome(request: FluxActionRequest, waitedMs?: number): ToolOutput {
  const status = request.status ?? {};
  const ready = findCondition(status.conditions ?? [], ReadyCondition);
  const name = `${request.metadata.namespace}/${request.metadata.name}`;
  const target = describeRef(targetOf(request));
  const structured: Record<string, unknown> = {
    request: name,
    action: request.spec.action,
    target,
    phase: status.phase ?? Phase.Pending,
    ...(ready?.reason ? { reason: ready.reason } : {}),
    ...(status.message ? { message: status.message } : {}),
    ...(status.target?.revision ? { revision: status.target.revision } : {}),
    ...(status.source?.revision ? { sourceRevision: status.source.revision } : {}),
    ...(status.token ? { token: status.token } : {}),
  };
  // A chain's steps, one line each: where the chain stands and which step stopped it.
  if (status.steps?.length)
    structured['steps'] = status.steps.map(
      (s) =>
        `${s.role ?? '?'} ${describeRef(s)}: ${s.phase ?? Phase.Pending}${s.revision && s.phase === Phase.Succeeded ? ` (${s.revision})` : ''}`,
    );
  if (status.requestedBy) structured['requestedBy'] = status.requestedBy;
  // Where a client reads it again or subscribes to be told when it changes.
  structured['resource'] = `fluxaction://${request.metadata.namespace ?? ''}/${request.metadata.name}`;
  if (status.policy) structured['policy'] = describeRule(status.policy);
  if (status.approval?.approvedBy) structured['approvedBy'] = status.approval.approvedBy;
  if (status.approval?.rejectedBy) structured['rejectedBy'] = status.approval.rejectedBy;
  if (status.startTime && status.completionTime)
    structured['durationSeconds'] = (Date.parse(status.completionTime) - Date.parse(status.startTime)) / 1000;
  const waiting = awaitsApproval(request);
  if (waiting) {
    structured['awaitingApproval'] = true;
    if (status.approval?.expiresAt) structured['approvalExpiresAt'] = status.approval.expiresAt;
  }
  const lines = Object.entries(structured).map(([k, v]) =>
    Array.isArray(v) ? [`${k}:`, ...v.map((item) => `  - ${String(item)}`)].join('\n') : `${k}: ${String(v)}`,
  );
  if (waiting) {
    lines.push(
      `The request awaits approval: ${describeRule(status.policy)} requires a person with verb approve on fluxactionrequests in namespace ${request.metadata.namespace} (not the requester) to approve it${status.approval?.expiresAt ? ` by ${status.approval.expiresAt}` : ''}. Flux was not touched. It runs once approved; tell the user, and follow up later with get_flux_action_request name=${request.metadata.name} namespace=${request.metadata.namespace}.`,
    );
  } else if (!isFinished(status.phase)) {
    const waited = waitedMs === undefined ? '' : ` after waiting ${Math.round(waitedMs / 1000)}s`;
    lines.push(
      `The request is still ${status.phase ?? Phase.Pending}${waited}; it keeps running. Follow up with get_flux_action_request name=${request.metadata.name} namespace=${request.metadata.namespace}, or subscribe to resource ${String(structured['resource'])} to be told when it changes.`,
    );
  }
  return { text: lines.join('\n'), structured, isError: status.phase === Phase.Failed };
}

/** The chain arguments of the Kustomization and HelmRelease reconcile tools (DESIGN §9). */
const chainArgs = {
  with_dependencies: (kind: string) =>
    z
      .boolean()
      .optional()
      .describe(
        `Reconcile the ${kind}s this one depends on (spec.dependsOn, transitively) first, upstream first, each waited for; a failed one stops the chain (reason DependencyFailed)`,
      ),
  with_dependents: (kind: string) =>
    z
      .boolean()
      .optional()
      .describe(`After this ${kind}, reconcile the ${kind}s that depend on it (transitively), in dependsOn order, each waited for`),
};

/** The request spec's chain flags from the tool arguments. */
function chainSpec(a: { with_dependencies?: boolean | undefined; with_dependents?: boolean | undefined }): Partial<RequestSpec> {
  return { ...(a.with_dependencies ? { withDependencies: true } : {}), ...(a.with_dependents ? { withDependents: true } : {}) };
}

/** Orders requests by creation, oldest first. */
function oldestFirst(x: FluxActionRequest, y: FluxActionRequest): number {
  return String(x.metadata.creationTimestamp ?? '').localeCompare(String(y.metadata.creationTimestamp ?? ''));
}

/** A field of an outcome's structured answer, as text. */
const str = (v: unknown): string => String(v);

export const mutating = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false } as const;

/** Registers the Flux action tools (unless read-only) and the request follow-up tools. */
export function registerFluxActionTools(server: McpServer, ctx: ToolContext, options: FluxActionOptions, readOnly: boolean): void {
  if (!readOnly) {
    registerTool(server, ctx, {
      name: 'reconcile_flux_kustomization',
      title: 'Reconcile a Flux Kustomization',
      description:
        "Asks Flux to reconcile a Kustomization now (optionally its source first, optionally its spec.dependsOn chain in order) through a FluxActionRequest, and waits for the outcome: the applied revision, or Flux's own failure message. Answers with the request name if the outcome takes longer than wait_timeout.",
      input: {
        name: Arg.name('Kustomization'),
        namespace: Arg.namespace('Kustomization'),
        with_source: z.boolean().optional().describe("Reconcile the Kustomization's source (GitRepository, OCIRepository, Bucket) first"),
        with_dependencies: chainArgs.with_dependencies('Kustomization'),
        with_dependents: chainArgs.with_dependents('Kustomization'),
        wait_timeout: Arg.waitTimeout,
      },
      annotations: mutating,
      task: true,
      handler: (a, c, signal, call) =>
        act(
          c,
          options,
          a.namespace,
          {
            action: 'Reconcile',
            target: { kind: 'Kustomization', name: a.name },
            ...(a.with_source ? { withSource: true } : {}),
            ...chainSpec(a),
          },
          a.wait_timeout,
          signal,
          call,
        ),
    });
    registerTool(server, ctx, {
      name: 'reconcile_flux_helmrelease',
      title: 'Reconcile a Flux HelmRelease',
      description:
        "Asks Flux to reconcile a HelmRelease now (optionally its chart source first, optionally its spec.dependsOn chain in order, optionally forcing a one-off Helm install/upgrade) through a FluxActionRequest, and waits for the outcome: the chart version installed, or Flux's failure message.",
      input: {
        name: Arg.name('HelmRelease'),
        namespace: Arg.namespace('HelmRelease'),
        with_source: z.boolean().optional().describe('Reconcile the chart source (OCIRepository, or HelmChart and its repository) first'),
        force: z.boolean().optional().describe('Force a one-off Helm install or upgrade (reconcile.fluxcd.io/forceAt)'),
        with_dependencies: chainArgs.with_dependencies('HelmRelease'),
        with_dependents: chainArgs.with_dependents('HelmRelease'),
        wait_timeout: Arg.waitTimeout,
      },
      annotations: mutating,
      task: true,
      handler: (a, c, signal, call) =>
        act(
          c,
          options,
          a.namespace,
          {
            action: 'Reconcile',
            target: { kind: 'HelmRelease', name: a.name },
            ...(a.with_source ? { withSource: true } : {}),
            ...(a.force ? { force: true } : {}),
            ...chainSpec(a),
          },
          a.wait_timeout,
          signal,
          call,
        ),
    });
    registerTool(server, ctx, {
      name: 'reconcile_flux_resourceset',
      title: 'Reconcile a Flux Operator ResourceSet',
      description: 'Asks the Flux Operator to reconcile a ResourceSet now through a FluxActionRequest, and waits for the outcome.',
      input: { name: Arg.name('ResourceSet'), namespace: Arg.namespace('ResourceSet'), wait_timeout: Arg.waitTimeout },
      annotations: mutating,
      task: true,
      handler: (a, c, signal, call) =>
        act(c, options, a.namespace, { action: 'Reconcile', target: { kind: 'ResourceSet', name: a.name } }, a.wait_timeout, signal, call),
    });
    registerTool(server, ctx, {
      name: 'reconcile_flux_source',
      title: 'Reconcile a Flux source',
      description: `Asks Flux to fetch a source now (${sourceKinds.join(', ')}) through a FluxActionRequest, and waits for the fetched revision or Flux's failure message.`,
      input: {
        kind: z.enum(sourceKinds as [string, ...string[]]).describe('The source kind'),
        name: Arg.name('source'),
        namespace: Arg.namespace('source'),
        wait_timeout: Arg.waitTimeout,
      },
      annotations: mutating,
      task: true,
      handler: (a, c, signal, call) =>
        act(c, options, a.namespace, { action: 'Reconcile', target: { kind: a.kind, name: a.name } }, a.wait_timeout, signal, call),
    });
    const anyKind = {
      apiVersion: z.string().min(3).describe("The object's apiVersion, e.g. kustomize.toolkit.fluxcd.io/v1"),
      kind: z.enum(fluxKinds.map((k) => k.kind) as [string, ...string[]]).describe('The Flux kind'),
      name: Arg.name('Flux object'),
      namespace: Arg.namespace('Flux object'),
      wait_timeout: Arg.waitTimeout,
    };
    registerTool(server, ctx, {
      name: 'suspend_flux_reconciliation',
      title: 'Suspend a Flux object',
      description:
        "Suspends reconciliation of a Flux object (spec.suspend, or the Flux Operator's reconcile annotation) through a FluxActionRequest; the object is annotated with the request's name. Resume it with resume_flux_reconciliation.",
      input: anyKind,
      annotations: { ...mutating, idempotentHint: true },
      task: true,
      handler: (a, c, signal, call) =>
        act(
          c,
          options,
          a.namespace,
          { action: 'Suspend', target: { kind: a.kind, name: a.name, apiVersion: a.apiVersion } },
          a.wait_timeout,
          signal,
          call,
        ),
    });
    registerTool(server, ctx, {
      name: 'resume_flux_reconciliation',
      title: 'Resume a Flux object',
      description: 'Resumes reconciliation of a suspended Flux object through a FluxActionRequest and waits until Flux has reconciled it.',
      input: anyKind,
      annotations: mutating,
      task: true,
      handler: (a, c, signal, call) =>
        act(
          c,
          options,
          a.namespace,
          { action: 'Resume', target: { kind: a.kind, name: a.name, apiVersion: a.apiVersion } },
          a.wait_timeout,
          signal,
          call,
        ),
    });
  }

  const readOnlyHints = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;
  registerTool(server, ctx, {
    name: 'get_flux_action_request',
    title: 'Get a FluxActionRequest',
    description:
      "Reads one FluxActionRequest: its phase, reason, Flux's message and the revision. Use it to follow up on a request that was still running.",
    input: { name: Arg.name('FluxActionRequest'), namespace: Arg.namespace('FluxActionRequest') },
    annotations: readOnlyHints,
    handler: async (a) => describeOutcome(await options.requests.get(a.namespace, a.name)),
  });
  registerTool(server, ctx, {
    name: 'list_flux_action_requests_awaiting_approval',
    title: 'List FluxActionRequests awaiting approval',
    description:
      'Lists FluxActionRequests that a policy holds until a person approves or rejects them (oldest first): who asked, which rule requires approval and until when. Approving is for people: the adapter has no tool for it.',
    input: { namespace: z.string().min(1).max(63).optional().describe('Only this namespace (default: all namespaces)') },
    annotations: readOnlyHints,
    handler: async (a) => {
      const listed = await options.requests.list(a.namespace);
      const waiting = listed.requests.filter(awaitsApproval).sort(oldestFirst);
      if (waiting.length === 0) return { text: 'No FluxActionRequests await approval.', structured: { requests: [] } };
      const rows = waiting.map((r) => describeOutcome(r).structured ?? {});
      const text = rows
        .map(
          (r) =>
            `- ${str(r['request'])}: ${str(r['action'])} ${str(r['target'])}, asked by ${str(r['requestedBy'] ?? 'unknown')}, held by ${str(r['policy'])}${r['approvalExpiresAt'] ? ` until ${str(r['approvalExpiresAt'])}` : ''}`,
        )
        .join('\n');
      return { text, structured: { requests: rows } };
    },
  });
  registerTool(server, ctx, {
    name: 'list_flux_action_requests',
    title: 'List FluxActionRequests',
    description:
      'Lists FluxActionRequests (newest first) with their action, target, phase and message: the audit trail of actions on Flux.',
    input: {
      namespace: z.string().min(1).max(63).optional().describe('Only this namespace (default: all namespaces)'),
      phase: z.enum(Phase).optional().describe('Only requests in this phase'),
    },
    annotations: readOnlyHints,
    handler: async (a) => {
      const listed = await options.requests.list(a.namespace);
      // A request that does not parse is named with its bad field, not left out silently.
      const broken = listed.invalid.map((e) => `- ${e.message}`);
      const requests = listed.requests
        .filter((r) => !a.phase || (r.status?.phase ?? Phase.Pending) === a.phase)
        .sort((x, y) => oldestFirst(y, x));
      if (requests.length === 0 && broken.length === 0) return { text: 'No FluxActionRequests found.', structured: { requests: [] } };
      const rows = requests.map((r) => describeOutcome(r).structured ?? {});
      const text = rows
        .map(
          (r) =>
            `- ${str(r['request'])}: ${str(r['action'])} ${str(r['target'])}: ${str(r['phase'])}${r['reason'] ? ` (${str(r['reason'])})` : ''}${r['message'] ? `: ${str(r['message'])}` : ''}`,
        )
        .join('\n');
      if (broken.length === 0) return { text, structured: { requests: rows } };
      const invalid = listed.invalid.map((e) => ({ request: e.object, field: e.field, problem: e.problem }));
      return {
        text: [text, `${broken.length} request(s) do not parse:`, ...broken].filter((l) => l !== '').join('\n'),
        structured: { requests: rows, invalid },
        isError: true,
      };
    },
  });
}
