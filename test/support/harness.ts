// The integration harness: the operator running under its own ServiceAccount (with config/rbac's
// permissions), the Flux simulator, and helpers to create Flux objects and requests and to wait on
// their state with a deadline.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { ReadyCondition, isFinished, type Phase } from '../../src/api/conditions.js';
import type { FluxActionRequest, RequestSpec } from '../../src/api/types.js';
import { Group, Plural, Version } from '../../src/api/types.js';
import { PolicyPlural } from '../../src/policy/types.js';
import { fluxKind } from '../../src/flux/kinds.js';
import { Operator } from '../../src/operator/manager.js';
import type { Clock } from '../../src/runtime/clock.js';
import type { OperatorConfig } from '../../src/runtime/config.js';
import { FluxSimulator, type SimulatorOptions } from '../simulator/flux-simulator.js';
import { FaultProxy, type FaultProxyOptions } from './fault-proxy.js';
import { installProject } from './install.js';
import { adminKubeConfig, createNamespace, deleteNamespace, repoRoot, tokenKubeConfig, waitFor } from './kube.js';

export const OperatorNamespace = 'fluxact-system';
export const OperatorServiceAccount = 'fluxact-operator';

/** A token of a ServiceAccount from the TokenRequest API (as `kubectl create token`), valid for an hour unless told otherwise. */
export async function serviceAccountToken(
  admin: k8s.KubeConfig,
  namespace: string,
  name: string,
  expirationSeconds = 3600,
): Promise<string> {
  const core = admin.makeApiClient(k8s.CoreV1Api);
  const request = await core.createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences: [], expirationSeconds } },
  });
  const token = request.status?.token;
  if (!token) throw new Error(`no token for ServiceAccount ${namespace}/${name}`);
  return token;
}

/** A kubeconfig authenticating as a ServiceAccount, with a token from the TokenRequest API. */
export async function serviceAccountKubeConfig(
  admin: k8s.KubeConfig,
  namespace: string,
  name: string,
  expirationSeconds?: number,
): Promise<k8s.KubeConfig> {
  const token = await serviceAccountToken(admin, namespace, name, expirationSeconds);
  return tokenKubeConfig(admin, token, `system:serviceaccount:${namespace}:${name}`);
}

/** An Operator's onSynced or onSettled call, with its work queue's depth (fluxact_workqueue_depth) then. */
export interface StartupHook {
  hook: 'synced' | 'settled';
  depth?: number;
}

export interface TestOperator {
  operator: Operator;
  kc: k8s.KubeConfig;
  /** How often its controllers' caches synced (its onSynced calls). */
  syncs(): number;
  /** Its onSynced and onSettled calls in order, each with its work queue's depth then (once read). */
  startup: StartupHook[];
  stop(): Promise<void>;
}

let installed: Promise<void> | undefined;

/** Installs the project's CRD and RBAC once per test worker (server-side apply, idempotent). */
export function ensureInstalled(): Promise<void> {
  installed ??= installProject(adminKubeConfig());
  return installed;
}

/**
 * Starts an operator in this process, as its ServiceAccount, without leader election unless asked.
 * server: another address of the API server to talk to (a proxy in front of it); clock: its time.
 */
export async function startOperator(
  overrides: Partial<OperatorConfig> = {},
  serviceAccount = OperatorServiceAccount,
  server?: string,
  clock?: Clock,
): Promise<TestOperator> {
  const operator = await newOperator(overrides, serviceAccount, server, clock);
  await operator.operator.start();
  return operator;
}

/** An operator as startOperator makes it, not started yet: for a test that watches what start() does meanwhile. */
export async function newOperator(
  overrides: Partial<OperatorConfig> = {},
  serviceAccount = OperatorServiceAccount,
  server?: string,
  clock?: Clock,
): Promise<TestOperator> {
  await ensureInstalled();
  const admin = adminKubeConfig();
  const token = await serviceAccountToken(admin, OperatorNamespace, serviceAccount);
  const kc = tokenKubeConfig(admin, token, `system:serviceaccount:${OperatorNamespace}:${serviceAccount}`, server);
  const config: OperatorConfig = {
    kubeconfig: undefined,
    namespace: OperatorNamespace,
    watchNamespace: undefined,
    crossNamespaceFrom: [OperatorNamespace],
    concurrency: 8,
    metricsAddr: '127.0.0.1:0',
    leaderElect: false,
    leaseName: 'flux-action-operator',
    logLevel: 'warn',
    eventsAddr: undefined,
    ...overrides,
  };
  const log = pino({ level: process.env.FLUXACT_TEST_LOG_LEVEL ?? 'silent' });
  const startup: StartupHook[] = [];
  const record = (hook: StartupHook['hook']): void => {
    const entry: StartupHook = { hook };
    startup.push(entry);
    // The gauge's get() resolves in a microtask, before the queue can move on.
    void operator.metrics.workqueueDepth.get().then((m) => (entry.depth = m.values[0]?.value ?? 0));
  };
  const operator: Operator = new Operator({
    config,
    kc,
    log,
    ...(clock ? { clock } : {}),
    onSynced: () => {
      record('synced');
    },
    onSettled: () => {
      record('settled');
    },
  });
  return { operator, kc, syncs: () => startup.filter((h) => h.hook === 'synced').length, startup, stop: () => operator.stop() };
}

/** Starts the Flux simulator (the test double for the Flux controllers). */
export async function startSimulator(options: Partial<SimulatorOptions> = {}): Promise<FluxSimulator> {
  const simulator = new FluxSimulator({ kc: adminKubeConfig(), ...options });
  await simulator.start();
  return simulator;
}

const defaultSpecs: Record<string, (name: string) => Record<string, unknown>> = {
  Kustomization: () => ({ interval: '10m', path: './', prune: true, sourceRef: { kind: 'GitRepository', name: 'repo' } }),
  HelmRelease: () => ({ interval: '10m', chartRef: { kind: 'OCIRepository', name: 'chart' } }),
  GitRepository: () => ({ interval: '10m', url: 'https://git.invalid/repo' }),
  OCIRepository: () => ({ interval: '10m', url: 'oci://registry.invalid/chart' }),
  Bucket: () => ({ interval: '10m', bucketName: 'b', endpoint: 'minio.invalid' }),
  HelmRepository: () => ({ interval: '10m', url: 'https://charts.invalid' }),
  HelmChart: () => ({ interval: '10m', chart: 'podinfo', sourceRef: { kind: 'HelmRepository', name: 'charts' } }),
  ResourceSet: () => ({ resources: [] }),
  ResourceSetInputProvider: () => ({ type: 'Static' }),
  FluxInstance: () => ({ distribution: { version: '2.7.x', registry: 'ghcr.io/fluxcd' } }),
  ImageRepository: () => ({ image: 'registry.invalid/app', interval: '10m' }),
  ImagePolicy: () => ({ imageRepositoryRef: { name: 'app' }, policy: { semver: { range: '>=1.0.0' } } }),
  ImageUpdateAutomation: () => ({
    interval: '10m',
    sourceRef: { kind: 'GitRepository', name: 'repo' },
    git: { commit: { author: { name: 'bot', email: 'bot@example.com' } } },
  }),
  Receiver: () => ({ type: 'generic', resources: [{ kind: 'GitRepository', name: 'repo' }], secretRef: { name: 'token' } }),
  Alert: () => ({ providerRef: { name: 'slack' }, eventSources: [{ kind: 'Kustomization', name: '*' }] }),
  Provider: () => ({ type: 'generic' }),
};

/** The served apiVersion the tests use for a kind. */
export function testApiVersion(kind: string): string {
  const row = fluxKind(kind);
  if (!row) throw new Error(`unknown kind ${kind}`);
  return `${row.group}/${row.versions[0]}`;
}

export interface FluxObjectInit {
  spec?: Record<string, unknown>;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}

/** Creates a FluxActionPolicy in a namespace with the given rules (as the admin kubeconfig's user). */
export async function createPolicy(kc: k8s.KubeConfig, namespace: string, name: string, rules: Record<string, unknown>[]): Promise<void> {
  await kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
    group: Group,
    version: Version,
    plural: PolicyPlural,
    namespace,
    body: { apiVersion: `${Group}/${Version}`, kind: 'FluxActionPolicy', metadata: { name }, spec: { rules } },
  });
}

/** Creates a Flux object with a valid default spec (merged with init.spec). */
export async function createFluxObject(
  kc: k8s.KubeConfig,
  kind: string,
  namespace: string,
  name: string,
  init: FluxObjectInit = {},
): Promise<k8s.KubernetesObject> {
  const api = k8s.KubernetesObjectApi.makeApiClient(kc);
  const base = defaultSpecs[kind];
  if (!base) throw new Error(`no default spec for ${kind}`);
  return api.create({
    apiVersion: testApiVersion(kind),
    kind,
    metadata: {
      name,
      namespace,
      ...(init.annotations ? { annotations: init.annotations } : {}),
      ...(init.labels ? { labels: init.labels } : {}),
    },
    spec: { ...base(name), ...init.spec },
  } as k8s.KubernetesObject);
}

/** Reads a Flux object (admin view). */
export async function getFluxObject(kc: k8s.KubeConfig, kind: string, namespace: string, name: string): Promise<FluxObjectView> {
  const row = fluxKind(kind)!;
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  return (await custom.getNamespacedCustomObject({
    group: row.group,
    version: row.versions[0]!,
    plural: row.plural,
    namespace,
    name,
  })) as FluxObjectView;
}

/** Merge-patches a Flux object's metadata or spec. */
export async function patchFluxObject(
  kc: k8s.KubeConfig,
  kind: string,
  namespace: string,
  name: string,
  body: Record<string, unknown>,
): Promise<void> {
  const row = fluxKind(kind)!;
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  await custom.patchNamespacedCustomObject(
    { group: row.group, version: row.versions[0]!, plural: row.plural, namespace, name, body },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
}

export interface FluxObjectView {
  metadata: { name: string; namespace: string; annotations?: Record<string, string>; generation?: number; resourceVersion?: string };
  spec: Record<string, unknown>;
  status?: Record<string, unknown> & { lastHandledReconcileAt?: string };
}

/** Creates a FluxActionRequest. */
export async function createRequest(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  spec: Partial<RequestSpec> & Pick<RequestSpec, 'action' | 'target'>,
): Promise<FluxActionRequest> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  return (await custom.createNamespacedCustomObject({
    group: Group,
    version: Version,
    plural: Plural,
    namespace,
    body: { apiVersion: `${Group}/${Version}`, kind: 'FluxActionRequest', metadata: { name, namespace }, spec },
  })) as FluxActionRequest;
}

export async function getRequest(kc: k8s.KubeConfig, namespace: string, name: string): Promise<FluxActionRequest> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  return (await custom.getNamespacedCustomObject({ group: Group, version: Version, plural: Plural, namespace, name })) as FluxActionRequest;
}

/** Waits until a request reaches a phase; fails at once (with its status) if it finishes in another. */
export async function waitForPhase(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  phase: Phase,
  timeoutMs = 30_000,
): Promise<FluxActionRequest> {
  let finishedElsewhere: string | undefined;
  const found = await waitFor(
    `request ${namespace}/${name} to be ${phase}`,
    async () => {
      const request = await getRequest(kc, namespace, name);
      const current = request.status?.phase;
      if (current === phase) return request;
      if (isFinished(current)) {
        finishedElsewhere = `request ${namespace}/${name} finished ${current}, not ${phase}: ${request.status?.message}`;
        return request;
      }
      return undefined;
    },
    timeoutMs,
  );
  if (finishedElsewhere) throw new Error(finishedElsewhere);
  return found;
}

/** The Ready condition's reason of a request. */
export function readyReason(request: FluxActionRequest): string | undefined {
  return request.status?.conditions?.find((c) => c.type === ReadyCondition)?.reason;
}

/**
 * Creates a Reconcile request for the Kustomization `app` (spec: more of its spec) and writes a
 * Succeeded status to it as the admin, completed at `completion`: what an operator that died right
 * after finishing it leaves behind.
 */
export async function finishRequestByHand(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  completion: Date,
  spec: Partial<RequestSpec> = {},
): Promise<void> {
  const created = await createRequest(kc, namespace, name, {
    action: 'Reconcile',
    target: { kind: 'Kustomization', name: 'app' },
    ...spec,
  });
  const at = completion.toISOString().replace(/\.\d+Z$/, 'Z');
  const ready = { type: 'Ready', status: 'True', reason: 'Succeeded', message: 'Kustomization applied by hand', lastTransitionTime: at };
  await kc.makeApiClient(k8s.CustomObjectsApi).replaceNamespacedCustomObjectStatus({
    group: Group,
    version: Version,
    plural: Plural,
    namespace,
    name,
    body: { ...created, status: { phase: 'Succeeded', message: ready.message, startTime: at, completionTime: at, conditions: [ready] } },
  });
}

/** Replaces a request's status as the admin (to set up the state a crashed operator leaves behind). */
export async function writeRequestStatus(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  status: Record<string, unknown>,
): Promise<void> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const current = (await custom.getNamespacedCustomObject({ group: Group, version: Version, plural: Plural, namespace, name })) as Record<
    string,
    unknown
  >;
  await custom.replaceNamespacedCustomObjectStatus({
    group: Group,
    version: Version,
    plural: Plural,
    namespace,
    name,
    body: { ...current, status },
  });
}

/** Deletes a Flux object. */
export async function deleteFluxObject(kc: k8s.KubeConfig, kind: string, namespace: string, name: string): Promise<void> {
  const row = fluxKind(kind)!;
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  await custom.deleteNamespacedCustomObject({ group: row.group, version: row.versions[0]!, plural: row.plural, namespace, name });
}

/** The Events recorded on a request, oldest first. */
export async function requestEvents(kc: k8s.KubeConfig, namespace: string, name: string): Promise<k8s.CoreV1Event[]> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const list = await core.listNamespacedEvent({
    namespace,
    fieldSelector: `involvedObject.kind=FluxActionRequest,involvedObject.name=${name}`,
  });
  // Event names end in the time they were recorded, in nanoseconds (hex): they sort in time order.
  const time = (e: k8s.CoreV1Event): bigint => BigInt(`0x${e.metadata.name?.split('.').pop() ?? '0'}`);
  return list.items.sort((a, b) => (time(a) < time(b) ? -1 : time(a) > time(b) ? 1 : 0));
}

/** Waits until a Flux object matches a predicate. */
export async function waitForFluxObject(
  kc: k8s.KubeConfig,
  kind: string,
  namespace: string,
  name: string,
  what: string,
  predicate: (obj: FluxObjectView) => boolean,
  timeoutMs = 30_000,
): Promise<FluxObjectView> {
  return waitFor(
    `${kind} ${namespace}/${name} ${what}`,
    async () => {
      const obj = await getFluxObject(kc, kind, namespace, name);
      return predicate(obj) ? obj : undefined;
    },
    timeoutMs,
  );
}

export interface OperatorProcess {
  pid: number;
  /** Everything the process wrote to stderr (its JSON log). */
  log(): string;
  kill(signal: NodeJS.Signals): void;
  exited: Promise<number | null>;
}

/**
 * Runs `fluxact operator` as a child process (from dist/, built by `make test`), as the operator's
 * ServiceAccount, and resolves once its controllers have started.
 */
export async function spawnOperator(args: string[] = []): Promise<OperatorProcess> {
  await ensureInstalled();
  const main = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: build with 'npm run build:all' (make test does)`);
  const kc = await serviceAccountKubeConfig(adminKubeConfig(), OperatorNamespace, OperatorServiceAccount);
  const dir = mkdtempSync(path.join(tmpdir(), 'fluxact-'));
  const kubeconfig = path.join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kc.exportConfig(), { mode: 0o600 });
  const child = spawn(
    process.execPath,
    [main, 'operator', '--kubeconfig', kubeconfig, '--no-leader-elect', '--metrics-addr', '127.0.0.1:0', '--log-level', 'debug', ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      resolve(code);
    }),
  );
  await waitFor('the operator process to start its controllers', () => {
    if (child.exitCode !== null) throw new Error(`operator exited ${child.exitCode}: ${output}`);
    return output.includes('controllers started') ? true : undefined;
  });
  return { pid: child.pid ?? -1, log: () => output, kill: (signal) => child.kill(signal), exited };
}

/** A namespace of its own, an operator handling requests there, and the simulator playing Flux there. */
export interface OperatorEnvironment {
  kc: k8s.KubeConfig;
  ns: string;
  operator: TestOperator;
  simulator: FluxSimulator;
  stop(): Promise<void>;
}

/** Sets up an OperatorEnvironment in a new namespace named `<prefix>-<random>`; stop() tears it down. */
export async function startOperatorEnvironment(prefix: string, overrides: Partial<OperatorConfig> = {}): Promise<OperatorEnvironment> {
  const kc = adminKubeConfig();
  const ns = await createNamespace(kc, prefix);
  const operator = await startOperator({ watchNamespace: ns, ...overrides });
  const simulator = await startSimulator({ namespaces: [ns] });
  return {
    kc,
    ns,
    operator,
    simulator,
    stop: async () => {
      await operator.stop();
      await simulator.stop();
      await deleteNamespace(kc, ns);
    },
  };
}

/** An OperatorEnvironment whose operator talks to the API server through a fault proxy. */
export interface ProxiedEnvironment extends OperatorEnvironment {
  proxy: FaultProxy;
}

/**
 * As startOperatorEnvironment, with the operator (not the test, not the simulator) talking to the
 * API server through a FaultProxy that fails, holds or cuts what `fail` says.
 */
export async function startProxiedEnvironment(
  prefix: string,
  fail: FaultProxyOptions['fail'],
  overrides: Partial<OperatorConfig> = {},
): Promise<ProxiedEnvironment> {
  const kc = adminKubeConfig();
  const ns = await createNamespace(kc, prefix);
  const proxy = new FaultProxy({ admin: kc, fail });
  const server = await proxy.start();
  const simulator = await startSimulator({ namespaces: [ns] });
  const operator = await startOperator({ watchNamespace: ns, ...overrides }, undefined, server);
  return {
    kc,
    ns,
    operator,
    simulator,
    proxy,
    stop: async () => {
      await operator.stop();
      await simulator.stop();
      await proxy.stop();
      await deleteNamespace(kc, ns);
    },
  };
}
