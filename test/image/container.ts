// Running the built image the way a kubelet runs a pod's container: host networking to reach the
// local control plane, a read-only root filesystem, no capabilities, the ServiceAccount's token and
// CA at the standard path, KUBERNETES_SERVICE_HOST/PORT. The engine is podman (through
// hack/podman.sh) or docker, as test/image/run.sh chose it.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../support/kube.js';

/** The image under test: $FLUXACT_TEST_IMAGE, default flux-action-operator:test (test/image/run.sh builds it). */
export const testImage = process.env.FLUXACT_TEST_IMAGE ?? 'flux-action-operator:test';

/** Where a pod finds its ServiceAccount's credentials. */
export const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';

function engineCommand(args: readonly string[]): [string, string[]] {
  return process.env.FLUXACT_CONTAINER_ENGINE === 'docker'
    ? ['docker', [...args]]
    : ['bash', [path.join(repoRoot, 'hack', 'podman.sh'), ...args]];
}

export interface EngineResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the container engine with args; resolves with its exit code and output (killed after timeoutMs). */
export function engine(args: readonly string[], timeoutMs = 60_000): Promise<EngineResult> {
  const [command, argv] = engineCommand(args);
  return new Promise((resolve) => {
    execFile(command, argv, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Writes what a pod gets mounted at /var/run/secrets/kubernetes.io/serviceaccount: token, ca.crt,
 * namespace. Modes as a projected volume's default (0644), so the image's unprivileged user reads them.
 */
export function serviceAccountFiles(token: string, caPem: string, namespace: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'fluxact-sa-'));
  for (const [name, content] of [
    ['token', token],
    ['ca.crt', caPem],
    ['namespace', namespace],
  ] as const) {
    writeFileSync(path.join(dir, name), content, { mode: 0o644 });
  }
  chmodSync(dir, 0o755);
  return dir;
}

/** A free TCP port on 127.0.0.1 (the container shares the host's network). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === 'object' && address) resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

export interface PodContainerOptions {
  /** Container name (unique: a test run's leftovers must not collide). */
  name: string;
  /** The host directory mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount. */
  serviceAccountDir: string;
  env: Record<string, string>;
  /** Arguments after the image's entrypoint (`operator ...`, `mcp ...`). */
  args: string[];
}

export interface PodContainer {
  name: string;
  /** performance.now() when the engine's `run` was started. */
  startedAt: number;
  /** Everything the container (and the engine) wrote to stderr so far: the JSON log. */
  log(): string;
  /** Resolves with the engine's exit code once `run` returns. */
  exited: Promise<number | null>;
  /** Stops the container (SIGTERM, then SIGKILL after 10s) and waits for `run` to return. */
  stop(): Promise<void>;
}

/** Starts the image in the foreground of a child process (removed when it stops), as a pod's container. */
export function runPodContainer(options: PodContainerOptions): PodContainer {
  const envArgs = Object.entries(options.env).flatMap(([key, value]) => ['--env', `${key}=${value}`]);
  const [command, argv] = engineCommand([
    'run',
    '--rm',
    '--name',
    options.name,
    '--network',
    'host',
    '--read-only',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    '--volume',
    `${options.serviceAccountDir}:${serviceAccountDir}:ro`,
    ...envArgs,
    testImage,
    ...options.args,
  ]);
  const startedAt = performance.now();
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      resolve(code);
    }),
  );
  return {
    name: options.name,
    startedAt,
    log: () => output,
    exited,
    stop: async () => {
      if (child.exitCode === null) {
        await engine(['stop', '--time', '10', options.name], 30_000);
        // Bounded: a container the engine could not stop is removed by force.
        let timer: NodeJS.Timeout | undefined;
        const gone = await Promise.race([
          exited.then(() => true),
          new Promise<false>(
            (r) =>
              (timer = setTimeout(() => {
                r(false);
              }, 15_000)),
          ),
        ]);
        clearTimeout(timer);
        if (!gone) {
          await engine(['rm', '--force', options.name], 30_000);
          child.kill('SIGKILL');
        }
      }
    },
  };
}
