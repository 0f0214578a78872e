// The chaos scenarios are only as good as their invariant check: it must see a request that never
// ends, a token nobody recorded, a token claimed but never written, a request that ends twice and a doubled Event. Here they are made by
// hand (no operator runs), and the check must count each.
import { afterAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { EventReason } from '../../src/api/conditions.js';
import { Group, Version } from '../../src/api/types.js';
import { getRequest, patchFluxObject, writeRequestStatus } from '../support/harness.js';
import { waitFor } from '../support/kube.js';
import { ChaosWorld, clean } from './support/world.js';

let world: ChaosWorld | undefined;

afterAll(async () => {
  await world?.stop();
});

describe('the invariant check', () => {
  it('counts lost requests, unrecorded and lost tokens, requests ended twice and doubled Events', async () => {
    world = await ChaosWorld.create('chaos-check', { kustomizations: 2, helmReleases: 1, toggles: 0 });
    const { kc, ns } = world;
    await world.createMixed(2);
    const [first, second] = world.created;
    // A token on a Kustomization that no request recorded: Flux asked by nobody.
    await patchFluxObject(kc, 'Kustomization', ns, 'ks-0', {
      metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': '2026-01-01T00:00:00.000000000Z' } },
    });
    // The first request ends, then ends again with another outcome.
    const finish = (reason: string, at: string): Record<string, unknown> => ({
      phase: 'Succeeded',
      completionTime: at,
      // A token it claims, never written to the Kustomization: lost.
      target: { kind: 'Kustomization', name: 'ks-1', namespace: ns, token: '2026-01-01T00:00:03.000000000Z' },
      conditions: [{ type: 'Ready', status: 'True', reason, message: 'done', lastTransitionTime: at }],
    });
    await writeRequestStatus(kc, ns, first!.name, finish('Succeeded', '2026-01-01T00:00:01Z'));
    await waitFor('the watch to see the first outcome', () => (world!.unfinished().includes(first!.name) ? undefined : true));
    await writeRequestStatus(kc, ns, first!.name, finish('Requested', '2026-01-01T00:00:02Z'));
    // Two Succeeded Events for it.
    const request = await getRequest(kc, ns, first!.name);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    for (let i = 0; i < 2; i++) {
      await core.createNamespacedEvent({
        namespace: ns,
        body: {
          metadata: { name: `${first!.name}.${i}`, namespace: ns },
          involvedObject: {
            apiVersion: `${Group}/${Version}`,
            kind: 'FluxActionRequest',
            name: first!.name,
            namespace: ns,
            uid: request.metadata.uid!,
          },
          reason: EventReason.Succeeded,
          message: 'done',
          type: 'Normal',
        },
      });
    }
    // The second request never ends (nothing acts on it).
    const report = await world.check(1_000);
    expect(report.requests.unfinished).toBe(1);
    expect(report.violations.some((v) => v.includes(second!.name) && v.includes('never finished'))).toBe(true);
    expect(report.requests.endedTwice).toBe(1);
    expect(report.tokens.unrecorded).toBe(1);
    expect(report.tokens.lost).toBe(1);
    expect(report.events.doubled).toBe(1);
    expect(clean(report)).toBe(false);
  });
});
