// reconcile_flux_resource: one reconcile tool for every reconcilable kind of the kinds table, as the
// Flux Operator's MCP server offers it, beside the per-kind tools. Like them it acts only through a
// FluxActionRequest.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { RequestSpec } from '../../api/types.js';
import { fluxKind, fluxKinds, groupOf, type FluxKind } from '../../flux/kinds.js';
import { Arg, registerTool, ToolError, type ToolContext } from '../tool.js';
import { act, mutating, type FluxActionOptions } from './flux-actions.js';

const reconcilable = fluxKinds.filter((k) => k.reconcilable);
const names = (kinds: readonly FluxKind[]): string => kinds.map((k) => k.kind).join(', ');

export interface ReconcileArgs {
  kind: string;
  name: string;
  apiVersion?: string | undefined;
  with_source?: boolean | undefined;
  force?: boolean | undefined;
  reset?: boolean | undefined;
}

/** The request spec for a reconcile of any kind; a ToolError says which option the kind does not take. */
export function reconcileSpec(a: ReconcileArgs): RequestSpec {
  const row = fluxKind(a.kind);
  if (!row?.reconcilable) throw new ToolError(`${a.kind} cannot be reconciled; kinds that can: ${names(reconcilable)}`);
  if (a.apiVersion !== undefined && groupOf(a.apiVersion) !== row.group)
    throw new ToolError(
      `apiVersion ${a.apiVersion} is not in ${row.kind}'s group ${row.group}; use ${row.group}/${row.versions[0] ?? 'v1'} or leave it out`,
    );
  const option = (flag: boolean | undefined, allowed: boolean, arg: string, kinds: string): void => {
    if (flag && !allowed) throw new ToolError(`${arg} is not for a ${row.kind}; it is for ${kinds}. Leave it out.`);
  };
  option(a.with_source, row.withSource, 'with_source', names(fluxKinds.filter((k) => k.withSource)));
  option(a.force, row.force, 'force', names(fluxKinds.filter((k) => k.force)));
  option(a.reset, row.reset, 'reset', names(fluxKinds.filter((k) => k.reset)));
  return {
    action: 'Reconcile',
    target: { kind: row.kind, name: a.name, ...(a.apiVersion ? { apiVersion: a.apiVersion } : {}) },
    ...(a.with_source ? { withSource: true } : {}),
    ...(a.force ? { force: true } : {}),
    ...(a.reset ? { reset: true } : {}),
  };
}

/** Registers reconcile_flux_resource (not in read-only mode: it acts). */
export function registerFluxReconcileTool(server: McpServer, ctx: ToolContext, options: FluxActionOptions): void {
  registerTool(server, ctx, {
    name: 'reconcile_flux_resource',
    title: 'Reconcile a Flux object',
    description:
      `Asks Flux to reconcile any reconcilable Flux object now (${names(reconcilable)}) through a FluxActionRequest, and waits for the outcome: ` +
      "the revision applied or fetched, or Flux's own failure message. The request may instead be denied, rate-limited or held for a person's approval by a FluxActionPolicy: the answer says so. " +
      'Answers with the request name if the outcome takes longer than wait_timeout; follow up with get_flux_action_request.',
    input: {
      kind: z.enum(reconcilable.map((k) => k.kind) as [string, ...string[]]).describe('The Flux kind'),
      name: Arg.name('Flux object'),
      namespace: Arg.namespace('Flux object'),
      apiVersion: z
        .string()
        .min(3)
        .max(253)
        .optional()
        .describe("The object's apiVersion, e.g. kustomize.toolkit.fluxcd.io/v1 (default: the version the cluster serves)"),
      with_source: z
        .boolean()
        .optional()
        .describe(`Reconcile the object's source first (${names(fluxKinds.filter((k) => k.withSource))})`),
      force: z
        .boolean()
        .optional()
        .describe(`Force a one-off install/upgrade or refresh: reconcile.fluxcd.io/forceAt (${names(fluxKinds.filter((k) => k.force))})`),
      reset: z
        .boolean()
        .optional()
        .describe(`Reset the failure counts: reconcile.fluxcd.io/resetAt (${names(fluxKinds.filter((k) => k.reset))})`),
      wait_timeout: Arg.waitTimeout,
    },
    annotations: mutating,
    task: true,
    handler: (a, c, signal, call) => act(c, options, a.namespace, reconcileSpec(a), a.wait_timeout, signal, call),
  });
}
