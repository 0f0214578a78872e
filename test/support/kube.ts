// Test access to the local control plane: the admin kubeconfig, namespaces per test, and waits on conditions.
import { existsSync } from 'node:fs';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { reuseConnections } from '../../src/runtime/kubeconfig.js';

/**
 * The clone's root: the nearest directory above this file holding package.json. (Not a fixed '../..':
 * compiled to dist/test/support/ for the benchmark, that would be dist/.)
 */
export const repoRoot = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)));

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from, '..', '..');
  }
}

/** The local control plane's data directory: $FLUXACT_CLUSTER_DIR, else .cache/cluster (as cluster.sh). */
export function clusterDir(): string {
  return process.env.FLUXACT_CLUSTER_DIR ?? path.join(repoRoot, '.cache', 'cluster');
}

/** Path of the kubeconfig the tests use: $KUBECONFIG, or the local control plane's admin kubeconfig. */
export function testKubeconfigPath(): string {
  const fromEnv = process.env.KUBECONFIG;
  if (fromEnv) return fromEnv;
  const local = path.join(clusterDir(), 'kubeconfig');
  if (!existsSync(local)) {
    throw new Error(`no kubeconfig: set KUBECONFIG or start the local control plane with 'make cluster-up' (${local} is missing)`);
  }
  return local;
}

/** The admin KubeConfig (system:masters) of the test cluster. */
export function adminKubeConfig(): k8s.KubeConfig {
  const kc = reuseConnections(new k8s.KubeConfig());
  kc.loadFromFile(testKubeconfigPath());
  return kc;
}

/**
 * A KubeConfig for the same cluster that authenticates with a bearer token (a ServiceAccount's);
 * server: another address of the API server to talk to (a proxy in front of it).
 */
export function tokenKubeConfig(admin: k8s.KubeConfig, token: string, user = 'token-user', server?: string): k8s.KubeConfig {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('admin kubeconfig has no current cluster');
  const kc = reuseConnections(new k8s.KubeConfig());
  kc.loadFromOptions({
    clusters: [server ? { ...cluster, server } : cluster],
    users: [{ name: user, token }],
    contexts: [{ name: user, cluster: cluster.name, user: user }],
    currentContext: user,
  });
  return kc;
}

/** A short random suffix for names that must not collide between tests. */
export function randomSuffix(): string {
  return randomBytes(4).toString('hex');
}

/** Creates a namespace with a random name; delete it with deleteNamespace. */
export async function createNamespace(kc: k8s.KubeConfig, prefix = 'test'): Promise<string> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const name = `${prefix}-${randomSuffix()}`;
  await core.createNamespace({ body: { metadata: { name, labels: { 'fluxaction.io/test': 'true' } } } });
  return name;
}

/** Starts deleting a namespace; does not wait for it to go. */
export async function deleteNamespace(kc: k8s.KubeConfig, name: string): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.deleteNamespace({ name }).catch(() => undefined);
}

/**
 * Calls probe until it returns a value other than undefined, or throws after timeoutMs with the last
 * value described. Polling here is the test's own observation loop, not synchronisation by sleeping.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: last error ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** How many new TLS connections calls opens (https.Agent's), for tests of connection reuse. */
export async function connectionsOpenedBy(calls: () => Promise<void>): Promise<number> {
  const proto = https.Agent.prototype as unknown as { createConnection: (...args: unknown[]) => unknown };
  const original = proto.createConnection;
  let opened = 0;
  proto.createConnection = function (this: unknown, ...args: unknown[]) {
    opened++;
    return original.apply(this, args);
  };
  try {
    await calls();
  } finally {
    proto.createConnection = original;
  }
  return opened;
}
