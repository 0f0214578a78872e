// npm run bench: how many Reconcile requests a second the operator carries out on the test cluster,
// how long each takes from creation to Succeeded, how many Flux reconciles coalescing saves, and
// how that compares with the API server's raw merge-patch rate measured in the same run.
//
// One run: install the CRD and RBAC; a fresh namespace with M Kustomizations; the baseline patches;
// the Flux simulator (a TEST DOUBLE for the Flux controllers) restricted to that namespace; the
// operator (a child process by default) watching only that namespace; N requests created with
// bounded parallelism and followed through a watch; the report; the namespace deleted.
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { FluxSimulator, SimAnnotation } from '../simulator/flux-simulator.js';
import { createFluxObject, createRequest, ensureInstalled } from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, testKubeconfigPath, waitFor } from '../support/kube.js';
import { measurePatchRate, type PatchRate } from './baseline.js';
import { apiServerRequestCounts, countsSince, startCpuMeasure, type CpuReport } from './host.js';
import { scrapeMetrics, startOperatorUnderTest, summarizeLog, tail, type OperatorUnderTest } from './operator-process.js';
import { parseBenchOptions, usage, type BenchOptions } from './options.js';
import { RequestTracker } from './request-tracker.js';
import { round, runBounded, summarize } from './stats.js';

const say = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);
// The benchmark's own informer logs its watch problems (warn and worse) to stderr.
const log = pino({ level: 'warn' }, pino.destination(2));

const BaselineObject = 'baseline';
const WarmupObject = 'warmup';

function targetName(i: number, width: number): string {
  return `ks-${String(i).padStart(width, '0')}`;
}

interface Created {
  name: string;
  target: string;
  /** performance.now() just before the create was sent, and when it returned. */
  sentAt: number;
  createdAt?: number;
  error?: string;
}

/** Everything that must be undone, whatever happened. */
class Cleanup {
  operator: OperatorUnderTest | undefined;
  simulator: FluxSimulator | undefined;
  tracker: RequestTracker | undefined;
  namespace: string | undefined;
  private done: Promise<void> | undefined;

  constructor(private readonly admin: k8s.KubeConfig) {}

  run(): Promise<void> {
    this.done ??= this.perform();
    return this.done;
  }

  private async perform(): Promise<void> {
    if (this.operator)
      await this.operator.stop().catch((err: unknown) => {
        say(`stopping the operator failed: ${String(err)}`);
      });
    await this.simulator?.stop().catch(() => undefined);
    await this.tracker?.stop().catch(() => undefined);
    if (this.namespace) {
      const ns = this.namespace;
      await deleteNamespace(this.admin, ns);
      const core = this.admin.makeApiClient(k8s.CoreV1Api);
      // The namespace controller removes the requests, Kustomizations and Events first.
      await waitFor(
        `namespace ${ns} to be deleted`,
        async () =>
          core.readNamespace({ name: ns }).then(
            () => undefined,
            () => true,
          ),
        120_000,
        500,
      ).then(
        () => {
          say(`namespace ${ns} deleted`);
        },
        (err: unknown) => {
          say(`namespace ${ns} is still terminating (${err instanceof Error ? err.message : String(err)})`);
        },
      );
    }
  }
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    const parsed = parseBenchOptions(process.argv.slice(2), process.env);
    if (parsed === 'help') {
      process.stdout.write(usage);
      return 0;
    }
    options = parsed;
  } catch (err) {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n\n${usage}`);
    return 2;
  }

  // The test cluster: $KUBECONFIG, else the local control plane; fail with the fix when neither answers.
  let kubeconfigPath: string;
  try {
    kubeconfigPath = testKubeconfigPath();
  } catch (err) {
    process.stderr.write(
      `bench: ${err instanceof Error ? err.message : String(err)}\n  (from a clone: npm ci && bash test/cluster/cluster.sh up && npm run bench)\n`,
    );
    return 2;
  }
  const admin = adminKubeConfig();
  const server = admin.getCurrentCluster()?.server ?? '?';
  try {
    await admin.makeApiClient(k8s.VersionApi).getCode();
  } catch (err) {
    process.stderr.write(
      `bench: the API server at ${server} (kubeconfig ${kubeconfigPath}) does not answer: ${err instanceof Error ? err.message : String(err)}\n  start the local one with: bash test/cluster/cluster.sh up\n`,
    );
    return 2;
  }
  if (!/^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(server)) {
    process.stderr.write(`bench: refusing to load ${server}: the benchmark only runs against a loopback API server\n`);
    return 2;
  }

  const cleanup = new Cleanup(admin);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      say(`${signal}: cleaning up`);
      void cleanup.run().finally(() => process.exit(130));
    });
  }
  const runStarted = performance.now();
  try {
    return await run(options, admin, server, cleanup, runStarted);
  } finally {
    await cleanup.run();
    say(`total wall time ${((performance.now() - runStarted) / 1000).toFixed(1)} s`);
  }
}

async function run(options: BenchOptions, admin: k8s.KubeConfig, server: string, cleanup: Cleanup, runStarted: number): Promise<number> {
  const { requests: N, targets: M, parallelism: P } = options;
  say(
    `cluster ${server}; ${N} requests over ${M} Kustomizations; operator ${options.operator}, concurrency ${options.concurrency}; simulator delay ${options.simDelayMs} ms; ${P} creates in flight`,
  );

  // Install, then the namespace and its Kustomizations (and the baseline's object, which the
  // simulator is told to ignore).
  await ensureInstalled();
  const ns = await createNamespace(admin, 'bench');
  cleanup.namespace = ns;
  const width = String(M - 1).length;
  const targets = Array.from({ length: M }, (_, i) => targetName(i, width));
  await runBounded(M, P, async (i) => {
    await createFluxObject(admin, 'Kustomization', ns, targets[i]!);
  });
  await createFluxObject(admin, 'Kustomization', ns, BaselineObject, { annotations: { [SimAnnotation.outcome]: 'Ignore' } });
  if (options.warmup > 0) await createFluxObject(admin, 'Kustomization', ns, WarmupObject);
  say(`namespace ${ns} with ${M} Kustomizations`);

  // Baseline, before anything of ours watches: the API server's raw merge-patch rate.
  let sequential: PatchRate | undefined;
  let parallel: PatchRate | undefined;
  let spread: PatchRate | undefined;
  if (options.baselinePatches > 0) {
    sequential = await measurePatchRate(admin, ns, [BaselineObject], options.baselinePatches, 1, 'seq');
    say(`baseline: ${options.baselinePatches} sequential merge patches, ${sequential.patchesPerSecond.toFixed(0)}/s`);
    parallel = await measurePatchRate(admin, ns, [BaselineObject], options.baselinePatches, P, 'par');
    say(`baseline: ${options.baselinePatches} merge patches ${P} in flight, ${parallel.patchesPerSecond.toFixed(0)}/s`);
    // The operator's patches go to M objects, not one: the same, spread round-robin over the targets.
    spread = await measurePatchRate(admin, ns, targets, options.baselinePatches, P, 'spread');
    say(`baseline: ${options.baselinePatches} merge patches ${P} in flight over ${M} objects, ${spread.patchesPerSecond.toFixed(0)}/s`);
  }

  // The Flux simulator, restricted to the namespace; wait until it has made every target Ready.
  const simulator = await startSimulatorWithRetry(admin, ns, options.simDelayMs);
  cleanup.simulator = simulator;
  await waitFor(
    'the simulator to make every Kustomization Ready',
    () => (targets.every((t) => simulator.record('Kustomization', ns, t).reconciles >= 1) ? true : undefined),
    120_000,
  );
  const initialReconciles = new Map(targets.map((t) => [t, simulator.record('Kustomization', ns, t).reconciles]));

  // Our watch on the requests, then the operator.
  const tracker = new RequestTracker(admin, ns, log);
  cleanup.tracker = tracker;
  await tracker.start();
  const operator = await startOperatorUnderTest({
    mode: options.operator,
    admin,
    watchNamespace: ns,
    concurrency: options.concurrency,
    logLevel: options.operatorLogLevel,
    startTimeoutMs: 60_000,
  });
  cleanup.operator = operator;
  say(
    `operator running (${operator.mode}, pid ${operator.pid}, metrics on 127.0.0.1:${operator.metricsPort}${operator.logFile ? `, log ${operator.logFile}` : ''})`,
  );

  // Warm-up (optional): requests one after another on their own Kustomization, outside the figures.
  const warmup: string[] = [];
  for (let i = 0; i < options.warmup; i++) {
    const name = `warmup-${i}`;
    await createRequest(admin, ns, name, { action: 'Reconcile', target: { kind: 'Kustomization', name: WarmupObject } });
    await waitFor(`warm-up request ${name} to finish`, () => tracker.finished.get(name), 60_000, 20);
    warmup.push(`${name}: ${tracker.finished.get(name)?.phase} ${tracker.finished.get(name)?.reason ?? ''}`);
  }
  if (warmup.length > 0) say(`warm-up: ${warmup.join('; ')}`);
  const cpuBefore = operator.cpuSeconds() ?? 0;
  const apiBefore = await apiServerRequestCounts(admin);
  const cpuMeasure = startCpuMeasure({ ...(operator.mode === 'child' ? { operator: operator.pid } : {}), bench: process.pid });

  // Load: N requests, round-robin over the targets, P creates in flight.
  const created: Created[] = [];
  let loadDone = false;
  let resolveAll: () => void = () => undefined;
  const allFinished = new Promise<void>((resolve) => (resolveAll = resolve));
  const okCreates = (): number => created.filter((c) => c.createdAt !== undefined).length;
  let loadFinished = 0;
  const checkAll = (): void => {
    if (loadDone && loadFinished >= okCreates()) resolveAll();
  };
  tracker.onFinished((name) => {
    if (!name.startsWith('r-')) return;
    loadFinished += 1;
    checkAll();
  });
  const nameWidth = String(N - 1).length;
  const loadStarted = performance.now();
  const progress = setInterval(() => {
    const phases = countBy([...tracker.finished.entries()].filter(([name]) => name.startsWith('r-')).map(([, f]) => f.phase));
    say(
      `t=${((performance.now() - loadStarted) / 1000).toFixed(0)}s created ${okCreates()}/${N}, finished ${loadFinished} ${JSON.stringify(phases)}`,
    );
  }, 5000);
  await runBounded(N, P, async (i) => {
    const entry: Created = { name: `r-${String(i).padStart(nameWidth, '0')}`, target: targets[i % M]!, sentAt: performance.now() };
    created.push(entry);
    try {
      await createRequest(admin, ns, entry.name, { action: 'Reconcile', target: { kind: 'Kustomization', name: entry.target } });
      entry.createdAt = performance.now();
    } catch (err) {
      entry.error = err instanceof Error ? err.message : String(err);
    }
  });
  const loadEnded = performance.now();
  loadDone = true;
  checkAll();
  say(
    `created ${okCreates()} requests in ${((loadEnded - loadStarted) / 1000).toFixed(1)} s; waiting for them to finish (at most ${options.timeoutSeconds} s)`,
  );

  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    allFinished.then(() => false),
    new Promise<boolean>(
      (resolve) =>
        (timer = setTimeout(() => {
          resolve(true);
        }, options.timeoutSeconds * 1000)),
    ),
  ]);
  clearTimeout(timer);
  clearInterval(progress);

  // Measure before stopping anything: the operator's memory, CPU and metrics.
  const memory = operator.memory();
  const cpuSeconds = (operator.cpuSeconds() ?? 0) - cpuBefore;
  const cpu = cpuMeasure();
  const apiRequests = countsSince(apiBefore, await apiServerRequestCounts(admin));
  const unfinished = tracker.unfinished();
  // The operator counts a request in its metrics just after writing its status (which is what the
  // watch shows us): give the last ones a moment to be counted.
  const expectedCounted = tracker.finished.size;
  const metrics = await waitFor(
    'the operator to count every finished request',
    async () => {
      const m = await scrapeMetrics(operator.metricsPort);
      return m && Object.values(m.requestsTotal).reduce((a, b) => a + b, 0) >= expectedCounted ? m : undefined;
    },
    3000,
    100,
  ).catch(() => scrapeMetrics(operator.metricsPort));

  // Figures.
  const ok = created.filter((c) => c.createdAt !== undefined);
  const createErrors = created.filter((c) => c.error !== undefined);
  const firstSent = Math.min(...created.map((c) => c.sentAt));
  const results = ok.map((c) => ({ c, f: tracker.finished.get(c.name) }));
  const finishedResults = results.filter((r): r is { c: Created; f: NonNullable<typeof r.f> } => r.f !== undefined);
  const lastFinish = Math.max(...finishedResults.map((r) => r.f.at));
  const succeeded = finishedResults.filter((r) => r.f.phase === 'Succeeded');
  const failed = finishedResults.filter((r) => r.f.phase !== 'Succeeded');
  const spanSeconds = (lastFinish - firstSent) / 1000;
  const throughput = finishedResults.length / spanSeconds;
  const latency = summarize(succeeded.map((r) => r.f.at - r.c.sentAt));
  const createLatency = summarize(ok.map((c) => c.createdAt! - c.sentAt));

  // Coalescing: tokens Flux (the simulator) saw per target, reconciles it ran, tokens the requests report.
  const tokensSeen = targets.map((t) => simulator.record('Kustomization', ns, t).requestedAt.length);
  const reconcilesRun = targets.map((t) => simulator.record('Kustomization', ns, t).reconciles - (initialReconciles.get(t) ?? 0));
  const tokensByTarget = new Map<string, Set<string>>();
  for (const r of finishedResults) {
    if (!r.f.token) continue;
    const set = tokensByTarget.get(r.c.target) ?? new Set<string>();
    set.add(r.f.token);
    tokensByTarget.set(r.c.target, set);
  }
  const requestTokens = targets.map((t) => tokensByTarget.get(t)?.size ?? 0);
  // Every Succeeded request's token must be one the target actually received.
  const unwritten = succeeded.filter(
    (r) => !r.f.token || !simulator.record('Kustomization', ns, r.c.target).requestedAt.includes(r.f.token),
  );
  const watchEvents = summarize(ok.map((c) => tracker.events.get(c.name) ?? 0));

  const benchRssKiB = process.resourceUsage().maxRSS;
  // Stop the operator now, so its shutdown and its log are part of the report.
  const stop = await operator.stop();
  cleanup.operator = undefined;
  const logSummary = operator.logFile ? summarizeLog(operator.logFile) : undefined;

  const figures = {
    cluster: server,
    namespace: ns,
    settings: options,
    requests: {
      created: ok.length,
      createErrors: createErrors.length,
      finished: finishedResults.length,
      succeeded: succeeded.length,
      failed: failed.length,
      failedByReason: countBy(failed.map((r) => r.f.reason ?? r.f.phase)),
      unfinished: unfinished.length,
      unfinishedByPhase: countBy(unfinished.map((r) => r.status?.phase ?? '(no status)')),
      timedOut,
    },
    createSeconds: round((loadEnded - loadStarted) / 1000, 2),
    createsPerSecond: round(ok.length / ((loadEnded - loadStarted) / 1000)),
    createLatencyMs: roundSummary(createLatency),
    throughputPerSecond: round(throughput, 1),
    succeededPerSecond: round(succeeded.length / spanSeconds, 1),
    firstCreateToLastCompletionSeconds: round(spanSeconds, 2),
    latencyMs: roundSummary(latency),
    coalescing: {
      requestsPerTarget: round(ok.length / M, 1),
      tokensPerTarget: roundSummary(summarize(tokensSeen)),
      tokensTotal: tokensSeen.reduce((a, b) => a + b, 0),
      fluxReconcilesPerTarget: roundSummary(summarize(reconcilesRun)),
      fluxReconcilesTotal: reconcilesRun.reduce((a, b) => a + b, 0),
      requestTokensPerTarget: roundSummary(summarize(requestTokens)),
      succeededWithUnwrittenToken: unwritten.length,
    },
    watchEventsPerRequest: roundSummary(watchEvents),
    warmup,
    baseline: {
      sequential: sequential && roundRate(sequential),
      parallel: parallel && roundRate(parallel),
      parallelOverTargets: spread && roundRate(spread),
      ratioToSequential: sequential ? round(throughput / sequential.patchesPerSecond, 3) : undefined,
      ratioToParallel: parallel ? round(throughput / parallel.patchesPerSecond, 3) : undefined,
      ratioToParallelOverTargets: spread ? round(throughput / spread.patchesPerSecond, 3) : undefined,
    },
    operator: {
      mode: operator.mode,
      pid: operator.pid,
      peakRssMiB: memory ? round(memory.peakRssKiB / 1024) : undefined,
      rssAtEndMiB: memory ? round(memory.rssKiB / 1024) : undefined,
      cpuSeconds: round(cpuSeconds, 2),
      workqueueRetries: metrics?.workqueueRetries,
      requestsTotal: metrics?.requestsTotal,
      eventLoopLagP99Ms: metrics?.eventLoopLagP99Seconds !== undefined ? round(metrics.eventLoopLagP99Seconds * 1000, 1) : undefined,
      heapUsedMiB: metrics?.heapUsedBytes !== undefined ? round(metrics.heapUsedBytes / 2 ** 20) : undefined,
      externalMemoryMiB: metrics?.externalBytes !== undefined ? round(metrics.externalBytes / 2 ** 20) : undefined,
      stopMs: round(stop.stopMs, 0),
      exit: { code: stop.exitCode, signal: stop.signal, killed: stop.killed },
      log: logSummary && {
        file: operator.logFile,
        lines: logSummary.lines,
        byLevel: logSummary.byLevel,
        problems: logSummary.problems.slice(0, 10),
      },
    },
    cpuDuringLoad: cpu,
    // Every client's requests to the API server during the load (operator, simulator, load, watches, controller-manager).
    apiServerRequestsDuringLoad: {
      total: apiRequests.reduce((a, [, v]) => a + v, 0),
      top: Object.fromEntries(apiRequests.slice(0, 15)),
      // Conflicts, throttling, server errors: whatever was not 2xx, whoever asked.
      notSuccessful: Object.fromEntries(apiRequests.filter(([k]) => !/ 2\d\d$/.test(k))),
    },
    benchProcessPeakRssMiB: round(benchRssKiB / 1024),
    wallSeconds: round((performance.now() - runStarted) / 1000, 1),
  };

  printTable(figures, options);
  if (unfinished.length > 0) {
    process.stdout.write(`\nUnfinished requests (first 5 of ${unfinished.length}):\n`);
    for (const r of unfinished.slice(0, 5))
      process.stdout.write(`  ${r.metadata.name} -> ${r.spec.target.name}: ${JSON.stringify(r.status ?? {})}\n`);
  }
  if (failed.length > 0) {
    process.stdout.write(`\nFailed requests (first 5 of ${failed.length}):\n`);
    for (const r of failed.slice(0, 5)) process.stdout.write(`  ${r.c.name} -> ${r.c.target}: ${r.f.reason}: ${r.f.message}\n`);
  }
  const api = figures.apiServerRequestsDuringLoad;
  if (api.total > 0) {
    process.stdout.write(`\nAPI server requests during the load, all clients (${api.total} in all; top 15 by verb, resource, code):\n`);
    for (const [k, v] of Object.entries(api.top)) process.stdout.write(`  ${String(v).padStart(7)}  ${k}\n`);
    const bad = Object.entries(api.notSuccessful);
    process.stdout.write(`  not 2xx: ${bad.length === 0 ? 'none' : bad.map(([k, v]) => `${v} x ${k}`).join(', ')}\n`);
  }
  if (createErrors.length > 0) {
    process.stdout.write(`\nCreate errors (first 5 of ${createErrors.length}):\n`);
    for (const c of createErrors.slice(0, 5)) process.stdout.write(`  ${c.name}: ${c.error}\n`);
  }
  if (logSummary && logSummary.problems.length > 0) {
    process.stdout.write(`\nOperator log warnings/errors (${operator.logFile}):\n`);
    for (const p of logSummary.problems.slice(0, 10)) process.stdout.write(`  ${p.count} x ${p.level} "${p.msg}"  e.g. ${p.example}\n`);
  }
  if (stop.killed || (stop.exitCode !== 0 && operator.mode === 'child')) {
    process.stdout.write(
      `\nThe operator did not stop cleanly (exit ${stop.exitCode}, signal ${stop.signal}); last log lines:\n${operator.logFile ? tail(operator.logFile, 10) : ''}\n`,
    );
  }
  process.stdout.write(`BENCH_JSON ${JSON.stringify(figures)}\n`);
  const clean = !timedOut && createErrors.length === 0 && failed.length === 0 && unwritten.length === 0;
  return clean ? 0 : 1;
}

/**
 * Starts the simulator, again after a failed start: on a freshly started API server the first lists
 * of the Flux kinds can answer 429 "storage is (re)initializing", and the simulator's start gives up
 * at the first failed list. At most 10 attempts, a second or two apart.
 */
async function startSimulatorWithRetry(admin: k8s.KubeConfig, ns: string, delayMs: number): Promise<FluxSimulator> {
  for (let attempt = 1; ; attempt++) {
    const simulator = new FluxSimulator({ kc: admin, namespaces: [ns], delayMs });
    try {
      await simulator.start();
      return simulator;
    } catch (err) {
      await simulator.stop();
      const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
      if (attempt >= 10) throw err;
      say(`the simulator could not start (${message}${/429/.test(String(err)) ? ': storage is (re)initializing' : ''}); trying again`);
      await new Promise((resolve) => setTimeout(resolve, 1000 + 200 * attempt));
    }
  }
}

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

function roundSummary(s: ReturnType<typeof summarize>): Record<string, number | undefined> {
  return {
    count: s.count,
    min: round(s.min),
    p50: round(s.p50),
    p95: round(s.p95),
    p99: round(s.p99),
    max: round(s.max),
    mean: round(s.mean),
  };
}

function roundRate(r: PatchRate): Record<string, unknown> {
  return {
    patches: r.patches,
    inFlight: r.inFlight,
    errors: r.errors,
    seconds: round(r.seconds, 2),
    patchesPerSecond: round(r.patchesPerSecond),
    latencyMs: roundSummary(r.latencyMs),
  };
}

type Figures = Record<string, unknown> & {
  requests: Record<string, unknown>;
  latencyMs: Record<string, number | undefined>;
  createLatencyMs: Record<string, number | undefined>;
  coalescing: Record<string, unknown> & {
    tokensPerTarget: Record<string, number | undefined>;
    fluxReconcilesPerTarget: Record<string, number | undefined>;
    requestTokensPerTarget: Record<string, number | undefined>;
  };
  baseline: {
    sequential?: Record<string, unknown> | undefined;
    parallel?: Record<string, unknown> | undefined;
    parallelOverTargets?: Record<string, unknown> | undefined;
    ratioToSequential?: number | undefined;
    ratioToParallel?: number | undefined;
    ratioToParallelOverTargets?: number | undefined;
  };
  operator: Record<string, unknown> & { exit: Record<string, unknown> };
  watchEventsPerRequest: Record<string, number | undefined>;
};

function printTable(f: Figures, options: BenchOptions): void {
  const rows: [string, string][] = [];
  // Figures are loosely typed records: print each value as it is.
  const s = (x: unknown): string => String(x);
  const row = (k: string, v: unknown): void => void rows.push([k, v === undefined ? '-' : s(v)]);
  const dist = (s: Record<string, number | undefined>, unit = ''): string =>
    `p50 ${s['p50'] ?? '-'}${unit}  p95 ${s['p95'] ?? '-'}${unit}  p99 ${s['p99'] ?? '-'}${unit}  max ${s['max'] ?? '-'}${unit}`;
  const spread = (s: Record<string, number | undefined>): string =>
    `min ${s['min'] ?? '-'}  p50 ${s['p50'] ?? '-'}  mean ${s['mean'] ?? '-'}  max ${s['max'] ?? '-'}`;
  const r = f.requests;
  const seq = f.baseline.sequential;
  const par = f.baseline.parallel;
  row(
    'settings',
    `${options.requests} requests, ${options.targets} Kustomizations, operator ${options.operator} concurrency ${options.concurrency}, simulator delay ${options.simDelayMs} ms, ${options.parallelism} creates in flight, ${options.warmup} warm-up requests`,
  );
  row(
    'requests',
    `created ${s(r['created'])}, succeeded ${s(r['succeeded'])}, failed ${s(r['failed'])}, unfinished ${s(r['unfinished'])}, create errors ${s(r['createErrors'])}${r['timedOut'] ? ' (TIMED OUT)' : ''}`,
  );
  row('create phase', `${s(f['createSeconds'])} s, ${s(f['createsPerSecond'])} creates/s (create call ${dist(f.createLatencyMs, ' ms')})`);
  row(
    'throughput',
    `${s(f['throughputPerSecond'])} finished requests/s, ${s(f['succeededPerSecond'])} succeeded/s (first create to last completion: ${s(f['firstCreateToLastCompletionSeconds'])} s)`,
  );
  row('create -> Succeeded', dist(f.latencyMs, ' ms'));
  row('failures', `${s(r['failed'])} ${JSON.stringify(r['failedByReason'])}`);
  row(
    'tokens per target (Flux saw)',
    `${spread(f.coalescing.tokensPerTarget)}  (total ${s(f.coalescing['tokensTotal'])} for ${s(r['created'])} requests)`,
  );
  row('Flux reconciles per target', `${spread(f.coalescing.fluxReconcilesPerTarget)}  (total ${s(f.coalescing['fluxReconcilesTotal'])})`);
  row('tokens per target (requests)', spread(f.coalescing.requestTokensPerTarget));
  row('Succeeded, token never written', String(f.coalescing['succeededWithUnwrittenToken']));
  row('watch events per request', spread(f.watchEventsPerRequest));
  row(
    'raw merge patches, sequential',
    seq ? `${s(seq['patchesPerSecond'])} patches/s (${s(seq['patches'])} patches, ${s(seq['errors'])} errors)` : '-',
  );
  row(
    `raw merge patches, ${options.parallelism} in flight`,
    par ? `${s(par['patchesPerSecond'])} patches/s (${s(par['patches'])} patches, ${s(par['errors'])} errors)` : '-',
  );
  const over = f.baseline.parallelOverTargets;
  row(
    `raw merge patches, ${options.parallelism} in flight, ${options.targets} objects`,
    over ? `${s(over['patchesPerSecond'])} patches/s (${s(over['patches'])} patches, ${s(over['errors'])} errors)` : '-',
  );
  row(
    'operator / raw patch rate',
    `${f.baseline.ratioToSequential ?? '-'} (sequential), ${f.baseline.ratioToParallel ?? '-'} (parallel, one object), ${f.baseline.ratioToParallelOverTargets ?? '-'} (parallel, ${options.targets} objects)`,
  );
  const op = f.operator;
  if (op['mode'] === 'child') {
    row('operator peak RSS (VmHWM)', `${s(op['peakRssMiB'])} MiB (child pid ${s(op['pid'])}; RSS at end ${s(op['rssAtEndMiB'])} MiB)`);
    row('operator CPU', `${s(op['cpuSeconds'])} s (user+system, during the load)`);
  } else {
    row(
      'operator peak RSS',
      `not separable in-process: this process (operator + simulator + load) peaked at ${s(f['benchProcessPeakRssMiB'])} MiB`,
    );
    row('CPU (this process)', `${s(op['cpuSeconds'])} s (operator + simulator + load)`);
  }
  const cpu = f['cpuDuringLoad'] as CpuReport;
  row(
    'CPU during the load',
    `machine ${cpu.machineBusyPercent ?? '-'}% busy of ${cpu.cores} cores (load average ${cpu.loadAverageAtStart} at start)`,
  );
  row(
    'CPU seconds during the load',
    `${Object.entries(cpu.processSeconds)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}, everything else on the machine ${cpu.otherSeconds ?? '-'}`,
  );
  row(
    'operator memory at end',
    `heap used ${s(op['heapUsedMiB'] ?? '-')} MiB, external ${s(op['externalMemoryMiB'] ?? '-')} MiB (its /metrics${op['mode'] === 'in-process' ? ': in-process, the whole process' : ''})`,
  );
  row(
    'bench process peak RSS',
    `${s(f['benchProcessPeakRssMiB'])} MiB (simulator + load + watch${op['mode'] === 'in-process' ? ' + operator' : ''})`,
  );
  row('operator workqueue retries', op['workqueueRetries']);
  row('operator event loop lag p99', op['eventLoopLagP99Ms'] !== undefined ? `${s(op['eventLoopLagP99Ms'])} ms` : '-');
  const logInfo = op['log'] as { lines: number; byLevel: Record<string, number> } | undefined;
  if (logInfo) row('operator log lines by level', JSON.stringify(logInfo.byLevel));
  row('operator stop', `${s(op['stopMs'])} ms, exit ${JSON.stringify(op.exit)}`);
  row('wall time so far', `${s(f['wallSeconds'])} s`);
  // Every component shares the machine's cores: say so when other work took a large share.
  if (cpu.machineBusySeconds !== undefined && cpu.otherSeconds !== undefined && cpu.otherSeconds > 0.25 * cpu.machineBusySeconds) {
    const share = Math.round((cpu.otherSeconds / cpu.machineBusySeconds) * 100);
    row(
      'WARNING',
      `other work on this machine used ${share}% of the CPU time spent during the load: these figures measure a contended machine`,
    );
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(`\nflux-action-operator benchmark (Flux played by the simulator, a test double)\n`);
  for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(width)}  ${v}\n`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
