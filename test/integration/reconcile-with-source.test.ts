import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FailureReason } from '../../src/api/conditions.js';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import {
  createFluxObject,
  createRequest,
  getFluxObject,
  getRequest,
  patchFluxObject,
  readyReason,
  waitForPhase,
  startOperatorEnvironment,
  type OperatorEnvironment,
} from '../support/harness.js';
import { waitFor } from '../support/kube.js';

let env: OperatorEnvironment;

beforeAll(async () => {
  env = await startOperatorEnvironment('with-source');
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await env?.stop();
});

/** The requestedAt tokens the simulator saw on an object, in order. */
const tokensOf = (kind: string, name: string): string[] => env.simulator.record(kind, env.ns, name).requestedAt;

describe('Reconcile withSource', () => {
  it('reconciles a Kustomization after its GitRepository (spec.sourceRef), reporting both revisions', async () => {
    await createFluxObject(env.kc, 'GitRepository', env.ns, 'repo', { annotations: { [SimAnnotation.revision]: 'main@sha1:feed' } });
    await createFluxObject(env.kc, 'Kustomization', env.ns, 'app', {
      spec: { sourceRef: { kind: 'GitRepository', name: 'repo' } },
      annotations: { [SimAnnotation.revision]: 'main@sha1:feed' },
    });
    await createRequest(env.kc, env.ns, 'ks-with-source', {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'app' },
      withSource: true,
    });
    const done = await waitForPhase(env.kc, env.ns, 'ks-with-source', 'Succeeded');
    expect(done.status?.source).toMatchObject({
      kind: 'GitRepository',
      name: 'repo',
      namespace: env.ns,
      ready: 'True',
      revision: 'main@sha1:feed',
    });
    expect(tokensOf('GitRepository', 'repo')).toEqual([done.status?.source?.token]);
    expect(tokensOf('Kustomization', 'app')).toEqual([done.status?.token]);
    // The source was handled before the target was asked.
    expect(done.status!.source!.token! < done.status!.token!).toBe(true);
  });

  it("waits for the source step's revision when Flux handles the token with an older view of the source", async () => {
    // kustomize-controller reads the source from its cache: when that has not seen the artifact the
    // source step fetched, it handles the token with the previous one, then reconciles again.
    const [A, B] = ['main@sha1:a1a1', 'main@sha1:b2b2'];
    await createFluxObject(env.kc, 'GitRepository', env.ns, 'moving', { annotations: { [SimAnnotation.revision]: A } });
    await createFluxObject(env.kc, 'Kustomization', env.ns, 'follower', { spec: { sourceRef: { kind: 'GitRepository', name: 'moving' } } });
    await waitFor('the Kustomization to apply the first revision', async () =>
      (await getFluxObject(env.kc, 'Kustomization', env.ns, 'follower')).status?.['lastAppliedRevision'] === A ? true : undefined,
    );
    // The next fetch gives B, which the Kustomization does not see until the view is released.
    await patchFluxObject(env.kc, 'GitRepository', env.ns, 'moving', {
      metadata: { annotations: { [SimAnnotation.revision]: B, [SimAnnotation.staleView]: 'true' } },
    });
    await createRequest(env.kc, env.ns, 'stale-view', {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'follower' },
      withSource: true,
    });
    const handled = await waitFor('the request to see Flux handle its token with A, or to finish', async () => {
      const request = await getRequest(env.kc, env.ns, 'stale-view');
      return request.status?.completionTime !== undefined || request.status?.message?.includes('not the source') ? request : undefined;
    });
    expect(handled.status?.phase).toBe('Running');
    expect(handled.status?.message).toBe(
      `Kustomization ${env.ns}/follower: Flux reconciled revision ${A}, not the source's ${B}; waiting for it to apply ${B}`,
    );
    const follower = await getFluxObject(env.kc, 'Kustomization', env.ns, 'follower');
    expect(follower.status?.lastHandledReconcileAt).toBe(handled.status?.token);

    await patchFluxObject(env.kc, 'GitRepository', env.ns, 'moving', { metadata: { annotations: { [SimAnnotation.staleView]: null } } });
    const done = await waitForPhase(env.kc, env.ns, 'stale-view', 'Succeeded');
    expect(done.status?.message).toBe(`Kustomization ${env.ns}/follower: applied revision ${B}`);
    expect(done.status?.source?.revision).toBe(B);
    // One token on the Kustomization: Flux's second reconcile came from the source, not from us.
    expect(tokensOf('Kustomization', 'follower')).toEqual([done.status?.token]);
  });

  it('reconciles a HelmRelease after its OCIRepository (spec.chartRef)', async () => {
    await createFluxObject(env.kc, 'OCIRepository', env.ns, 'chart-oci', {
      annotations: { [SimAnnotation.revision]: '6.5.0@sha256:abcd' },
    });
    await createFluxObject(env.kc, 'HelmRelease', env.ns, 'oci-release', {
      spec: { chartRef: { kind: 'OCIRepository', name: 'chart-oci' } },
    });
    await createRequest(env.kc, env.ns, 'hr-chartref-oci', {
      action: 'Reconcile',
      target: { kind: 'HelmRelease', name: 'oci-release' },
      withSource: true,
    });
    const done = await waitForPhase(env.kc, env.ns, 'hr-chartref-oci', 'Succeeded');
    expect(done.status?.source).toMatchObject({ kind: 'OCIRepository', name: 'chart-oci', revision: '6.5.0@sha256:abcd' });
    expect(tokensOf('OCIRepository', 'chart-oci')).toHaveLength(1);
  });

  it('reconciles a HelmRelease after its HelmChart (spec.chartRef), and the HelmChart after its HelmRepository', async () => {
    await createFluxObject(env.kc, 'HelmRepository', env.ns, 'charts');
    await createFluxObject(env.kc, 'HelmChart', env.ns, 'web-chart', { spec: { sourceRef: { kind: 'HelmRepository', name: 'charts' } } });
    await createFluxObject(env.kc, 'HelmRelease', env.ns, 'chartref-release', {
      spec: { chartRef: { kind: 'HelmChart', name: 'web-chart' } },
    });
    await createRequest(env.kc, env.ns, 'hr-chartref-chart', {
      action: 'Reconcile',
      target: { kind: 'HelmRelease', name: 'chartref-release' },
      withSource: true,
    });
    const done = await waitForPhase(env.kc, env.ns, 'hr-chartref-chart', 'Succeeded');
    expect(done.status?.chartSource).toMatchObject({ kind: 'HelmRepository', name: 'charts' });
    expect(done.status?.source).toMatchObject({ kind: 'HelmChart', name: 'web-chart' });
    const order = [done.status!.chartSource!.token!, done.status!.source!.token!, done.status!.token!];
    expect([...order].sort()).toEqual(order);
  });

  it('finds the HelmChart of spec.chart.spec as <namespace>-<name> in the sourceRef namespace', async () => {
    await createFluxObject(env.kc, 'HelmRepository', env.ns, 'podinfo-charts');
    await createFluxObject(env.kc, 'HelmChart', env.ns, `${env.ns}-podinfo`, {
      spec: { sourceRef: { kind: 'HelmRepository', name: 'podinfo-charts' } },
    });
    await createFluxObject(env.kc, 'HelmRelease', env.ns, 'podinfo', {
      spec: { chartRef: undefined, chart: { spec: { chart: 'podinfo', sourceRef: { kind: 'HelmRepository', name: 'podinfo-charts' } } } },
    });
    await createRequest(env.kc, env.ns, 'hr-chart-spec', {
      action: 'Reconcile',
      target: { kind: 'HelmRelease', name: 'podinfo' },
      withSource: true,
    });
    const done = await waitForPhase(env.kc, env.ns, 'hr-chart-spec', 'Succeeded');
    expect(done.status?.source).toMatchObject({ kind: 'HelmChart', name: `${env.ns}-podinfo` });
    expect(done.status?.chartSource).toMatchObject({ kind: 'HelmRepository', name: 'podinfo-charts' });
  });

  it('fails with SourceFailed and the source message, and leaves the target untouched', async () => {
    await createFluxObject(env.kc, 'GitRepository', env.ns, 'bad-repo', {
      annotations: {
        [SimAnnotation.outcome]: 'Failed',
        [SimAnnotation.reason]: 'GitOperationFailed',
        [SimAnnotation.message]: 'authentication required',
      },
    });
    await createFluxObject(env.kc, 'Kustomization', env.ns, 'victim', { spec: { sourceRef: { kind: 'GitRepository', name: 'bad-repo' } } });
    await createRequest(env.kc, env.ns, 'ks-bad-source', {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'victim' },
      withSource: true,
    });
    const done = await waitForPhase(env.kc, env.ns, 'ks-bad-source', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.SourceFailed);
    expect(done.status?.message).toBe(`source GitRepository ${env.ns}/bad-repo: GitOperationFailed: authentication required`);
    const victim = await getFluxObject(env.kc, 'Kustomization', env.ns, 'victim');
    expect(victim.metadata.annotations?.['reconcile.fluxcd.io/requestedAt']).toBeUndefined();
  });

  it('fails with SourceFailed when the source does not exist', async () => {
    await createFluxObject(env.kc, 'Kustomization', env.ns, 'orphan', { spec: { sourceRef: { kind: 'GitRepository', name: 'nowhere' } } });
    await createRequest(env.kc, env.ns, 'ks-no-source', {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'orphan' },
      withSource: true,
    });
    const done = await waitForPhase(env.kc, env.ns, 'ks-no-source', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.SourceFailed);
    expect(done.status?.message).toBe(`source GitRepository ${env.ns}/nowhere not found`);
  });
});
