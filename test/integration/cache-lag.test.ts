// The operator reads Flux objects from its watch caches, and a watch can lag: `kubectl apply` of a
// Kustomization and of a request naming it, in one go, may deliver the request first. The operator
// talks through a proxy that holds its Kustomization watch (open, delivering nothing), so the cache
// has not seen the new object: the request still runs, the object read from the API server, and it
// succeeds once the watch delivers Flux's answer. A source that truly does not exist still fails.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { FailureReason } from '../../src/api/conditions.js';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import { Hold, type FaultProxy } from '../support/fault-proxy.js';
import {
  createFluxObject,
  createRequest,
  getRequest,
  readyReason,
  startProxiedEnvironment,
  waitForPhase,
  type ProxiedEnvironment,
} from '../support/harness.js';
import { waitFor } from '../support/kube.js';

let env: ProxiedEnvironment;
let admin: k8s.KubeConfig;
let ns: string;
let proxy: FaultProxy;

const KustomizationWatch = /\/kustomizations\?.*\bwatch=(true|1)\b/;
/** Whether the operator's Kustomization watches are held; the single-object GETs it made, by path. */
let holdWatches = false;
const reads: string[] = [];

beforeAll(async () => {
  env = await startProxiedEnvironment('cache-lag', ({ method, path }) => {
    if (method !== 'GET') return false;
    if (holdWatches && KustomizationWatch.test(path)) return Hold;
    if (/\/(kustomizations|gitrepositories)\/[^/?]+$/.test(path)) reads.push(path);
    return false;
  });
  ({ kc: admin, ns, proxy } = env);
  // A first request starts the operator's Kustomization informer, its cache synced and watching.
  await createFluxObject(admin, 'Kustomization', ns, 'first', { annotations: { [SimAnnotation.revision]: 'main@sha1:feed' } });
  await createRequest(admin, ns, 'first', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'first' } });
  await waitForPhase(admin, ns, 'first', 'Succeeded');
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed
  await env?.stop();
});

/**
 * Holds the operator's Kustomization watch: the one open (if any: after a release the informer may
 * still be backing off) is cut, and the one it opens again gets no answer.
 */
async function holdKustomizationWatch(): Promise<void> {
  holdWatches = true;
  await waitFor('the operator to watch Kustomizations again, held', () => {
    if (proxy.holding > 0) return true;
    proxy.cut(KustomizationWatch);
    return undefined;
  });
}

function releaseWatches(): void {
  holdWatches = false;
  proxy.release();
}

describe('a Flux object the watch has not delivered yet', () => {
  it('is read from the API server: the request runs, and succeeds once the watch catches up', async () => {
    await holdKustomizationWatch();
    try {
      await createFluxObject(admin, 'Kustomization', ns, 'late', { annotations: { [SimAnnotation.revision]: 'main@sha1:beef' } });
      await createRequest(admin, ns, 'late', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'late' } });
      // While the watch still delivers nothing, the operator records its token and asks Flux.
      const started = await waitFor('the request to start or finish', async () => {
        const request = await getRequest(admin, ns, 'late');
        return request.status?.token !== undefined || request.status?.completionTime !== undefined ? request : undefined;
      });
      expect(started.status?.message).not.toContain('not found');
      expect(started.status?.phase).toBe('Running');
      expect(reads).toContain(`/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${ns}/kustomizations/late`);
    } finally {
      releaseWatches();
    }
    const done = await waitForPhase(admin, ns, 'late', 'Succeeded');
    expect(done.status?.message).toBe(`Kustomization ${ns}/late: applied revision main@sha1:beef`);
  });

  it('fails with TargetNotFound and SourceFailed only when the API server has no such object either', async () => {
    await holdKustomizationWatch();
    try {
      await createRequest(admin, ns, 'no-target', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'nowhere' } });
      const missing = await waitForPhase(admin, ns, 'no-target', 'Failed');
      expect(readyReason(missing)).toBe(FailureReason.TargetNotFound);
      expect(missing.status?.message).toBe(`Kustomization ${ns}/nowhere not found`);

      await createFluxObject(admin, 'Kustomization', ns, 'orphan', { spec: { sourceRef: { kind: 'GitRepository', name: 'gone' } } });
      await createRequest(admin, ns, 'no-source', {
        action: 'Reconcile',
        target: { kind: 'Kustomization', name: 'orphan' },
        withSource: true,
      });
      const orphaned = await waitForPhase(admin, ns, 'no-source', 'Failed');
      expect(readyReason(orphaned)).toBe(FailureReason.SourceFailed);
      expect(orphaned.status?.message).toBe(`source GitRepository ${ns}/gone not found`);
    } finally {
      releaseWatches();
    }
  });
});
