// Runs the built fluxact (dist/) as users do: a child process with its output piped, or on a
// pseudo-terminal (util-linux `script`) where it draws its live line.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { repoRoot } from './kube.js';

/** The built CLI's entry point (npm run build:all writes it). */
export const fluxactMain = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

/** The escape character: a terminal's control sequences start with it, piped output has none. */
export const Escape = '\u001b';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A kubeconfig file holding kc, for a CLI process to read. */
export function writeKubeconfig(kc: k8s.KubeConfig): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'fluxact-cli-')), 'kubeconfig');
  writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
  return file;
}

const cliEnv = (kubeconfig: string): NodeJS.ProcessEnv => ({ ...process.env, KUBECONFIG: kubeconfig, FORCE_COLOR: '0' });

/** Runs fluxact with stdout and stderr piped. */
export function fluxact(kubeconfig: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [fluxactMain, ...args], { env: cliEnv(kubeconfig) }, (err, stdout, stderr) => {
      const code = err && typeof err.code === 'number' ? err.code : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts fluxact in the background; `done` resolves when it exits; `stderr()` is what it wrote so far. */
export function startFluxact(kubeconfig: string, args: string[]): { done: Promise<CliResult>; stderr: () => string } {
  const child = spawn(process.execPath, [fluxactMain, ...args], { env: cliEnv(kubeconfig), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code) => {
      resolve({ code: code ?? -1, stdout, stderr });
    }),
  );
  return { done, stderr: () => stderr };
}

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs fluxact on a pseudo-terminal of 120 columns; stdout is everything the terminal received
 * (its stdout and stderr both).
 */
export function fluxactOnTerminal(kubeconfig: string, args: string[]): Promise<CliResult> {
  // script's terminal has no size: give it one, as a real terminal has.
  const cmd = `stty cols 120 rows 40; ${[process.execPath, fluxactMain, ...args].map(shellQuote).join(' ')}`;
  // ora draws nothing live where CI is set (a CI log is no terminal), as .ci/run sets it: a person's terminal has no CI.
  const env: NodeJS.ProcessEnv = { ...cliEnv(kubeconfig), TERM: 'xterm' };
  delete env['CI'];
  return new Promise((resolve) => {
    execFile('script', ['-qec', cmd, '/dev/null'], { env }, (err, stdout, stderr) => {
      resolve({ code: err && typeof err.code === 'number' ? err.code : 0, stdout, stderr });
    });
  });
}
