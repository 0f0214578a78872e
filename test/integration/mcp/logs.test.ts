// get_kubernetes_logs through the SDK's real client, as the adapter's ServiceAccount, against pods on
// the fake node (kwok serves each container's log from a file): a workload's pods through its
// selector, one container, tail, since, grep, the output cap, and the failures a model can act on.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, createNamespace, deleteNamespace, waitFor } from '../../support/kube.js';
import { connectStdio, startHttpMcp, textOf, type HttpMcp, type McpConnection } from '../../support/mcp.js';

let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;
let ns: string;
let stdio: McpConnection;
let capped: McpConnection;
let http: HttpMcp;
let overHttp: McpConnection;
let pods: string[];

const dir = mkdtempSync(path.join(tmpdir(), 'fluxact-logs-'));
const hoursAgo = (h: number): string => new Date(Date.now() - h * 3_600_000).toISOString();

/** A log file in the CRI format kwok reads: each line with its time and stream. */
function logFile(name: string, lines: [time: string, text: string][]): string {
  const file = path.join(dir, name);
  writeFileSync(file, lines.map(([t, l]) => `${t} stdout F ${l}`).join('\n') + '\n');
  return file;
}

/** Has kwok serve the files as the pod's containers' logs (a Logs object is named like its pod). */
async function giveLogs(pod: string, logs: { containers: string[]; logsFile: string }[]): Promise<void> {
  await kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
    group: 'kwok.x-k8s.io',
    version: 'v1alpha1',
    plural: 'logs',
    namespace: ns,
    body: { apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'Logs', metadata: { name: pod, namespace: ns }, spec: { logs } },
  });
}

const podSpec = (containers: string[], onNode = true): k8s.V1PodSpec => ({
  nodeSelector: onNode ? { type: 'kwok' } : { 'fluxaction.io/no-such-node': 'true' },
  containers: containers.map((name) => ({ name, image: 'example.invalid/app:1' })),
});

beforeAll(async () => {
  kc = adminKubeConfig();
  core = kc.makeApiClient(k8s.CoreV1Api);
  ns = await createNamespace(kc, 'mcp-logs');
  const app = logFile('app.log', [
    [hoursAgo(3), 'starting web server'],
    [hoursAgo(0.01), 'listening on :8080'],
    [hoursAgo(0.01), 'GET /healthz 200'],
    [hoursAgo(0.01), 'ERROR database timeout'],
    [hoursAgo(0.01), 'GET /api 500 internal error'],
  ]);
  const sidecar = logFile('sidecar.log', [[hoursAgo(0.01), 'proxy ready']]);
  const chatty = logFile(
    'chatty.log',
    Array.from({ length: 200 }, (_, i): [string, string] => [hoursAgo(0.01), `line ${i + 1} of the chatty log`]),
  );
  await waitFor('the Deployment to be created', async () => {
    await kc.makeApiClient(k8s.AppsV1Api).createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: podSpec(['app', 'sidecar']) },
        },
      },
    });
    return true;
  });
  await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'chatty' }, spec: podSpec(['app']) } });
  await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'pending' }, spec: podSpec(['app'], false) } });
  pods = await waitFor('the Deployment pods', async () => {
    const list = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
    return list.items.length === 2 ? list.items.map((p) => p.metadata!.name!).sort() : undefined;
  });
  for (const pod of pods)
    await giveLogs(pod, [
      { containers: ['app'], logsFile: app },
      { containers: ['sidecar'], logsFile: sidecar },
    ]);
  await giveLogs('chatty', [{ containers: ['app'], logsFile: chatty }]);
  [stdio, capped] = await Promise.all([connectStdio(), connectStdio(['--max-output', '1000'])]);
  http = await startHttpMcp();
  overHttp = await http.connect();
  // kwok picks up a Logs object shortly after it is created.
  await waitFor('kwok to serve the logs', async () => {
    const out = await logs(stdio, { name: 'chatty', namespace: ns, tail: 1 });
    return out.text.includes('line 200') ? true : undefined;
  });
  for (const pod of pods)
    await waitFor(`kwok to serve ${pod}'s log`, async () => {
      const out = await logs(stdio, { name: pod, namespace: ns, container: 'sidecar' });
      return out.text.includes('proxy ready') ? true : undefined;
    });
});

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed */
  await Promise.all([stdio?.close(), capped?.close(), overHttp?.close()]);
  await http?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
  await deleteNamespace(kc, ns);
});

async function logs(connection: McpConnection, args: Record<string, unknown>): Promise<{ text: string; isError: boolean }> {
  const result = await connection.client.callTool({ name: 'get_kubernetes_logs', arguments: args });
  return { text: textOf(result), isError: result.isError === true };
}

const appLines = ['starting web server', 'listening on :8080', 'GET /healthz 200', 'ERROR database timeout', 'GET /api 500 internal error'];

describe.each([
  ['stdio', () => stdio],
  ['HTTP', () => overHttp],
])('over %s', (_transport, connection) => {
  it("reads every container of a Deployment's pods, found through its selector", async () => {
    const out = await logs(connection(), { kind: 'Deployment', name: 'web', namespace: ns });
    expect(out.isError).toBe(false);
    const [pod1, pod2] = pods as [string, string];
    expect(out.text).toBe(
      [
        `# Deployment ${ns}/web: 2 pods (selector app=web); last 100 lines each`,
        `## Pod ${ns}/${pod1}, container app`,
        ...appLines,
        `## Pod ${ns}/${pod1}, container sidecar`,
        'proxy ready',
        `## Pod ${ns}/${pod2}, container app`,
        ...appLines,
        `## Pod ${ns}/${pod2}, container sidecar`,
        'proxy ready',
      ].join('\n'),
    );
  });
});

describe('get_kubernetes_logs', () => {
  it('reads one container, keeps the lines that match grep (case-insensitive) and says how many', async () => {
    const out = await logs(stdio, { kind: 'Deployment', name: 'web', namespace: ns, container: 'app', grep: 'error|timeout' });
    const [pod1] = pods as [string];
    expect(out.text.split('\n').slice(0, 4)).toEqual([
      `# Deployment ${ns}/web: 2 pods (selector app=web); last 100 lines each, lines matching /error|timeout/i`,
      `## Pod ${ns}/${pod1}, container app (2 of 5 lines match)`,
      'ERROR database timeout',
      'GET /api 500 internal error',
    ]);
    expect(out.text).not.toContain('sidecar');
  });

  it('reads only the last lines with tail, and only recent ones with since', async () => {
    const [pod1] = pods as [string];
    const tail = await logs(stdio, { name: pod1, namespace: ns, container: 'app', tail: 2 });
    expect(tail.text).toBe(`# Pod ${ns}/${pod1}; last 2 lines\n## Pod ${ns}/${pod1}, container app\n${appLines.slice(-2).join('\n')}`);
    const since = await logs(stdio, { name: pod1, namespace: ns, container: 'app', since: '1h' });
    expect(since.text).toBe(
      `# Pod ${ns}/${pod1}; last 100 lines, since 1h\n## Pod ${ns}/${pod1}, container app\n${appLines.slice(1).join('\n')}`,
    );
  });

  it('cuts the oldest lines to fit the output cap, and says so', async () => {
    const out = await logs(capped, { name: 'chatty', namespace: ns, tail: 200 });
    expect(out.text.length).toBeLessThanOrEqual(1000);
    const lines = out.text.split('\n');
    expect(lines[2]).toMatch(/^# the oldest \d+ of these lines were cut to fit the output cap; ask for a smaller tail, a since or a grep$/);
    expect(lines.at(-1)).toBe('line 200 of the chatty log');
    expect(out.text).not.toContain('line 1 of the chatty log');
  });

  it('says why a pod has no log, and refuses what it cannot read', async () => {
    const pending = await logs(stdio, { name: 'pending', namespace: ns });
    expect(pending.isError).toBe(true);
    expect(pending.text).toContain(`## Pod ${ns}/pending, container app: not scheduled to a node (phase Pending): no log`);
    const missing = await logs(stdio, { kind: 'StatefulSet', name: 'db', namespace: ns });
    expect(missing).toEqual({
      isError: true,
      text: `StatefulSet ${ns}/db not found; list them with get_kubernetes_resources (kind StatefulSet, namespace ${ns})`,
    });
    const container = await logs(stdio, { name: 'chatty', namespace: ns, container: 'nope' });
    expect(container.text).toContain(`## Pod ${ns}/chatty: no container nope; its containers: app`);
    const grep = await logs(stdio, { name: 'chatty', namespace: ns, grep: '(' });
    expect(grep.text).toMatch(/^grep: Invalid regular expression/);
  });
});
