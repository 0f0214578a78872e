// trace_flux_resource through the SDK's real client, as the adapter's ServiceAccount: from a
// Deployment, a Pod (through its ReplicaSet) or a Service to the Flux objects that applied them,
// their sources, revisions and readiness; an object Flux does not manage says so.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { fluxKind } from '../../../src/flux/kinds.js';
import { createFluxObject } from '../../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, waitFor } from '../../support/kube.js';
import { connectStdio, startHttpMcp, textOf, type HttpMcp, type McpConnection } from '../../support/mcp.js';

let kc: k8s.KubeConfig;
let ns: string;
let stdio: McpConnection;
let http: HttpMcp;
let overHttp: McpConnection;
let podName: string;

const now = new Date().toISOString();
const condition = (status: 'True' | 'False', reason: string, message: string): Record<string, unknown> => ({
  type: 'Ready',
  status,
  reason,
  message,
  lastTransitionTime: now,
});

/** Writes a Flux object's status, as its controller would. */
async function setStatus(kind: string, name: string, status: Record<string, unknown>): Promise<void> {
  const row = fluxKind(kind)!;
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const key = { group: row.group, version: row.versions[0]!, plural: row.plural, namespace: ns, name };
  const current = (await custom.getNamespacedCustomObject(key)) as Record<string, unknown>;
  await custom.replaceNamespacedCustomObjectStatus({ ...key, body: { ...current, status } });
}

const kustomizeLabels = (): Record<string, string> => ({
  'kustomize.toolkit.fluxcd.io/name': 'apps',
  'kustomize.toolkit.fluxcd.io/namespace': ns,
});

beforeAll(async () => {
  kc = adminKubeConfig();
  ns = await createNamespace(kc, 'mcp-trace');
  // Kustomization apps (from GitRepository repo) applied HelmRelease web (chart from OCIRepository chart),
  // which installed Deployment web; apps also applied Service web directly.
  await createFluxObject(kc, 'GitRepository', ns, 'repo');
  await setStatus('GitRepository', 'repo', {
    conditions: [condition('True', 'Succeeded', 'stored artifact for revision main@sha1:1111')],
    artifact: { revision: 'main@sha1:1111', path: 'x', url: 'http://x', digest: 'sha256:00', lastUpdateTime: now },
  });
  await createFluxObject(kc, 'Kustomization', ns, 'apps', { spec: { path: './apps' } });
  await setStatus('Kustomization', 'apps', {
    conditions: [condition('True', 'ReconciliationSucceeded', 'Applied revision: main@sha1:1111')],
    lastAppliedRevision: 'main@sha1:1111',
    lastAttemptedRevision: 'main@sha1:1111',
  });
  await createFluxObject(kc, 'OCIRepository', ns, 'chart');
  await setStatus('OCIRepository', 'chart', {
    conditions: [condition('True', 'Succeeded', 'stored artifact')],
    artifact: { revision: '6.5.4@sha256:abcd', path: 'x', url: 'http://x', digest: 'sha256:00', lastUpdateTime: now },
  });
  await createFluxObject(kc, 'HelmRelease', ns, 'web', { labels: kustomizeLabels() });
  await setStatus('HelmRelease', 'web', {
    conditions: [condition('False', 'UpgradeFailed', 'Helm upgrade failed: context deadline exceeded')],
    lastAttemptedRevision: '6.5.5',
  });
  const helmLabels = { 'helm.toolkit.fluxcd.io/name': 'web', 'helm.toolkit.fluxcd.io/namespace': ns };
  await waitFor('the Deployment to be created', async () => {
    await kc.makeApiClient(k8s.AppsV1Api).createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'web', labels: { app: 'web', ...helmLabels } },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { nodeSelector: { type: 'kwok' }, containers: [{ name: 'app', image: 'example.invalid/web:1' }] },
          },
        },
      },
    });
    return true;
  });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespacedService({
    namespace: ns,
    body: { metadata: { name: 'web', labels: kustomizeLabels() }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } },
  });
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'by-hand' }, spec: { ports: [{ port: 80 }] } } });
  podName = await waitFor('the Deployment pod', async () => {
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
    return pods.items[0]?.metadata?.name;
  });
  stdio = await connectStdio();
  http = await startHttpMcp();
  overHttp = await http.connect();
});

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed */
  await stdio?.close();
  await overHttp?.close();
  await http?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
  await deleteNamespace(kc, ns);
});

interface Link {
  relation: string;
  kind: string;
  name: string;
  status?: string;
  revision?: string;
  ready?: boolean;
  error?: string;
}

async function trace(
  connection: McpConnection,
  args: Record<string, unknown>,
): Promise<{ text: string; isError: boolean; links: Link[]; managed: boolean }> {
  const result = await connection.client.callTool({ name: 'trace_flux_resource', arguments: args });
  const structured = (result.structuredContent ?? {}) as { links?: Link[]; managed?: boolean };
  return { text: textOf(result), isError: result.isError === true, links: structured.links ?? [], managed: structured.managed ?? false };
}

const chain = (links: Link[]): string[] => links.map((l) => `${l.relation} ${l.kind}/${l.name}`);

describe.each([
  ['stdio', () => stdio],
  ['HTTP', () => overHttp],
])('over %s', (_transport, connection) => {
  it('traces a Deployment to its HelmRelease, the chart source, the Kustomization that applied it and its GitRepository', async () => {
    const out = await trace(connection(), { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: ns });
    expect(out.isError).toBe(false);
    expect(chain(out.links)).toEqual([
      'object Deployment/web',
      'applied by HelmRelease/web',
      'source OCIRepository/chart',
      'applied by Kustomization/apps',
      'source GitRepository/repo',
    ]);
    expect(out.links[1]).toMatchObject({
      ready: false,
      status: 'Ready=False (UpgradeFailed): Helm upgrade failed: context deadline exceeded',
    });
    expect(out.links[2]).toMatchObject({ ready: true, revision: '6.5.4@sha256:abcd' });
    expect(out.links[3]).toMatchObject({ ready: true, revision: 'main@sha1:1111' });
    expect(out.text).toContain(`Applied by:    HelmRelease ${ns}/web (helm.toolkit.fluxcd.io/v2)`);
    expect(out.text).toContain('Path:          ./apps');
    expect(out.text).toMatch(
      new RegExp(
        `First Flux link not ready: HelmRelease ${ns}/web \\(Ready=False \\(UpgradeFailed\\): Helm upgrade failed: context deadline exceeded\\)\\.$`,
      ),
    );
  });
});

describe('trace_flux_resource', () => {
  it('follows a Pod through its ReplicaSet and Deployment to Flux', async () => {
    const out = await trace(stdio, { apiVersion: 'v1', kind: 'Pod', name: podName, namespace: ns });
    expect(chain(out.links).slice(0, 4)).toEqual([
      `object Pod/${podName}`,
      expect.stringMatching(/^owned by ReplicaSet\/web-/) as unknown as string,
      'owned by Deployment/web',
      'applied by HelmRelease/web',
    ]);
    expect(out.managed).toBe(true);
  });

  it('traces a Service applied by a ready Kustomization', async () => {
    const out = await trace(stdio, { apiVersion: 'v1', kind: 'Service', name: 'web', namespace: ns });
    expect(chain(out.links)).toEqual(['object Service/web', 'applied by Kustomization/apps', 'source GitRepository/repo']);
    expect(out.text.split('\n').at(-1)).toBe('Every Flux link is ready.');
  });

  it('traces a Flux object itself to its source', async () => {
    const out = await trace(stdio, { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', name: 'apps', namespace: ns });
    expect(chain(out.links)).toEqual(['object Kustomization/apps', 'source GitRepository/repo']);
    expect(out.managed).toBe(true);
  });

  it('says an object is not managed by Flux', async () => {
    const out = await trace(stdio, { apiVersion: 'v1', kind: 'Service', name: 'by-hand', namespace: ns });
    expect(out.isError).toBe(false);
    expect(out.managed).toBe(false);
    expect(out.text.split('\n').at(-1)).toBe(
      `Service ${ns}/by-hand is not managed by Flux: neither it nor its owners carry the labels kustomize.toolkit.fluxcd.io/name or helm.toolkit.fluxcd.io/name.`,
    );
  });

  it('reports a missing object and one the adapter may not read', async () => {
    const missing = await trace(stdio, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'nope', namespace: ns });
    expect(missing.isError).toBe(true);
    expect(missing.text).toContain(`Deployment ${ns}/nope not found`);
    const secret = await trace(stdio, { apiVersion: 'v1', kind: 'Secret', name: 'any', namespace: ns });
    expect(secret.isError).toBe(true);
    expect(secret.text).toMatch(/^forbidden: secrets "any" is forbidden/);
  });
});
