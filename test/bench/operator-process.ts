// The operator under test: by default `fluxact operator` as a child process, running as its
// ServiceAccount with config/rbac's permissions, so its memory and CPU are its own and can be read
// from /proc. In-process mode (startOperator) shares this process with the simulator and the load.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { OperatorNamespace, OperatorServiceAccount, serviceAccountKubeConfig, startOperator } from '../support/harness.js';
import { repoRoot, waitFor } from '../support/kube.js';
import { processCpuSeconds } from './host.js';
import { procKiB, processStatus } from '../support/proc.js';
import { ImageNodeOptions, operatorEnv, type OperatorMode } from './options.js';

export interface ProcessMemory {
  /** Peak resident set size (VmHWM), KiB. */
  peakRssKiB: number;
  /** Resident set size now (VmRSS), KiB. */
  rssKiB: number;
  /** Of it, anonymous pages (RssAnon: the heaps, V8's and the C library's, and stacks), KiB. */
  anonKiB: number;
  /** Of it, pages of mapped files (RssFile: node's binary above all), KiB. */
  fileKiB: number;
}

export interface StopResult {
  /** How long the operator took to stop after being asked, ms. */
  stopMs: number;
  exitCode: number | null;
  signal: string | null;
  /** True when it had to be killed. */
  killed: boolean;
}

export interface OperatorUnderTest {
  mode: OperatorMode;
  pid: number;
  metricsPort: number;
  /** The child's JSON log, when it is a child. */
  logFile: string | undefined;
  /** The operator's own memory (child mode), from /proc/<pid>/status. */
  memory(): ProcessMemory | undefined;
  /** CPU time (user + system) of the operator's process, seconds. */
  cpuSeconds(): number | undefined;
  /**
   * Has the child write a heap snapshot (V8 collects garbage first) and reads its live size; undefined
   * unless it was started with heapSnapshots.
   */
  heapSnapshot(): Promise<HeapSnapshot | undefined>;
  stop(): Promise<StopResult>;
}

export interface OperatorStartOptions {
  mode: OperatorMode;
  admin: k8s.KubeConfig;
  watchNamespace: string;
  concurrency: number;
  logLevel: string;
  /** Longest wait for the operator to start, ms. */
  startTimeoutMs: number;
  /** The fluxact entry point of the child (default: this clone's bundle, what the image runs). */
  main?: string | undefined;
  /** Node.js options of the child (default: the image's NODE_OPTIONS). */
  nodeOptions?: readonly string[];
  /** Variables added to the child's environment. */
  env?: Readonly<Record<string, string>>;
  /** Whether the child writes a heap snapshot on SIGUSR2 (see heapSnapshot). */
  heapSnapshots?: boolean;
  /** The child's log file name in .cache/bench (default operator-<namespace>.log). */
  logName?: string;
}

export interface HeapSnapshot {
  file: string;
  /** The snapshot's objects together (self sizes): the live heap after a full collection, MiB. */
  liveMiB: number;
  /** How long the operator was paused writing it, ms. */
  writeMs: number;
}

/** Starts the operator and resolves once its controllers run (caches synced, workers started). */
export async function startOperatorUnderTest(options: OperatorStartOptions): Promise<OperatorUnderTest> {
  return options.mode === 'child' ? startChild(options) : startInProcess(options);
}

async function startInProcess(options: OperatorStartOptions): Promise<OperatorUnderTest> {
  const test = await startOperator({ watchNamespace: options.watchNamespace, concurrency: options.concurrency });
  const started = process.cpuUsage();
  return {
    mode: 'in-process',
    pid: process.pid,
    metricsPort: test.operator.port ?? 0,
    logFile: undefined,
    memory: () => undefined,
    heapSnapshot: () => Promise.resolve(undefined),
    // This process's CPU since the operator started: operator, simulator and load together.
    cpuSeconds: () => {
      const used = process.cpuUsage(started);
      return (used.user + used.system) / 1e6;
    },
    stop: async () => {
      const t = performance.now();
      await test.stop();
      return { stopMs: performance.now() - t, exitCode: null, signal: null, killed: false };
    },
  };
}

async function startChild(options: OperatorStartOptions): Promise<OperatorUnderTest> {
  const main = options.main ? path.resolve(options.main) : path.join(repoRoot, 'dist', 'bundle', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: build first (npm run bench compiles and bundles it)`);
  // A kubeconfig authenticating as the operator's ServiceAccount, in a private temporary directory.
  // Valid for a day: a token that expires mid-run (an hour, the default) stops the operator with 401s.
  const sa = await serviceAccountKubeConfig(options.admin, OperatorNamespace, OperatorServiceAccount, 24 * 3600);
  const secretDir = mkdtempSync(path.join(tmpdir(), 'fluxact-bench-'));
  const kubeconfig = path.join(secretDir, 'operator.kubeconfig');
  writeFileSync(kubeconfig, sa.exportConfig(), { mode: 0o600 });

  const logDir = path.join(repoRoot, '.cache', 'bench');
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, options.logName ?? `operator-${options.watchNamespace}.log`);
  const logFd = openSync(logFile, 'w');
  const metricsPort = await freePort();
  const args = [
    // As the image's entrypoint: the bundle's HTTP client's deprecated calls are not the operator's log.
    '--disable-warning=DEP0169',
    ...(options.nodeOptions ?? ImageNodeOptions.split(' ')),
    ...(options.heapSnapshots ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${logDir}`] : []),
    main,
    'operator',
    '--kubeconfig',
    kubeconfig,
    '--watch-namespace',
    options.watchNamespace,
    '--no-leader-elect',
    '--metrics-addr',
    `127.0.0.1:${metricsPort}`,
    '--concurrency',
    String(options.concurrency),
    '--log-level',
    options.logLevel,
  ];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', logFd, logFd],
    cwd: repoRoot,
    env: operatorEnv(process.env, options.env ?? {}),
  });
  closeSync(logFd);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    }),
  );
  let exit: { code: number | null; signal: string | null } | undefined;
  void exited.then((e) => (exit = e));
  const cleanupSecret = (): void => {
    rmSync(secretDir, { recursive: true, force: true });
  };

  try {
    await waitForStart(child, logFile, metricsPort, options, () => exit);
  } catch (err) {
    child.kill('SIGKILL');
    cleanupSecret();
    throw err;
  }
  const pid = child.pid!;
  return {
    mode: 'child',
    pid,
    metricsPort,
    logFile,
    memory: () => readMemory(pid),
    cpuSeconds: () => processCpuSeconds(pid),
    heapSnapshot: async () => (options.heapSnapshots ? takeHeapSnapshot(pid, logDir, metricsPort) : undefined),
    stop: async () => {
      const t = performance.now();
      let killed = false;
      if (!exit) {
        child.kill('SIGTERM');
        // The operator lets running reconciles finish (its queue waits up to 30s).
        const timer = setTimeout(() => {
          killed = true;
          child.kill('SIGKILL');
        }, 40_000);
        await exited;
        clearTimeout(timer);
      }
      cleanupSecret();
      const e = exit ?? (await exited);
      return { stopMs: performance.now() - t, exitCode: e.code, signal: e.signal, killed };
    },
  };
}

/**
 * The child logs "controllers started" once its caches are synced and its workers run (info level).
 * /readyz alone does not say so without leader election, so at levels above info only the process
 * answering is checked.
 */
async function waitForStart(
  child: ChildProcess,
  logFile: string,
  metricsPort: number,
  options: OperatorStartOptions,
  exit: () => { code: number | null; signal: string | null } | undefined,
): Promise<void> {
  const logsStart = ['trace', 'debug', 'info'].includes(options.logLevel);
  // /readyz waits for synced caches, also without leader election.
  const outcome = await waitFor(
    'the operator to start',
    async () => {
      const e = exit();
      if (e) return { exited: e };
      if (logsStart && readFileSync(logFile, 'utf8').includes('"msg":"controllers started"')) return { exited: undefined };
      return (await answers(`http://127.0.0.1:${metricsPort}/readyz`)) ? { exited: undefined } : undefined;
    },
    options.startTimeoutMs,
    100,
  ).catch((err: unknown) => {
    throw new Error(`${err instanceof Error ? err.message : String(err)}:\n${tail(logFile, 20)}`);
  });
  if (outcome.exited) {
    throw new Error(
      `the operator (pid ${child.pid}) exited during start (code ${outcome.exited.code}, signal ${outcome.exited.signal}):\n${tail(logFile, 20)}`,
    );
  }
}

/**
 * Signals the child to write a heap snapshot and waits for it: the snapshot is written on the main
 * thread, so the file is complete once the process answers on /healthz again.
 */
async function takeHeapSnapshot(pid: number, dir: string, metricsPort: number): Promise<HeapSnapshot> {
  const before = new Set(readdirSync(dir));
  const started = performance.now();
  process.kill(pid, 'SIGUSR2');
  const file = await waitFor(
    'the operator to start its heap snapshot',
    () => readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f)),
    60_000,
    50,
  );
  await waitFor(
    'the operator to finish its heap snapshot',
    async () => (await answers(`http://127.0.0.1:${metricsPort}/healthz`)) || undefined,
    300_000,
    100,
  );
  const writeMs = performance.now() - started;
  const full = path.join(dir, file);
  const snapshot = JSON.parse(readFileSync(full, 'utf8')) as { snapshot: { meta: { node_fields: string[] } }; nodes: number[] };
  const fields = snapshot.snapshot.meta.node_fields;
  const selfSize = fields.indexOf('self_size');
  let bytes = 0;
  for (let i = selfSize; i < snapshot.nodes.length; i += fields.length) bytes += snapshot.nodes[i]!;
  return { file: full, liveMiB: bytes / 2 ** 20, writeMs };
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
}

/** The last lines of a file. */
export function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** VmHWM, VmRSS, RssAnon and RssFile of a process, from /proc/<pid>/status. */
function readMemory(pid: number): ProcessMemory | undefined {
  const status = processStatus(pid);
  if (status === undefined) return undefined;
  return {
    peakRssKiB: procKiB(status, 'VmHWM'),
    rssKiB: procKiB(status, 'VmRSS'),
    anonKiB: procKiB(status, 'RssAnon'),
    fileKiB: procKiB(status, 'RssFile'),
  };
}

/** A free TCP port on loopback (released before the operator binds it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** Reads the operator's /metrics and picks the figures the report shows. */
export async function scrapeMetrics(port: number): Promise<OperatorMetricsSnapshot | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const values = (name: string): { labels: string; value: number }[] =>
      text
        .split('\n')
        .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
        .map((l) => {
          const m = /^[^{\s]+(\{[^}]*\})?\s+(\S+)/.exec(l);
          return { labels: m?.[1] ?? '', value: Number(m?.[2]) };
        });
    return {
      workqueueRetries: values('fluxact_workqueue_retries_total')[0]?.value,
      workqueueDepth: values('fluxact_workqueue_depth').reduce((sum, v) => sum + v.value, 0),
      requestsTotal: Object.fromEntries(values('fluxact_requests_total').map((v) => [v.labels, v.value])),
      eventLoopLagP99Seconds: values('nodejs_eventloop_lag_p99_seconds')[0]?.value,
      heapUsedBytes: values('nodejs_heap_size_used_bytes')[0]?.value,
      heapTotalBytes: values('nodejs_heap_size_total_bytes')[0]?.value,
      externalBytes: values('nodejs_external_memory_bytes')[0]?.value,
    };
  } catch {
    return undefined;
  }
}

export interface OperatorMetricsSnapshot {
  workqueueRetries: number | undefined;
  /** Items waiting in the operator's work queues, all queues together. */
  workqueueDepth: number;
  requestsTotal: Record<string, number>;
  eventLoopLagP99Seconds: number | undefined;
  heapUsedBytes: number | undefined;
  /** V8's heap as allocated from the system (used or not). */
  heapTotalBytes: number | undefined;
  externalBytes: number | undefined;
}

export interface LogSummary {
  lines: number;
  byLevel: Record<string, number>;
  /** warn and worse, grouped by message: count and a first example line. */
  problems: { level: string; msg: string; count: number; example: string }[];
}

/** Counts the JSON log lines of the child by level and groups its warnings and errors. */
export function summarizeLog(file: string): LogSummary {
  const byLevel: Record<string, number> = {};
  const problems = new Map<string, { level: string; msg: string; count: number; example: string }>();
  let lines = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    lines += 1;
    let level = 'unparsed';
    let msg = line;
    try {
      const parsed = JSON.parse(line) as { level?: string; msg?: string; err?: unknown };
      level = parsed.level ?? 'unknown';
      msg = parsed.msg ?? '';
    } catch {
      // Not JSON (a crash trace): counted as unparsed.
    }
    byLevel[level] = (byLevel[level] ?? 0) + 1;
    if (!['trace', 'debug', 'info'].includes(level)) {
      const key = `${level}|${msg}`;
      const p = problems.get(key) ?? { level, msg, count: 0, example: line.slice(0, 600) };
      p.count += 1;
      problems.set(key, p);
    }
  }
  return { lines, byLevel, problems: [...problems.values()].sort((a, b) => b.count - a.count) };
}
