// The fields selection of get_kubernetes_resources and resources_get through the SDK's real client:
// only the parts asked for, with each object's identity, Secret values still masked.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { createFluxObject } from '../../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, testKubeconfigPath } from '../../support/kube.js';
import { connectStdio, startHttpMcp, textOf, type HttpMcp, type McpConnection } from '../../support/mcp.js';

const ksApiVersion = 'kustomize.toolkit.fluxcd.io/v1';
let kc: k8s.KubeConfig;
let ns: string;
let stdio: McpConnection;
let admin: McpConnection;
let http: HttpMcp;
let overHttp: McpConnection;

beforeAll(async () => {
  kc = adminKubeConfig();
  ns = await createNamespace(kc, 'mcp-fields');
  await createFluxObject(kc, 'Kustomization', ns, 'apps', { spec: { path: './apps' } });
  await createFluxObject(kc, 'Kustomization', ns, 'infra', {
    spec: { path: './infra', sourceRef: { kind: 'GitRepository', name: 'platform' } },
  });
  await kc.makeApiClient(k8s.CoreV1Api).createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'creds' }, data: { password: Buffer.from('hunter2').toString('base64') } },
  });
  [stdio, admin] = await Promise.all([connectStdio(), connectStdio([], testKubeconfigPath())]);
  http = await startHttpMcp();
  overHttp = await http.connect();
});

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed */
  await Promise.all([stdio?.close(), admin?.close(), overHttp?.close()]);
  await http?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
  await deleteNamespace(kc, ns);
});

async function call(connection: McpConnection, name: string, args: Record<string, unknown>): Promise<{ text: string; isError: boolean }> {
  const result = await connection.client.callTool({ name, arguments: args });
  return { text: textOf(result), isError: result.isError === true };
}

const documents = (text: string): unknown[] => parseAllDocuments(text).map((d) => d.toJS() as unknown);

describe.each([
  ['stdio', () => stdio],
  ['HTTP', () => overHttp],
])('over %s', (_transport, connection) => {
  it('get_kubernetes_resources answers with only the fields asked for, and each object identity', async () => {
    const out = await call(connection(), 'get_kubernetes_resources', {
      apiVersion: ksApiVersion,
      kind: 'Kustomization',
      namespace: ns,
      fields: ['spec.sourceRef.name', 'spec.path'],
    });
    expect(out.isError).toBe(false);
    expect(out.text.split('\n')[0]).toBe(`# 2 Kustomization (${ksApiVersion}) in namespace ${ns}`);
    expect(documents(out.text)).toEqual([
      {
        apiVersion: ksApiVersion,
        kind: 'Kustomization',
        metadata: { name: 'apps', namespace: ns },
        spec: { path: './apps', sourceRef: { name: 'repo' } },
      },
      {
        apiVersion: ksApiVersion,
        kind: 'Kustomization',
        metadata: { name: 'infra', namespace: ns },
        spec: { path: './infra', sourceRef: { name: 'platform' } },
      },
    ]);
  });
});

describe('fields', () => {
  it('resources_get takes filters and wildcards, and names what matched nothing', async () => {
    const out = await call(stdio, 'resources_get', {
      apiVersion: ksApiVersion,
      kind: 'Kustomization',
      name: 'apps',
      namespace: ns,
      fields: ['$.spec.sourceRef.*', 'status.conditions[?(@.type=="Ready")]'],
    });
    expect(out.text.split('\n')[0]).toBe('# fields matched nothing: status.conditions[?(@.type=="Ready")]');
    expect(documents(out.text)).toEqual([
      {
        apiVersion: ksApiVersion,
        kind: 'Kustomization',
        metadata: { name: 'apps', namespace: ns },
        spec: { sourceRef: { kind: 'GitRepository', name: 'repo' } },
      },
    ]);
  });

  it("still masks a Secret's values when they are selected", async () => {
    const out = await call(admin, 'resources_get', {
      apiVersion: 'v1',
      kind: 'Secret',
      name: 'creds',
      namespace: ns,
      fields: ['data.password'],
    });
    expect(documents(out.text)).toEqual([
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: ns }, data: { password: '***' } },
    ]);
    expect(out.text).not.toContain(Buffer.from('hunter2').toString('base64'));
  });

  it('refuses an expression that does not parse, in one line', async () => {
    const out = await call(stdio, 'resources_get', {
      apiVersion: ksApiVersion,
      kind: 'Kustomization',
      name: 'apps',
      namespace: ns,
      fields: ['spec[?(@.x==)]'],
    });
    expect(out.isError).toBe(true);
    expect(out.text).toMatch(
      /^fields: "spec\[\?\(@\.x==\)\]" is not a JSONPath expression this server reads \(.*\); write it like status\.conditions or spec\.containers\[\*\]\.image$/,
    );
  });
});
