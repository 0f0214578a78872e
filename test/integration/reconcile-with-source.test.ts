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

  // The controllers read the source from their caches: when that has not seen the artifact the
  // source step fetched, they handle the token with the previous one, then reconcile again.
  it.each([
    {
      target: 'Kustomization',
      source: 'GitRepository',
      sourceName: 'moving-git',
      recordedIn: 'lastAttemptedRevision',
      spec: { sourceRef: { kind: 'GitRepository', name: 'moving-git' } },
      revisions: ['main@sha1:a1a1', 'main@sha1:b2b2'],
      // What Flux records of the first attempt, and what the request reports in the end.
      attempted: 'main@sha1:a1a1',
      applied: 'main@sha1:b2b2',
    },
    {
      target: 'HelmRelease',
      source: 'OCIRepository',
      sourceName: 'moving-oci',
      recordedIn: 'lastAttemptedRevisionDigest',
      spec: { chartRef: { kind: 'OCIRepository', name: 'moving-oci' } },
      revisions: ['6.5.0@sha256:a1a1a1a1a1a1', '6.5.1@sha256:b2b2b2b2b2b2'],
      attempted: 'sha256:a1a1a1a1a1a1',
      applied: '6.5.1',
    },
  ])(
    "a $target waits for the source step's revision when Flux handles the token with an older view of its $source",
    async ({ target, source, sourceName, spec, recordedIn, revisions: [A, B], attempted, applied }) => {
      const [name, request] = [`follower-${target.toLowerCase()}`, `stale-${target.toLowerCase()}`];
      await createFluxObject(env.kc, source, env.ns, sourceName, { annotations: { [SimAnnotation.revision]: A! } });
      await createFluxObject(env.kc, target, env.ns, name, { spec });
      await waitFor(`the ${target} to apply the first revision`, async () =>
        (await getFluxObject(env.kc, target, env.ns, name)).status?.[recordedIn] === attempted ? true : undefined,
      );
      // The next fetch gives B, which the target does not see until the view is released.
      await patchFluxObject(env.kc, source, env.ns, sourceName, {
        metadata: { annotations: { [SimAnnotation.revision]: B!, [SimAnnotation.staleView]: 'true' } },
      });
      await createRequest(env.kc, env.ns, request, { action: 'Reconcile', target: { kind: target, name }, withSource: true });
      const handled = await waitFor('the request to see Flux handle its token with A, or to finish', async () => {
        const r = await getRequest(env.kc, env.ns, request);
        return r.status?.completionTime !== undefined || r.status?.message?.includes('not the source') ? r : undefined;
      });
      expect(handled.status?.phase).toBe('Running');
      expect(handled.status?.message).toBe(
        `${target} ${env.ns}/${name}: Flux reconciled revision ${attempted}, not the source's ${B}; waiting for it to apply ${B}`,
      );
      expect((await getFluxObject(env.kc, target, env.ns, name)).status?.lastHandledReconcileAt).toBe(handled.status?.token);

      await patchFluxObject(env.kc, source, env.ns, sourceName, { metadata: { annotations: { [SimAnnotation.staleView]: null } } });
      const done = await waitForPhase(env.kc, env.ns, request, 'Succeeded');
      expect(done.status?.message).toBe(`${target} ${env.ns}/${name}: applied revision ${applied}`);
      expect(done.status?.source?.revision).toBe(B);
      // One token on the target: Flux's second reconcile came from the source, not from us.
      expect(tokensOf(target, name)).toEqual([done.status?.token]);
    },
  );

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
