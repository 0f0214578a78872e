// Coalescing against the real controllers: a burst of reconcile requests for one Kustomization
// ends with every request Succeeded on a token kustomize-controller handled, the controller given
// a handful of tokens, not one per request; and a forced HelmRelease reconcile never shares its
// token with plain ones, so helm-controller runs exactly the one forced upgrade asked for.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { apply, clusterSources, fluxObject, reconciliations, waitForFlux, watchFluxObject } from '../support/e2e.js';
import { createRequest, type FluxObjectView, getFluxObject, startOperator, type TestOperator, waitForPhase } from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace } from '../support/kube.js';

const releaseConfigMap = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  a: b\n';

interface History {
  version?: number;
}
const releaseVersion = (hr: FluxObjectView): number | undefined => (hr.status?.['history'] as History[] | undefined)?.[0]?.version;

let kc: k8s.KubeConfig;
let ns: string;
let operator: TestOperator;

beforeAll(async () => {
  kc = adminKubeConfig();
  ns = await createNamespace(kc, 'e2e-burst');
  operator = await startOperator({ watchNamespace: ns });
  const repo = clusterSources().gitRepo(ns);
  await repo.commit({ 'app/configmap.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: busy\ndata:\n  a: b\n' }, 'first');
  await apply(kc, fluxObject('GitRepository', ns, 'repo', { interval: '1h', url: repo.url, ref: { branch: repo.branch } }));
  // Ready before the Kustomization exists, so its first reconcile succeeds and leaves no retry behind.
  await waitForFlux(kc, 'GitRepository', ns, 'repo');
  await apply(
    kc,
    fluxObject('Kustomization', ns, 'busy', {
      interval: '1h',
      path: './app',
      prune: true,
      targetNamespace: ns,
      sourceRef: { kind: 'GitRepository', name: 'repo' },
    }),
  );
  await waitForFlux(kc, 'Kustomization', ns, 'busy');

  // One chart name per run: the Helm repository outlives the namespace.
  const charts = clusterSources().helmRepo();
  await charts.publishChart({ name: `mixed-${ns}`, version: '0.1.0', templates: { 'configmap.yaml': releaseConfigMap } });
  await apply(kc, fluxObject('HelmRepository', ns, 'charts', { interval: '1h', url: charts.url }));
  await waitForFlux(kc, 'HelmRepository', ns, 'charts');
  await apply(
    kc,
    fluxObject('HelmRelease', ns, 'mixed', {
      interval: '1h',
      chart: { spec: { chart: `mixed-${ns}`, version: '*', interval: '1h', sourceRef: { kind: 'HelmRepository', name: 'charts' } } },
    }),
  );
  await waitForFlux(kc, 'HelmRelease', ns, 'mixed');
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await operator?.stop();
  if (ns) await deleteNamespace(kc, ns);
});

describe('coalescing, against the real controllers', () => {
  it('30 concurrent reconcile requests for one Kustomization: all Succeeded, a handful of tokens written, one reconcile each', async () => {
    const before = reconciliations(await getFluxObject(kc, 'Kustomization', ns, 'busy'));
    const trail = await watchFluxObject(kc, 'Kustomization', ns, 'busy');
    try {
      const names = Array.from({ length: 30 }, (_, i) => `burst-${i}`);
      await Promise.all(
        names.map((name) => createRequest(kc, ns, name, { action: 'Reconcile', target: { kind: 'Kustomization', name: 'busy' } })),
      );
      const done = [];
      for (const name of names) done.push(await waitForPhase(kc, ns, name, 'Succeeded', 120_000));

      const written = trail.requestedAt();
      expect(written.length).toBeGreaterThanOrEqual(1);
      expect(written.length).toBeLessThanOrEqual(5);
      // Every request reports one of the tokens written, and the controller handled the last of them.
      for (const request of done) expect(written).toContain(request.status?.token);
      const ks = await getFluxObject(kc, 'Kustomization', ns, 'busy');
      expect(ks.status?.lastHandledReconcileAt).toBe(written.at(-1));
      // kustomize-controller reconciled once per token: the burst did not make it run 30 times.
      expect(reconciliations(ks) - before).toBe(written.length);
    } finally {
      trail.stop();
    }
  }, 180_000);

  it('a forced HelmRelease reconcile among plain ones gets a token of its own: one forced upgrade, of the forced token', async () => {
    const before = releaseVersion(await getFluxObject(kc, 'HelmRelease', ns, 'mixed'))!;
    const trail = await watchFluxObject(kc, 'HelmRelease', ns, 'mixed');
    try {
      const target = { kind: 'HelmRelease', name: 'mixed' };
      await Promise.all([
        createRequest(kc, ns, 'plain-1', { action: 'Reconcile', target }),
        createRequest(kc, ns, 'forced-1', { action: 'Reconcile', target, force: true }),
        createRequest(kc, ns, 'plain-2', { action: 'Reconcile', target }),
      ]);
      const forced = await waitForPhase(kc, ns, 'forced-1', 'Succeeded', 120_000);
      const plain = [
        await waitForPhase(kc, ns, 'plain-1', 'Succeeded', 120_000),
        await waitForPhase(kc, ns, 'plain-2', 'Succeeded', 120_000),
      ];
      for (const p of plain) expect(p.status?.token).not.toBe(forced.status?.token);
      const written = trail.requestedAt();
      expect(written).toContain(forced.status?.token);
      for (const p of plain) expect(written).toContain(p.status?.token);
      // helm-controller handled the force request, and upgraded (a new release version) for it alone.
      const hr = await getFluxObject(kc, 'HelmRelease', ns, 'mixed');
      expect(hr.status?.['lastHandledForceAt']).toBe(forced.status?.token);
      expect(releaseVersion(hr)).toBe(before + 1);
    } finally {
      trail.stop();
    }
  }, 180_000);
});
