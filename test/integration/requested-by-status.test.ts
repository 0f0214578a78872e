// Who asked, as the operator records it: status.requestedBy and an annotation on every Event of the
// request carry the fluxaction.io/requested-by annotation admission set. The operator runs with the
// Flux simulator; the requester is played by impersonation.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { RequestedByAnnotation } from '../../src/api/types.js';
import { createFluxObject, requestEvents, startOperatorEnvironment, waitForPhase, type OperatorEnvironment } from '../support/harness.js';
import { randomSuffix, waitFor } from '../support/kube.js';
import { bindRole, createRequestAs, impersonatedKubeConfig } from '../support/users.js';

let env: OperatorEnvironment;
let alice: k8s.KubeConfig;
const aliceName = `alice-${randomSuffix()}`;

beforeAll(async () => {
  env = await startOperatorEnvironment('requested-by-status');
  alice = impersonatedKubeConfig(env.kc, aliceName);
  await bindRole(env.kc, env.ns, aliceName, { kind: 'ClusterRole', name: 'fluxact-requester' });
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed
  await env?.stop();
});

describe('the operator records who asked', () => {
  it('in status.requestedBy and on each Event of the request', async () => {
    await createFluxObject(env.kc, 'Kustomization', env.ns, 'app');
    await createRequestAs(alice, env.ns, 'reconcile-app', {
      spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } },
    });
    const done = await waitForPhase(env.kc, env.ns, 'reconcile-app', 'Succeeded');
    expect(done.metadata.annotations?.[RequestedByAnnotation]).toBe(aliceName);
    expect(done.status?.requestedBy).toBe(aliceName);
    // Events are recorded after the status write, without waiting: both transitions, each annotated.
    const events = await waitFor('the Requested and Succeeded Events', async () => {
      const list = await requestEvents(env.kc, env.ns, 'reconcile-app');
      return list.length >= 2 ? list : undefined;
    });
    expect(events.map((e) => [e.reason, e.metadata.annotations?.[RequestedByAnnotation]])).toEqual([
      ['Requested', aliceName],
      ['Succeeded', aliceName],
    ]);
  });
});
