import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FailureReason } from '../../src/api/conditions.js';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import {
  createFluxObject,
  createRequest,
  getFluxObject,
  readyReason,
  waitForPhase,
  startOperatorEnvironment,
  type OperatorEnvironment,
} from '../support/harness.js';

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
