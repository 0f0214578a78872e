// Scenario a: the operator SIGKILLed at random moments while a stream of mixed requests (reconcile,
// withSource, force, suspend, resume) arrives, and started again each time. The invariants: every
// request ends, once, and every Flux object got exactly the tokens the requests recorded.
import { afterAll, describe, expect, it } from '@jest/globals';
import { killOperator, startChaosOperator, stopOperator, type ChaosOperator } from './support/operator.js';
import { invariantFigures, printFigures, sizes } from './support/sizes.js';
import { ChaosWorld, clean } from './support/world.js';

let world: ChaosWorld | undefined;
let operator: ChaosOperator | undefined;

afterAll(async () => {
  if (operator) await stopOperator(operator);
  await world?.stop();
});

/** A random moment within the next `maxMs`: the chaos itself, not a wait for a condition. */
function randomMoment(maxMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * maxMs));
}

describe('the operator SIGKILLed at random moments', () => {
  it(
    `loses and doubles no action over ${sizes.kills} kills and restarts`,
    async () => {
      // An operator up for at most 1.5 s between restarts gets little done, and on a loaded machine
      // 100 rounds last longer than a request's default 5m timeout: a request started early could
      // end in Timeout, which is an outcome, not a loss. The scenario is about exactly once, so the
      // requests may wait as long as the run does.
      world = await ChaosWorld.create('chaos-kill', { kustomizations: 8, helmReleases: 4, toggles: 3, requestTimeout: '1h' });
      const started = performance.now();
      operator = await startChaosOperator({ watchNamespace: world.ns, label: 'kill' });
      const restartMs: number[] = [];
      for (let i = 0; i < sizes.kills; i++) {
        const creating = world.createMixed(sizes.requestsPerRound);
        await randomMoment(1500);
        await killOperator(operator);
        await creating;
        const t = performance.now();
        operator = await startChaosOperator({ watchNamespace: world.ns, label: 'kill' });
        restartMs.push(performance.now() - t);
      }
      const report = await world.check(120_000);
      await stopOperator(operator);
      operator = undefined;
      restartMs.sort((a, b) => a - b);
      printFigures('a-operator-kill', {
        kills: sizes.kills,
        ...invariantFigures(report),
        'restart to controllers started': `p50 ${Math.round(restartMs[Math.floor(restartMs.length / 2)] ?? 0)} ms, max ${Math.round(restartMs.at(-1) ?? 0)} ms`,
        'wall time': `${((performance.now() - started) / 1000).toFixed(1)} s`,
      });
      expect(report.violations).toEqual([]);
      expect(clean(report)).toBe(true);
    },
    sizes.kills * 15_000 + 180_000,
  );
});
