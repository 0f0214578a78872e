// A target the operator can never read still ends its request, within the request's timeout: the
// operator talks to the API server through a proxy that answers every list and watch of
// HelmReleases with 503 (an overloaded API server), so that kind's cache never syncs. The request on
// a HelmRelease ends Timeout, saying what kept failing, and while it retries it holds no worker: a
// Kustomization request behind it, on the only worker, is carried out.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { FailureReason, SuccessReason } from '../../src/api/conditions.js';
import type { FluxSimulator } from '../simulator/flux-simulator.js';
import { FaultProxy } from '../support/fault-proxy.js';
import {
  createFluxObject,
  createRequest,
  readyReason,
  startOperator,
  startSimulator,
  waitForPhase,
  type TestOperator,
} from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace } from '../support/kube.js';

let admin: k8s.KubeConfig;
let ns: string;
let proxy: FaultProxy;
let operator: TestOperator;
let simulator: FluxSimulator;

beforeAll(async () => {
  admin = adminKubeConfig();
  ns = await createNamespace(admin, 'request-timeout');
  proxy = new FaultProxy({ admin, fail: ({ method, path }) => method === 'GET' && /\/helmreleases(\?|$)/.test(path) });
  const server = await proxy.start();
  simulator = await startSimulator();
  // One worker: a request that held it while retrying would keep every other request waiting.
  operator = await startOperator({ concurrency: 1, crossNamespaceFrom: [] }, undefined, server);
});

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed */
  await operator?.stop();
  await simulator?.stop();
  await proxy?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
  await deleteNamespace(admin, ns);
});

describe('a target whose kind cannot be read', () => {
  it('ends the request Timeout within its timeout, naming what kept failing', async () => {
    await createRequest(admin, ns, 'unreadable', { action: 'Reconcile', target: { kind: 'HelmRelease', name: 'web' }, timeout: '5s' });
    const done = await waitForPhase(admin, ns, 'unreadable', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.Timeout);
    expect(done.status?.message).toMatch(
      new RegExp(
        `^no outcome within 5s: could not read HelmRelease ${ns}/web: the cache of helmreleases\\.helm\\.toolkit\\.fluxcd\\.io ` +
          'has not synced.*the server is currently unable to handle the request',
      ),
    );
    expect(proxy.failed).toBeGreaterThan(0);
  });

  it('holds no worker while it retries: a request behind it on the one worker is carried out', async () => {
    await createRequest(admin, ns, 'unreadable-again', {
      action: 'Reconcile',
      target: { kind: 'HelmRelease', name: 'web' },
      timeout: '1m',
    });
    await createFluxObject(admin, 'Kustomization', ns, 'app');
    await createRequest(admin, ns, 'readable', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
    const done = await waitForPhase(admin, ns, 'readable', 'Succeeded');
    expect(readyReason(done)).toBe(SuccessReason.Succeeded);
  });
});
