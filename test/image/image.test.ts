// The container image, run as a pod's container against the local control plane: in-cluster
// configuration only (the ServiceAccount's token and CA at the standard path,
// KUBERNETES_SERVICE_HOST/PORT), a read-only root filesystem, no capabilities, host networking.
// The Helm chart's objects are installed in a release namespace of their own (its Deployments
// aside), and each container runs as its Deployment's pod would: the chart's ServiceAccount with
// the chart's RBAC, the Deployment's args and environment. `fluxact operator` carries out a request
// (the Flux simulator playing Flux, as in the integration tests); `fluxact mcp` answers over HTTP.
// So the shipped RBAC and flags are proven enough for the image. test/image/run.sh (make
// test-image) builds the image first.
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CoordinationV1Api, KubernetesObjectApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { SimAnnotation, type FluxSimulator } from '../simulator/flux-simulator.js';
import {
  createFluxObject,
  createRequest,
  ensureInstalled,
  requestEvents,
  serviceAccountToken,
  startSimulator,
  waitForPhase,
} from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, randomSuffix, repoRoot, waitFor } from '../support/kube.js';
import { renderChart, type Rendered } from '../support/helm.js';
import { apply } from '../support/install.js';
import { textOf } from '../support/mcp.js';
import { engine, freePort, runPodContainer, serviceAccountFiles, testImage, type PodContainer } from './container.js';

const version = (JSON.parse(readFileSync(`${repoRoot}/package.json`, 'utf8')) as { version: string }).version;

/** The PEM of the cluster's CA, as the kubelet mounts it in ca.crt. */
function clusterCa(kc: KubeConfig): string {
  const cluster = kc.getCurrentCluster();
  if (cluster?.caData) return Buffer.from(cluster.caData, 'base64').toString('utf8');
  if (cluster?.caFile) return readFileSync(cluster.caFile, 'utf8');
  throw new Error('the admin kubeconfig names no CA');
}

/** KUBERNETES_SERVICE_HOST/PORT of a pod, pointing at the local API server. */
function serviceEnv(kc: KubeConfig): Record<string, string> {
  const server = new URL(kc.getCurrentCluster()?.server ?? '');
  return { KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port || '443' };
}

const mounted: string[] = [];
afterAll(() => {
  mounted.forEach((dir) => {
    rmSync(dir, { recursive: true, force: true });
  });
});

/** The ServiceAccount files of a pod running as ServiceAccount namespace/name. */
async function podServiceAccount(kc: KubeConfig, namespace: string, name: string): Promise<string> {
  const token = await serviceAccountToken(kc, namespace, name);
  const dir = serviceAccountFiles(token, clusterCa(kc), namespace);
  mounted.push(dir);
  return dir;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } };
}
interface PodTemplate {
  serviceAccountName: string;
  containers: { args: string[]; env?: EnvVar[] }[];
}

/** What a pod of the chart's Deployment `name` runs: its ServiceAccount, args and environment (as the kubelet resolves it). */
function podOf(chart: Rendered[], name: string): { serviceAccount: string; args: string[]; env: Record<string, string> } {
  const deployment = chart.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
  if (!deployment) throw new Error(`the chart renders no Deployment ${name}`);
  const pod = (deployment['spec'] as { template: { spec: PodTemplate } }).template.spec;
  const container = pod.containers[0]!;
  const env: Record<string, string> = {};
  for (const v of container.env ?? []) {
    if (v.value !== undefined) env[v.name] = v.value;
    else if (v.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[v.name] = deployment.metadata.namespace!;
    else if (v.valueFrom?.secretKeyRef) {
      const ref = v.valueFrom.secretKeyRef;
      const secret = chart.find((o) => o.kind === 'Secret' && o.metadata.name === ref.name) as
        (Rendered & { data: Record<string, string> }) | undefined;
      if (!secret) throw new Error(`the chart renders no Secret ${ref.name} for ${name}'s ${v.name}`);
      env[v.name] = Buffer.from(secret.data[ref.key] ?? '', 'base64').toString('utf8');
    } else throw new Error(`${name}: environment variable ${v.name} has a source this test does not resolve`);
  }
  return { serviceAccount: pod.serviceAccountName, args: container.args, env };
}

async function httpStatus(url: string, init?: RequestInit): Promise<number> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
  await response.arrayBuffer();
  return response.status;
}

/** The container's log, for a failing expectation's message. */
function describeFailure(container: PodContainer | undefined): string {
  return container ? `\n--- ${container.name} log ---\n${container.log().slice(-4000)}` : '';
}

/** Waits until url answers 200; fails at once, with the container's log, if the container exits first. */
async function waitForServing(container: PodContainer, url: string): Promise<void> {
  const exited = container.exited.then((code) => {
    throw new Error(`${container.name} exited (${code}) before ${url} answered 200${describeFailure(container)}`);
  });
  exited.catch(() => undefined); // handled by the race below, or moot once serving
  const serving = waitFor(
    `${container.name} to answer ${url} with 200`,
    async () => ((await httpStatus(url)) === 200 ? true : undefined),
    90_000,
    100,
  );
  serving.catch(() => undefined); // the same: the race reports whichever comes first
  await Promise.race([serving, exited]);
}

describe('the image', () => {
  it('runs as the unprivileged user 1000', async () => {
    const inspected = await engine(['image', 'inspect', '--format', '{{.Config.User}}', testImage]);
    expect(inspected.stderr).toBe('');
    expect(inspected.stdout.trim()).toBe('1000:1000');
  });

  it('has no shell', async () => {
    const run = await engine(['run', '--rm', '--read-only', '--entrypoint', '/bin/sh', testImage, '-c', 'true']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/\/bin\/sh.*(no such file or directory|not found)/i);
  });

  it('runs fluxact with a read-only root filesystem', async () => {
    const run = await engine(['run', '--rm', '--read-only', '--cap-drop', 'ALL', testImage, 'version']);
    expect(run).toMatchObject({ code: 0, stdout: `${version}\n` });
  });
});

describe("as the chart's pods, against the local control plane", () => {
  const kc = adminKubeConfig();
  const suffix = randomSuffix();
  const prefix = `img-${suffix}`;
  const token = `image-test-${randomSuffix()}-${randomSuffix()}`;
  const leaseName = `fluxact-image-${suffix}`;
  let ns: string;
  let release: string;
  let chart: Rendered[];
  let installed: Rendered[] = [];
  let simulator: FluxSimulator;
  let operator: PodContainer | undefined;
  let metricsPort: number;
  let mcpPort: number;

  beforeAll(async () => {
    await ensureInstalled();
    ns = await createNamespace(kc, 'image');
    release = await createNamespace(kc, 'fluxact-image');
    [metricsPort, mcpPort] = await Promise.all([freePort(), freePort()]);
    // The chart as a platform team would install it: its own namespace and names (config/'s
    // admission policies are installed already), leader election on, the MCP adapter on.
    chart = await renderChart({
      namespace: release,
      set: [
        `namePrefix=${prefix}`,
        'admission.enabled=false',
        `operator.watchNamespace=${ns}`,
        `operator.metricsPort=${metricsPort}`,
        `operator.leaderElection.leaseName=${leaseName}`,
        'mcp.enabled=true',
        `mcp.port=${mcpPort}`,
        `mcp.token.value=${token}`,
      ],
    });
    // Everything but the CRDs (installed already, the same) and the Deployments, whose pods are the containers below.
    installed = chart.filter((o) => o.kind !== 'CustomResourceDefinition' && o.kind !== 'Deployment');
    await apply(kc, installed);
    simulator = await startSimulator({ namespaces: [ns] });
    const pod = podOf(chart, `${prefix}-operator`);
    operator = runPodContainer({
      name: `fluxact-operator-${suffix}`,
      serviceAccountDir: await podServiceAccount(kc, release, pod.serviceAccount),
      env: { ...serviceEnv(kc), ...pod.env },
      args: pod.args,
    });
  });

  afterAll(async () => {
    await operator?.stop();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
    await simulator?.stop();
    // The chart's cluster-wide objects (its ClusterRoles and bindings); the namespaced ones go with the namespace.
    const objects = KubernetesObjectApi.makeApiClient(kc);
    for (const o of installed.filter((x) => x.metadata.namespace === undefined)) {
      await objects.delete(o as KubernetesObject).catch(() => undefined);
    }
    if (release) await deleteNamespace(kc, release);
    if (ns) await deleteNamespace(kc, ns);
  });

  it("runs the operator's and the adapter's pods as the chart's ServiceAccounts", () => {
    expect(podOf(chart, `${prefix}-operator`).serviceAccount).toBe(`${prefix}-operator`);
    expect(podOf(chart, `${prefix}-mcp`).serviceAccount).toBe(`${prefix}-mcp`);
    expect(installed.filter((o) => o.kind === 'ClusterRoleBinding').map((o) => o.metadata.name)).toEqual(
      expect.arrayContaining([`${prefix}-operator`, `${prefix}-mcp`]),
    );
  });

  describe('fluxact operator', () => {
    it('becomes ready (/readyz answers 200)', async () => {
      const container = operator!;
      await waitForServing(container, `http://127.0.0.1:${metricsPort}/readyz`);
      const seconds = (performance.now() - container.startedAt) / 1000;
      process.stderr.write(`image: time to ready (run → /readyz 200): ${seconds.toFixed(1)}s\n`);
    });

    it("carries out a Reconcile request as the chart's operator ServiceAccount, with only the in-cluster configuration", async () => {
      await createFluxObject(kc, 'Kustomization', ns, 'app', { annotations: { [SimAnnotation.revision]: 'main@sha1:0c0ffee' } });
      await createRequest(kc, ns, 'reconcile-app', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
      const done = await waitForPhase(kc, ns, 'reconcile-app', 'Succeeded', 60_000).catch((err: unknown) => {
        throw new Error(`${String(err)}${describeFailure(operator)}`);
      });
      expect(done.status?.message).toBe(`Kustomization ${ns}/app: applied revision main@sha1:0c0ffee`);
      expect(simulator.record('Kustomization', ns, 'app').requestedAt).toEqual([done.status?.token]);
      // Recorded by the operator in the container, which has no credential but the mounted token.
      const events = await waitFor('the request to have its Succeeded Event', async () => {
        const list = await requestEvents(kc, ns, 'reconcile-app');
        return list.some((e) => e.reason === 'Succeeded') ? list : undefined;
      });
      expect(events.map((e) => e.reason)).toEqual(['Requested', 'Succeeded']);
      expect(events.every((e) => e.source?.component === 'flux-action-operator')).toBe(true);
      // It leads through the Lease in its release namespace (the chart's Role), as each replica of the Deployment does.
      const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: release, name: leaseName });
      expect(lease.spec?.holderIdentity).toBeTruthy();
    });
  });

  describe('fluxact mcp --transport http', () => {
    let mcp: PodContainer | undefined;
    let url: string;

    beforeAll(async () => {
      url = `http://127.0.0.1:${mcpPort}/mcp`;
      const pod = podOf(chart, `${prefix}-mcp`);
      mcp = runPodContainer({
        name: `fluxact-mcp-${suffix}`,
        serviceAccountDir: await podServiceAccount(kc, release, pod.serviceAccount),
        env: { ...serviceEnv(kc), ...pod.env },
        args: pod.args,
      });
      await waitForServing(mcp, `http://127.0.0.1:${mcpPort}/healthz`);
    });

    afterAll(async () => {
      await mcp?.stop();
    });

    async function connect(): Promise<Client> {
      const client = new Client({ name: 'fluxact-image-test', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }),
      );
      return client;
    }

    it('answers tools/list with its token', async () => {
      const client = await connect();
      try {
        const { tools } = await client.listTools();
        expect(tools.map((t) => t.name)).toEqual(
          expect.arrayContaining(['reconcile_flux_kustomization', 'list_flux_action_requests', 'get_flux_instance']),
        );
      } finally {
        await client.close();
      }
    });

    it('refuses a client without the token', async () => {
      const status = await httpStatus(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(status).toBe(401);
    });

    it("reads the cluster as the chart's adapter ServiceAccount: lists the request the operator carried out", async () => {
      const client = await connect();
      try {
        const result = await client.callTool({ name: 'list_flux_action_requests', arguments: { namespace: ns } });
        expect(result.isError).toBeFalsy();
        expect(textOf(result)).toContain('reconcile-app');
      } finally {
        await client.close();
      }
    });
  });
});
