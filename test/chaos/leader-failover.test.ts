// Scenario c: two operator replicas on one Lease; the leader is SIGKILLed in the middle of a stream of
// requests. The standby must take over (the Lease expires 15 s after the last renewal) and carry on
// with what the dead leader left half done, doing nothing twice.
import { afterAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { OperatorNamespace } from '../support/harness.js';
import { adminKubeConfig, randomSuffix, waitFor } from '../support/kube.js';
import { killOperator, startChaosOperator, stopOperator, type ChaosOperator } from './support/operator.js';
import { invariantFigures, printFigures, sizes } from './support/sizes.js';
import { ChaosWorld, clean } from './support/world.js';

let world: ChaosWorld | undefined;
const replicas: ChaosOperator[] = [];
const leaseName = `chaos-${randomSuffix()}`;

afterAll(async () => {
  for (const r of replicas) await stopOperator(r);
  await world?.stop();
  await adminKubeConfig()
    .makeApiClient(k8s.CoordinationV1Api)
    .deleteNamespacedLease({ name: leaseName, namespace: OperatorNamespace })
    .catch(() => undefined);
});

async function holder(): Promise<string | undefined> {
  const lease = await adminKubeConfig()
    .makeApiClient(k8s.CoordinationV1Api)
    .readNamespacedLease({ name: leaseName, namespace: OperatorNamespace })
    .catch(() => undefined);
  return lease?.spec?.holderIdentity || undefined;
}

/** The requests (by name) that have finished, as the operator wrote them. */
function finishedCount(w: ChaosWorld): number {
  return w.created.length - w.unfinished().length;
}

describe('two replicas, the leader killed', () => {
  it(
    `hands over within the Lease's term and does nothing twice (${sizes.failovers} failovers)`,
    async () => {
      world = await ChaosWorld.create('chaos-leader', { kustomizations: 8, helmReleases: 4, toggles: 3 });
      const w = world;
      const started = performance.now();
      const start = (): Promise<ChaosOperator> => startChaosOperator({ watchNamespace: w.ns, leaseName, label: 'replica' });
      replicas.push(await start(), await start());
      const takeoverMs: number[] = [];
      const resumeMs: number[] = [];
      for (let i = 0; i < sizes.failovers; i++) {
        const leaderId = await waitFor('a leader', holder, 60_000, 100);
        const leader = replicas.find((r) => r.identity === leaderId);
        if (!leader)
          throw new Error(`the Lease is held by ${leaderId}, none of the replicas (${replicas.map((r) => r.identity).join(', ')})`);
        // Requests in flight when the leader dies, and more arriving during the handover.
        await w.createMixed(sizes.requestsPerRound);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 500));
        await killOperator(leader);
        const killedAt = performance.now();
        const before = finishedCount(w);
        const during = w.createMixed(sizes.requestsPerRound);
        const next = await waitFor(
          'another replica to hold the Lease',
          async () => {
            const id = await holder();
            return id && id !== leaderId ? id : undefined;
          },
          60_000,
          50,
        );
        takeoverMs.push(performance.now() - killedAt);
        await during;
        // Resumed: the new leader finished a request the old one had left unfinished, or a new one.
        await waitFor(
          'the new leader to finish a request',
          () => (finishedCount(w) > before || w.unfinished().length === 0 ? true : undefined),
          60_000,
          50,
        );
        resumeMs.push(performance.now() - killedAt);
        replicas.splice(replicas.indexOf(leader), 1);
        if (!replicas.some((r) => r.identity === next)) throw new Error(`the Lease went to ${next}, not to the standby`);
        replicas.push(await start());
      }
      const report = await w.check(120_000);
      const fmt = (v: number[]): string => v.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ');
      printFigures('c-leader-failover', {
        failovers: sizes.failovers,
        ...invariantFigures(report),
        'kill to standby holding the Lease': fmt(takeoverMs),
        'kill to the new leader finishing a request': fmt(resumeMs),
        'wall time': `${((performance.now() - started) / 1000).toFixed(1)} s`,
      });
      expect(report.violations).toEqual([]);
      expect(clean(report)).toBe(true);
      // The goal: the standby leads within 20 s of the leader's death (the Lease runs 15 s after the last
      // renewal, renewed every 2 s; a standby tries every 2-4.4 s). How soon it then finishes a request is
      // reported above.
      expect(Math.max(...takeoverMs)).toBeLessThan(20_000);
    },
    sizes.failovers * 120_000 + 180_000,
  );
});
