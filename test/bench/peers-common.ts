// What the two peer benchmarks (peers.ts, mcp-peers.ts) share: the peers' binaries, the Git fixture
// (a good and a broken Kustomization on the local sources server, through the e2e helpers), the
// Flux controllers' reconcile counts, the API server's request count, the Flux Operator MCP server
// over stdio, the machine, and a plain-text table.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  apply,
  brokenConfigMapManifest,
  clusterEnv,
  condition,
  configMapManifest,
  fluxObject,
  gitKustomization,
  waitForFlux,
} from '../support/e2e.js';
import { getFluxObject, patchFluxObject, type FluxObjectView } from '../support/harness.js';
import { repoRoot, waitFor } from '../support/kube.js';
import type { McpConnection } from '../support/mcp.js';
import { apiServerRequestCounts } from './host.js';
import { runBounded } from './stats.js';

const run = promisify(execFile);

/** Progress on stderr (the tables go to stdout). */
export const say = (line: string): void => void process.stderr.write(`[peers] ${line}\n`);

export interface PeerBinaries {
  /** The flux CLI of the pinned Flux release. */
  flux: string;
  /** The Flux Operator MCP server of the pinned flux-operator. */
  mcp: string;
}

/**
 * The peers' binaries: $FLUXACT_FLUX_CLI and $FLUXACT_FLUX_MCP, else the ones `test/cluster/build.sh
 * peers` builds into the per-user cache (minutes the first time, at once afterwards).
 */
export async function peerBinaries(): Promise<PeerBinaries> {
  const flux = process.env.FLUXACT_FLUX_CLI;
  const mcp = process.env.FLUXACT_FLUX_MCP;
  if (flux && mcp) return { flux, mcp };
  say('test/cluster/build.sh peers (the flux CLI and the Flux Operator MCP server)');
  const { stdout } = await run('bash', [path.join(repoRoot, 'test', 'cluster', 'build.sh'), 'peers'], { maxBuffer: 16 << 20 });
  const [builtFlux, builtMcp] = stdout.trim().split('\n').slice(-2);
  if (!builtFlux || !builtMcp) throw new Error('test/cluster/build.sh peers printed no paths');
  return { flux: flux ?? builtFlux, mcp: mcp ?? builtMcp };
}

/** The versions the figures belong to: versions.env, the peers' own --version, Node.js. */
export async function versions(binaries: PeerBinaries): Promise<Record<string, string>> {
  const pins = readFileSync(path.join(repoRoot, 'test', 'cluster', 'versions.env'), 'utf8');
  const pin = (key: string): string => new RegExp(`^${key}=(\\S+)`, 'm').exec(pins)?.[1] ?? '?';
  const said = async (bin: string, args: string[]): Promise<string> =>
    run(bin, args).then(
      ({ stdout }) => stdout.trim().split('\n')[0] ?? '',
      (err: unknown) => `(${String(err)})`,
    );
  return {
    kubernetes: pin('KUBERNETES_VERSION'),
    flux: pin('FLUX_VERSION'),
    'kustomize-controller': pin('KUSTOMIZE_CONTROLLER_VERSION'),
    'source-controller': pin('SOURCE_CONTROLLER_VERSION'),
    'flux-operator': pin('FLUX_OPERATOR_VERSION'),
    'flux CLI': await said(binaries.flux, ['version', '--client']),
    'flux-operator-mcp': await said(binaries.mcp, ['--version']),
    node: process.version,
  };
}

/** The machine: cores, memory, load when the run started. */
export function machine(): Record<string, string | number> {
  const gib = (bytes: number): number => Math.round((bytes / 2 ** 30) * 10) / 10;
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? '?',
    memoryGiB: gib(totalmem()),
    freeMemoryGiB: gib(freemem()),
    loadAverage1m: Math.round(loadavg()[0]! * 100) / 100,
  };
}

/** The Git fixture: Kustomizations of one GitRepository `repo` on the local sources server. */
export interface Fixture {
  namespace: string;
  /** A Kustomization that applies (gitKustomization's `app`). */
  good: string;
  /** A Kustomization whose manifest the API server refuses: every reconcile fails. */
  broken: string;
  /** Further good Kustomizations (./app under a name prefix each), for distinct targets. */
  distinct: string[];
}

/** The name of the i-th distinct good Kustomization. */
export const distinctName = (i: number): string => `good-${String(i).padStart(4, '0')}`;

/**
 * Sets up the fixture in namespace ns: gitKustomization (repository, GitRepository `repo`,
 * Kustomization `app`), a commit adding ./broken (a ConfigMap the API server refuses) and the
 * Kustomization `broken` applying it, and `distinct` more Kustomizations applying ./app (each under
 * its own name prefix), every one of them reconciled by the real controllers before it returns.
 */
export async function setUpFixture(kc: k8s.KubeConfig, ns: string, distinct: number): Promise<Fixture> {
  const started = performance.now();
  const repo = await gitKustomization({ kc, ns });
  const head = await repo.commit(
    { 'broken/configmap.yaml': brokenConfigMapManifest, 'app/configmap.yaml': configMapManifest('one') },
    'broken',
  );
  // The GitRepository's interval is an hour: ask source-controller for the new commit now.
  await patchFluxObject(kc, 'GitRepository', ns, 'repo', {
    metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': new Date().toISOString() } },
  });
  const revision = `${repo.branch}@sha1:${head}`;
  await waitForFlux(kc, 'GitRepository', ns, 'repo', `to fetch ${head}`, (o) => artifactRevision(o) === revision);
  const ks = (name: string, spec: Record<string, unknown>): Record<string, unknown> =>
    fluxObject('Kustomization', ns, name, {
      interval: '1h',
      prune: true,
      targetNamespace: ns,
      sourceRef: { kind: 'GitRepository', name: 'repo' },
      ...spec,
    });
  await apply(kc, ks('broken', { path: './broken' }));
  const names = Array.from({ length: distinct }, (_, i) => distinctName(i));
  await runBounded(names.length, 16, async (i) => {
    const name = names[i]!;
    await apply(kc, ks(name, { path: './app', namePrefix: `${name}-` }));
  });
  await waitForFlux(kc, 'Kustomization', ns, 'broken', 'to fail', (o) => isFailedAt(o, revision));
  await waitForFlux(kc, 'Kustomization', ns, 'app', `to apply ${head}`, (o) => o.status?.['lastAppliedRevision'] === revision, 300_000);
  // One list a second rather than a poll per object: the controllers share the cores with this.
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  let applied = 0;
  await waitFor(
    `${names.length} Kustomizations to apply ${head}`,
    async () => {
      const list = (await custom.listNamespacedCustomObject({
        group: 'kustomize.toolkit.fluxcd.io',
        version: 'v1',
        namespace: ns,
        plural: 'kustomizations',
      })) as { items: FluxObjectView[] };
      applied = list.items.filter((o) => o.metadata.name.startsWith('good-') && o.status?.['lastAppliedRevision'] === revision).length;
      return applied >= names.length ? true : undefined;
    },
    900_000,
    1000,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)} (${applied} did)`);
  });
  say(
    `fixture in ${ns}: app, broken and ${distinct} more Kustomizations reconciled in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return { namespace: ns, good: 'app', broken: 'broken', distinct: names };
}

function artifactRevision(o: FluxObjectView): string | undefined {
  return (o.status?.['artifact'] as { revision?: string } | undefined)?.revision;
}

function isFailedAt(o: FluxObjectView, revision: string): boolean {
  const ready = condition(o, 'Ready');
  return ready?.status === 'False' && o.status?.['lastAttemptedRevision'] === revision;
}

/** Reads a Kustomization (for its Ready message after a run). */
export async function readyMessage(kc: k8s.KubeConfig, ns: string, name: string): Promise<string> {
  const o = await getFluxObject(kc, 'Kustomization', ns, name);
  const ready = condition(o, 'Ready');
  return `${ready?.status ?? '?'} ${ready?.reason ?? ''}: ${ready?.message ?? ''}`;
}

/** Reconciles run by the Flux controllers on objects of one namespace, by kind. */
export type ReconcileCounts = Record<string, number>;

/**
 * gotk_reconcile_duration_seconds_count (fluxcd/pkg/runtime: one sample per reconcile) of
 * source-controller and kustomize-controller, summed by kind over the objects of namespace ns. Their
 * metrics ports are in the local cluster's env file.
 */
export async function fluxReconciles(ns: string): Promise<ReconcileCounts> {
  const counts: ReconcileCounts = {};
  for (const controller of ['SOURCE_CONTROLLER', 'KUSTOMIZE_CONTROLLER']) {
    const port = clusterEnv(`${controller}_METRICS_PORT`);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (!line.startsWith('gotk_reconcile_duration_seconds_count{')) continue;
      const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m): [string, string] => [m[1] ?? '', m[2] ?? '']));
      if (labels['namespace'] !== ns) continue;
      const kind = labels['kind'] ?? '?';
      counts[kind] = (counts[kind] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return counts;
}

/** after - before, by kind. */
export function reconcilesSince(before: ReconcileCounts, after: ReconcileCounts): ReconcileCounts {
  const diff: ReconcileCounts = {};
  for (const [kind, n] of Object.entries(after)) {
    const d = n - (before[kind] ?? 0);
    if (d > 0) diff[kind] = d;
  }
  return diff;
}

/** "Kustomization 3, GitRepository 1" (Kustomizations first). */
export function formatReconciles(counts: ReconcileCounts): string {
  const order = (k: string): number => (k === 'Kustomization' ? 0 : 1);
  const parts = Object.entries(counts)
    .sort(([a], [b]) => order(a) - order(b) || a.localeCompare(b))
    .map(([k, n]) => `${k === 'Kustomization' ? 'ks' : k === 'GitRepository' ? 'git' : k} ${n}`);
  return parts.length > 0 ? parts.join(', ') : '0';
}

/**
 * Waits until the controllers' reconcile counts for ns stop moving (the same for quietMs), at most
 * timeoutMs, so a scenario's count includes what it caused after its clients returned.
 */
export async function settledReconciles(ns: string, quietMs = 3000, timeoutMs = 30_000): Promise<ReconcileCounts> {
  const deadline = performance.now() + timeoutMs;
  let last = await fluxReconciles(ns);
  let since = performance.now();
  while (performance.now() < deadline) {
    // Once a second: with a thousand objects the controllers' /metrics pages are megabytes.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = await fluxReconciles(ns);
    if (JSON.stringify(now) !== JSON.stringify(last)) {
      last = now;
      since = performance.now();
    } else if (performance.now() - since >= quietMs) {
      return now;
    }
  }
  return last;
}

/** All requests the API server counted (apiserver_request_total, every client, every verb). */
export async function apiRequestTotal(kc: k8s.KubeConfig): Promise<number> {
  const counts = await apiServerRequestCounts(kc);
  if (!counts) throw new Error("could not read the API server's /metrics");
  return [...counts.values()].reduce((a, b) => a + b, 0);
}

/**
 * The API server's requests per second while nothing of the benchmark runs (the controllers,
 * kube-controller-manager, kwok's node heartbeats, this process's watches), over ms.
 */
export async function idleApiRate(kc: k8s.KubeConfig, ms = 5000): Promise<number> {
  const before = await apiRequestTotal(kc);
  const t = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = await apiRequestTotal(kc);
  // The second scrape of /metrics counts itself too: leave both scrapes out.
  return Math.max(0, after - before - 1) / ((performance.now() - t) / 1000);
}

/**
 * The Flux Operator MCP server (`flux-operator-mcp serve`, stdio) with the admin kubeconfig, and the
 * SDK client connected to it. It refuses to start without $KUBECONFIG.
 */
export async function connectFluxOperatorMcp(binary: string, kubeconfig: string): Promise<McpConnection> {
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  const transport = new StdioClientTransport({
    command: binary,
    args: ['serve', '--transport', 'stdio'],
    env: { ...env, KUBECONFIG: kubeconfig },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'fluxact-bench', version: '1.0.0' });
  await client.connect(transport);
  return { client, close: () => client.close() };
}

/** A plain-text table: the header, a rule, the rows, columns padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join(' | ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}

/** Seconds with one decimal (two under 10 s). */
export const seconds = (ms: number): string => (ms < 10_000 ? (ms / 1000).toFixed(2) : (ms / 1000).toFixed(1));

/** Prints the usage and exits when --help was given. */
export function helpRequested(help: boolean | undefined, usage: string): void {
  if (!help) return;
  console.log(usage);
  process.exit(0);
}

/** A flag's value as an integer from min to max, or an error naming the flag. */
export function intFlag(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} ${raw}: expected an integer from ${min} to ${max}`);
  return n;
}

/**
 * A process's memory from /proc/PID/status, the highest of each figure seen while it ran, KiB:
 * VmHWM (peak RSS), RssAnon (its private pages: heap, stacks) and RssFile (pages of files it
 * maps, its executable's above all, which every process of the same binary shares).
 */
export interface ProcessMemory {
  peakRssKiB: number;
  anonKiB: number;
  fileKiB: number;
}

/** The highest of each of two readings' figures (a missing one counts as nothing). */
export function highestMemory(a: ProcessMemory | undefined, b: ProcessMemory): ProcessMemory {
  return {
    peakRssKiB: Math.max(a?.peakRssKiB ?? 0, b.peakRssKiB),
    anonKiB: Math.max(a?.anonKiB ?? 0, b.anonKiB),
    fileKiB: Math.max(a?.fileKiB ?? 0, b.fileKiB),
  };
}

/**
 * How many flux processes fit in 3/4 of the memory available: each holds its private pages; the
 * pages of the flux binary are resident once, whatever the number of processes.
 */
export function fluxProcessesThatFit(availableKiB: number, one: ProcessMemory): number {
  return Math.max(0, Math.floor((availableKiB * 0.75 - one.fileKiB) / Math.max(one.anonKiB, 1)));
}

/**
 * The step a flux process that failed was on, from its output: its last progress line (► annotating,
 * ◎ waiting, ✔ done) before the ✗ line, without the object's name and revision, so that the steps of
 * many processes can be counted; "(none)" when it failed before its first (reading the object).
 */
export function fluxStep(output: string): string {
  const lines = output.split('\n').map((l) => l.trim());
  const end = lines.findIndex((l) => l.startsWith('✗'));
  const step = lines
    .slice(0, end === -1 ? lines.length : end)
    .filter((l) => /^[►◎✔]/.test(l))
    .pop();
  if (step === undefined) return '(none)';
  if (step.startsWith('► annotating ')) return step.split(' ').slice(0, 3).join(' ');
  return step.replace(/ revision .*$/, ' revision');
}
