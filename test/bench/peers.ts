// npm run bench:peers: a reconcile-with-source of a Kustomization through the project and through
// its peers, on the real Flux controllers of the local control plane (cluster.sh up --with-flux):
//
//   flux CLI        `flux reconcile ks NAME --with-source --timeout T` (the pinned Flux release's CLI)
//   kubectl         `kubectl apply` of a FluxActionRequest, then `kubectl wait` for Ready or Stalled
//   MCP (ours)      reconcile_flux_resource through `fluxact mcp` (stdio, the SDK's client)
//   MCP (flux-op.)  reconcile_flux_resource through the Flux Operator MCP server, then its
//                   get_kubernetes_resources until Flux handled the request (it answers at once)
//
// first one good and one broken Kustomization one at a time, then N simultaneous reconciles (10, 100,
// 1000) of N distinct Kustomizations and of one, as N flux processes or N FluxActionRequests. For
// each: wall time, what the caller learnt, the API server's requests (apiserver_request_total, every
// client) and the reconciles the Flux controllers ran (gotk_reconcile_duration_seconds_count).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { ApiVersion, Kind } from '../../src/api/types.js';
import { clusterEnv } from '../support/e2e.js';
import { createRequest, ensureInstalled } from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, randomSuffix, testKubeconfigPath, waitFor } from '../support/kube.js';
import { connectStdio, type McpConnection } from '../support/mcp.js';
import { reconcileOurs, reconcileTheirs } from './mcp-agent.js';
import { startOperatorUnderTest, type OperatorUnderTest } from './operator-process.js';
import {
  apiRequestTotal,
  connectFluxOperatorMcp,
  fluxProcessesThatFit,
  fluxStep,
  highestMemory,
  formatReconciles,
  helpRequested,
  idleApiRate,
  intFlag,
  machine,
  peerBinaries,
  readyMessage,
  reconcilesSince,
  say,
  seconds,
  settledReconciles,
  setUpFixture,
  table,
  versions,
  type Fixture,
  type ProcessMemory,
  type ReconcileCounts,
} from './peers-common.js';
import { procKiB, processStatus } from '../support/proc.js';
import { RequestTracker } from './request-tracker.js';
import { runBounded } from './stats.js';

const usage = `npm run bench:peers -- [options]
  --sizes 10,100,1000     simultaneous reconciles per load step (BENCH_PEERS_SIZES)
  --flux-timeout 60       seconds: flux reconcile --timeout, kubectl wait --timeout and the MCP waits (BENCH_PEERS_FLUX_TIMEOUT)
  --load-timeout 300      seconds: the same for the simultaneous reconciles (BENCH_PEERS_LOAD_TIMEOUT)
  --max-flux-processes N  most flux processes started at once (default: as many as fit in 3/4 of the available memory: one flux process's private memory, measured at the first size, each, and its binary's pages once)
  --poll-seconds 2        how often the agent reads the object after the Flux Operator MCP server's reconcile (BENCH_PEERS_POLL_SECONDS)
  --no-load               only the single reconciles`;

interface Options {
  sizes: number[];
  fluxTimeoutSeconds: number;
  loadTimeoutSeconds: number;
  maxFluxProcesses: number | undefined;
  pollSeconds: number;
  load: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string', default: process.env.BENCH_PEERS_SIZES ?? '10,100,1000' },
      'flux-timeout': { type: 'string', default: process.env.BENCH_PEERS_FLUX_TIMEOUT ?? '60' },
      'load-timeout': { type: 'string', default: process.env.BENCH_PEERS_LOAD_TIMEOUT ?? '300' },
      'max-flux-processes': { type: 'string' },
      'poll-seconds': { type: 'string', default: process.env.BENCH_PEERS_POLL_SECONDS ?? '2' },
      'no-load': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  helpRequested(values.help, usage);
  const int = intFlag;
  return {
    sizes: values.sizes.split(',').map((s) => int('sizes', s.trim(), 1, 2000)),
    fluxTimeoutSeconds: int('flux-timeout', values['flux-timeout'], 5, 900),
    loadTimeoutSeconds: int('load-timeout', values['load-timeout'], 5, 1800),
    maxFluxProcesses:
      values['max-flux-processes'] === undefined ? undefined : int('max-flux-processes', values['max-flux-processes'], 1, 2000),
    pollSeconds: int('poll-seconds', values['poll-seconds'], 1, 60),
    load: !values['no-load'],
  };
}

/** One measured scenario. */
interface Row {
  scenario: string;
  via: string;
  /** How many reconciles were asked for. */
  n: number;
  wallMs: number;
  /** What the callers learnt: "10 Succeeded", "1 Failed: <message>", "3 timed out". */
  outcome: string;
  /** Requests the API server counted from start until the controllers went quiet. */
  apiCalls: number;
  /** The same, minus the idle rate over that time. */
  apiCallsNet: number;
  reconciles: ReconcileCounts;
  note?: string;
}

interface Context {
  kc: k8s.KubeConfig;
  kubeconfig: string;
  kubectl: string;
  flux: string;
  ns: string;
  fixture: Fixture;
  ours: McpConnection;
  theirs: McpConnection;
  tracker: RequestTracker;
  idleRate: number;
  options: Options;
}

/** Runs a scenario between two readings of the API server's and the controllers' counters. */
async function measure(
  ctx: Context,
  scenario: string,
  via: string,
  n: number,
  body: () => Promise<{ outcome: string; note?: string }>,
): Promise<Row> {
  const reconcilesBefore = await settledReconciles(ctx.ns);
  const apiBefore = await apiRequestTotal(ctx.kc);
  const t = performance.now();
  const { outcome, note } = await body();
  const wallMs = performance.now() - t;
  const reconcilesAfter = await settledReconciles(ctx.ns);
  const apiAfter = await apiRequestTotal(ctx.kc);
  const apiCalls = Math.max(0, apiAfter - apiBefore - 1);
  const apiCallsNet = Math.max(0, Math.round(apiCalls - ctx.idleRate * ((performance.now() - t) / 1000)));
  const row: Row = {
    scenario,
    via,
    n,
    wallMs,
    outcome,
    apiCalls,
    apiCallsNet,
    reconciles: reconcilesSince(reconcilesBefore, reconcilesAfter),
    ...(note ? { note } : {}),
  };
  say(
    `${scenario} via ${via} (${n}): ${seconds(wallMs)} s, ${outcome}; API calls ${apiCalls} (net ${apiCallsNet}); Flux reconciles ${formatReconciles(row.reconciles)}`,
  );
  return row;
}

interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** What it held in memory, read while it ran (undefined when not sampled). */
  memory: ProcessMemory | undefined;
}

/** Runs a program to its end; with `sample`, reads its memory every 200 ms. */
function runProcess(bin: string, args: string[], input?: string, sample = true): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let memory: ProcessMemory | undefined;
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const read = (): void => {
      // Undefined once it exited between samples.
      const status = child.pid === undefined ? undefined : processStatus(child.pid);
      if (status === undefined) return;
      memory = highestMemory(memory, {
        peakRssKiB: procKiB(status, 'VmHWM'),
        anonKiB: procKiB(status, 'RssAnon'),
        fileKiB: procKiB(status, 'RssFile'),
      });
    };
    const timer = sample ? setInterval(read, 200) : undefined;
    child.once('error', (err) => {
      clearInterval(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearInterval(timer);
      resolve({ code, stdout, stderr, memory });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** The line of flux's output that says how it ended (its ✔ or ✗ line). */
function fluxVerdict(r: ProcessResult): string {
  const lines = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim());
  return (lines.filter((l) => l.startsWith('✗') || l.startsWith('✔')).pop() ?? lines.filter(Boolean).pop() ?? '').slice(0, 200);
}

function fluxArgs(ctx: Context, name: string, timeoutSeconds: number): string[] {
  return ['reconcile', 'ks', name, '-n', ctx.ns, '--with-source', '--timeout', `${timeoutSeconds}s`, '--kubeconfig', ctx.kubeconfig];
}

/** Tallies outcomes: "9 Succeeded, 1 Failed". */
function tally(outcomes: string[]): string {
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o, (counts.get(o) ?? 0) + 1);
  return [...counts.entries()].map(([o, n]) => `${n} ${o}`).join(', ');
}

async function viaFlux(ctx: Context, name: string): Promise<{ outcome: string }> {
  const r = await runProcess(ctx.flux, fluxArgs(ctx, name, ctx.options.fluxTimeoutSeconds));
  return { outcome: `exit ${r.code}: ${fluxVerdict(r)}` };
}

/**
 * kubectl apply of a request, then two `kubectl wait`s side by side (Ready for success, Stalled for
 * failure: one condition each), the first to be met ends the wait; then a `kubectl get` of its
 * phase and message, as a user reads the outcome.
 */
async function viaKubectl(ctx: Context, target: string): Promise<{ outcome: string }> {
  const name = `kubectl-${target}-${randomSuffix()}`;
  const request = {
    apiVersion: ApiVersion,
    kind: Kind,
    metadata: { name, namespace: ctx.ns },
    spec: { action: 'Reconcile', withSource: true, target: { kind: 'Kustomization', name: target } },
  };
  const kube = (...args: string[]): string[] => ['--kubeconfig', ctx.kubeconfig, ...args];
  const applied = await runProcess(ctx.kubectl, kube('apply', '-f', '-'), stringify(request));
  if (applied.code !== 0) return { outcome: `kubectl apply failed: ${applied.stderr.trim()}` };
  const wait = (condition: string): { done: Promise<ProcessResult>; kill: () => void } => {
    const child = spawn(
      ctx.kubectl,
      kube(
        'wait',
        '-n',
        ctx.ns,
        `fluxactionrequest/${name}`,
        `--for=condition=${condition}`,
        `--timeout=${ctx.options.fluxTimeoutSeconds}s`,
      ),
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const done = new Promise<ProcessResult>((resolve) =>
      child.once('close', (code) => {
        resolve({ code, stdout, stderr: '', memory: undefined });
      }),
    );
    return { done, kill: () => child.kill('SIGTERM') };
  };
  const ready = wait('Ready');
  const stalled = wait('Stalled');
  const first = await Promise.race([ready.done.then((r) => ({ which: 'Ready', r })), stalled.done.then((r) => ({ which: 'Stalled', r }))]);
  // The one not met yet (or also timed out): stop it and let it exit.
  const other = first.which === 'Ready' ? stalled : ready;
  if (first.r.code === 0) other.kill();
  await Promise.all([ready.done, stalled.done]);
  const got = await runProcess(
    ctx.kubectl,
    kube('get', '-n', ctx.ns, `fluxactionrequest/${name}`, '-o', 'jsonpath={.status.phase}: {.status.message}'),
  );
  return { outcome: got.stdout.trim().slice(0, 200) || `kubectl get failed: ${got.stderr.trim()}` };
}

async function single(ctx: Context): Promise<Row[]> {
  const rows: Row[] = [];
  const wait = ctx.options.fluxTimeoutSeconds;
  for (const [label, target] of [
    ['good Kustomization', ctx.fixture.good],
    ['broken Kustomization', ctx.fixture.broken],
  ] as const) {
    rows.push(await measure(ctx, label, 'flux CLI', 1, () => viaFlux(ctx, target)));
    rows.push(await measure(ctx, label, 'kubectl apply + wait', 1, () => viaKubectl(ctx, target)));
    rows.push(
      await measure(ctx, label, 'MCP: fluxact', 1, async () => {
        const f = await reconcileOurs(ctx.ours, 'reconcile_flux_resource', target, ctx.ns, wait);
        return { outcome: `${f.outcome}: ${f.message.slice(0, 160)}`, note: `${f.calls.length} tool call` };
      }),
    );
    rows.push(
      await measure(ctx, label, 'MCP: flux-operator-mcp', 1, async () => {
        const f = await reconcileTheirs(ctx.theirs, target, ctx.ns, ctx.options.pollSeconds * 1000, wait * 1000);
        return {
          outcome: `${f.outcome}: ${f.message.slice(0, 160)}`,
          note: `${f.calls.length} tool calls (1 reconcile, then a read every ${ctx.options.pollSeconds} s); the reconcile answered in ${seconds(f.calls[0]?.ms ?? 0)} s`,
        };
      }),
    );
  }
  return rows;
}

/** How many of a burst's flux processes have their memory read (reading all would load the machine). */
const SampledProcesses = 10;

const memAvailableKiB = (): number => procKiB(readFileSync('/proc/meminfo', 'utf8'), 'MemAvailable');

interface BurstMemory extends ProcessMemory {
  /** How far the machine's available memory fell below where it was at the start, at most, KiB. */
  machineKiB: number;
}

/**
 * N flux processes at once; resolves with the outcome tally (and where failed ones stopped) and the
 * highest memory figures of the processes read.
 */
async function fluxBurst(ctx: Context, targets: string[]): Promise<{ outcome: string; memory: BurstMemory }> {
  const before = memAvailableKiB();
  let lowest = before;
  const timer = setInterval(() => {
    lowest = Math.min(lowest, memAvailableKiB());
  }, 1000);
  const results = await Promise.all(
    targets.map((t, i) => runProcess(ctx.flux, fluxArgs(ctx, t, ctx.options.loadTimeoutSeconds), undefined, i < SampledProcesses)),
  ).finally(() => {
    clearInterval(timer);
  });
  const outcomes = results.map((r) =>
    r.code === 0 ? 'Succeeded' : /deadline exceeded|timed out|timeout/i.test(fluxVerdict(r)) ? 'timed out' : 'failed',
  );
  const failed = results.find((r) => r.code !== 0);
  const steps = tally(results.filter((r) => r.code !== 0).map((r) => `at "${fluxStep(`${r.stdout}\n${r.stderr}`)}"`));
  const none = { peakRssKiB: 0, anonKiB: 0, fileKiB: 0 };
  const memory = {
    ...results.reduce<ProcessMemory>((m, r) => (r.memory ? highestMemory(m, r.memory) : m), none),
    machineKiB: before - lowest,
  };
  return { outcome: `${tally(outcomes)}${failed ? ` (e.g. ${fluxVerdict(failed).slice(0, 120)}; failed ${steps})` : ''}`, memory };
}

/** N FluxActionRequests created at once (64 creates in flight), followed by one watch. */
async function requestBurst(ctx: Context, targets: string[]): Promise<{ outcome: string }> {
  const names = targets.map((t, i) => `burst-${t}-${i}-${randomSuffix()}`.slice(0, 63));
  const pending = new Set(names);
  let resolveAll!: () => void;
  const allDone = new Promise<void>((resolve) => (resolveAll = resolve));
  const onFinished = (name: string): void => {
    if (pending.delete(name) && pending.size === 0) resolveAll();
  };
  ctx.tracker.onFinished(onFinished);
  for (const name of names) if (ctx.tracker.finished.has(name)) onFinished(name);
  const createErrors: string[] = [];
  await runBounded(names.length, 64, async (i) => {
    await createRequest(ctx.kc, ctx.ns, names[i]!, {
      action: 'Reconcile',
      withSource: true,
      target: { kind: 'Kustomization', name: targets[i]! },
    }).catch((err: unknown) => {
      createErrors.push(String(err));
      pending.delete(names[i]!);
    });
  });
  if (pending.size === 0) resolveAll();
  // The same bound as the flux processes' --timeout.
  const timeoutMs = ctx.options.loadTimeoutSeconds * 1000;
  await Promise.race([allDone, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
  const outcomes = names.map(
    (n) => ctx.tracker.finished.get(n)?.phase ?? (createErrors.length > 0 && !pending.has(n) ? 'not created' : 'unfinished'),
  );
  return { outcome: tally(outcomes) };
}

const mib = (kib: number): number => Math.round(kib / 1024);

async function load(ctx: Context): Promise<Row[]> {
  const rows: Row[] = [];
  const availableKiB = memAvailableKiB();
  let one: ProcessMemory | undefined;
  for (const n of ctx.options.sizes) {
    for (const shape of ['distinct', 'one'] as const) {
      const targets = shape === 'distinct' ? ctx.fixture.distinct.slice(0, n) : Array.from({ length: n }, () => ctx.fixture.good);
      const scenario = `${n} at once, ${shape === 'distinct' ? `${n} Kustomizations` : 'one Kustomization'}`;
      // Memory: flux processes are started only as many as fit in 3/4 of the memory available at the start.
      const allowed = ctx.options.maxFluxProcesses ?? (one ? fluxProcessesThatFit(availableKiB, one) : Infinity);
      if (n <= allowed) {
        rows.push(
          await measure(ctx, scenario, 'flux CLI processes', n, async () => {
            const r = await fluxBurst(ctx, targets);
            const m = r.memory;
            one = highestMemory(one, m);
            return {
              outcome: r.outcome,
              note:
                `one flux process: peak RSS ${mib(m.peakRssKiB)} MiB, ${mib(m.anonKiB)} MiB of it private; ` +
                `the machine's available memory fell by ${mib(m.machineKiB)} MiB at most`,
            };
          }),
        );
      } else {
        const why = ctx.options.maxFluxProcesses
          ? `--max-flux-processes ${ctx.options.maxFluxProcesses}`
          : `${n} × ${mib(one?.anonKiB ?? 0)} MiB private + ${mib(one?.fileKiB ?? 0)} MiB shared (one flux process) > 3/4 of the ${mib(availableKiB)} MiB available`;
        say(`${scenario} via flux CLI processes: not run: ${why}`);
        rows.push({
          scenario,
          via: 'flux CLI processes',
          n,
          wallMs: NaN,
          outcome: `not run: ${why}`,
          apiCalls: NaN,
          apiCallsNet: NaN,
          reconciles: {},
        });
      }
      rows.push(await measure(ctx, scenario, 'FluxActionRequests', n, () => requestBurst(ctx, targets)));
    }
  }
  return rows;
}

function render(rows: Row[]): string {
  const cell = (n: number): string => (Number.isNaN(n) ? '–' : String(n));
  return table(
    ['scenario', 'via', 'wall s', 'outcome', 'API calls (net)', 'Flux reconciles', 'note'],
    rows.map((r) => [
      r.scenario,
      r.via,
      Number.isNaN(r.wallMs) ? '–' : seconds(r.wallMs),
      r.outcome.replaceAll('\n', ' ').slice(0, 110),
      Number.isNaN(r.apiCalls) ? '–' : `${cell(r.apiCalls)} (${cell(r.apiCallsNet)})`,
      formatReconciles(r.reconciles),
      r.note ?? '',
    ]),
  );
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const kc = adminKubeConfig();
  const kubeconfig = testKubeconfigPath();
  const binaries = await peerBinaries();
  const info = { machine: machine(), versions: await versions(binaries) };
  say(`machine ${JSON.stringify(info.machine)}; versions ${JSON.stringify(info.versions)}`);
  await ensureInstalled();
  const ns = await createNamespace(kc, 'peers');
  let operator: OperatorUnderTest | undefined;
  let ours: McpConnection | undefined;
  let theirs: McpConnection | undefined;
  let tracker: RequestTracker | undefined;
  try {
    const distinct = options.load ? Math.max(...options.sizes) : 0;
    const fixture = await setUpFixture(kc, ns, distinct);
    operator = await startOperatorUnderTest({
      mode: 'child',
      admin: kc,
      watchNamespace: ns,
      concurrency: 8,
      logLevel: 'info',
      startTimeoutMs: 60_000,
    });
    ours = await connectStdio();
    theirs = await connectFluxOperatorMcp(binaries.mcp, kubeconfig);
    tracker = new RequestTracker(kc, ns, pino({ level: 'warn' }, pino.destination(2)));
    await tracker.start();
    await settledReconciles(ns, 3000, 120_000);
    const idleRate = await idleApiRate(kc);
    say(`idle API server rate: ${idleRate.toFixed(1)} requests/s`);
    const ctx: Context = {
      kc,
      kubeconfig,
      kubectl: clusterEnv('KUBECTL'),
      flux: binaries.flux,
      ns,
      fixture,
      ours,
      theirs,
      tracker,
      idleRate,
      options,
    };
    const rows = await single(ctx);
    console.log(`\nOne reconcile with source (flux --timeout ${options.fluxTimeoutSeconds}s; the MCP waits and kubectl wait the same):\n`);
    console.log(render(rows));
    const loadRows = options.load ? await load(ctx) : [];
    if (loadRows.length > 0) {
      console.log(
        `\nSimultaneous reconciles with source (good Kustomizations; flux --timeout ${options.loadTimeoutSeconds}s, the requests waited for as long):\n`,
      );
      console.log(render(loadRows));
    }
    console.log(
      `\nAPI calls: every request kube-apiserver counted (apiserver_request_total, all clients: the callers, the operator, the Flux controllers) from the start of a scenario until the controllers' reconcile counts stood still for 3 s; net: minus the idle rate (${idleRate.toFixed(1)}/s) over that time. Flux reconciles: gotk_reconcile_duration_seconds_count of kustomize-controller (ks) and source-controller (git) for the namespace.`,
    );
    console.log(`machine: ${JSON.stringify(info.machine)}\nversions: ${JSON.stringify(info.versions)}`);
    console.log(`broken Kustomization's Ready: ${await readyMessage(kc, ns, fixture.broken)}`);
    console.log(`PEERS_JSON ${JSON.stringify({ ...info, idleRate, options, single: rows, load: loadRows })}`);
  } finally {
    await tracker?.stop().catch(() => undefined);
    await theirs?.close().catch(() => undefined);
    await ours?.close().catch(() => undefined);
    await operator?.stop().catch(() => undefined);
    await deleteNamespace(kc, ns);
    await waitFor(`namespace ${ns} to go`, async () => (await namespaceGone(kc, ns)) || undefined, 120_000, 1000).catch(() => undefined);
  }
}

/** True once the namespace is gone. */
async function namespaceGone(kc: k8s.KubeConfig, ns: string): Promise<boolean> {
  return kc
    .makeApiClient(k8s.CoreV1Api)
    .readNamespace({ name: ns })
    .then(
      () => false,
      () => true,
    );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:peers: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
