// get_flux_instance through the SDK's real client, as the adapter's ServiceAccount: the Flux CRDs
// installed, the controllers (or their absence), and failing objects named.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { createFluxObject, OperatorServiceAccount, patchFluxObject } from '../../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace } from '../../support/kube.js';
import { connectStdio, mcpKubeconfigFile, textOf, type McpConnection } from '../../support/mcp.js';

let kc: k8s.KubeConfig;
let ns: string;
let adapter: McpConnection;
let unprivileged: McpConnection;

/** Writes a Kustomization's Ready condition as its controller would. */
async function writeReady(name: string, status: 'True' | 'False', reason: string, message: string): Promise<void> {
  await kc.makeApiClient(k8s.CustomObjectsApi).patchNamespacedCustomObjectStatus(
    {
      group: 'kustomize.toolkit.fluxcd.io',
      version: 'v1',
      plural: 'kustomizations',
      namespace: ns,
      name,
      body: {
        status: {
          conditions: [
            {
              type: 'Ready',
              status,
              reason,
              message,
              lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
              observedGeneration: 1,
            },
          ],
        },
      },
    },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
}

beforeAll(async () => {
  kc = adminKubeConfig();
  ns = await createNamespace(kc, 'mcp-flux');
  await createFluxObject(kc, 'Kustomization', ns, 'broken');
  await createFluxObject(kc, 'Kustomization', ns, 'healthy');
  await createFluxObject(kc, 'Kustomization', ns, 'paused');
  await createFluxObject(kc, 'Kustomization', ns, 'annotated');
  await writeReady('broken', 'False', 'BuildFailed', `kustomize build failed in ${ns}: no kustomization.yaml`);
  await writeReady('healthy', 'True', 'ReconciliationSucceeded', 'Applied revision: main@sha1:cafe');
  await patchFluxObject(kc, 'Kustomization', ns, 'paused', { spec: { suspend: true } });
  // flux-operator's switch, which kustomize-controller does not read: the Kustomization still runs.
  await patchFluxObject(kc, 'Kustomization', ns, 'annotated', {
    metadata: { annotations: { 'fluxcd.controlplane.io/reconcile': 'disabled' } },
  });
  await writeReady('annotated', 'False', 'BuildFailed', 'still reconciled, still failing');
  [adapter, unprivileged] = await Promise.all([
    connectStdio(),
    mcpKubeconfigFile(OperatorServiceAccount).then((file) => connectStdio([], file)),
  ]);
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await Promise.all([adapter?.close(), unprivileged?.close()]);
  await deleteNamespace(kc, ns);
});

async function fluxInstance(connection: McpConnection): Promise<{ text: string; isError: boolean; structured: Record<string, unknown> }> {
  const result = await connection.client.callTool({ name: 'get_flux_instance', arguments: {} });
  return {
    text: textOf(result),
    isError: result.isError === true,
    structured: (result.structuredContent ?? {}) as Record<string, unknown>,
  };
}

describe('get_flux_instance', () => {
  it('lists the Flux CRDs installed with their served and storage versions', async () => {
    const out = await fluxInstance(adapter);
    expect(out.isError).toBe(false);
    const crds = (await kc.makeApiClient(k8s.ApiextensionsV1Api).listCustomResourceDefinition()).items.filter(
      (c) => c.spec.group.endsWith('.fluxcd.io') || c.spec.group === 'fluxcd.controlplane.io',
    );
    expect(out.text).toContain(`\nFlux CRDs (${crds.length}):\n`);
    // Flux 2.7 also serves the deprecated v1beta2, 2.9 only v1.
    const kustomization = crds.find((c) => c.spec.names.kind === 'Kustomization');
    const deprecated = (kustomization?.spec.versions ?? []).filter((v) => v.deprecated).map((v) => `, ${v.name} (deprecated)`);
    expect(out.text).toContain(`\n  Kustomization (kustomize.toolkit.fluxcd.io): v1 (storage)${deprecated.join('')}\n`);
    expect(out.text).toContain('  HelmRelease (helm.toolkit.fluxcd.io): v2 (storage)');
    expect(out.text).toContain('  FluxInstance (fluxcd.controlplane.io): v1 (storage)');
    expect(out.structured['operatorCrds']).toBe(true);
  });

  it('names a failing Kustomization with its reason and message, and counts ready and suspended ones', async () => {
    const out = await fluxInstance(adapter);
    expect(out.text).toContain(`    failing: ${ns}/broken: BuildFailed: kustomize build failed in ${ns}: no kustomization.yaml`);
    const kustomizations = (
      out.structured['kinds'] as { kind: string; ready: number; failing: number; suspended: number; total: number }[]
    ).find((k) => k.kind === 'Kustomization');
    expect(kustomizations?.failing).toBeGreaterThanOrEqual(1);
    expect(kustomizations?.ready).toBeGreaterThanOrEqual(1);
    expect(kustomizations?.suspended).toBeGreaterThanOrEqual(1);
    expect(out.text).toMatch(
      /\n {2}Kustomization \(kustomize\.toolkit\.fluxcd\.io\/v1\): \d+ total, \d+ ready, \d+ failing, \d+ suspended/,
    );
  });

  it("names a failing Kustomization that carries flux-operator's reconcile annotation: only flux-operator's kinds are suspended by it", async () => {
    const out = await fluxInstance(adapter);
    expect(out.text).toContain(`    failing: ${ns}/annotated: BuildFailed: still reconciled, still failing`);
  });

  it('reports the controller Deployments, or says plainly that none runs', async () => {
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const deployments = [
      ...(await apps.listNamespacedDeployment({ namespace: 'flux-system' })).items,
      ...(await apps.listDeploymentForAllNamespaces({ labelSelector: 'app.kubernetes.io/part-of=flux' })).items,
    ];
    const out = await fluxInstance(adapter);
    if (deployments.length === 0) {
      expect(out.text.split('\n')[0]).toMatch(
        /^Flux: no controller Deployments; \d+ Flux CRDs installed; \d+ Flux objects, \d+ failing\.$/,
      );
      expect(out.text).toContain(
        'Controllers:\n  none: no Deployment in namespace flux-system nor labelled app.kubernetes.io/part-of=flux. Unless the controllers run outside the cluster, nothing reconciles the Flux objects below',
      );
    } else {
      for (const d of deployments) expect(out.text).toContain(`  ${d.metadata?.namespace}/${d.metadata?.name}: `);
    }
  });

  it('passes on an RBAC refusal when the CRDs may not be read', async () => {
    const out = await fluxInstance(unprivileged);
    expect(out.isError).toBe(true);
    expect(out.text).toContain('forbidden: customresourcedefinitions.apiextensions.k8s.io is forbidden');
  });
});

describe('get_flux_instance with the Flux Operator', () => {
  it('reports the FluxInstance and its Ready condition', async () => {
    await createFluxObject(kc, 'FluxInstance', ns, 'flux');
    await kc.makeApiClient(k8s.CustomObjectsApi).patchNamespacedCustomObjectStatus(
      {
        group: 'fluxcd.controlplane.io',
        version: 'v1',
        plural: 'fluxinstances',
        namespace: ns,
        name: 'flux',
        body: {
          status: {
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'ReconciliationSucceeded',
                message: 'Reconciliation finished',
                lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
                observedGeneration: 1,
              },
            ],
          },
        },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const out = await fluxInstance(adapter);
    expect(out.isError).toBe(false);
    expect(out.text).not.toContain('no FluxInstance or FluxReport exists');
    expect(out.text).toMatch(new RegExp(`\\n  FluxInstance ${ns}/flux: .*True`));
  });
});
