// Deadlines of API calls (src/kube/bounded.ts), against the real API server through the fault
// proxy, on a fake clock: a call the proxy holds unanswered is abandoned at its deadline, and a call
// that is answered leaves no timer behind (a busy operator would otherwise hold one per call of the
// last 30 s).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { bounded } from '../../src/kube/bounded.js';
import { FaultProxy, Hold } from '../support/fault-proxy.js';
import { OperatorNamespace, OperatorServiceAccount, serviceAccountToken } from '../support/harness.js';
import { adminKubeConfig, tokenKubeConfig, waitFor } from '../support/kube.js';
import { FakeClock } from '../unit/runtime/fake-clock.js';

let proxy: FaultProxy;
let core: k8s.CoreV1Api;

beforeAll(async () => {
  const admin = adminKubeConfig();
  proxy = new FaultProxy({ admin, fail: ({ path }) => (path.includes('/namespaces/held') ? Hold : false) });
  const server = await proxy.start();
  const token = await serviceAccountToken(admin, OperatorNamespace, OperatorServiceAccount);
  core = tokenKubeConfig(admin, token, `system:serviceaccount:${OperatorNamespace}:${OperatorServiceAccount}`, server).makeApiClient(
    k8s.CoreV1Api,
  );
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed
  await proxy?.stop();
});

describe('bounded API calls', () => {
  it('abandon a call that gets no answer at its deadline', async () => {
    const clock = new FakeClock();
    const call = core.readNamespace({ name: 'held' }, bounded(undefined, 30_000, clock));
    await waitFor('the call to be held', () => (proxy.holding > 0 ? true : undefined));
    clock.advance(29_999);
    expect(proxy.holding).toBe(1);
    clock.advance(1);
    await expect(call).rejects.toThrow(/aborted/);
    // The connection is closed, not left open at the proxy.
    await waitFor('the held call to be closed', () => (proxy.holding === 0 ? true : undefined));
  });

  it('clear their deadline once the answer is read', async () => {
    const clock = new FakeClock();
    const answered = await core.listNamespace({ limit: 1 }, bounded(undefined, 30_000, clock));
    expect(answered.items).toHaveLength(1);
    // A refusal's body is read too (into the error).
    await expect(core.readNamespace({ name: 'default' }, bounded(undefined, 30_000, clock))).rejects.toThrow(/forbidden/);
    expect(clock.pendingTimers()).toBe(0);
  });
});
