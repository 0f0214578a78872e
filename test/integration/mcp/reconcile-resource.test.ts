// reconcile_flux_resource through the SDK's real client, over stdio and Streamable HTTP: one tool for
// every reconcilable kind, acting only through FluxActionRequests (origin mcp, who asked, the
// options the kind takes), refusing options a kind does not take, and saying when a policy holds
// the request for approval.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { Group, OriginLabel, RequestedByAnnotation, Version, type FluxActionRequest } from '../../../src/api/types.js';
import type { FluxSimulator } from '../../simulator/flux-simulator.js';
import { SimAnnotation } from '../../simulator/flux-simulator.js';
import {
  createFluxObject,
  createPolicy,
  getFluxObject,
  getRequest,
  OperatorNamespace,
  startOperator,
  startSimulator,
  type TestOperator,
} from '../../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace } from '../../support/kube.js';
import { connectStdio, McpServiceAccount, startHttpMcp, textOf, type HttpMcp, type McpConnection } from '../../support/mcp.js';

let kc: k8s.KubeConfig;
let ns: string;
let operator: TestOperator;
let simulator: FluxSimulator;
let stdio: McpConnection;
let http: HttpMcp;
let overHttp: McpConnection;

beforeAll(async () => {
  kc = adminKubeConfig();
  ns = await createNamespace(kc, 'mcp-reconcile');
  operator = await startOperator({ watchNamespace: ns });
  simulator = await startSimulator({ namespaces: [ns] });
  await createFluxObject(kc, 'GitRepository', ns, 'repo', { annotations: { [SimAnnotation.revision]: 'main@sha1:beef' } });
  await createFluxObject(kc, 'OCIRepository', ns, 'chart');
  await createFluxObject(kc, 'HelmRelease', ns, 'web', { annotations: { [SimAnnotation.revision]: '6.5.4' } });
  await createFluxObject(kc, 'HelmRelease', ns, 'held');
  await createPolicy(kc, ns, 'guardrails', [
    {
      name: 'agents-need-approval',
      match: { origins: ['mcp'], names: ['held'] },
      effect: 'RequireApproval',
      approvalTimeout: '1h',
      message: 'an SRE approves agents',
    },
  ]);
  stdio = await connectStdio();
  http = await startHttpMcp();
  overHttp = await http.connect();
});

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed */
  await stdio?.close();
  await overHttp?.close();
  await http?.stop();
  await operator?.stop();
  await simulator?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
  await deleteNamespace(kc, ns);
});

async function call(
  connection: McpConnection,
  args: Record<string, unknown>,
): Promise<{ text: string; isError: boolean; structured: Record<string, unknown> }> {
  const result = await connection.client.callTool({ name: 'reconcile_flux_resource', arguments: args });
  return {
    text: textOf(result),
    isError: result.isError === true,
    structured: (result.structuredContent ?? {}) as Record<string, unknown>,
  };
}

async function requestsIn(namespace: string): Promise<FluxActionRequest[]> {
  const list = (await kc
    .makeApiClient(k8s.CustomObjectsApi)
    .listNamespacedCustomObject({ group: Group, version: Version, plural: 'fluxactionrequests', namespace })) as {
    items: FluxActionRequest[];
  };
  return list.items;
}

describe.each([
  ['stdio', () => stdio],
  ['HTTP', () => overHttp],
])('over %s', (_transport, connection) => {
  it('reconciles a HelmRelease with its source, forced and reset, through a request from mcp', async () => {
    const out = await call(connection(), { kind: 'HelmRelease', name: 'web', namespace: ns, with_source: true, force: true, reset: true });
    expect(out.isError).toBe(false);
    expect(out.structured).toMatchObject({ phase: 'Succeeded', revision: '6.5.4', target: `HelmRelease ${ns}/web`, action: 'Reconcile' });
    const [, name] = String(out.structured['request']).split('/');
    const request = await getRequest(kc, ns, name!);
    expect(request.spec).toMatchObject({
      action: 'Reconcile',
      target: { kind: 'HelmRelease', name: 'web' },
      withSource: true,
      force: true,
      reset: true,
    });
    expect(request.metadata.labels?.[OriginLabel]).toBe('mcp');
    expect(request.metadata.annotations?.[RequestedByAnnotation]).toBe(`system:serviceaccount:${OperatorNamespace}:${McpServiceAccount}`);
    // The options reached Flux: the operator set forceAt and resetAt to the request's token.
    const hr = await getFluxObject(kc, 'HelmRelease', ns, 'web');
    expect(hr.metadata.annotations?.['reconcile.fluxcd.io/forceAt']).toBe(out.structured['token']);
    expect(hr.metadata.annotations?.['reconcile.fluxcd.io/resetAt']).toBe(out.structured['token']);
  });
});

describe('reconcile_flux_resource', () => {
  it('reconciles a source, with the apiVersion given, and reports the fetched revision', async () => {
    const out = await call(stdio, { kind: 'GitRepository', name: 'repo', namespace: ns, apiVersion: 'source.toolkit.fluxcd.io/v1' });
    expect(out.structured).toMatchObject({ phase: 'Succeeded', revision: 'main@sha1:beef' });
    const request = await getRequest(kc, ns, String(out.structured['request']).split('/')[1]!);
    expect(request.spec.target).toEqual({ kind: 'GitRepository', name: 'repo', apiVersion: 'source.toolkit.fluxcd.io/v1' });
  });

  it('refuses an option the kind does not take, and an apiVersion of another group, without creating a request', async () => {
    const before = (await requestsIn(ns)).length;
    const withSource = await call(stdio, { kind: 'GitRepository', name: 'repo', namespace: ns, with_source: true });
    expect(withSource).toMatchObject({
      isError: true,
      text: 'with_source is not for a GitRepository; it is for Kustomization, HelmRelease. Leave it out.',
    });
    const reset = await call(stdio, { kind: 'FluxInstance', name: 'flux', namespace: ns, reset: true });
    expect(reset.text).toBe('reset is not for a FluxInstance; it is for HelmRelease. Leave it out.');
    const group = await call(stdio, { kind: 'HelmRelease', name: 'web', namespace: ns, apiVersion: 'kustomize.toolkit.fluxcd.io/v1' });
    expect(group.text).toBe(
      "apiVersion kustomize.toolkit.fluxcd.io/v1 is not in HelmRelease's group helm.toolkit.fluxcd.io; use helm.toolkit.fluxcd.io/v2 or leave it out",
    );
    expect((await requestsIn(ns)).length).toBe(before);
  });

  it('offers only kinds that can be reconciled', async () => {
    const out = await call(stdio, { kind: 'Alert', name: 'a', namespace: ns });
    expect(out.isError).toBe(true);
    expect(out.text).toContain('Invalid option: expected one of');
  });

  it('says that a policy holds the request for approval, and that Flux was not touched', async () => {
    const out = await call(stdio, { kind: 'HelmRelease', name: 'held', namespace: ns, wait_timeout: '20s' });
    expect(out.isError).toBe(false);
    expect(out.structured).toMatchObject({
      phase: 'Pending',
      awaitingApproval: true,
      policy: expect.stringContaining('agents-need-approval') as unknown,
    });
    expect(out.text).toContain('The request awaits approval');
    expect(out.text).toContain('Flux was not touched');
    const hr = await getFluxObject(kc, 'HelmRelease', ns, 'held');
    expect(hr.metadata.annotations?.['reconcile.fluxcd.io/requestedAt']).toBeUndefined();
  });
});
