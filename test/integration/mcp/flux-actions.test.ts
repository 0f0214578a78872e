// The MCP adapter's action tools, through the SDK's real client, over stdio and Streamable HTTP:
// they create FluxActionRequests and report the operator's outcome.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import type { FluxActionRequest } from '../../../src/api/types.js';
import { OriginLabel, ClientAnnotation, RequestedByAnnotation, RequestedByGroupsAnnotation } from '../../../src/api/types.js';
import type { FluxSimulator } from '../../simulator/flux-simulator.js';
import { SimAnnotation } from '../../simulator/flux-simulator.js';
import {
  createFluxObject,
  getFluxObject,
  getRequest,
  OperatorNamespace,
  startOperator,
  startSimulator,
  type TestOperator,
} from '../../support/harness.js';
import { leaveOutOfFillingIn } from '../../support/users.js';
import { adminKubeConfig, createNamespace, deleteNamespace, waitFor } from '../../support/kube.js';
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
  ns = await createNamespace(kc, 'mcp-act');
  // As on a cluster without MutatingAdmissionPolicy: the adapter itself must say who asks.
  await leaveOutOfFillingIn(kc, ns);
  operator = await startOperator({ watchNamespace: ns });
  simulator = await startSimulator({ namespaces: [ns] });
  await createFluxObject(kc, 'GitRepository', ns, 'repo', { annotations: { [SimAnnotation.revision]: 'main@sha1:cafe' } });
  await createFluxObject(kc, 'Kustomization', ns, 'app', { annotations: { [SimAnnotation.revision]: 'main@sha1:cafe' } });
  await createFluxObject(kc, 'Kustomization', ns, 'broken', {
    annotations: {
      [SimAnnotation.outcome]: 'Failed',
      [SimAnnotation.reason]: 'BuildFailed',
      [SimAnnotation.message]: 'kustomize build failed: no kustomization.yaml',
    },
  });
  await createFluxObject(kc, 'Kustomization', ns, 'slow', { annotations: { [SimAnnotation.outcome]: 'Ignore' } });
  await createFluxObject(kc, 'HelmRelease', ns, 'web', { annotations: { [SimAnnotation.revision]: '6.5.4' } });
  await createFluxObject(kc, 'ResourceSet', ns, 'apps');
  await createFluxObject(kc, 'Kustomization', ns, 'never', { annotations: { [SimAnnotation.outcome]: 'Ignore' } });
  // A chain whose middle fails: chain-base ← chain-mid ← chain-top.
  await createFluxObject(kc, 'Kustomization', ns, 'chain-base', { annotations: { [SimAnnotation.revision]: 'main@sha1:base' } });
  await createFluxObject(kc, 'Kustomization', ns, 'chain-mid', {
    spec: { dependsOn: [{ name: 'chain-base' }] },
    annotations: {
      [SimAnnotation.outcome]: 'Failed',
      [SimAnnotation.reason]: 'HealthCheckFailed',
      [SimAnnotation.message]: 'db not ready',
    },
  });
  await createFluxObject(kc, 'Kustomization', ns, 'chain-top', { spec: { dependsOn: [{ name: 'chain-mid' }] } });
  stdio = await connectStdio();
  http = await startHttpMcp();
  overHttp = await http.connect();
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await stdio?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await overHttp?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await http?.stop();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await operator?.stop();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await simulator?.stop();
  await deleteNamespace(kc, ns);
});

type Call = (
  name: string,
  args: Record<string, unknown>,
) => Promise<{ text: string; isError: boolean; structured: Record<string, unknown> }>;
const via =
  (connection: () => McpConnection): Call =>
  async (name, args) => {
    const result = await connection().client.callTool({ name, arguments: args });
    return {
      text: textOf(result),
      isError: result.isError === true,
      structured: (result.structuredContent ?? {}) as Record<string, unknown>,
    };
  };

describe.each([
  ['stdio', () => stdio],
  ['HTTP', () => overHttp],
])('over %s', (_transport, connection) => {
  const call = via(connection);

  it('reconcile_flux_kustomization with_dependencies reports each step and the one that stopped the chain', async () => {
    const out = await call('reconcile_flux_kustomization', { name: 'chain-top', namespace: ns, with_dependencies: true });
    expect(out.isError).toBe(true);
    expect(out.structured).toMatchObject({ phase: 'Failed', reason: 'DependencyFailed' });
    const steps = [
      `Dependency Kustomization ${ns}/chain-base: Succeeded (main@sha1:base)`,
      `Dependency Kustomization ${ns}/chain-mid: Failed`,
      `Target Kustomization ${ns}/chain-top: Pending`,
    ];
    expect(out.structured['steps']).toEqual(steps);
    expect(out.text).toContain(['steps:', ...steps.map((s) => `  - ${s}`)].join('\n'));
    expect(out.text).toContain(`message: dependency Kustomization ${ns}/chain-mid: HealthCheckFailed: db not ready`);
    const [, requestName] = String(out.structured['request']).split('/');
    expect((await getRequest(kc, ns, requestName!)).spec).toMatchObject({ withDependencies: true });
  });

  it('reconcile_flux_helmrelease with_dependents asks for the dependents after the target', async () => {
    const out = await call('reconcile_flux_helmrelease', { name: 'web', namespace: ns, with_dependents: true });
    expect(out.structured).toMatchObject({ phase: 'Succeeded', steps: [`Target HelmRelease ${ns}/web: Succeeded (6.5.4)`] });
    const [, requestName] = String(out.structured['request']).split('/');
    expect((await getRequest(kc, ns, requestName!)).spec).toMatchObject({ withDependents: true });
  });

  it('reconcile_flux_kustomization creates a request, waits, and reports the applied revision', async () => {
    const out = await call('reconcile_flux_kustomization', { name: 'app', namespace: ns, with_source: true });
    expect(out.isError).toBe(false);
    expect(out.structured).toMatchObject({
      phase: 'Succeeded',
      reason: 'Succeeded',
      revision: 'main@sha1:cafe',
      target: `Kustomization ${ns}/app`,
    });
    expect(out.text).toContain(`message: Kustomization ${ns}/app: applied revision main@sha1:cafe`);
    const [, requestName] = String(out.structured['request']).split('/');
    const request = await getRequest(kc, ns, requestName!);
    expect(request.metadata.labels?.[OriginLabel]).toBe('mcp');
    expect(request.metadata.annotations?.[ClientAnnotation]).toBe('fluxact-tests/1.0.0');
    expect(request.spec).toMatchObject({ action: 'Reconcile', withSource: true, ttlSecondsAfterFinished: 3600 });
    // Who asked: the adapter's own identity (SelfSubjectReview), checked by admission, copied to status.
    expect(request.metadata.annotations?.[RequestedByAnnotation]).toBe(`system:serviceaccount:${OperatorNamespace}:${McpServiceAccount}`);
    expect(request.metadata.annotations?.[RequestedByGroupsAnnotation]?.split(',')).toEqual(
      expect.arrayContaining(['system:serviceaccounts', `system:serviceaccounts:${OperatorNamespace}`, 'system:authenticated']),
    );
    expect(request.status?.requestedBy).toBe(`system:serviceaccount:${OperatorNamespace}:${McpServiceAccount}`);
  });

  it('returns Flux own failure message as an error result', async () => {
    const out = await call('reconcile_flux_kustomization', { name: 'broken', namespace: ns });
    expect(out.isError).toBe(true);
    expect(out.structured).toMatchObject({ phase: 'Failed', reason: 'ReconciliationFailed' });
    expect(out.text).toContain('BuildFailed: kustomize build failed: no kustomization.yaml');
  });

  it('answers with the request name and phase when the wait runs out', async () => {
    const out = await call('reconcile_flux_kustomization', { name: 'slow', namespace: ns, wait_timeout: '1s' });
    expect(out.isError).toBe(false);
    expect(out.structured['phase']).toBe('Running');
    expect(out.text).toContain('keeps running. Follow up with get_flux_action_request');
    const [, name] = String(out.structured['request']).split('/');
    const followUp = await call('get_flux_action_request', { name, namespace: ns });
    expect(followUp.structured['request']).toBe(out.structured['request']);
  });

  it('reports a missing Kustomization as an error with the reason', async () => {
    const out = await call('reconcile_flux_kustomization', { name: 'nope', namespace: ns });
    expect(out.isError).toBe(true);
    expect(out.text).toContain(`reason: TargetNotFound`);
    expect(out.text).toContain(`Kustomization ${ns}/nope not found`);
  });

  it('reconcile_flux_helmrelease with force sets forceAt through the request', async () => {
    const out = await call('reconcile_flux_helmrelease', { name: 'web', namespace: ns, force: true });
    expect(out.structured).toMatchObject({ phase: 'Succeeded', revision: '6.5.4' });
    const hr = await getFluxObject(kc, 'HelmRelease', ns, 'web');
    expect(hr.metadata.annotations?.['reconcile.fluxcd.io/forceAt']).toBe(out.structured['token']);
  });

  it('reconcile_flux_source and reconcile_flux_resourceset', async () => {
    expect((await call('reconcile_flux_source', { kind: 'GitRepository', name: 'repo', namespace: ns })).structured['phase']).toBe(
      'Succeeded',
    );
    expect((await call('reconcile_flux_resourceset', { name: 'apps', namespace: ns })).structured['phase']).toBe('Succeeded');
  });

  it('suspends and resumes', async () => {
    const suspended = await call('suspend_flux_reconciliation', {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      name: 'app',
      namespace: ns,
    });
    expect(suspended.structured['phase']).toBe('Succeeded');
    expect((await getFluxObject(kc, 'Kustomization', ns, 'app')).spec['suspend']).toBe(true);
    const refused = await call('reconcile_flux_kustomization', { name: 'app', namespace: ns });
    expect(refused.structured['reason']).toBe('TargetSuspended');
    const resumed = await call('resume_flux_reconciliation', {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      name: 'app',
      namespace: ns,
    });
    expect(resumed.structured['phase']).toBe('Succeeded');
    expect((await getFluxObject(kc, 'Kustomization', ns, 'app')).spec['suspend']).toBe(false);
  });

  it('passes the API server admission message on for a bad apiVersion', async () => {
    const out = await call('suspend_flux_reconciliation', {
      apiVersion: 'helm.toolkit.fluxcd.io/v2',
      kind: 'Kustomization',
      name: 'app',
      namespace: ns,
    });
    expect(out.isError).toBe(true);
    expect(out.text).toContain('target.apiVersion helm.toolkit.fluxcd.io/v2 is not an API version of Kustomization');
  });

  it('lists the requests it made', async () => {
    const out = await call('list_flux_action_requests', { namespace: ns, phase: 'Succeeded' });
    expect(out.text).toContain(`Reconcile Kustomization ${ns}/app: Succeeded`);
  });
});

describe('cancellation', () => {
  it('stops waiting at once when the client cancels a mutating tool call', async () => {
    const cancel = new AbortController();
    const pending = overHttp.client.callTool(
      { name: 'reconcile_flux_kustomization', arguments: { name: 'never', namespace: ns, wait_timeout: '10m' } },
      undefined,
      { signal: cancel.signal, timeout: 600_000 },
    );
    const outcome = pending.then(
      () => 'answered',
      () => 'rejected',
    );
    // The adapter is waiting once its request exists and the operator has sent it to Flux.
    const name = await waitFor('the request for Kustomization never', async () => {
      const requests = (await kc.makeApiClient(k8s.CustomObjectsApi).listNamespacedCustomObject({
        group: 'fluxaction.io',
        version: 'v1alpha1',
        plural: 'fluxactionrequests',
        namespace: ns,
      })) as { items: FluxActionRequest[] };
      return requests.items.find((r) => r.spec.target.name === 'never' && r.status?.phase === 'Running')?.metadata.name;
    });
    cancel.abort('the user gave up');
    expect(await outcome).toBe('rejected');
    await waitFor(
      'the adapter to log that it stopped waiting',
      () => (http.log().includes(`"request":"${ns}/${name}"`) && http.log().includes('stopped waiting for the request') ? true : undefined),
      10_000,
    );
  });
});
