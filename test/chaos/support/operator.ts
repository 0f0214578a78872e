// The operator under chaos: `fluxact operator` (from dist/) as a child process running as its
// ServiceAccount, which the suite SIGKILLs and starts again. Its JSON log goes to a file under
// .cache/chaos so a failed run can be read afterwards.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { tail } from '../../bench/operator-process.js';
import { ensureInstalled, OperatorNamespace, OperatorServiceAccount, serviceAccountKubeConfig } from '../../support/harness.js';
import { adminKubeConfig, repoRoot, waitFor } from '../../support/kube.js';
import { procKiB, processStatus } from '../../support/proc.js';

export const chaosDir = path.join(repoRoot, '.cache', 'chaos');

export interface ChaosOperatorOptions {
  watchNamespace: string;
  /** Elect a leader on this Lease (default: no leader election). */
  leaseName?: string;
  /** The API server URL to use instead of the cluster's (a proxy in front of it). */
  server?: string;
  /** A name for the log file. */
  label: string;
}

export interface ChaosOperator {
  pid: number;
  logFile: string;
  /** The identity it elects under (leader election only). */
  identity: string | undefined;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Whether it has exited. */
  done(): boolean;
  kill(signal: NodeJS.Signals): void;
  /** Resident set size now, KiB (undefined once exited). */
  rssKiB(): number | undefined;
}

/** A kubeconfig file for the operator's ServiceAccount, pointing at `server` when given. */
async function kubeconfigFile(server: string | undefined): Promise<string> {
  const kc: k8s.KubeConfig = await serviceAccountKubeConfig(adminKubeConfig(), OperatorNamespace, OperatorServiceAccount);
  const exported = JSON.parse(kc.exportConfig()) as { clusters: { cluster: { server: string } }[] };
  // The proxy forwards TLS as it is, so the API server's certificate (127.0.0.1) still matches.
  if (server) for (const c of exported.clusters) c.cluster.server = server;
  const dir = mkdtempSync(path.join(tmpdir(), 'fluxact-chaos-'));
  const file = path.join(dir, 'kubeconfig');
  writeFileSync(file, JSON.stringify(exported), { mode: 0o600 });
  return file;
}

let started = 0;

/**
 * Starts `fluxact operator` and resolves once it runs its controllers (with leader election: once it
 * has started, leading or not). Fails with the log's tail when it exits or takes over 60 s.
 */
export async function startChaosOperator(options: ChaosOperatorOptions): Promise<ChaosOperator> {
  await ensureInstalled();
  const main = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
  const kubeconfig = await kubeconfigFile(options.server);
  mkdirSync(chaosDir, { recursive: true });
  started += 1;
  const logFile = path.join(chaosDir, `operator-${options.watchNamespace}-${options.label}-${started}.log`);
  const fd = openSync(logFile, 'w');
  const args = [
    main,
    'operator',
    '--kubeconfig',
    kubeconfig,
    '--watch-namespace',
    options.watchNamespace,
    '--metrics-addr',
    '127.0.0.1:0',
    '--log-level',
    'info',
    ...(options.leaseName ? ['--leader-elect', '--lease-name', options.leaseName] : ['--no-leader-elect']),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', fd, fd], cwd: repoRoot });
  closeSync(fd);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      rmSync(path.dirname(kubeconfig), { recursive: true, force: true });
      resolve(exit);
    }),
  );
  const ready = options.leaseName ? '"msg":"operator started"' : '"msg":"controllers started"';
  try {
    await waitFor(
      'the operator to start',
      () => {
        if (exit) throw new Error(`exited (code ${exit.code}, signal ${exit.signal})`);
        return readFileSync(logFile, 'utf8').includes(ready) ? true : undefined;
      },
      60_000,
      50,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`the operator did not start: ${err instanceof Error ? err.message : String(err)}\n${tail(logFile, 20)}`, {
      cause: err,
    });
  }
  const identity = /"identity":"([^"]+)"/.exec(readFileSync(logFile, 'utf8'))?.[1];
  const pid = child.pid ?? -1;
  return {
    pid,
    logFile,
    identity,
    exited,
    done: () => exit !== undefined,
    kill: (signal) => void child.kill(signal),
    rssKiB: () => {
      const status = processStatus(pid);
      return status === undefined ? undefined : procKiB(status, 'VmRSS');
    },
  };
}

/** SIGKILLs the operator and waits until it has exited (at most 10 s). */
export async function killOperator(operator: ChaosOperator): Promise<void> {
  if (operator.done()) return;
  operator.kill('SIGKILL');
  await waitFor('the operator to exit after SIGKILL', () => (operator.done() ? true : undefined), 10_000, 20);
}

/** Stops the operator gracefully (SIGTERM), SIGKILL after 40 s. */
export async function stopOperator(operator: ChaosOperator): Promise<void> {
  if (operator.done()) return;
  operator.kill('SIGTERM');
  const timer = setTimeout(() => {
    operator.kill('SIGKILL');
  }, 40_000);
  await operator.exited;
  clearTimeout(timer);
}
