// An operator killed after it recorded its token and patched the target, while the real
// kustomize-controller is still reconciling: the next operator follows that same token to the
// outcome, the request ends once, and Flux is asked (and reconciles) once.
//
// kustomize-controller is held mid-reconcile by a health check on a gate: a GitRepository the
// controllers ignore (it carries the sharding label they are started to skip) whose status the
// test writes, Reconciling (kstatus InProgress) while closed and Ready when open.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { apply, clusterSources, condition, fluxObject, reconciliations, waitForFlux, watchFluxObject } from '../support/e2e.js';
import {
  createRequest,
  getFluxObject,
  getRequest,
  spawnOperator,
  testApiVersion,
  waitForFluxObject,
  waitForPhase,
} from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace } from '../support/kube.js';

let kc: k8s.KubeConfig;
let ns: string;

/** Opens or closes the gate the Kustomization's health check waits on. */
async function setGate(open: boolean): Promise<void> {
  const [group, version] = testApiVersion('GitRepository').split('/') as [string, string];
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const condition = open
    ? { type: 'Ready', status: 'True', reason: 'Succeeded', message: 'open', lastTransitionTime: now, observedGeneration: 1 }
    : { type: 'Reconciling', status: 'True', reason: 'Progressing', message: 'closed', lastTransitionTime: now, observedGeneration: 1 };
  await kc.makeApiClient(k8s.CustomObjectsApi).patchNamespacedCustomObjectStatus(
    {
      group,
      version,
      plural: 'gitrepositories',
      namespace: ns,
      name: 'gate',
      body: { status: { observedGeneration: 1, conditions: [condition] } },
    },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
}

beforeAll(async () => {
  kc = adminKubeConfig();
  ns = await createNamespace(kc, 'e2e-restart');
  const repo = clusterSources().gitRepo(ns);
  await repo.commit({ 'app/configmap.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: b\n' }, 'first');
  await apply(kc, fluxObject('GitRepository', ns, 'repo', { interval: '1h', url: repo.url, ref: { branch: repo.branch } }));
  // Ready before the Kustomization exists, so its first reconcile succeeds and leaves no retry behind.
  await waitForFlux(kc, 'GitRepository', ns, 'repo');
  await apply(
    kc,
    fluxObject(
      'GitRepository',
      ns,
      'gate',
      { interval: '1h', url: 'https://git.invalid/gate' },
      { labels: { 'sharding.fluxcd.io/key': 'gate' } },
    ),
  );
  await setGate(true);
  await apply(
    kc,
    fluxObject('Kustomization', ns, 'app', {
      interval: '1h',
      timeout: '3m',
      path: './app',
      prune: true,
      targetNamespace: ns,
      sourceRef: { kind: 'GitRepository', name: 'repo' },
      healthChecks: [{ apiVersion: testApiVersion('GitRepository'), kind: 'GitRepository', name: 'gate', namespace: ns }],
    }),
  );
  await waitForFlux(kc, 'Kustomization', ns, 'app');
});

afterAll(async () => {
  if (ns) await deleteNamespace(kc, ns);
});

describe('operator restarts, against kustomize-controller', () => {
  it('killed (SIGKILL) after the patch, mid-reconcile: the next operator follows the same token; one request to Flux, one reconcile', async () => {
    const before = reconciliations(await getFluxObject(kc, 'Kustomization', ns, 'app'));
    await setGate(false);
    const trail = await watchFluxObject(kc, 'Kustomization', ns, 'app');
    const first = await spawnOperator(['--watch-namespace', ns]);
    let second: Awaited<ReturnType<typeof spawnOperator>> | undefined;
    try {
      await createRequest(kc, ns, 'patched-then-killed', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
      const target = await waitForFluxObject(
        kc,
        'Kustomization',
        ns,
        'app',
        'to carry a token',
        (o) => !!o.metadata.annotations?.['reconcile.fluxcd.io/requestedAt'],
      );
      const token = target.metadata.annotations!['reconcile.fluxcd.io/requestedAt']!;
      first.kill('SIGKILL');
      expect(await first.exited).toBeNull();
      expect((await getRequest(kc, ns, 'patched-then-killed')).status).toMatchObject({ phase: 'Running', token });
      // kustomize-controller has taken the request up and waits at the gate.
      const reconciling = await waitForFlux(
        kc,
        'Kustomization',
        ns,
        'app',
        'to be reconciling',
        (o) => condition(o, 'Reconciling')?.status === 'True',
        60_000,
      );
      expect(reconciling.status?.lastHandledReconcileAt).not.toBe(token);

      second = await spawnOperator(['--watch-namespace', ns]);
      await setGate(true);
      const done = await waitForPhase(kc, ns, 'patched-then-killed', 'Succeeded', 180_000);
      expect(done.status?.token).toBe(token);
      const app = await getFluxObject(kc, 'Kustomization', ns, 'app');
      expect(app.status?.lastHandledReconcileAt).toBe(token);
      expect(trail.requestedAt()).toEqual([token]);
      expect(reconciliations(app) - before).toBe(1);
    } finally {
      trail.stop();
      first.kill('SIGKILL');
      second?.kill('SIGTERM');
      await second?.exited;
    }
  }, 300_000);
});
