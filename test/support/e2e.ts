// The end-to-end harness: the real Flux controllers (started by `cluster.sh up --with-flux`), the
// local sources server, the operator as its own ServiceAccount, and one way to ask for an action
// through each front door a user has: a request applied with kubectl, or an MCP tool call.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { ConditionStatus, Phase, ReadyCondition, StalledCondition } from '../../src/api/conditions.js';
import { ApiVersion, Kind, type FluxActionRequest, type RequestSpec } from '../../src/api/types.js';
import { fluxKind, sourceKinds } from '../../src/flux/kinds.js';
import { isNotFound } from '../../src/kube/errors.js';
import { describeOutcome } from '../../src/mcp/toolsets/flux-actions.js';
import {
  getFluxObject,
  getRequest,
  startOperator,
  testApiVersion,
  waitForFluxObject,
  type FluxObjectView,
  type TestOperator,
} from './harness.js';
import { adminKubeConfig, clusterDir, createNamespace, deleteNamespace, randomSuffix, repoRoot } from './kube.js';
import { connectStdio, type McpConnection } from './mcp.js';
import { sources, SourcesUrlEnv, type GitRepo, type Sources } from './sources.js';

const run = promisify(execFile);

/** How a test asks for an action: a request applied with kubectl, or an MCP tool call. */
export type Via = 'kubectl' | 'mcp';
export const bothWays: readonly Via[] = ['kubectl', 'mcp'];

/** The outcome of an action, in the shape the MCP tools answer with (describeOutcome). */
export interface Outcome {
  /** namespace/name of the request. */
  request: string;
  phase: string;
  reason?: string;
  message?: string;
  revision?: string;
  sourceRevision?: string;
  token?: string;
  durationSeconds?: number;
}

/**
 * The local sources server (Git, Helm, OCI) that `cluster.sh up --with-flux` runs beside the
 * controllers: $FLUXACT_SOURCES_URL, else SOURCES_URL of the cluster's env file.
 */
export function clusterSources(): Sources {
  return sources(process.env[SourcesUrlEnv] ?? clusterEnv('SOURCES_URL'));
}

/** A value of the local cluster's env file (written by cluster.sh up). */
export function clusterEnv(key: string): string {
  const file = path.join(clusterDir(), 'env');
  const value = existsSync(file) ? new RegExp(`^${key}=(.+)$`, 'm').exec(readFileSync(file, 'utf8'))?.[1] : undefined;
  if (!value) throw new Error(`no ${key} in ${file}: start the cluster with 'make cluster-flux'`);
  return value;
}

/** The pinned kubectl on the local cluster (cluster.sh kubectl), with stdin. */
export async function kubectl(args: string[], input?: string): Promise<string> {
  const child = run('bash', [`${repoRoot}/test/cluster/cluster.sh`, 'kubectl', ...args], { maxBuffer: 16 << 20 });
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  const { stdout } = await child;
  return stdout;
}

export interface E2eEnvironment {
  kc: k8s.KubeConfig;
  ns: string;
  operator: TestOperator;
  mcp: McpConnection;
  stop(): Promise<void>;
}

/**
 * A namespace of its own, the operator carrying out requests there (as its ServiceAccount), and an
 * MCP adapter (`fluxact mcp` on stdio, as its ServiceAccount) connected through the SDK's client.
 * The Flux controllers are the real ones, shared by every test.
 */
export async function startE2eEnvironment(prefix: string, options: { namespace?: string } = {}): Promise<E2eEnvironment> {
  const kc = adminKubeConfig();
  // A namespace of the test's own, unless it must act in a given one (flux-system for a FluxInstance).
  const ns = options.namespace ?? (await createNamespace(kc, prefix));
  const operator = await startOperator({ watchNamespace: ns });
  const mcp = await connectStdio();
  return {
    kc,
    ns,
    operator,
    mcp,
    stop: async () => {
      await mcp.close();
      await operator.stop();
      if (!options.namespace) await deleteNamespace(kc, ns);
    },
  };
}

export interface ActOptions {
  /** The phase the test expects: kubectl waits for Ready (Succeeded) or Stalled (Failed). */
  expect: typeof Phase.Succeeded | typeof Phase.Failed;
  /** Request name (kubectl only; default: generated). */
  name?: string;
  /** How long to wait for the outcome (default 120 s). */
  timeoutSeconds?: number;
}

/**
 * Asks for an action via kubectl or MCP and returns its outcome once the request finished. Both
 * create a FluxActionRequest that the operator carries out; they differ only in the front door.
 */
export async function act(
  env: Pick<E2eEnvironment, 'kc' | 'ns' | 'mcp'>,
  via: Via,
  spec: Pick<RequestSpec, 'action' | 'target'> & Partial<RequestSpec>,
  options: ActOptions,
): Promise<Outcome> {
  return via === 'kubectl' ? actWithKubectl(env, spec, options) : actWithMcp(env, spec, options);
}

async function actWithKubectl(env: Pick<E2eEnvironment, 'ns'>, spec: Partial<RequestSpec>, options: ActOptions): Promise<Outcome> {
  const name = options.name ?? `${spec.action}-${spec.target!.kind}-${randomSuffix()}`.toLowerCase();
  const timeout = options.timeoutSeconds ?? 120;
  const request = { apiVersion: ApiVersion, kind: Kind, metadata: { name, namespace: env.ns }, spec };
  await kubectl(['apply', '-f', '-'], stringify(request));
  const condition = options.expect === Phase.Succeeded ? ReadyCondition : StalledCondition;
  try {
    await kubectl(['wait', '-n', env.ns, `fluxactionrequest/${name}`, `--for=condition=${condition}`, `--timeout=${timeout}s`]);
  } catch {
    // Not the expected outcome in time: the test's assertion on the outcome says what it was.
  }
  const read = JSON.parse(await kubectl(['get', '-n', env.ns, `fluxactionrequest/${name}`, '-o', 'json'])) as FluxActionRequest;
  return describeOutcome(read).structured as unknown as Outcome;
}

/** The MCP tool for an action on a kind, and its arguments. */
export function toolFor(
  spec: Pick<RequestSpec, 'action' | 'target'> & Partial<RequestSpec>,
  namespace: string,
): { name: string; arguments: Record<string, unknown> } {
  const { kind, name } = spec.target;
  const base = { name, namespace: spec.target.namespace ?? namespace };
  if (spec.action === 'Suspend' || spec.action === 'Resume') {
    return {
      name: spec.action === 'Suspend' ? 'suspend_flux_reconciliation' : 'resume_flux_reconciliation',
      arguments: { ...base, kind, apiVersion: spec.target.apiVersion ?? testApiVersion(kind) },
    };
  }
  if (kind === 'Kustomization')
    return { name: 'reconcile_flux_kustomization', arguments: { ...base, with_source: spec.withSource ?? false } };
  if (kind === 'HelmRelease')
    return {
      name: 'reconcile_flux_helmrelease',
      arguments: { ...base, with_source: spec.withSource ?? false, force: spec.force ?? false },
    };
  if (kind === 'ResourceSet') return { name: 'reconcile_flux_resourceset', arguments: base };
  if (sourceKinds.includes(kind)) return { name: 'reconcile_flux_source', arguments: { ...base, kind } };
  throw new Error(`no MCP tool reconciles a ${kind}`);
}

async function actWithMcp(
  env: Pick<E2eEnvironment, 'ns' | 'mcp'>,
  spec: Pick<RequestSpec, 'action' | 'target'> & Partial<RequestSpec>,
  options: ActOptions,
): Promise<Outcome> {
  const tool = toolFor(spec, env.ns);
  const timeout = options.timeoutSeconds ?? 120;
  const result = await env.mcp.client.callTool(
    { name: tool.name, arguments: { ...tool.arguments, wait_timeout: `${timeout}s` } },
    undefined,
    { timeout: (timeout + 30) * 1000 },
  );
  const outcome = result.structuredContent as Outcome | undefined;
  if (!outcome?.request) throw new Error(`${tool.name} answered without a request: ${JSON.stringify(result.content)}`);
  return outcome;
}

/** Reads a request named namespace/name (as in Outcome.request). */
export async function readRequest(kc: k8s.KubeConfig, qualified: string): Promise<FluxActionRequest> {
  const [namespace, name] = qualified.split('/') as [string, string];
  return getRequest(kc, namespace, name);
}

/** Creates (or updates, by server-side apply) any object as the admin. */
export async function apply(kc: k8s.KubeConfig, obj: Record<string, unknown>): Promise<void> {
  const api = k8s.KubernetesObjectApi.makeApiClient(kc);
  await api.patch(obj, undefined, undefined, 'fluxact-e2e', true, k8s.PatchStrategy.ServerSideApply);
}

/** A Flux object of kind in namespace, with its apiVersion as served. */
export function fluxObject(
  kind: string,
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
  metadata: Record<string, unknown> = {},
): Record<string, unknown> {
  if (!fluxKind(kind)) throw new Error(`unknown Flux kind ${kind}`);
  return { apiVersion: testApiVersion(kind), kind, metadata: { name, namespace, ...metadata }, spec };
}

interface FluxCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

/** The named condition of a Flux object. */
export function condition(obj: FluxObjectView, type: string): FluxCondition | undefined {
  return (obj.status?.['conditions'] as FluxCondition[] | undefined)?.find((c) => c.type === type);
}

/**
 * True when Flux reports the object Ready for its current generation (status.observedGeneration,
 * or the Ready condition's on kinds without one, as flux-operator's).
 */
export function isReady(obj: FluxObjectView): boolean {
  const ready = condition(obj, ReadyCondition);
  const observed = (obj.status?.['observedGeneration'] as number | undefined) ?? ready?.observedGeneration;
  return ready?.status === ConditionStatus.True && observed === obj.metadata.generation;
}

/** Waits until a Flux object matches what (Ready by default), with a deadline. */
export async function waitForFlux(
  kc: k8s.KubeConfig,
  kind: string,
  namespace: string,
  name: string,
  what = 'to be Ready',
  predicate: (obj: FluxObjectView) => boolean = isReady,
  timeoutMs = 120_000,
): Promise<FluxObjectView> {
  let last: FluxObjectView | undefined;
  const seen = (obj: FluxObjectView): boolean => {
    last = obj;
    return predicate(obj);
  };
  try {
    return await waitForFluxObject(kc, kind, namespace, name, what, seen, timeoutMs);
  } catch (err) {
    const conditions = JSON.stringify(last?.status?.['conditions'] ?? null);
    throw new Error(`${(err as Error).message}; its conditions: ${conditions}`, { cause: err });
  }
}

/** Reads a ConfigMap's data, or undefined if there is none. */
export async function configMapData(kc: k8s.KubeConfig, namespace: string, name: string): Promise<Record<string, string> | undefined> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  try {
    return (await core.readNamespacedConfigMap({ namespace, name })).data ?? {};
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** What a watch saw of one Flux object: every requestedAt value written to it, in order. */
export interface FluxObjectTrail {
  /** The distinct reconcile.fluxcd.io/requestedAt values, in the order they appeared. */
  requestedAt(): string[];
  stop(): void;
}

/**
 * Watches one Flux object from now on and records each requestedAt value written to it, so a test
 * can tell how many reconcile requests the real controller was given (it acts on each new value).
 * Resolves once the watch is open; a watch the API server ends is reopened where it left off.
 */
export async function watchFluxObject(kc: k8s.KubeConfig, kind: string, namespace: string, name: string): Promise<FluxObjectTrail> {
  const row = fluxKind(kind);
  if (!row) throw new Error(`unknown Flux kind ${kind}`);
  const [group, version] = testApiVersion(kind).split('/') as [string, string];
  const seen: string[] = [];
  const now = await getFluxObject(kc, kind, namespace, name);
  // The value already there is not part of the trail: it records what is written from now on.
  const current = now.metadata.annotations?.['reconcile.fluxcd.io/requestedAt'];
  let resourceVersion = now.metadata.resourceVersion;
  let stopped = false;
  let request: AbortController | undefined;
  const watch = new k8s.Watch(kc);
  const open = async (): Promise<void> => {
    request = await watch.watch(
      `/apis/${group}/${version}/namespaces/${namespace}/${row.plural}`,
      { fieldSelector: `metadata.name=${name}`, ...(resourceVersion ? { resourceVersion } : {}) },
      (type: string, obj: FluxObjectView) => {
        // ERROR carries a Status (410 Gone: the version is too old): start over from the current state.
        if (type === 'ERROR') {
          resourceVersion = undefined;
          return;
        }
        resourceVersion = obj.metadata.resourceVersion ?? resourceVersion;
        const token = obj.metadata.annotations?.['reconcile.fluxcd.io/requestedAt'];
        if (token !== undefined && !seen.includes(token)) seen.push(token);
      },
      () => {
        if (!stopped) void open();
      },
    );
  };
  await open();
  return {
    requestedAt: () => seen.filter((t) => t !== current),
    stop: () => {
      stopped = true;
      request?.abort();
    },
  };
}

/**
 * How many reconciles kustomize-controller ran on a Kustomization since it last applied something
 * new: status.history's newest entry counts them (totalReconciliations, Flux 2.7).
 */
export function reconciliations(ks: FluxObjectView): number {
  const newest = (ks.status?.['history'] as { totalReconciliations?: number }[] | undefined)?.[0];
  return newest?.totalReconciliations ?? 0;
}

/** A ConfigMap manifest whose data.message is message (name: greeting unless given). */
export const configMapManifest = (message: string, name = 'greeting'): string => `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
data:
  message: ${message}
`;

/** A manifest the API server refuses on apply (data values must be strings): a broken commit. */
export const brokenConfigMapManifest = `apiVersion: v1
kind: ConfigMap
metadata:
  name: broken
data:
  values: [1, 2]
`;

/**
 * A Git repository on the local sources server with `app/configmap.yaml` (message "one"), a
 * GitRepository `repo` and a Kustomization `app` applying `./app` into env's namespace, once
 * kustomize-controller has applied that first commit.
 */
export async function gitKustomization(env: Pick<E2eEnvironment, 'kc' | 'ns'>): Promise<GitRepo> {
  const repo = clusterSources().gitRepo(env.ns);
  const first = await repo.commit({ 'app/configmap.yaml': configMapManifest('one') }, 'first');
  await apply(env.kc, fluxObject('GitRepository', env.ns, 'repo', { interval: '1h', url: repo.url, ref: { branch: repo.branch } }));
  await apply(
    env.kc,
    fluxObject('Kustomization', env.ns, 'app', {
      interval: '1h',
      path: './app',
      prune: true,
      targetNamespace: env.ns,
      sourceRef: { kind: 'GitRepository', name: 'repo' },
    }),
  );
  await waitForFlux(
    env.kc,
    'Kustomization',
    env.ns,
    'app',
    `to apply ${first}`,
    (ks) => ks.status?.['lastAppliedRevision'] === `${repo.branch}@sha1:${first}`,
  );
  return repo;
}
