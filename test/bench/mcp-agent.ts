// A scripted agent for the peer benchmarks: it calls MCP tools through the SDK's client, counts the
// calls and the bytes of text each answer puts in front of a model, and follows a reconcile to its
// outcome the way each server tells it to — ours answers with the outcome; the Flux Operator's says
// "reconciliation triggered ... check the status lastHandledReconcileAt field matches the
// requestedAt annotation", so the agent reads the object until it does.
import { parseAllDocuments } from 'yaml';
import type { McpConnection } from '../support/mcp.js';

/** One tool call as the agent saw it. */
export interface Call {
  tool: string;
  ms: number;
  /** UTF-8 bytes of the answer's text content (what a model reads). */
  bytes: number;
  isError: boolean;
  text: string;
  structured: Record<string, unknown> | undefined;
}

/** Calls a tool and measures the answer. */
export async function callTool(conn: McpConnection, tool: string, args: Record<string, unknown>, timeoutMs = 600_000): Promise<Call> {
  const t = performance.now();
  const result = await conn.client.callTool({ name: tool, arguments: args }, undefined, { timeout: timeoutMs });
  const ms = performance.now() - t;
  const content = (result.content ?? []) as { type: string; text?: string }[];
  const texts = content.filter((c) => c.type === 'text').map((c) => c.text ?? '');
  const text = texts.join('\n');
  return {
    tool,
    ms,
    bytes: texts.reduce((n, s) => n + Buffer.byteLength(s), 0),
    isError: result.isError === true,
    text,
    structured: result.structuredContent as Record<string, unknown> | undefined,
  };
}

/** The texts of an answer's content items, one per item (a search's hits). */
export async function callToolTexts(
  conn: McpConnection,
  tool: string,
  args: Record<string, unknown>,
): Promise<{ texts: string[]; call: Call }> {
  const t = performance.now();
  const result = await conn.client.callTool({ name: tool, arguments: args });
  const ms = performance.now() - t;
  const content = (result.content ?? []) as { type: string; text?: string }[];
  const texts = content.filter((c) => c.type === 'text').map((c) => c.text ?? '');
  const call: Call = {
    tool,
    ms,
    bytes: texts.reduce((n, s) => n + Buffer.byteLength(s), 0),
    isError: result.isError === true,
    text: texts.join('\n'),
    structured: result.structuredContent as Record<string, unknown> | undefined,
  };
  return { texts, call };
}

/** What the agent knows at the end of a reconcile. */
export interface Followed {
  /** Succeeded, Failed, or unknown when the agent gave up (timeout). */
  outcome: 'Succeeded' | 'Failed' | 'unknown';
  /** Flux's message as the agent read it. */
  message: string;
  calls: Call[];
  ms: number;
}

export const KustomizationApiVersion = 'kustomize.toolkit.fluxcd.io/v1';

/**
 * Ours: one call. reconcile_flux_resource (the Flux Operator's tool name, which the project's server
 * also serves) or reconcile_flux_kustomization waits for the operator's outcome (wait_timeout).
 */
export async function reconcileOurs(
  conn: McpConnection,
  tool: 'reconcile_flux_resource' | 'reconcile_flux_kustomization',
  name: string,
  namespace: string,
  waitSeconds: number,
): Promise<Followed> {
  const t = performance.now();
  const args: Record<string, unknown> = { name, namespace, with_source: true, wait_timeout: `${waitSeconds}s` };
  if (tool === 'reconcile_flux_resource') args['kind'] = 'Kustomization';
  const call = await callTool(conn, tool, args, (waitSeconds + 30) * 1000);
  const phase = call.structured?.['phase'];
  const outcome = phase === 'Succeeded' ? 'Succeeded' : phase === 'Failed' ? 'Failed' : 'unknown';
  const message = call.structured?.['message'];
  return {
    outcome,
    message: typeof message === 'string' ? message : (call.text.split('\n')[0] ?? ''),
    calls: [call],
    ms: performance.now() - t,
  };
}

/** The parts of a Kustomization the Flux Operator's server tells the agent to compare. */
export interface ReconcileState {
  requestedAt: string | undefined;
  lastHandledReconcileAt: string | undefined;
  ready: { status?: string; reason?: string; message?: string } | undefined;
}

type Condition = { type: string; status?: string; reason?: string; message?: string };

/**
 * Reads requestedAt, lastHandledReconcileAt and Ready from a get_kubernetes_resources answer (YAML
 * documents). Objects come whole, or projected by `fields`: nested as the object (ours), or keyed by
 * the expression at the top level (the Flux Operator's: `status.lastHandledReconcileAt: ...`).
 */
export function reconcileState(text: string, name: string): ReconcileState | undefined {
  for (const doc of parseAllDocuments(text)) {
    const obj = doc.toJS() as Record<string, unknown> | null;
    if (!obj || typeof obj !== 'object') continue;
    const metadata = obj['metadata'] as { name?: string; annotations?: Record<string, string> } | undefined;
    if (metadata?.name !== undefined && metadata.name !== name) continue;
    const status = obj['status'] as { lastHandledReconcileAt?: string; conditions?: Condition[] } | undefined;
    const annotations = metadata?.annotations ?? (obj['metadata.annotations'] as Record<string, string> | undefined);
    const projected = obj["status.conditions[?(@.type=='Ready')]"] as Condition | Condition[] | undefined;
    const conditions =
      status?.conditions ?? (obj['status.conditions'] as Condition[] | undefined) ?? (projected === undefined ? [] : [projected].flat());
    return {
      requestedAt: annotations?.['reconcile.fluxcd.io/requestedAt'],
      lastHandledReconcileAt: status?.lastHandledReconcileAt ?? (obj['status.lastHandledReconcileAt'] as string | undefined),
      ready: conditions.find((c) => c.type === 'Ready'),
    };
  }
  return undefined;
}

/** The fields the polling agent asks for: just what it compares. */
export const followFields = ['metadata.annotations', 'status.lastHandledReconcileAt', "status.conditions[?(@.type=='Ready')]"];

/**
 * Theirs: reconcile_flux_resource (it annotates the source and the object and answers at once), then
 * get_kubernetes_resources every pollMs until lastHandledReconcileAt equals the requestedAt
 * annotation and Ready is True or False — or timeoutMs ran out.
 */
export async function reconcileTheirs(
  conn: McpConnection,
  name: string,
  namespace: string,
  pollMs: number,
  timeoutMs: number,
): Promise<Followed> {
  const t = performance.now();
  const calls: Call[] = [];
  const trigger = await callTool(conn, 'reconcile_flux_resource', { kind: 'Kustomization', name, namespace, with_source: true });
  calls.push(trigger);
  if (trigger.isError) return { outcome: 'unknown', message: trigger.text, calls, ms: performance.now() - t };
  for (;;) {
    const read = await callTool(conn, 'get_kubernetes_resources', {
      apiVersion: KustomizationApiVersion,
      kind: 'Kustomization',
      name,
      namespace,
      fields: followFields,
    });
    calls.push(read);
    const state = read.isError ? undefined : reconcileState(read.text, name);
    if (state?.requestedAt && state.lastHandledReconcileAt === state.requestedAt && state.ready?.status !== 'Unknown') {
      const outcome = state.ready?.status === 'True' ? 'Succeeded' : 'Failed';
      return { outcome, message: state.ready?.message ?? '', calls, ms: performance.now() - t };
    }
    if (performance.now() - t + pollMs > timeoutMs) {
      return { outcome: 'unknown', message: `not handled within ${timeoutMs / 1000}s`, calls, ms: performance.now() - t };
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Sum of the answers' bytes. */
export const bytesOf = (calls: readonly Call[]): number => calls.reduce((n, c) => n + c.bytes, 0);

/**
 * Whether a hit of the Flux Operator's search (a section of its documentation site: "Title: ...\n
 * Path: /docs/crd/kustomization\nLines: ...\nContent: ### Prune\n\n`.spec.prune` is ...") answers
 * "Kind path": the section is on the kind's CRD page and its text names the field as a code span
 * (`.spec.prune`); the kind's whole spec ("Kind spec") is the page's "Writing a ... spec" section.
 */
export function theirHitAnswers(hit: string, expected: string): boolean {
  const [kind, field] = expected.split(' ') as [string, string];
  const page = /^Path: (\S+)/m.exec(hit)?.[1];
  if (page !== `/docs/crd/${kind.toLowerCase()}`) return false;
  const content = hit.slice(hit.indexOf('Content: ') + 'Content: '.length);
  if (field === 'spec') return /^#+ Writing an? .* spec\s*$/im.test(content.split('\n')[0] ?? '');
  return content.includes(`\`.${field}\``);
}
