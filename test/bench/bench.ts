// npm run bench: how many Reconcile requests a second the operator carries out on the test cluster,
// how long each takes from creation to Succeeded, how many Flux reconciles coalescing saves, and
// how that compares with the API server's raw merge-patch rate measured in the same run.
//
// One run: install the CRD and RBAC; a fresh namespace with M Kustomizations; the baseline patches;
// the Flux simulator (a TEST DOUBLE for the Flux controllers) restricted to that namespace; the
// operator (a child process by default) watching only that namespace; N requests created with
// bounded parallelism and followed through a watch; the report; the namespace deleted.
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { FluxSimulator, SimAnnotation } from '../simulator/flux-simulator.js';
import { Group, Version } from '../../src/api/types.js';
import { createFluxObject, createRequest, ensureInstalled } from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, repoRoot, testKubeconfigPath, waitFor } from '../support/kube.js';
import { measurePatchRate, type PatchRate } from './baseline.js';
import { replayWriteMix, ReplayWritesPerRequest, type ReplayFigures } from './replay.js';
import {
  apiServerCpu,
  apiServerProfile,
  apiServerRequestCounts,
  countsSince,
  startCpuMeasure,
  type ApiServerCpu,
  type CpuReport,
} from './host.js';
import {
  scrapeMetrics,
  startOperatorUnderTest,
  summarizeLog,
  tail,
  type OperatorStartOptions,
  type OperatorUnderTest,
} from './operator-process.js';
import { parseBenchOptions, usage, type BenchOptions, type RestartVariant } from './options.js';
import { RequestTracker } from './request-tracker.js';
import { round, runBounded, summarize } from './stats.js';
import { heapGrowthPerThousand, startMemorySampler } from './heap.js';
import { writeCounts } from './writes.js';
import { loadKubeConfig, type Load } from './load-user.js';
import { admissionBindings, measureAdmissionCost, restoreAdmission, withoutAdmission, type AdmissionCostFigures } from './admission.js';

const say = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);
// The benchmark's own informer logs its watch problems (warn and worse) to stderr.
const log = pino({ level: 'warn' }, pino.destination(2));

const BaselineObject = 'baseline';
/** How long a run waits for a namespace an earlier run left terminating. */
const TerminatingWaitMs = 600_000;
const WarmupObject = 'warmup';
/** The request --restart adds, which waits on BaselineObject while the restarts are measured. */
const RestartWaitingRequest = 'restart-waiting';

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
  /** With --replay: the replay's namespace. */
  replayNamespace: string | undefined;
  load: Load | undefined;
  /** With --without-admission, and while --admission-cost runs: what creates the admission policies' bindings again. */
  restoreAdmission: (() => Promise<void>) | undefined;
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
    await this.load?.remove();
    if (this.restoreAdmission)
      await this.restoreAdmission().then(
        () => {
          say('the admission policies are enforced again');
        },
        (err: unknown) => {
          say(`creating the admission policies' bindings again failed (the next install applies them): ${String(err)}`);
        },
      );
    for (const ns of [this.replayNamespace, this.namespace]) {
      if (!ns) continue;
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

/** Waits, up to TerminatingWaitMs, until no namespace is terminating; says how long it waited. */
async function waitForTerminatingNamespaces(admin: k8s.KubeConfig): Promise<void> {
  const core = admin.makeApiClient(k8s.CoreV1Api);
  const terminating = async (): Promise<string[]> =>
    (await core.listNamespace()).items.filter((n) => n.status?.phase === 'Terminating').map((n) => n.metadata?.name ?? '');
  const first = await terminating();
  if (first.length === 0) return;
  say(`waiting for namespace ${first.join(', ')} to be deleted first`);
  const started = performance.now();
  await waitFor(
    'no namespace to be terminating',
    async () => ((await terminating()).length === 0 ? true : undefined),
    TerminatingWaitMs,
    1000,
  );
  say(`waited ${((performance.now() - started) / 1000).toFixed(1)} s for it`);
}

async function run(options: BenchOptions, admin: k8s.KubeConfig, server: string, cleanup: Cleanup, runStarted: number): Promise<number> {
  const { requests: N, targets: M, parallelism: P } = options;
  say(
    `cluster ${server}; ${N} requests over ${M} Kustomizations; operator ${options.operator}, concurrency ${options.concurrency}; simulator delay ${options.simDelayMs} ms; ${P} creates in flight`,
  );

  // A namespace an earlier run left terminating (an interrupted run's, whose thousands of requests
  // and Events the namespace controller deletes) would take the API server's CPU from this one.
  await waitForTerminatingNamespaces(admin);

  // Install, then the namespace and its Kustomizations (and the baseline's object, which the
  // simulator is told to ignore).
  await ensureInstalled();
  const ns = await createNamespace(admin, 'bench');
  cleanup.namespace = ns;
  const width = String(M - 1).length;
  const targets = Array.from({ length: M }, (_, i) => targetName(i, width));
  const createTargets = (namespace: string): Promise<void> =>
    runBounded(M, P, async (i) => {
      await createFluxObject(admin, 'Kustomization', namespace, targets[i]!);
    });
  await createTargets(ns);
  await createFluxObject(admin, 'Kustomization', ns, BaselineObject, { annotations: { [SimAnnotation.outcome]: 'Ignore' } });
  if (options.warmup > 0) await createFluxObject(admin, 'Kustomization', ns, WarmupObject);
  say(`namespace ${ns} with ${M} Kustomizations`);
  const load = await loadKubeConfig(admin, ns, options.loadAs);
  cleanup.load = load;
  say(`the load, the baseline and the simulator run as ${load.user}`);
  // With --admission-cost: what the admission policies add to a create, before anything loads the API server.
  let admissionCost: AdmissionCostFigures | undefined;
  if (options.admissionCost > 0) {
    const bindings = await admissionBindings(admin);
    cleanup.restoreAdmission = () => restoreAdmission(admin, ns, bindings);
    admissionCost = await measureAdmissionCost(admin, load.kc, ns, bindings, targets, options.admissionCost, P);
    cleanup.restoreAdmission = undefined;
    say(
      `admission: ${admissionCost.segments.length} segments of ${options.admissionCost} dry-run creates; kube-apiserver CPU per create ${admissionCost.enforcedMsPerCreate ?? '-'} ms with the policies, ${admissionCost.liftedMsPerCreate ?? '-'} ms without`,
    );
  }
  if (options.withoutAdmission) {
    const bindings = await admissionBindings(admin);
    cleanup.restoreAdmission = () => restoreAdmission(admin, ns, bindings);
    await withoutAdmission(admin, ns, bindings);
    say('the admission policies are not enforced for this run: their bindings are deleted until it ends');
  }

  // With --apiserver-profile-seconds, where kube-apiserver's CPU goes from the start of the replay,
  // the burst and the closed loop: a profile each, told once the phase has ended.
  const profiles: Record<string, { file: string } | { error: string }> = {};
  const profiled = async <T>(phase: string, run: () => Promise<T>): Promise<T> => {
    const seconds = options.apiserverProfileSeconds;
    const file = path.join(repoRoot, '.cache', 'bench', `apiserver-${phase}-${ns}.pprof`);
    const profiling = seconds > 0 ? apiServerProfile(admin, seconds, file) : undefined;
    const result = await run();
    const profile = await profiling;
    if (profile) {
      profiles[phase] = profile;
      say(
        'file' in profile
          ? `kube-apiserver CPU profile of the ${phase}: ${profile.file} (go tool pprof -top ${profile.file})`
          : profile.error,
      );
    }
    return result;
  };

  // Baseline, before anything of ours watches: the API server's raw merge-patch rate.
  let sequential: PatchRate | undefined;
  let parallel: PatchRate | undefined;
  let spread: PatchRate | undefined;
  if (options.baselinePatches > 0) {
    sequential = await measurePatchRate(load.kc, ns, [BaselineObject], options.baselinePatches, 1, 'seq');
    say(`baseline: ${options.baselinePatches} sequential merge patches, ${sequential.patchesPerSecond.toFixed(0)}/s`);
    parallel = await measurePatchRate(load.kc, ns, [BaselineObject], options.baselinePatches, P, 'par');
    say(`baseline: ${options.baselinePatches} merge patches ${P} in flight, ${parallel.patchesPerSecond.toFixed(0)}/s`);
    // The operator's patches go to M objects, not one: the same, spread round-robin over the targets.
    const spreadCpu = startCpuMeasure();
    spread = await measurePatchRate(load.kc, ns, targets, options.baselinePatches, P, 'spread', options.baselineRounds);
    spread.apiServerCpu = apiServerCpu(spreadCpu(), spread.patches);
    say(
      `baseline: ${spread.patches} merge patches ${P} in flight over ${M} objects, ${spread.patchesPerSecond.toFixed(0)}/s${roundsNote(spread.rounds)}`,
    );
  }

  // The replay (optional): the closed loop's writes without the operator, before it or the
  // simulator starts, in a namespace of their own that neither watches.
  let replay: ReplayFigures | undefined;
  let replayShare: number | undefined;
  if (options.replay) {
    const replayNs = await createNamespace(admin, 'bench-replay');
    cleanup.replayNamespace = replayNs;
    await createTargets(replayNs);
    replay = await profiled('replay', () => replayWriteMix(load.kc, admin, replayNs, targets, Math.max(N, 100), P));
    replayShare = spread ? replay.writesPerSecond / spread.patchesPerSecond : undefined;
    say(
      `replay: ${replay.requests} requests of the closed loop's ${ReplayWritesPerRequest} writes, ${replay.requestsPerSecond.toFixed(1)}/s, ${replay.writesPerSecond.toFixed(0)} writes/s${replayShare !== undefined ? `, ${replayShare.toFixed(3)} of the raw rate` : ''}`,
    );
  }

  // The Flux simulator, restricted to the namespace; wait until it has made every target Ready.
  const simulator = await startSimulatorWithRetry(load.kc, ns, options.simDelayMs);
  cleanup.simulator = simulator;
  await waitFor(
    'the simulator to make every Kustomization Ready',
    () => (targets.every((t) => simulator.record('Kustomization', ns, t).reconciles >= 1) ? true : undefined),
    120_000,
  );

  // Our watch on the requests, then the operator.
  const tracker = new RequestTracker(admin, ns, log);
  cleanup.tracker = tracker;
  await tracker.start();
  const operator = await startOperatorUnderTest(operatorUnderTest(options, admin, ns, 60_000));
  cleanup.operator = operator;
  say(
    `operator running (${operator.mode}, pid ${operator.pid}, metrics on 127.0.0.1:${operator.metricsPort}${operator.logFile ? `, log ${operator.logFile}` : ''})`,
  );

  // Warm-up (optional): requests one after another on their own Kustomization, outside the figures.
  const warmup: string[] = [];
  for (let i = 0; i < options.warmup; i++) {
    const name = `warmup-${i}`;
    await createRequest(load.kc, ns, name, { action: 'Reconcile', target: { kind: 'Kustomization', name: WarmupObject } });
    await waitFor(`warm-up request ${name} to finish`, () => tracker.finished.get(name), 60_000, 20);
    warmup.push(`${name}: ${tracker.finished.get(name)?.phase} ${tracker.finished.get(name)?.reason ?? ''}`);
  }
  if (warmup.length > 0) say(`warm-up: ${warmup.join('; ')}`);
  const ctx: LoadContext = { admin, load: load.kc, ns, targets, tracker, simulator, operator, options, nextTarget: 0 };
  const memorySampler = startMemorySampler(
    operator.metricsPort,
    () => {
      const m = operator.memory();
      return m ? m.rssKiB / 1024 : undefined;
    },
    () => tracker.finished.size,
    options.heapSampleSeconds * 1000,
  );
  const cpuBefore = operator.cpuSeconds() ?? 0;

  // The burst: N requests, round-robin over the targets, P creates in flight.
  const burst = N > 0 ? await profiled('burst', () => runBurst(ctx, { spread, sequential })) : undefined;
  // The capacity for load that cannot be coalesced (one request per target at a time), which the
  // open-loop phases are shares of: the burst's throughput owes much to requests joining a token.
  const closedLoop =
    options.ratePercents.length > 0 && N > 0 ? await profiled('closed-loop', () => runClosedLoop(ctx, 'c-', N)) : undefined;
  // Open-loop phases: requests created on a fixed schedule, at shares of that capacity or at --rate.
  const rates: { label: string; rate: number }[] = [
    ...options.ratePercents.map((pct) => ({
      label: `${pct}% of the closed loop's throughput`,
      rate: ((closedLoop?.throughputPerSecond ?? 0) * pct) / 100,
    })),
    ...(options.rate > 0 ? [{ label: `${options.rate} requests/s`, rate: options.rate }] : []),
  ];
  const openLoop: OpenLoopFigures[] = [];
  for (const [i, r] of rates.entries()) {
    if (r.rate <= 0) continue;
    openLoop.push(await runOpenLoop(ctx, `o${i}-`, r.label, r.rate));
  }

  // Measure before stopping anything: the operator's memory, CPU and metrics.
  const samples = memorySampler.stop();
  const memory = operator.memory();
  const cpuSeconds = (operator.cpuSeconds() ?? 0) - cpuBefore;
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

  // What stays alive: a heap snapshot collects garbage first (it pauses the operator while written).
  const snapshot = await operator.heapSnapshot().catch((err: unknown) => {
    say(`heap snapshot failed: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  });
  if (snapshot)
    say(`heap snapshot ${snapshot.file}: ${snapshot.liveMiB.toFixed(1)} MiB live, written in ${(snapshot.writeMs / 1000).toFixed(1)} s`);
  const benchRssKiB = process.resourceUsage().maxRSS;
  // Stop the operator now, so its shutdown and its log are part of the report.
  const stop = await operator.stop();
  cleanup.operator = undefined;
  const logSummary = operator.logFile ? summarizeLog(operator.logFile) : undefined;
  const restarts: RestartFigures[] = [];
  if (options.restart) {
    // One request left waiting (on the object the simulator ignores), so each restarted operator
    // also watches the namespace's Kustomizations: an informer starts for a kind once a request needs it.
    await createRequest(admin, ns, RestartWaitingRequest, {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: BaselineObject },
      timeout: '1h',
    });
    for (const [i, variant] of options.restartVariants.entries())
      restarts.push(await measureRestart(options, admin, ns, cleanup, variant, i));
  }
  const heapSeries = samples.filter((s) => s.heapUsedMiB !== undefined);

  const figures = {
    cluster: server,
    namespace: ns,
    settings: options,
    burst,
    closedLoop,
    openLoop,
    warmup,
    baseline: {
      sequential: sequential && roundRate(sequential),
      parallel: parallel && roundRate(parallel),
      parallelOverTargets: spread && roundRate(spread),
    },
    replay: replay && {
      requests: replay.requests,
      errors: replay.errors,
      seconds: round(replay.seconds, 2),
      requestsPerSecond: round(replay.requestsPerSecond),
      writesPerSecond: round(replay.writesPerSecond),
      writesPerRequest: ReplayWritesPerRequest,
      toParallelOverTargets: round(replayShare, 3),
      watchEvents: replay.watchEvents,
      apiServerCpu: replay.apiServerCpu,
      machineBusyPercent: replay.cpu.machineBusyPercent,
    },
    admissionCost,
    apiServerProfiles: profiles,
    unfinished: { count: unfinished.length, byPhase: countBy(unfinished.map((r) => r.status?.phase ?? '(no status)')) },
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
      requestsInCacheAtEnd: tracker.existing(),
      liveHeapMiB: snapshot ? round(snapshot.liveMiB, 1) : undefined,
      memory: {
        samples: samples.length,
        heapUsedMiB: roundSummary(summarize(heapSeries.map((s) => s.heapUsedMiB!))),
        heapGrowthMiBPerThousandRequests: round(heapGrowthPerThousand(samples), 3),
        series: samples.map((s) => [round(s.t, 0), s.finished, round(s.heapUsedMiB), round(s.rssMiB)]),
      },
      stopMs: round(stop.stopMs, 0),
      exit: { code: stop.exitCode, signal: stop.signal, killed: stop.killed },
      log: logSummary && {
        file: operator.logFile,
        lines: logSummary.lines,
        byLevel: logSummary.byLevel,
        problems: logSummary.problems.slice(0, 10),
      },
    },
    restarts,
    benchProcessPeakRssMiB: round(benchRssKiB / 1024),
    wallSeconds: round((performance.now() - runStarted) / 1000, 1),
  };

  printTable(figures, options);
  if (unfinished.length > 0) {
    process.stdout.write(`\nUnfinished requests (first 5 of ${unfinished.length}):\n`);
    for (const r of unfinished.slice(0, 5))
      process.stdout.write(`  ${r.metadata.name} -> ${r.spec.target.name}: ${JSON.stringify(r.status ?? {})}\n`);
  }
  const failed = [...(burst?.failedExamples ?? []), ...(closedLoop?.failedExamples ?? []), ...openLoop.flatMap((o) => o.failedExamples)];
  if (failed.length > 0) {
    process.stdout.write(`\nFailed requests (first 5):\n`);
    for (const f of failed.slice(0, 5)) process.stdout.write(`  ${f}\n`);
  }
  for (const phase of [
    ...(burst ? [{ label: 'burst', api: burst.apiServerRequests }] : []),
    ...(closedLoop ? [{ label: 'the closed loop', api: closedLoop.apiServerRequests }] : []),
    ...openLoop.map((o) => ({ label: o.label, api: o.apiServerRequests })),
  ]) {
    const api = phase.api;
    if (api.total === 0) continue;
    process.stdout.write(
      `\nAPI server requests during ${phase.label}, all clients (${api.total} in all; top 15 by verb, resource, code):\n`,
    );
    for (const [k, v] of Object.entries(api.top)) process.stdout.write(`  ${String(v).padStart(7)}  ${k}\n`);
    const bad = Object.entries(api.notSuccessful);
    process.stdout.write(`  not 2xx: ${bad.length === 0 ? 'none' : bad.map(([k, v]) => `${v} x ${k}`).join(', ')}\n`);
  }
  const createErrors = [
    ...(burst?.createErrorExamples ?? []),
    ...(closedLoop?.createErrorExamples ?? []),
    ...openLoop.flatMap((o) => o.createErrorExamples),
  ];
  if (createErrors.length > 0) {
    process.stdout.write(`\nCreate errors (first 5):\n`);
    for (const c of createErrors.slice(0, 5)) process.stdout.write(`  ${c}\n`);
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
  const clean = (burst?.clean ?? true) && (closedLoop?.clean ?? true) && openLoop.every((o) => o.clean);
  return clean ? 0 : 1;
}

/** What a phase of load works with. */
interface LoadContext {
  admin: k8s.KubeConfig;
  /** Who creates the requests (--load-as). */
  load: k8s.KubeConfig;
  ns: string;
  targets: readonly string[];
  tracker: RequestTracker;
  simulator: FluxSimulator;
  operator: OperatorUnderTest;
  options: BenchOptions;
  /** The next target, round-robin across phases. */
  nextTarget: number;
}

/** Creates one request of the load, recording when the create was sent and when it returned. */
async function createLoadRequest(ctx: LoadContext, entry: Created): Promise<void> {
  const spec = {
    action: 'Reconcile' as const,
    target: { kind: 'Kustomization', name: entry.target },
    ...(ctx.options.ttlSeconds !== undefined ? { ttlSecondsAfterFinished: ctx.options.ttlSeconds } : {}),
  };
  try {
    await createRequest(ctx.load, ctx.ns, entry.name, spec);
    entry.createdAt = performance.now();
  } catch (err) {
    entry.error = err instanceof Error ? err.message : String(err);
  }
}

/** A phase's requests by outcome, as the tracker saw those it created, with the first few failures for the report. */
function tally(tracker: RequestTracker, created: readonly Created[]) {
  const ok = created.filter((c) => c.createdAt !== undefined);
  const createErrors = created.filter((c) => c.error !== undefined);
  const finished = ok.flatMap((c) => {
    const f = tracker.finished.get(c.name);
    return f ? [{ c, f }] : [];
  });
  const succeeded = finished.filter((r) => r.f.phase === 'Succeeded');
  const failed = finished.filter((r) => r.f.phase !== 'Succeeded');
  const examples = {
    failedExamples: failed.slice(0, 5).map((r) => `${r.c.name} -> ${r.c.target}: ${r.f.reason}: ${r.f.message}`),
    createErrorExamples: createErrors.slice(0, 5).map((c) => `${c.name}: ${c.error}`),
  };
  return { ok, createErrors, finished, succeeded, failed, examples };
}

/** Waits until every created request of a phase (by name prefix) finished, at most the timeout; true when it timed out. */
async function waitForPhaseEnd(
  ctx: LoadContext,
  created: readonly Created[],
  prefix: string,
  createsDone: Promise<void>,
): Promise<boolean> {
  const { tracker, options } = ctx;
  let resolveAll: () => void = () => undefined;
  const allFinished = new Promise<void>((resolve) => (resolveAll = resolve));
  let loadDone = false;
  const check = (): void => {
    if (loadDone && created.every((c) => c.createdAt === undefined || tracker.finished.has(c.name))) resolveAll();
  };
  tracker.onFinished((name) => {
    if (name.startsWith(prefix)) check();
  });
  await createsDone;
  loadDone = true;
  check();
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
  return timedOut;
}

/** The API server's writes of a phase, by writer, per finished request. */
function writeFigures(
  apiRequests: [string, number][],
  finished: number,
): Record<string, unknown> & { operatorPerRequest?: number; allPerRequest?: number } {
  const writes = writeCounts(apiRequests);
  const per = (n: number): number | undefined => (finished > 0 ? round(n / finished, 2) : undefined);
  return {
    ...writes,
    operatorPerRequest: per(writes.operator.total),
    operatorPerRequestByKind: {
      statusWrites: per(writes.operator.statusWrites),
      events: per(writes.operator.events),
      patches: per(writes.operator.patches),
      deletes: per(writes.operator.deletes),
    },
    simulatorPerRequest: per(writes.simulator),
    allPerRequest: per(writes.operator.total + writes.simulator + writes.creates),
  };
}

function apiFigures(apiRequests: [string, number][]): {
  total: number;
  top: Record<string, number>;
  notSuccessful: Record<string, number>;
} {
  return {
    total: apiRequests.reduce((a, [, v]) => a + v, 0),
    top: Object.fromEntries(apiRequests.slice(0, 15)),
    // Conflicts, throttling, server errors: whatever was not 2xx, whoever asked.
    notSuccessful: Object.fromEntries(apiRequests.filter(([k]) => !/ 2\d\d$/.test(k))),
  };
}

type BurstFigures = Awaited<ReturnType<typeof runBurst>>;

/** The burst: N requests round-robin over the targets, P creates in flight, as fast as they go. */
async function runBurst(ctx: LoadContext, baseline: { spread: PatchRate | undefined; sequential: PatchRate | undefined }) {
  const { admin, ns, targets, tracker, simulator, operator, options } = ctx;
  const { requests: N, targets: M, parallelism: P } = options;
  const apiBefore = await apiServerRequestCounts(admin);
  const cpuMeasure = startCpuMeasure({ ...(operator.mode === 'child' ? { operator: operator.pid } : {}), bench: process.pid });
  const reconcilesBefore = new Map(targets.map((t) => [t, simulator.record('Kustomization', ns, t).reconciles]));
  const tokensBefore = new Map(targets.map((t) => [t, simulator.record('Kustomization', ns, t).requestedAt.length]));
  const created: Created[] = [];
  const nameWidth = String(N - 1).length;
  const loadStarted = performance.now();
  const progress = setInterval(() => {
    const phases = countBy([...tracker.finished.entries()].filter(([name]) => name.startsWith('r-')).map(([, f]) => f.phase));
    say(
      `t=${((performance.now() - loadStarted) / 1000).toFixed(0)}s created ${created.filter((c) => c.createdAt !== undefined).length}/${N}, finished ${JSON.stringify(phases)}`,
    );
  }, 5000);
  let loadEnded = loadStarted;
  const creates = runBounded(N, P, async (i) => {
    const entry: Created = {
      name: `r-${String(i).padStart(nameWidth, '0')}`,
      target: targets[ctx.nextTarget++ % M]!,
      sentAt: performance.now(),
    };
    created.push(entry);
    await createLoadRequest(ctx, entry);
  }).then(() => {
    loadEnded = performance.now();
    say(
      `created ${created.filter((c) => c.createdAt !== undefined).length} requests in ${((loadEnded - loadStarted) / 1000).toFixed(1)} s; waiting for them to finish (at most ${options.timeoutSeconds} s)`,
    );
  });
  const timedOut = await waitForPhaseEnd(ctx, created, 'r-', creates);
  clearInterval(progress);
  const cpu = cpuMeasure();
  const apiRequests = countsSince(apiBefore, await apiServerRequestCounts(admin));

  const { ok, createErrors, finished: finishedResults, succeeded, failed, examples } = tally(tracker, created);
  const firstSent = Math.min(...created.map((c) => c.sentAt));
  const lastFinish = Math.max(...finishedResults.map((r) => r.f.at));
  const spanSeconds = (lastFinish - firstSent) / 1000;
  const throughput = finishedResults.length / spanSeconds;
  const latency = summarize(succeeded.map((r) => r.f.at - r.c.sentAt));
  const createLatency = summarize(ok.map((c) => c.createdAt! - c.sentAt));

  // Coalescing: tokens Flux (the simulator) saw per target, reconciles it ran, tokens the requests report.
  const tokensSeen = targets.map((t) => simulator.record('Kustomization', ns, t).requestedAt.length - (tokensBefore.get(t) ?? 0));
  const reconcilesRun = targets.map((t) => simulator.record('Kustomization', ns, t).reconciles - (reconcilesBefore.get(t) ?? 0));
  const tokensByTarget = new Map<string, Set<string>>();
  for (const r of finishedResults) {
    if (!r.f.token) continue;
    const set = tokensByTarget.get(r.c.target) ?? new Set<string>();
    set.add(r.f.token);
    tokensByTarget.set(r.c.target, set);
  }
  const requestTokens = targets.map((t) => tokensByTarget.get(t)?.size ?? 0);
  // Every Succeeded request's token must be one the target actually received.
  const unwritten = succeeded.filter((r) => !r.f.token || !simulator.record('Kustomization', ns, r.c.target).acks.has(r.f.token));
  const watchEvents = summarize(ok.map((c) => tracker.events.get(c.name) ?? 0));
  const writes = writeFigures(apiRequests, finishedResults.length);
  const calls = apiFigures(apiRequests);
  // The API server's write rate the run achieved, as a share of its raw merge-patch rate.
  const share = (perRequest: number | undefined, rate: PatchRate | undefined): number | undefined =>
    perRequest !== undefined && rate ? round((throughput * perRequest) / rate.patchesPerSecond, 3) : undefined;

  return {
    requests: {
      created: ok.length,
      createErrors: createErrors.length,
      finished: finishedResults.length,
      succeeded: succeeded.length,
      failed: failed.length,
      failedByReason: countBy(failed.map((r) => r.f.reason ?? r.f.phase)),
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
    writes,
    writeRateShare: {
      operatorToSequential: share(writes.operatorPerRequest, baseline.sequential),
      operatorToParallelOverTargets: share(writes.operatorPerRequest, baseline.spread),
      allToSequential: share(writes.allPerRequest, baseline.sequential),
      allToParallelOverTargets: share(writes.allPerRequest, baseline.spread),
    },
    ratioToSequential: baseline.sequential ? round(throughput / baseline.sequential.patchesPerSecond, 3) : undefined,
    ratioToParallelOverTargets: baseline.spread ? round(throughput / baseline.spread.patchesPerSecond, 3) : undefined,
    watchEventsPerRequest: roundSummary(watchEvents),
    cpu,
    apiServerCpu: apiServerCpu(cpu, calls.total),
    apiServerRequests: calls,
    clean: !timedOut && createErrors.length === 0 && failed.length === 0 && unwritten.length === 0,
    ...examples,
  };
}

type ClosedLoopFigures = Awaited<ReturnType<typeof runClosedLoop>>;

/**
 * The closed loop: --parallelism clients, each with its own share of the targets, each creating a
 * request and waiting for its outcome before creating the next, until `count` finished. No two
 * requests for one target are ever in flight together, so none joins another's token: its
 * throughput is the capacity for load spread over targets, which the open loop's rates are shares of.
 */
async function runClosedLoop(ctx: LoadContext, prefix: string, count: number) {
  const { admin, targets, tracker, operator, options } = ctx;
  const clients = Math.min(options.parallelism, targets.length);
  say(`closed loop: ${count} requests, ${clients} clients, one request per target at a time`);
  const apiBefore = await apiServerRequestCounts(admin);
  const cpuMeasure = startCpuMeasure({ ...(operator.mode === 'child' ? { operator: operator.pid } : {}), bench: process.pid });
  const waiting = new Map<string, () => void>();
  tracker.onFinished((name) => {
    waiting.get(name)?.();
    waiting.delete(name);
  });
  const created: Created[] = [];
  const nameWidth = String(count - 1).length;
  const started = performance.now();
  const deadline = started + options.timeoutSeconds * 1000;
  let next = 0;
  // Set by whichever client's wait runs out (an object: the clients write it from their closures).
  const outcome = { timedOut: false };
  const client = async (c: number): Promise<void> => {
    const own = targets.filter((_, i) => i % clients === c);
    for (let k = 0; next < count; k++) {
      const entry: Created = {
        name: `${prefix}${String(next++).padStart(nameWidth, '0')}`,
        target: own[k % own.length]!,
        sentAt: performance.now(),
      };
      created.push(entry);
      const finished = new Promise<void>((resolve) => waiting.set(entry.name, resolve));
      await createLoadRequest(ctx, entry);
      if (entry.createdAt === undefined || tracker.finished.has(entry.name)) continue;
      const left = deadline - performance.now();
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([
        finished.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(
            () => {
              resolve(false);
            },
            Math.max(left, 0),
          );
        }),
      ]);
      clearTimeout(timer);
      if (!ended) {
        outcome.timedOut = true;
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuMeasure();
  const apiRequests = countsSince(apiBefore, await apiServerRequestCounts(admin));
  const { ok, createErrors, finished, succeeded, failed, examples } = tally(tracker, created);
  return {
    clients,
    seconds: round(seconds, 2),
    requests: {
      created: ok.length,
      createErrors: createErrors.length,
      succeeded: succeeded.length,
      failed: failed.length,
      timedOut: outcome.timedOut,
    },
    throughputPerSecond: round(finished.length / seconds, 1),
    createToOutcomeMs: roundSummary(summarize(succeeded.map((r) => r.f.at - r.c.sentAt))),
    writes: writeFigures(apiRequests, finished.length),
    cpu,
    apiServerRequests: apiFigures(apiRequests),
    clean: !outcome.timedOut && createErrors.length === 0 && failed.length === 0,
    ...examples,
  };
}

type OpenLoopFigures = Awaited<ReturnType<typeof runOpenLoop>>;

/**
 * An open-loop phase: requests created on a fixed schedule (rate per second, for --rate-seconds),
 * whatever the operator does, so latency is measured at a load it can sustain. Each request's
 * latency is also given without the simulator's own acknowledgement of the token that covered it
 * (from its watch seeing the token to its status write returning): what is left is the operator's
 * part, plus the API server's and the watches' delivery.
 */
async function runOpenLoop(ctx: LoadContext, prefix: string, label: string, rate: number) {
  const { admin, ns, targets, tracker, simulator, operator, options } = ctx;
  const count = Math.max(1, Math.round(rate * options.rateSeconds));
  say(`open loop (${label}): ${count} requests at ${rate.toFixed(1)}/s`);
  const apiBefore = await apiServerRequestCounts(admin);
  const cpuMeasure = startCpuMeasure({ ...(operator.mode === 'child' ? { operator: operator.pid } : {}), bench: process.pid });
  const created: Created[] = [];
  const nameWidth = String(count - 1).length;
  const interval = 1000 / rate;
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  let lateMs = 0;
  const creates = (async () => {
    for (let i = 0; i < count; i++) {
      const wait = started + i * interval - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      else lateMs = Math.max(lateMs, -wait);
      const entry: Created = {
        name: `${prefix}${String(i).padStart(nameWidth, '0')}`,
        target: targets[ctx.nextTarget++ % targets.length]!,
        sentAt: performance.now(),
      };
      created.push(entry);
      const p: Promise<void> = createLoadRequest(ctx, entry).finally(() => inFlight.delete(p));
      inFlight.add(p);
      // Bounded: a stalled API server cannot make the schedule open thousands of connections.
      if (inFlight.size >= 256) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  })();
  const timedOut = await waitForPhaseEnd(ctx, created, prefix, creates);
  const createSeconds = (Math.max(...created.map((c) => c.sentAt)) - started) / 1000;
  const cpu = cpuMeasure();
  const apiRequests = countsSince(apiBefore, await apiServerRequestCounts(admin));

  const { ok, createErrors, finished, succeeded, failed, examples } = tally(tracker, created);
  const endToEnd: number[] = [];
  const withoutAck: number[] = [];
  const fluxToOutcome: number[] = [];
  const acks: number[] = [];
  let unmatched = 0;
  for (const r of succeeded) {
    endToEnd.push(r.f.at - r.c.sentAt);
    const ack = r.f.token ? simulator.record('Kustomization', ns, r.c.target).acks.get(r.f.token) : undefined;
    if (ack?.writtenAt === undefined) {
      // Covered by a later token (coalescing), whose acknowledgement is not this request's.
      unmatched += 1;
      continue;
    }
    const ackMs = ack.writtenAt - ack.seenAt;
    acks.push(ackMs);
    withoutAck.push(r.f.at - r.c.sentAt - ackMs);
    fluxToOutcome.push(r.f.at - ack.writtenAt);
  }
  const lastFinish = Math.max(...finished.map((r) => r.f.at));
  const writes = writeFigures(apiRequests, finished.length);
  return {
    label,
    ratePerSecond: round(rate, 1),
    seconds: options.rateSeconds,
    createSeconds: round(createSeconds, 2),
    scheduleLateMaxMs: round(lateMs, 0),
    requests: { created: ok.length, createErrors: createErrors.length, succeeded: succeeded.length, failed: failed.length, timedOut },
    throughputPerSecond: round(finished.length / ((lastFinish - started) / 1000), 1),
    createToOutcomeMs: roundSummary(summarize(endToEnd)),
    withoutSimulatorAckMs: roundSummary(summarize(withoutAck)),
    fluxStatusToOutcomeMs: roundSummary(summarize(fluxToOutcome)),
    simulatorAckMs: roundSummary(summarize(acks)),
    coveredByLaterToken: unmatched,
    writes,
    cpu,
    apiServerRequests: apiFigures(apiRequests),
    clean: !timedOut && createErrors.length === 0 && failed.length === 0,
    ...examples,
  };
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

type Rounds = NonNullable<PatchRate['rounds']>;

/** ", in 10 rounds of 312–655/s" for a baseline measured in rounds, else nothing. */
function roundsNote(rounds: Rounds | undefined): string {
  if (!rounds) return '';
  return `, in ${rounds.count} rounds of ${rounds.minPerSecond.toFixed(0)}–${rounds.maxPerSecond.toFixed(0)}/s`;
}

function roundRate(r: PatchRate): Record<string, unknown> {
  return {
    patches: r.patches,
    inFlight: r.inFlight,
    errors: r.errors,
    seconds: round(r.seconds, 2),
    patchesPerSecond: round(r.patchesPerSecond),
    latencyMs: roundSummary(r.latencyMs),
    ...(r.rounds
      ? { rounds: { count: r.rounds.count, minPerSecond: round(r.rounds.minPerSecond), maxPerSecond: round(r.rounds.maxPerSecond) } }
      : {}),
    ...(r.apiServerCpu ? { apiServerCpu: r.apiServerCpu } : {}),
  };
}

interface ReportFigures {
  burst: BurstFigures | undefined;
  closedLoop: ClosedLoopFigures | undefined;
  openLoop: OpenLoopFigures[];
  baseline: {
    sequential?: Record<string, unknown> | undefined;
    parallel?: Record<string, unknown> | undefined;
    parallelOverTargets?: Record<string, unknown> | undefined;
  };
  /** With --replay: the closed loop's writes without the operator. */
  replay: Record<string, unknown> | undefined;
  /** With --admission-cost: the kube-apiserver CPU the admission policies add to a create. */
  admissionCost: AdmissionCostFigures | undefined;
  /** With --apiserver-profile-seconds: by phase (replay, burst, closed-loop), the profile's file, or why there is none. */
  apiServerProfiles: Record<string, { file: string } | { error: string }>;
  unfinished: { count: number; byPhase: Record<string, number> };
  operator: Record<string, unknown> & {
    exit: Record<string, unknown>;
    memory: { heapUsedMiB: Record<string, number | undefined>; heapGrowthMiBPerThousandRequests: number | undefined; samples: number };
  };
  restarts: RestartFigures[];
  benchProcessPeakRssMiB: number | undefined;
  wallSeconds: number | undefined;
}

function printTable(f: ReportFigures, options: BenchOptions): void {
  const rows: [string, string][] = [];
  // Figures are loosely typed records: print each value as it is.
  const s = (x: unknown): string => {
    if (x === undefined) return '-';
    if (typeof x === 'string') return x;
    if (typeof x === 'number' || typeof x === 'boolean') return String(x);
    return JSON.stringify(x);
  };
  const row = (k: string, v: unknown): void => void rows.push([k, s(v)]);
  const dist = (d: Record<string, number | undefined>, unit = ''): string =>
    `p50 ${s(d['p50'])}${unit}  p95 ${s(d['p95'])}${unit}  p99 ${s(d['p99'])}${unit}  max ${s(d['max'])}${unit}`;
  const spread = (d: Record<string, number | undefined>): string =>
    `min ${s(d['min'])}  p50 ${s(d['p50'])}  mean ${s(d['mean'])}  max ${s(d['max'])}`;
  const writes = (w: ReturnType<typeof writeFigures>): string => {
    const byKind = w['operatorPerRequestByKind'] as Record<string, number | undefined>;
    return `operator ${s(w.operatorPerRequest)} (status ${s(byKind['statusWrites'])}, Events ${s(byKind['events'])}, patches ${s(byKind['patches'])}, deletes ${s(byKind['deletes'])}); simulator ${s(w['simulatorPerRequest'])}; with the creates ${s(w.allPerRequest)}`;
  };
  row(
    'settings',
    `${options.requests} requests, ${options.targets} Kustomizations, operator ${options.operator} concurrency ${options.concurrency}, simulator delay ${options.simDelayMs} ms, ${options.parallelism} creates in flight, ${options.warmup} warm-up requests${options.ttlSeconds !== undefined ? `, ttlSecondsAfterFinished ${options.ttlSeconds}` : ''}${options.operatorMain ? `, operator build ${options.operatorMain}` : ''}${options.operatorNodeOptions.length > 0 ? `, node ${options.operatorNodeOptions.join(' ')}` : ''}`,
  );
  const seq = f.baseline.sequential;
  const par = f.baseline.parallel;
  const over = f.baseline.parallelOverTargets;
  row(
    'raw merge patches, sequential',
    seq ? `${s(seq['patchesPerSecond'])} patches/s (${s(seq['patches'])} patches, ${s(seq['errors'])} errors)` : '-',
  );
  row(
    `raw merge patches, ${options.parallelism} in flight`,
    par ? `${s(par['patchesPerSecond'])} patches/s (${s(par['patches'])} patches, ${s(par['errors'])} errors)` : '-',
  );
  row(
    `raw merge patches, ${options.parallelism} in flight, ${options.targets} objects`,
    over
      ? `${s(over['patchesPerSecond'])} patches/s (${s(over['patches'])} patches, ${s(over['errors'])} errors${roundsNote(over['rounds'] as Rounds | undefined)})`
      : '-',
  );
  const replay = f.replay;
  if (replay) {
    const cpu = replay['apiServerCpu'] as ApiServerCpu;
    row(
      "replay of the closed loop's writes",
      `${s(replay['requestsPerSecond'])} requests/s, ${s(replay['writesPerSecond'])} writes/s (${s(replay['requests'])} requests x ${s(replay['writesPerRequest'])} writes, ${s(replay['errors'])} errors, no operator); ${s(replay['toParallelOverTargets'])} of the raw rate over the objects; API server ${s(cpu.msPerCall)} ms per call, ${s(cpu.shareOfBusyPercent)}% of the CPU used`,
    );
  }
  const a = f.admissionCost;
  if (a) {
    // The policies' share of the API server's CPU per request in the closed loop, when it ran.
    const closedLoopApiServer = f.closedLoop?.cpu.processSeconds['kube-apiserver'];
    const closedLoopRequests = f.closedLoop?.requests.created;
    const perRequest =
      closedLoopApiServer !== undefined && closedLoopRequests ? (closedLoopApiServer * 1000) / closedLoopRequests : undefined;
    const share =
      perRequest !== undefined && a.policiesMsPerCreate !== undefined
        ? `, ${((a.policiesMsPerCreate / perRequest) * 100).toFixed(1)}% of the ${perRequest.toFixed(1)} ms a request costs it in the closed loop`
        : '';
    const creates = a.segments[0]?.creates;
    const errors = a.segments.reduce((n, seg) => n + seg.errors, 0);
    row(
      'admission policies, per create',
      `kube-apiserver CPU ${s(a.enforcedMsPerCreate)} ms with them, ${s(a.liftedMsPerCreate)} ms without: ${s(a.policiesMsPerCreate)} ms more${share} (medians of ${a.segments.length / 2} segments each of ${s(creates)} dry-run creates, ${errors} errors${errors > 0 ? `: ${s(a.segments.find((seg) => seg.firstError)?.firstError)}` : ''})`,
    );
    row(
      '  by segment, in order',
      a.segments.map((seg) => `${seg.enforced ? 'with' : 'without'} ${s(seg.msPerCreate)}`).join(', ') + ' ms per create',
    );
    row('  the created request', `${s(a.enforcedBytes)} bytes with them (who asked, filled in), ${s(a.liftedBytes)} without`);
  }
  const b = f.burst;
  if (b) {
    const r = b.requests;
    row(
      'BURST requests',
      `created ${s(r.created)}, succeeded ${s(r.succeeded)}, failed ${s(r.failed)} ${JSON.stringify(r.failedByReason)}, create errors ${s(r.createErrors)}${r.timedOut ? ' (TIMED OUT)' : ''}`,
    );
    row('  create phase', `${s(b.createSeconds)} s, ${s(b.createsPerSecond)} creates/s (create call ${dist(b.createLatencyMs, ' ms')})`);
    row(
      '  throughput',
      `${s(b.throughputPerSecond)} finished requests/s, ${s(b.succeededPerSecond)} succeeded/s (first create to last completion: ${s(b.firstCreateToLastCompletionSeconds)} s)`,
    );
    row('  create -> Succeeded', `${dist(b.latencyMs, ' ms')} (queueing: requests arrive faster than they are carried out)`);
    row(
      '  tokens per target (Flux saw)',
      `${spread(b.coalescing.tokensPerTarget)}  (total ${s(b.coalescing.tokensTotal)} for ${s(r.created)} requests)`,
    );
    row('  Flux reconciles per target', `${spread(b.coalescing.fluxReconcilesPerTarget)}  (total ${s(b.coalescing.fluxReconcilesTotal)})`);
    row('  tokens per target (requests)', spread(b.coalescing.requestTokensPerTarget));
    row('  Succeeded, token never written', b.coalescing.succeededWithUnwrittenToken);
    row('  writes per request', writes(b.writes));
    row(
      '  throughput x writes / raw rate',
      `operator's writes: ${s(b.writeRateShare.operatorToParallelOverTargets)} of the ${options.parallelism}-in-flight rate (${s(b.writeRateShare.operatorToSequential)} of the sequential); all writes: ${s(b.writeRateShare.allToParallelOverTargets)} (${s(b.writeRateShare.allToSequential)})`,
    );
    row(
      '  requests / raw patch rate',
      `${s(b.ratioToSequential)} (sequential), ${s(b.ratioToParallelOverTargets)} (${options.parallelism} in flight, ${options.targets} objects)`,
    );
    row('  watch events per request', spread(b.watchEventsPerRequest));
    const rawCpu = over?.['apiServerCpu'] as ApiServerCpu | undefined;
    row(
      '  API server CPU',
      `${s(b.apiServerCpu.msPerCall)} ms per call, ${s(b.apiServerCpu.shareOfBusyPercent)}% of the CPU used on the machine` +
        (rawCpu
          ? ` (raw patches ${options.parallelism} in flight over ${options.targets} objects: ${s(rawCpu.msPerCall)} ms per patch, ${s(rawCpu.shareOfBusyPercent)}%)`
          : ''),
    );
    cpuRows(row, b.cpu);
  }
  if (f.closedLoop) {
    const c = f.closedLoop;
    const r = c.requests;
    row(
      'CLOSED LOOP',
      `${s(c.clients)} clients, one request per target at a time: created ${s(r.created)}, succeeded ${s(r.succeeded)}, failed ${s(r.failed)}, create errors ${s(r.createErrors)}${r.timedOut ? ' (TIMED OUT)' : ''} in ${s(c.seconds)} s`,
    );
    row('  throughput', `${s(c.throughputPerSecond)} finished requests/s (the capacity the open loop's rates are shares of)`);
    row('  create -> outcome', dist(c.createToOutcomeMs, ' ms'));
    row('  writes per request', writes(c.writes));
    cpuRows(row, c.cpu);
  }
  for (const o of f.openLoop) {
    const r = o.requests;
    row(
      `OPEN LOOP ${o.label}`,
      `${s(o.ratePerSecond)} requests/s for ${s(o.seconds)} s: created ${s(r.created)}, succeeded ${s(r.succeeded)}, failed ${s(r.failed)}, create errors ${s(r.createErrors)}${r.timedOut ? ' (TIMED OUT)' : ''}; schedule at most ${s(o.scheduleLateMaxMs)} ms late`,
    );
    row('  throughput', `${s(o.throughputPerSecond)} finished requests/s`);
    row('  create -> outcome', dist(o.createToOutcomeMs, ' ms'));
    row(
      '  minus simulator ack',
      `${dist(o.withoutSimulatorAckMs, ' ms')} (ack ${dist(o.simulatorAckMs, ' ms')}; ${s(o.coveredByLaterToken)} covered by a later token left out)`,
    );
    row('  Flux status -> outcome', dist(o.fluxStatusToOutcomeMs, ' ms'));
    row('  writes per request', writes(o.writes));
    cpuRows(row, o.cpu);
  }
  row('unfinished at end', `${f.unfinished.count} ${JSON.stringify(f.unfinished.byPhase)}`);
  const op = f.operator;
  if (op['mode'] === 'child') {
    row(
      'operator peak RSS (VmHWM)',
      `${s(op['peakRssMiB'])} MiB (child pid ${s(op['pid'])}; RSS at end ${s(op['rssAtEndMiB'])} MiB; ${s(op['requestsInCacheAtEnd'])} requests in its cache at end)`,
    );
    row('operator CPU', `${s(op['cpuSeconds'])} s (user+system, all phases)`);
  } else {
    row(
      'operator peak RSS',
      `not separable in-process: this process (operator + simulator + load) peaked at ${s(f.benchProcessPeakRssMiB)} MiB`,
    );
    row('CPU (this process)', `${s(op['cpuSeconds'])} s (operator + simulator + load)`);
  }
  row(
    'operator heap used',
    `${spread(op.memory.heapUsedMiB)} MiB over ${op.memory.samples} samples; growth ${s(op.memory.heapGrowthMiBPerThousandRequests)} MiB per 1000 requests (lows of the second half)`,
  );
  row(
    'operator memory at end',
    `heap used ${s(op['heapUsedMiB'])} MiB, external ${s(op['externalMemoryMiB'])} MiB (its /metrics${op['mode'] === 'in-process' ? ': in-process, the whole process' : ''})`,
  );
  if (op['liveHeapMiB'] !== undefined)
    row('operator live heap at end', `${s(op['liveHeapMiB'])} MiB (a heap snapshot, after a full collection)`);
  row(
    'bench process peak RSS',
    `${s(f.benchProcessPeakRssMiB)} MiB (simulator + load + watch${op['mode'] === 'in-process' ? ' + operator' : ''})`,
  );
  row('operator workqueue retries', op['workqueueRetries']);
  row('operator event loop lag p99', op['eventLoopLagP99Ms'] !== undefined ? `${s(op['eventLoopLagP99Ms'])} ms` : '-');
  const logInfo = op['log'] as { lines: number; byLevel: Record<string, number> } | undefined;
  if (logInfo) row('operator log lines by level', JSON.stringify(logInfo.byLevel));
  row('operator stop', `${s(op['stopMs'])} ms, exit ${JSON.stringify(op.exit)}`);
  for (const r of f.restarts) {
    row(
      'RESTART',
      `a new operator on the ${r.requestsInNamespace} requests the load left, all finished but ${RestartWaitingRequest} (${r.waitingRequest}), ${describeVariant(r)}`,
    );
    row('  ready, idle', `/readyz after ${r.readyMs} ms, idle (work queue empty, CPU still for 1 s) after ${r.idleMs} ms`);
    row(
      '  memory at idle',
      `peak RSS ${s(r.peakRssMiB)} MiB, RSS ${s(r.rssAtIdleMiB)} MiB, heap used ${s(r.heapUsedMiB)} MiB; ${s(r.cpuSeconds)} s of CPU`,
    );
    row(
      '  of that RSS',
      `${s(r.rssAnonMiB)} MiB anonymous (V8's heap: ${s(r.heapTotalMiB)} MiB allocated; external ${s(r.externalMiB)} MiB), ${s(r.rssFileMiB)} MiB of files`,
    );
    if (r.liveHeapMiB !== undefined) row('  live heap at idle', `${s(r.liveHeapMiB)} MiB (a heap snapshot, after a full collection)`);
  }
  row('wall time so far', `${s(f.wallSeconds)} s`);
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(`\nflux-action-operator benchmark (Flux played by the simulator, a test double)\n`);
  for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(width)}  ${v}\n`);
}

/** How the bench starts the operator it measures, on its namespace, as the options say. */
function operatorUnderTest(options: BenchOptions, admin: k8s.KubeConfig, ns: string, startTimeoutMs: number): OperatorStartOptions {
  return {
    mode: options.operator,
    admin,
    watchNamespace: ns,
    concurrency: options.concurrency,
    logLevel: options.operatorLogLevel,
    startTimeoutMs,
    main: options.operatorMain,
    nodeOptions: options.operatorNodeOptions,
    heapSnapshots: options.heapSnapshot,
  };
}

/** A restarted operator is idle once its CPU time grew by at most IdleCpuSeconds over IdleSamples samples 200 ms apart (1 s). */
const IdleSamples = 6;
const IdleCpuSeconds = 0.03;

/** What a new operator needs for the namespace as the load left it (--restart). */
interface RestartFigures {
  requestsInNamespace: number;
  /** Where the waiting request (RestartWaitingRequest) stood when the operator was idle. */
  waitingRequest: string;
  /** The Node.js options it ran with, and the variables added to its environment. */
  nodeOptions: string[];
  env: Record<string, string>;
  /** From its start to /readyz (caches synced), and to idle: its work queue empty and its CPU still for a second. */
  readyMs: number | undefined;
  idleMs: number | undefined;
  peakRssMiB: number | undefined;
  rssAtIdleMiB: number | undefined;
  /** That RSS's anonymous pages and pages of files (RssAnon, RssFile). */
  rssAnonMiB: number | undefined;
  rssFileMiB: number | undefined;
  heapUsedMiB: number | undefined;
  /** V8's heap as allocated (used or not), and the memory outside it that V8 tracks (buffers). */
  heapTotalMiB: number | undefined;
  externalMiB: number | undefined;
  cpuSeconds: number | undefined;
  /** With --heap-snapshot: its live heap at idle (a snapshot, after a full collection). */
  liveHeapMiB: number | undefined;
}

/**
 * Starts another operator (with the given Node.js options) on the namespace the load left (every
 * request finished, and one waiting), waits until it is idle (its work queue empty and its CPU still
 * for a second), and reads its memory; then stops it.
 */
async function measureRestart(
  options: BenchOptions,
  admin: k8s.KubeConfig,
  ns: string,
  cleanup: Cleanup,
  variant: RestartVariant,
  index: number,
): Promise<RestartFigures> {
  const custom = admin.makeApiClient(k8s.CustomObjectsApi);
  const list = (await custom.listNamespacedCustomObject({
    group: Group,
    version: Version,
    namespace: ns,
    plural: 'fluxactionrequests',
  })) as {
    items: unknown[];
  };
  say(`restart: a new operator on ${list.items.length} requests, ${describeVariant(variant)}`);
  const started = performance.now();
  const operator = await startOperatorUnderTest({
    ...operatorUnderTest(options, admin, ns, 120_000),
    nodeOptions: variant.nodeOptions,
    env: variant.env,
    logName: `operator-${ns}-restart${index === 0 ? '' : `-${index + 1}`}.log`,
  });
  cleanup.operator = operator;
  const readyMs = performance.now() - started;
  // Idle: nothing queued, and the process all but still for a second, so the work that goes on
  // after the queue empties (the look for outcome Events) is in the figures too.
  const cpu: number[] = [];
  const metrics = await waitFor(
    'the restarted operator to go idle',
    async () => {
      const m = await scrapeMetrics(operator.metricsPort);
      cpu.push(operator.cpuSeconds() ?? Infinity);
      if (cpu.length > IdleSamples) cpu.shift();
      const still = cpu.length === IdleSamples && cpu[IdleSamples - 1]! - cpu[0]! <= IdleCpuSeconds;
      return m?.workqueueDepth === 0 && still ? m : undefined;
    },
    300_000,
    200,
  );
  const idleMs = performance.now() - started;
  const memory = operator.memory();
  const waiting = (await custom
    .getNamespacedCustomObject({ group: Group, version: Version, namespace: ns, plural: 'fluxactionrequests', name: RestartWaitingRequest })
    .catch(() => undefined)) as { status?: { phase?: string; target?: { token?: string } } } | undefined;
  const cpuSeconds = operator.cpuSeconds();
  // Read after the RSS: the snapshot's full collection and its writing take memory of their own.
  const snapshot = options.heapSnapshot ? await operator.heapSnapshot().catch(() => undefined) : undefined;
  await operator.stop();
  cleanup.operator = undefined;
  return {
    requestsInNamespace: list.items.length,
    waitingRequest: waiting?.status
      ? `${waiting.status.phase ?? 'no phase'}${waiting.status.target?.token ? ', its token written' : ''}`
      : 'not started',
    ...variant,
    readyMs: round(readyMs, 0),
    idleMs: round(idleMs, 0),
    peakRssMiB: memory ? round(memory.peakRssKiB / 1024) : undefined,
    rssAtIdleMiB: memory ? round(memory.rssKiB / 1024) : undefined,
    rssAnonMiB: memory ? round(memory.anonKiB / 1024) : undefined,
    rssFileMiB: memory ? round(memory.fileKiB / 1024) : undefined,
    heapUsedMiB: metrics.heapUsedBytes !== undefined ? round(metrics.heapUsedBytes / 2 ** 20) : undefined,
    heapTotalMiB: metrics.heapTotalBytes !== undefined ? round(metrics.heapTotalBytes / 2 ** 20) : undefined,
    externalMiB: metrics.externalBytes !== undefined ? round(metrics.externalBytes / 2 ** 20) : undefined,
    cpuSeconds: cpuSeconds !== undefined ? round(cpuSeconds, 2) : undefined,
    liveHeapMiB: snapshot ? round(snapshot.liveMiB, 1) : undefined,
  };
}

/** A restart's settings for the report: node options, then environment variables. */
function describeVariant(variant: RestartVariant): string {
  const env = Object.entries(variant.env).map(([k, v]) => `${k}=${v}`);
  return `node ${variant.nodeOptions.join(' ') || '(no options)'}${env.length > 0 ? `, ${env.join(' ')}` : ''}`;
}

/** The CPU rows of a phase, with a warning when other work on the machine took a large share. */
function cpuRows(row: (k: string, v: unknown) => void, cpu: CpuReport): void {
  row('  CPU', `machine ${cpu.machineBusyPercent ?? '-'}% busy of ${cpu.cores} cores (load average ${cpu.loadAverageAtStart} at start)`);
  row(
    '  CPU seconds',
    `${Object.entries(cpu.processSeconds)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}, everything else on the machine ${cpu.otherSeconds ?? '-'}`,
  );
  // Every component shares the machine's cores: say so when other work took a large share.
  if (cpu.machineBusySeconds !== undefined && cpu.otherSeconds !== undefined && cpu.otherSeconds > 0.25 * cpu.machineBusySeconds) {
    const share = Math.round((cpu.otherSeconds / cpu.machineBusySeconds) * 100);
    row(
      '  WARNING',
      `other work on this machine used ${share}% of the CPU time spent in this phase: these figures measure a contended machine`,
    );
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
