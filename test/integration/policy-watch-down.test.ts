// A FluxActionPolicy made while the operator's watch of policies is down must still govern the
// requests that follow it. The operator talks through a proxy that cuts that watch and answers 503
// to every list and watch of FluxActionPolicies; a freeze is created, then a request it denies. The
// request waits, Flux untouched, while the watch keeps failing, and is denied once the watch is back.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { FailureReason } from '../../src/api/conditions.js';
import type { FluxSimulator } from '../simulator/flux-simulator.js';
import type { FaultProxy } from '../support/fault-proxy.js';
import {
  createFluxObject,
  createPolicy,
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
let simulator: FluxSimulator;

const Policies = /\/fluxactionpolicies(\?|$)/;
let policiesDown = false;

beforeAll(async () => {
  env = await startProxiedEnvironment('policy-watch-down', ({ method, path }) => policiesDown && method === 'GET' && Policies.test(path));
  ({ kc: admin, ns, proxy, simulator } = env);
  // A first request: the operator's policies are loaded and watched.
  await createFluxObject(admin, 'Kustomization', ns, 'app');
  await createRequest(admin, ns, 'before', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
  await waitForPhase(admin, ns, 'before', 'Succeeded');
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed
  await env?.stop();
});

describe('a policy made while the watch of policies is down', () => {
  it('holds the requests it governs until the watch is back, then denies them', async () => {
    const tokensBefore = simulator.record('Kustomization', ns, 'app').requestedAt.length;
    policiesDown = true;
    proxy.cut(Policies);
    await waitFor('the watch of policies to fail', () => (proxy.failed > 0 ? true : undefined));

    await createPolicy(admin, ns, 'freeze', [{ name: 'freeze', match: { names: ['app'] }, effect: 'Deny', message: 'app is frozen' }]);
    await createRequest(admin, ns, 'during', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
    // The informer tries again (after its backoff), the request all the while left waiting.
    const failedAtRequest = proxy.failed;
    await waitFor('the watch of policies to fail again', () => (proxy.failed > failedAtRequest ? true : undefined));
    const waiting = await getRequest(admin, ns, 'during');
    expect(waiting.status?.token).toBeUndefined();
    expect(waiting.status?.completionTime).toBeUndefined();
    expect(simulator.record('Kustomization', ns, 'app').requestedAt).toHaveLength(tokensBefore);

    policiesDown = false;
    const done = await waitForPhase(admin, ns, 'during', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.PolicyDenied);
    expect(done.status?.message).toContain('app is frozen');
    expect(simulator.record('Kustomization', ns, 'app').requestedAt).toHaveLength(tokensBefore);
  });
});
