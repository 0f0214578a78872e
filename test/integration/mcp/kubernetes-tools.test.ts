// The read-only Kubernetes tools through the SDK's real client, as the adapter's ServiceAccount:
// get_kubernetes_resources, resources_get, pods_list_in_namespace, events_list and pods_log.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { createFluxObject, OperatorNamespace, patchFluxObject } from '../../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, testKubeconfigPath, waitFor } from '../../support/kube.js';
import { connectStdio, mcpKubeconfigFile, textOf, type McpConnection } from '../../support/mcp.js';

const ksApiVersion = 'kustomize.toolkit.fluxcd.io/v1';
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;
let ns: string;
/** The adapter's ServiceAccount. */
let adapter: McpConnection;
/** The cluster admin (may read Secrets). */
let admin: McpConnection;
/** The adapter's ServiceAccount with --max-output 1000. */
let capped: McpConnection;
/** A ServiceAccount that may read none of pods, events or CRDs (the operator's). */
let unprivileged: McpConnection;

/**
 * Creates a pod once the namespace's default ServiceAccount exists (admission needs it). Unless
 * `onNode`, it asks for a node that does not exist, so it stays Pending without a node.
 */
async function createPod(name: string, labels: Record<string, string>, containers: string[], onNode = false): Promise<void> {
  const nodeSelector: Record<string, string> = onNode ? { type: 'kwok' } : { 'fluxaction.io/no-such-node': 'true' };
  await waitFor(`pod ${name} to be created`, async () => {
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name, labels },
        spec: { nodeSelector, containers: containers.map((c) => ({ name: c, image: 'example.invalid/app:1' })) },
      },
    });
    return true;
  });
}

async function createEvent(name: string, objectName: string, init: Partial<k8s.CoreV1Event>): Promise<void> {
  await core.createNamespacedEvent({
    namespace: ns,
    body: {
      metadata: { name, namespace: ns },
      involvedObject: { apiVersion: ksApiVersion, kind: 'Kustomization', name: objectName, namespace: ns },
      source: { component: 'kustomize-controller' },
      ...init,
    },
  });
}

beforeAll(async () => {
  kc = adminKubeConfig();
  core = kc.makeApiClient(k8s.CoreV1Api);
  ns = await createNamespace(kc, 'mcp-k8s');
  for (const name of ['api', 'app', 'cron', 'worker']) await createFluxObject(kc, 'Kustomization', ns, name);
  await createFluxObject(kc, 'Kustomization', ns, `only-${ns}`);
  await patchFluxObject(kc, 'Kustomization', ns, 'app', { metadata: { labels: { tier: 'front' } } });
  await core.createNamespacedSecret({
    namespace: ns,
    body: {
      metadata: {
        name: 'creds',
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"stringData":{"password":"hunter2"}}' },
      },
      data: { password: Buffer.from('hunter2').toString('base64') },
    },
  });
  await createPod('web', { app: 'web' }, ['app']);
  await createPod('multi', { app: 'multi' }, ['app', 'sidecar']);
  const minutesAgo = (m: number): Date => new Date(Date.now() - m * 60_000);
  await createEvent('app.older', 'app', {
    type: 'Normal',
    reason: 'Progressing',
    message: 'older event',
    count: 1,
    firstTimestamp: minutesAgo(10),
    lastTimestamp: minutesAgo(10),
  });
  await createEvent('app.newer', 'app', {
    type: 'Warning',
    reason: 'ReconciliationFailed',
    message: 'newer event',
    count: 3,
    firstTimestamp: minutesAgo(5),
    lastTimestamp: minutesAgo(1),
  });
  await createEvent('api.event', 'api', {
    type: 'Normal',
    reason: 'Progressing',
    message: 'an event about another object',
    count: 1,
    lastTimestamp: minutesAgo(2),
  });
  [adapter, admin, capped, unprivileged] = await Promise.all([
    connectStdio(),
    connectStdio([], testKubeconfigPath()),
    connectStdio(['--max-output', '1000']),
    // The operator namespace's default ServiceAccount: no role grants it anything.
    mcpKubeconfigFile('default').then((file) => connectStdio([], file)),
  ]);
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await Promise.all([adapter?.close(), admin?.close(), capped?.close(), unprivileged?.close()]);
  await deleteNamespace(kc, ns);
});

async function call(
  connection: McpConnection,
  name: string,
  args: Record<string, unknown>,
): Promise<{ text: string; isError: boolean; structured: Record<string, unknown> }> {
  const result = await connection.client.callTool({ name, arguments: args });
  return {
    text: textOf(result),
    isError: result.isError === true,
    structured: (result.structuredContent ?? {}) as Record<string, unknown>,
  };
}

/** The YAML documents of an answer, as objects. */
function documents(text: string): {
  kind?: string;
  metadata: { name: string; namespace?: string; managedFields?: unknown };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}[] {
  return parseAllDocuments(text).map((d) => d.toJS() as ReturnType<typeof documents>[number]);
}

describe('get_kubernetes_resources', () => {
  it('lists the Kustomizations of a namespace as YAML, without managedFields', async () => {
    const stored = (await kc.makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({
      group: 'kustomize.toolkit.fluxcd.io',
      version: 'v1',
      plural: 'kustomizations',
      namespace: ns,
      name: 'app',
    })) as {
      metadata: { managedFields?: unknown[] };
    };
    expect(stored.metadata.managedFields?.length).toBeGreaterThan(0);

    const out = await call(adapter, 'get_kubernetes_resources', { apiVersion: ksApiVersion, kind: 'Kustomization', namespace: ns });
    expect(out.isError).toBe(false);
    expect(out.text.split('\n')[0]).toBe(`# 5 Kustomization (${ksApiVersion}) in namespace ${ns}`);
    const objects = documents(out.text);
    expect(objects.map((o) => o.metadata.name).sort()).toEqual(['api', 'app', 'cron', `only-${ns}`, 'worker']);
    expect(objects.every((o) => o.kind === 'Kustomization' && o.metadata.managedFields === undefined)).toBe(true);
    expect(out.text).not.toContain('managedFields');
  });

  it('filters by label selector', async () => {
    const out = await call(adapter, 'get_kubernetes_resources', {
      apiVersion: ksApiVersion,
      kind: 'Kustomization',
      namespace: ns,
      selector: 'tier=front',
    });
    expect(documents(out.text).map((o) => o.metadata.name)).toEqual(['app']);
  });

  it('returns at most limit objects and says that more match', async () => {
    const out = await call(adapter, 'get_kubernetes_resources', {
      apiVersion: ksApiVersion,
      kind: 'Kustomization',
      namespace: ns,
      limit: 2,
    });
    expect(documents(out.text)).toHaveLength(2);
    expect(out.text).toContain('# more match than limit 2 (3 more): raise limit');
  });

  it('reads one object by name, and says how to find a missing one', async () => {
    const found = await call(adapter, 'get_kubernetes_resources', {
      apiVersion: ksApiVersion,
      kind: 'Kustomization',
      namespace: ns,
      name: 'worker',
    });
    expect(documents(found.text).map((o) => o.metadata.name)).toEqual(['worker']);
    const missing = await call(adapter, 'get_kubernetes_resources', {
      apiVersion: ksApiVersion,
      kind: 'Kustomization',
      namespace: ns,
      name: 'nope',
    });
    expect(missing.isError).toBe(true);
    expect(missing.text).toContain(`Kustomization ${ns}/nope not found; list them with get_kubernetes_resources`);
  });

  it('says which apiVersion serves a kind asked for under the wrong one', async () => {
    const out = await call(adapter, 'get_kubernetes_resources', { apiVersion: 'v1', kind: 'Kustomization', namespace: ns });
    expect(out.isError).toBe(true);
    expect(out.text).toMatch(/^no kind Kustomization in apiVersion v1; Kustomization is served as kustomize\.toolkit\.fluxcd\.io\/v1\b/);
    const unserved = await call(adapter, 'get_kubernetes_resources', { apiVersion: 'example.invalid/v1', kind: 'Widget' });
    expect(unserved.isError).toBe(true);
    expect(unserved.text).toContain('no kind Widget in apiVersion example.invalid/v1: the cluster does not serve example.invalid/v1');
  });

  it('shows Secret values as *** (read with an admin kubeconfig)', async () => {
    const out = await call(admin, 'get_kubernetes_resources', { apiVersion: 'v1', kind: 'Secret', namespace: ns, name: 'creds' });
    expect(out.isError).toBe(false);
    expect(documents(out.text)[0]?.data).toEqual({ password: '***' });
    expect(out.text).not.toContain(Buffer.from('hunter2').toString('base64'));
    expect(out.text).not.toContain('hunter2');
    const listed = await call(admin, 'get_kubernetes_resources', { apiVersion: 'v1', kind: 'Secret', namespace: ns });
    expect(documents(listed.text).find((o) => o.metadata.name === 'creds')?.data).toEqual({ password: '***' });
  });

  it('passes on the RBAC refusal when the ServiceAccount may not read a kind', async () => {
    const out = await call(adapter, 'get_kubernetes_resources', { apiVersion: 'v1', kind: 'Secret', namespace: ns });
    expect(out.isError).toBe(true);
    expect(out.text).toContain(
      'forbidden: secrets is forbidden: User "system:serviceaccount:fluxact-system:fluxact-mcp" cannot list resource "secrets"',
    );
    expect(out.text).toContain("The MCP server's ServiceAccount lacks this permission (see config/rbac).");
  });

  it('cuts output longer than --max-output with a note', async () => {
    const out = await call(capped, 'get_kubernetes_resources', { apiVersion: ksApiVersion, kind: 'Kustomization', namespace: ns });
    const note = out.text.slice(out.text.lastIndexOf('\n') + 1);
    expect(note).toMatch(/^# output cut at \d+ of \d+ characters; narrow the query \(name, namespace, selector, limit\) to see the rest$/);
    expect(out.text.length - note.length - 1).toBeLessThanOrEqual(1000);
  });
});

describe('resources_get', () => {
  it('reads one object as YAML', async () => {
    const out = await call(adapter, 'resources_get', { apiVersion: ksApiVersion, kind: 'Kustomization', name: 'app', namespace: ns });
    expect(out.isError).toBe(false);
    const [obj] = documents(out.text);
    expect(obj).toMatchObject({ kind: 'Kustomization', metadata: { name: 'app', namespace: ns }, spec: { prune: true } });
    expect(obj?.metadata.managedFields).toBeUndefined();
  });

  it('finds a namespaced object without its namespace when the name is unique in the cluster', async () => {
    const out = await call(adapter, 'resources_get', { apiVersion: ksApiVersion, kind: 'Kustomization', name: `only-${ns}` });
    expect(documents(out.text)[0]?.metadata).toMatchObject({ name: `only-${ns}`, namespace: ns });
  });

  it('answers a missing object with an error that says what to do', async () => {
    const out = await call(adapter, 'resources_get', { apiVersion: ksApiVersion, kind: 'Kustomization', name: 'nope', namespace: ns });
    expect(out.isError).toBe(true);
    expect(out.text).toContain(`Kustomization ${ns}/nope not found; list them with get_kubernetes_resources`);
  });
});

describe('pods_list_in_namespace', () => {
  it('shows a Pending pod without a node: readiness, status, restarts, node, age', async () => {
    const out = await call(adapter, 'pods_list_in_namespace', { namespace: ns });
    expect(out.isError).toBe(false);
    const [header, ...rows] = out.text.split('\n');
    expect(header).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+NODE\s+AGE$/);
    expect(rows.find((r) => r.startsWith('web '))).toMatch(/^web\s+0\/1\s+Pending( \(Unschedulable\))?\s+0\s+<none>\s+\d+[smhd]$/);
    expect(out.structured['pods']).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: 'web',
          ready: '0/1',
          status: expect.stringMatching(/^Pending( \(Unschedulable\))?$/),
          restarts: 0,
          node: '<none>',
        }),
        expect.objectContaining({ name: 'multi', ready: '0/2' }),
      ]),
    );
  });

  it('filters by label selector', async () => {
    const out = await call(adapter, 'pods_list_in_namespace', { namespace: ns, labelSelector: 'app=multi' });
    expect((out.structured['pods'] as { name: string }[]).map((p) => p.name)).toEqual(['multi']);
  });

  it('passes on an RBAC refusal', async () => {
    const out = await call(unprivileged, 'pods_list_in_namespace', { namespace: ns });
    expect(out.isError).toBe(true);
    expect(out.text).toContain(
      `forbidden: pods is forbidden: User "system:serviceaccount:${OperatorNamespace}:default" cannot list resource "pods"`,
    );
  });
});

describe('events_list', () => {
  it('lists the events of one object, newest first, with type, reason, count and message', async () => {
    const out = await call(adapter, 'events_list', { namespace: ns, involvedObjectKind: 'Kustomization', involvedObjectName: 'app' });
    expect(out.isError).toBe(false);
    const lines = out.text.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\S+Z \(\d+[sm] ago\) {2}Warning {2}ReconciliationFailed {2}Kustomization\/app \(x3\): newer event$/);
    expect(lines[1]).toMatch(/^\S+Z \(\d+m ago\) {2}Normal {2}Progressing {2}Kustomization\/app: older event$/);
  });

  it('names the namespace of each object across namespaces, filtered by apiVersion too', async () => {
    const out = await call(adapter, 'events_list', {
      involvedObjectKind: 'Kustomization',
      involvedObjectName: 'api',
      involvedObjectApiVersion: ksApiVersion,
    });
    expect(out.text).toContain(`Kustomization/${ns}/api: an event about another object`);
    expect(out.text).not.toContain('newer event');
  });

  it('passes on an RBAC refusal', async () => {
    const out = await call(unprivileged, 'events_list', { namespace: ns });
    expect(out.isError).toBe(true);
    expect(out.text).toContain('forbidden: events is forbidden');
  });
});

describe('pods_log', () => {
  it('says that a pod without a node has no logs, and where to look', async () => {
    const out = await call(adapter, 'pods_log', { name: 'web', namespace: ns });
    expect(out.isError).toBe(true);
    // The scheduler may already have said why (Unschedulable: no node matches its nodeSelector).
    expect(out.text).toMatch(
      new RegExp(`^Pod ${ns}/web has no logs: it is not scheduled to a node \\(phase Pending(: Unschedulable .*)?\\)\\. `),
    );
    expect(out.text).toContain(`See why with events_list (namespace ${ns}, involvedObjectKind Pod, involvedObjectName web).`);
  });

  it('asks which container of a pod with several', async () => {
    const out = await call(adapter, 'pods_log', { name: 'multi', namespace: ns });
    expect(out.isError).toBe(true);
    expect(out.text).toBe(`Pod ${ns}/multi has 2 containers: give container, one of app, sidecar`);
    const wrong = await call(adapter, 'pods_log', { name: 'multi', namespace: ns, container: 'nope' });
    expect(wrong.text).toBe(`Pod ${ns}/multi has no container nope; its containers: app, sidecar`);
  });

  it('returns the log lines of a running pod, and only the last ones with tail', async () => {
    // The fake node's kubelet API (kwok) serves a container's log from a file, in the CRI log format.
    const dir = mkdtempSync(path.join(tmpdir(), 'fluxact-logs-'));
    const file = path.join(dir, 'app.log');
    const stamp = new Date().toISOString();
    writeFileSync(
      file,
      ['starting web server', 'listening on :8080', 'GET /healthz 200'].map((l) => `${stamp} stdout F ${l}`).join('\n') + '\n',
    );
    await createPod('logger', { app: 'logger' }, ['app'], true);
    await kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
      group: 'kwok.x-k8s.io',
      version: 'v1alpha1',
      plural: 'logs',
      namespace: ns,
      body: {
        apiVersion: 'kwok.x-k8s.io/v1alpha1',
        kind: 'Logs',
        metadata: { name: 'logger', namespace: ns },
        spec: { logs: [{ containers: ['app'], logsFile: file }] },
      },
    });
    const out = await waitFor('the pod log through pods_log', async () => {
      const result = await call(adapter, 'pods_log', { name: 'logger', namespace: ns });
      return result.isError ? undefined : result;
    });
    expect(out.text).toBe(`# Pod ${ns}/logger, container app: last 100 lines\nstarting web server\nlistening on :8080\nGET /healthz 200`);
    const last = await call(adapter, 'pods_log', { name: 'logger', namespace: ns, tail: 1 });
    expect(last.text).toBe(`# Pod ${ns}/logger, container app: last 1 line\nGET /healthz 200`);
  });

  it('reports a missing pod', async () => {
    const out = await call(adapter, 'pods_log', { name: 'nope', namespace: ns, tail: 10, previous: true });
    expect(out.isError).toBe(true);
    expect(out.text).toBe(`Pod ${ns}/nope not found; list the pods with pods_list_in_namespace (namespace ${ns})`);
  });
});
