// Scenario b: kube-apiserver, then etcd, SIGKILLed and started again in the middle of a burst of mixed
// requests, with the operator (a process) running throughout. Its watches and writes fail while the
// component is away; when it is back, every request must end, once, with exactly the tokens recorded.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { repoRoot } from '../support/kube.js';
import { startChaosOperator, stopOperator, type ChaosOperator } from './support/operator.js';
import { invariantFigures, printFigures, sizes } from './support/sizes.js';
import { ChaosWorld, clean } from './support/world.js';

let world: ChaosWorld | undefined;
let operator: ChaosOperator | undefined;

afterAll(async () => {
  if (operator) await stopOperator(operator);
  await world?.stop();
});

/** `cluster.sh restart <component> --kill`; resolves with how long it took (the component answers again), ms. */
function restart(component: 'etcd' | 'kube-apiserver'): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.join(repoRoot, 'test', 'cluster', 'cluster.sh'), 'restart', component, '--kill'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // cluster.sh bounds its own waits (the component's start: 60 s).
    child.once('exit', (code) => {
      if (code === 0) resolve(performance.now() - started);
      else reject(new Error(`cluster.sh restart ${component} exited ${code}: ${stderr}`));
    });
  });
}

// The local control plane only: another cluster (KUBECONFIG) is not ours to kill.
const local = !process.env.KUBECONFIG;

describe('the control plane restarted mid-burst', () => {
  (local ? it : it.skip)(
    `loses and doubles no action when kube-apiserver and etcd are killed and restarted (${sizes.restarts} each)`,
    async () => {
      world = await ChaosWorld.create('chaos-cp', { kustomizations: 8, helmReleases: 4, toggles: 3 });
      const started = performance.now();
      operator = await startChaosOperator({ watchNamespace: world.ns, label: 'cp' });
      const downtime: Record<string, number[]> = { 'kube-apiserver': [], etcd: [] };
      for (let i = 0; i < sizes.restarts; i++) {
        for (const component of ['kube-apiserver', 'etcd'] as const) {
          // The burst is under way (creates in flight, reconciles running) when the component dies;
          // creates that fail while it is away are sent again.
          const burst = world.createMixed(sizes.requestsPerRound * 2);
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 300));
          downtime[component]!.push(await restart(component));
          await burst;
        }
      }
      const report = await world.check(180_000);
      const operatorExited = operator.done();
      await stopOperator(operator);
      operator = undefined;
      printFigures('b-control-plane-restart', {
        restarts: `${sizes.restarts} x kube-apiserver, ${sizes.restarts} x etcd (SIGKILL, then started again)`,
        ...invariantFigures(report),
        'kill to ready again': Object.entries(downtime)
          .map(([k, v]) => `${k} ${v.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')}`)
          .join('; '),
        'creates retried while away': world.createRetries,
        'operator kept running': !operatorExited,
        'wall time': `${((performance.now() - started) / 1000).toFixed(1)} s`,
      });
      expect(report.violations).toEqual([]);
      expect(clean(report)).toBe(true);
      expect(operatorExited).toBe(false);
    },
    sizes.restarts * 200_000 + 240_000,
  );
});
