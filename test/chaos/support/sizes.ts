// How big a chaos run is. `make test` runs the short version (the defaults); `make chaos` sets the
// full sizes through these environment variables.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chaosDir } from './operator.js';
import type { InvariantReport } from './world.js';

function size(env: string, def: number, min = 1, max = 1_000_000): number {
  const raw = process.env[env];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw new Error(`${env}: expected an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

export const sizes = {
  /** Operator SIGKILLs in scenario a (full: 100). */
  kills: size('CHAOS_KILLS', 10),
  /** Mixed requests created around each kill, restart or failover. */
  requestsPerRound: size('CHAOS_REQUESTS_PER_ROUND', 6),
  /** kube-apiserver and etcd restarts in scenario b, each (full: 3). */
  restarts: size('CHAOS_RESTARTS', 1),
  /** Leader kills in scenario c (full: 5). */
  failovers: size('CHAOS_FAILOVERS', 1),
  /** Requests carried out through the slow, connection-dropping proxy in scenario d (full: 500; 0 skips it). */
  proxyRequests: size('CHAOS_PROXY_REQUESTS', 60, 0),
  /** Invalid requests sent to admission in scenario e (full: 1200). */
  invalid: size('CHAOS_INVALID', 200),
  /** Fuzzed MCP calls in scenario f, over stdio and HTTP together (full: 10000). */
  mcpCalls: size('CHAOS_MCP_CALLS', 1000),
};

/** Prints a scenario's figures (stderr, so jest does not wrap them) and keeps them in .cache/chaos/. */
export function printFigures(scenario: string, figures: Record<string, unknown>): void {
  mkdirSync(chaosDir, { recursive: true });
  writeFileSync(path.join(chaosDir, `figures-${scenario}.json`), `${JSON.stringify(figures, null, 2)}\n`);
  const lines = Object.entries(figures).map(([k, v]) => `  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  process.stderr.write(`\n[chaos] ${scenario}\n${lines.join('\n')}\n`);
}

/** The invariant figures in one line each. */
export function invariantFigures(report: InvariantReport): Record<string, unknown> {
  const r = report.requests;
  return {
    requests: `${r.created} created ${JSON.stringify(r.byType)}; ${r.succeeded} succeeded, ${r.failed} failed ${JSON.stringify(r.failedByReason)}, ${r.unfinished} lost (unfinished), ${r.endedTwice} ended twice`,
    tokens: `${report.tokens.objects} objects; ${report.tokens.recorded} tokens recorded, ${report.tokens.written} written; ${report.tokens.unrecorded} written but unrecorded (doubled), ${report.tokens.lost} recorded but never written (lost), ${report.tokens.coveredByLater} covered by a later token`,
    events: `${report.events.requested} Requested, ${report.events.terminal} Succeeded/Failed; ${report.events.doubled} requests with doubled Events, ${report.events.missingTerminal} finished without a terminal Event`,
    watch: `${report.watch.reconnects} watch reconnects, ${report.watch.gaps} re-lists after 410 Gone`,
    ...(report.violations.length > 0 ? { violations: report.violations } : {}),
  };
}
