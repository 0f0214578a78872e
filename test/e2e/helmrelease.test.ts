// A HelmRelease of a chart from the local Helm repository, run by the real source- and
// helm-controller: a new chart version installed with source, and a forced upgrade. Each through
// a request applied with kubectl and through the MCP tools.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import {
  act,
  apply,
  bothWays,
  clusterSources,
  configMapData,
  type E2eEnvironment,
  fluxObject,
  readRequest,
  startE2eEnvironment,
  waitForFlux,
} from '../support/e2e.js';
import { getFluxObject } from '../support/harness.js';
import { waitFor } from '../support/kube.js';
import { deploymentTemplate, type HelmRepo } from '../support/sources.js';

const templates = {
  'configmap.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-version
data:
  chart: {{ .Chart.Version | quote }}
`,
  'deployment.yaml': deploymentTemplate('web', 'registry.invalid/web'),
};

interface History {
  chartVersion?: string;
  version?: number;
  status?: string;
}
const history = (obj: { status?: Record<string, unknown> }): History[] => (obj.status?.['history'] as History[] | undefined) ?? [];

describe.each(bothWays)('HelmRelease via %s', (via) => {
  let env: E2eEnvironment;
  let charts: HelmRepo;
  // One chart name per run: the Helm repository outlives the test's namespace.
  let chart: string;

  beforeAll(async () => {
    env = await startE2eEnvironment(`e2e-hr-${via}`);
    chart = `web-${env.ns}`;
    charts = clusterSources().helmRepo();
    await charts.publishChart({ name: chart, version: '0.1.0', appVersion: '1.0.0', templates });
    await apply(env.kc, fluxObject('HelmRepository', env.ns, 'charts', { interval: '1h', url: charts.url }));
    await apply(
      env.kc,
      fluxObject('HelmRelease', env.ns, 'web', {
        interval: '1h',
        chart: { spec: { chart, version: '*', interval: '1h', sourceRef: { kind: 'HelmRepository', name: 'charts' } } },
      }),
    );
    await waitForFlux(
      env.kc,
      'HelmRelease',
      env.ns,
      'web',
      'to install 0.1.0',
      (hr) => history(hr)[0]?.chartVersion === '0.1.0' && hr.status?.['observedGeneration'] === hr.metadata.generation,
    );
  });

  afterAll(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
    await env?.stop();
  });

  it('reconciles with source after a new chart version is published: the new version installed and reported', async () => {
    await charts.publishChart({ name: chart, version: '0.2.0', appVersion: '1.1.0', templates });
    const outcome = await act(
      env,
      via,
      { action: 'Reconcile', target: { kind: 'HelmRelease', name: 'web' }, withSource: true },
      { expect: 'Succeeded' },
    );
    expect(outcome).toMatchObject({ phase: 'Succeeded', reason: 'Succeeded', revision: '0.2.0' });
    expect(outcome.sourceRevision).toMatch(/^0\.2\.0/);
    const request = await readRequest(env.kc, outcome.request);
    // The HelmChart was reconciled after its HelmRepository, and both before the release.
    expect(request.status?.chartSource).toMatchObject({ kind: 'HelmRepository', name: 'charts' });
    expect(request.status?.source).toMatchObject({ kind: 'HelmChart', name: `${env.ns}-web` });
    // Each of the three got a token of its own, in that order, and its controller handled it.
    const tokens = [request.status?.chartSource?.token, request.status?.source?.token, request.status?.token];
    expect(new Set(tokens).size).toBe(3);
    expect([...tokens].sort()).toEqual(tokens);
    const handled = async (kind: string, name: string): Promise<string | undefined> =>
      (await getFluxObject(env.kc, kind, env.ns, name)).status?.lastHandledReconcileAt;
    expect(await handled('HelmRepository', 'charts')).toBe(tokens[0]);
    expect(await handled('HelmChart', `${env.ns}-web`)).toBe(tokens[1]);
    expect(await handled('HelmRelease', 'web')).toBe(tokens[2]);
    expect(await configMapData(env.kc, env.ns, 'web-version')).toEqual({ chart: '0.2.0' });
    const hr = await getFluxObject(env.kc, 'HelmRelease', env.ns, 'web');
    expect(history(hr)[0]).toMatchObject({ chartVersion: '0.2.0', status: 'deployed' });
    // The chart's Deployment has a running pod on the fake node.
    const core = env.kc.makeApiClient(k8s.CoreV1Api);
    await waitFor(
      'a Running pod of the release',
      async () => {
        const pods = await core.listNamespacedPod({ namespace: env.ns, labelSelector: 'app=web' });
        return pods.items.find((p) => p.status?.phase === 'Running' && p.spec?.containers[0]?.image === 'registry.invalid/web:1.1.0');
      },
      60_000,
    );
  });

  it('forces a one-off Helm upgrade: a new release revision of the same chart version', async () => {
    const before = history(await getFluxObject(env.kc, 'HelmRelease', env.ns, 'web'))[0]!;
    const outcome = await act(
      env,
      via,
      { action: 'Reconcile', target: { kind: 'HelmRelease', name: 'web' }, force: true },
      { expect: 'Succeeded' },
    );
    expect(outcome).toMatchObject({ phase: 'Succeeded', revision: before.chartVersion });
    const hr = await getFluxObject(env.kc, 'HelmRelease', env.ns, 'web');
    expect(history(hr)[0]?.version).toBe(before.version! + 1);
    expect(hr.status?.['lastHandledForceAt']).toBe(outcome.token);
  });
});

describe.each(bothWays)('HelmRelease of an OCI chart (spec.chartRef) via %s', (via) => {
  let env: E2eEnvironment;
  const chart = 'web';

  beforeAll(async () => {
    env = await startE2eEnvironment(`e2e-oci-${via}`);
    const oci = clusterSources().ociRepo(`${env.ns}/charts/${chart}`);
    await oci.pushChart({ name: chart, version: '0.1.0', appVersion: '1.0.0', templates });
    await apply(
      env.kc,
      fluxObject('OCIRepository', env.ns, 'web-chart', {
        interval: '1h',
        url: oci.url,
        insecure: true, // the local registry speaks plain HTTP
        ref: { semver: '>=0.1.0' },
        layerSelector: { mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', operation: 'copy' },
      }),
    );
    await apply(
      env.kc,
      fluxObject('HelmRelease', env.ns, 'web', { interval: '1h', chartRef: { kind: 'OCIRepository', name: 'web-chart' } }),
    );
    await waitForFlux(
      env.kc,
      'HelmRelease',
      env.ns,
      'web',
      'to install 0.1.0',
      (hr) => history(hr)[0]?.chartVersion?.startsWith('0.1.0+') === true,
    );
  });

  afterAll(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
    await env?.stop();
  });

  it('reconciles with source after a new chart version is pushed: the new version installed and reported', async () => {
    const oci = clusterSources().ociRepo(`${env.ns}/charts/${chart}`);
    const digest = await oci.pushChart({ name: chart, version: '0.2.0', appVersion: '1.1.0', templates });
    const outcome = await act(
      env,
      via,
      { action: 'Reconcile', target: { kind: 'HelmRelease', name: 'web' }, withSource: true },
      { expect: 'Succeeded' },
    );
    // helm-controller reports an OCI chart's version with the first 12 hex digits of its digest.
    expect(outcome).toMatchObject({
      phase: 'Succeeded',
      revision: `0.2.0+${digest.replace('sha256:', '').slice(0, 12)}`,
      sourceRevision: `0.2.0@${digest}`,
    });
    const request = await readRequest(env.kc, outcome.request);
    expect(request.status?.source).toMatchObject({ kind: 'OCIRepository', name: 'web-chart' });
    // The chart as installed carries that version too.
    expect(await configMapData(env.kc, env.ns, 'web-version')).toEqual({ chart: outcome.revision });
  });
});
