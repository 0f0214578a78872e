// The Helm chart installed as Flux users install add-ons: packaged and pushed with `helm push` to
// the local OCI registry, then installed and upgraded by the real source- and helm-controller
// through an OCIRepository and a HelmRelease. The pods run on the fake Node: the test checks the
// objects the release made, not a running operator.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { apply, clusterSources, fluxObject, waitForFlux } from '../support/e2e.js';
import { type FluxObjectView } from '../support/harness.js';
import { chartDir, helm } from '../support/helm.js';
import { adminKubeConfig, createNamespace, deleteNamespace, randomSuffix, waitFor } from '../support/kube.js';

interface History {
  chartVersion?: string;
  status?: string;
}
const history = (obj: FluxObjectView): History[] => (obj.status?.['history'] as History[] | undefined) ?? [];

let kc: k8s.KubeConfig;
let ns: string;
let work: string;
/** helm's own directories (config, cache, registry credentials), in the test's temporary directory. */
let helmEnv: Record<string, string>;
/** The operator's and adapter's names start with it: the test cluster already has config/'s fluxact-*. */
const prefix = `e2e-${randomSuffix()}`;
const release = 'fluxact';

/** Packages the chart as version and pushes it to the OCI repository <registry>/<ns>; returns its digest. */
async function pushChart(version: string): Promise<string> {
  const packaged = await helm(['package', chartDir, '--version', version, '--destination', work], helmEnv);
  const archive = /saved it to: (.+\.tgz)/.exec(packaged)?.[1];
  if (!archive) throw new Error(`helm package printed no archive: ${packaged}`);
  const registry = clusterSources().url.replace(/^http:\/\//, 'oci://');
  const pushed = await helm(['push', archive, `${registry}/${ns}`, '--plain-http'], helmEnv);
  const digest = /Digest: (sha256:[a-f0-9]{64})/.exec(pushed)?.[1];
  if (!digest) throw new Error(`helm push printed no digest: ${pushed}`);
  return digest;
}

function ociRepository(tag: string): Record<string, unknown> {
  const url = `${clusterSources().url.replace(/^http:\/\//, 'oci://')}/${ns}/flux-action-operator`;
  return fluxObject('OCIRepository', ns, 'flux-action-operator', {
    interval: '1h',
    url,
    ref: { tag },
    insecure: true,
    layerSelector: { mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', operation: 'copy' },
  });
}

function helmRelease(values: Record<string, unknown>): Record<string, unknown> {
  return fluxObject('HelmRelease', ns, release, {
    interval: '1h',
    chartRef: { kind: 'OCIRepository', name: 'flux-action-operator' },
    install: { crds: 'CreateReplace' },
    upgrade: { crds: 'CreateReplace' },
    values: { namePrefix: prefix, admission: { enabled: false }, mcp: { enabled: true }, ...values },
  });
}

/**
 * The chart version helm-controller records for a chart from an OCIRepository: the chart's version
 * with the first 12 hex digits of the pushed artifact's digest as build metadata.
 */
const recorded = (version: string, digest: string): string => `${version}+${digest.replace('sha256:', '').slice(0, 12)}`;

const released = (chartVersion: string) => (hr: FluxObjectView) =>
  history(hr)[0]?.chartVersion === chartVersion &&
  history(hr)[0]?.status === 'deployed' &&
  hr.status?.['observedGeneration'] === hr.metadata.generation;

async function operatorDeployment(): Promise<k8s.V1Deployment> {
  return kc.makeApiClient(k8s.AppsV1Api).readNamespacedDeployment({ namespace: ns, name: `${prefix}-operator` });
}

async function mcpToken(): Promise<string> {
  const secret = await kc.makeApiClient(k8s.CoreV1Api).readNamespacedSecret({ namespace: ns, name: `${prefix}-mcp-token` });
  return Buffer.from(secret.data?.['token'] ?? '', 'base64').toString();
}

beforeAll(async () => {
  kc = adminKubeConfig();
  ns = await createNamespace(kc, 'e2e-chart');
  work = mkdtempSync(path.join(tmpdir(), 'fluxact-chart-'));
  helmEnv = {
    HELM_CONFIG_HOME: path.join(work, 'config'),
    HELM_CACHE_HOME: path.join(work, 'cache'),
    HELM_DATA_HOME: path.join(work, 'data'),
    HELM_REGISTRY_CONFIG: path.join(work, 'registry.json'),
  };
});

afterAll(async () => {
  // Deleting the HelmRelease uninstalls the release, cluster-scoped objects included.
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  await custom
    .deleteNamespacedCustomObject({ group: 'helm.toolkit.fluxcd.io', version: 'v2', plural: 'helmreleases', namespace: ns, name: release })
    .catch(() => undefined);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  await waitFor(
    'the release to be uninstalled',
    async () => {
      const roles = await rbac.listClusterRole({ labelSelector: `app.kubernetes.io/instance=${release}` });
      return roles.items.some((r) => r.metadata?.name?.startsWith(prefix)) ? undefined : true;
    },
    60_000,
    250,
  ).catch(async () => {
    for (const name of [`${prefix}-operator`, `${prefix}-mcp`]) {
      await rbac.deleteClusterRole({ name }).catch(() => undefined);
      await rbac.deleteClusterRoleBinding({ name }).catch(() => undefined);
    }
  });
  await deleteNamespace(kc, ns);
  rmSync(work, { recursive: true, force: true });
});

describe('the chart installed by helm-controller from an OCI registry', () => {
  it('installs 0.1.0: the CRD, the operator Deployment, ServiceAccounts, RBAC and the MCP adapter', async () => {
    const digest = await pushChart('0.1.0');
    await apply(kc, ociRepository('0.1.0'));
    await apply(kc, helmRelease({ operator: { concurrency: 4 } }));
    await waitForFlux(kc, 'HelmRelease', ns, release, 'to install chart 0.1.0', released(recorded('0.1.0', digest)), 90_000);

    const deployment = await operatorDeployment();
    expect(deployment.spec?.replicas).toBe(2);
    expect(deployment.metadata?.labels?.['helm.sh/chart']).toBe(`flux-action-operator-${recorded('0.1.0', digest).replace('+', '_')}`);
    expect(deployment.spec?.template.spec?.serviceAccountName).toBe(`${prefix}-operator`);
    expect(deployment.spec?.template.spec?.containers[0]?.args).toEqual(expect.arrayContaining(['--leader-elect', '--concurrency=4']));

    const core = kc.makeApiClient(k8s.CoreV1Api);
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    for (const sa of [`${prefix}-operator`, `${prefix}-mcp`]) await core.readNamespacedServiceAccount({ namespace: ns, name: sa });
    const binding = await rbac.readClusterRoleBinding({ name: `${prefix}-operator` });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: `${prefix}-operator`, namespace: ns }]);
    const role = await rbac.readClusterRole({ name: `${prefix}-operator` });
    expect(role.rules?.find((r) => r.apiGroups?.includes('kustomize.toolkit.fluxcd.io'))?.verbs).toEqual(['get', 'list', 'watch', 'patch']);
    await rbac.readNamespacedRole({ namespace: ns, name: `${prefix}-operator-leader-election` });
    await rbac.readClusterRole({ name: `${prefix}-mcp` });
    await kc.makeApiClient(k8s.AppsV1Api).readNamespacedDeployment({ namespace: ns, name: `${prefix}-mcp` });
    expect(await mcpToken()).toMatch(/^[A-Za-z0-9]{48}$/);

    const crd = await kc.makeApiClient(k8s.ApiextensionsV1Api).readCustomResourceDefinition({ name: 'fluxactionrequests.fluxaction.io' });
    expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
  });

  it('upgrades to 0.1.1 with a changed value: the new version reported, the value applied, the MCP token kept', async () => {
    const token = await mcpToken();
    const digest = await pushChart('0.1.1');
    await apply(kc, ociRepository('0.1.1'));
    await apply(kc, helmRelease({ operator: { concurrency: 6 } }));
    const hr = await waitForFlux(kc, 'HelmRelease', ns, release, 'to upgrade to chart 0.1.1', released(recorded('0.1.1', digest)), 90_000);
    // helm-controller takes the new chart and the new values in one upgrade, or in two when it sees
    // the new chart's artifact before the HelmRelease's new generation: 0.1.1 once or twice, after 0.1.0.
    const versions = history(hr).map((h) => h.chartVersion?.split('+')[0]);
    expect(versions.filter((v, i) => v !== versions[i - 1])).toEqual(['0.1.1', '0.1.0']);

    const deployment = await operatorDeployment();
    expect(deployment.metadata?.labels?.['helm.sh/chart']).toBe(`flux-action-operator-${recorded('0.1.1', digest).replace('+', '_')}`);
    const args = deployment.spec?.template.spec?.containers[0]?.args ?? [];
    expect(args).toContain('--concurrency=6');
    expect(args).not.toContain('--concurrency=4');
    expect(await mcpToken()).toBe(token);
  });
});
