// Scenario d: the operator talks to the API server through a proxy that adds latency to every chunk
// and cuts its long-lived connections (its watches among them) every few seconds. Slow or cut, no
// action may be lost or doubled.
import { afterAll, describe, expect, it } from '@jest/globals';
import { LatencyProxy } from './support/latency-proxy.js';
import { startChaosOperator, stopOperator, type ChaosOperator } from './support/operator.js';
import { invariantFigures, printFigures, sizes } from './support/sizes.js';
import { ChaosWorld, clean } from './support/world.js';

let world: ChaosWorld | undefined;
let operator: ChaosOperator | undefined;
let proxy: LatencyProxy | undefined;

afterAll(async () => {
  if (operator) await stopOperator(operator);
  await proxy?.stop();
  await world?.stop();
});

// Skipped when sized 0 (CHAOS_PROXY_REQUESTS=0).
(sizes.proxyRequests > 0 ? describe : describe.skip)('a slow API server that drops watches', () => {
  it(
    `loses and doubles no action over ${sizes.proxyRequests} requests through the proxy`,
    async () => {
      world = await ChaosWorld.create('chaos-slow', { kustomizations: 8, helmReleases: 4, toggles: 3 });
      const server = new URL(world.kc.getCurrentCluster()!.server);
      const settings = { latencyMs: 100, jitterMs: 100, dropEveryMs: 3000, dropOlderThanMs: 2000 };
      proxy = new LatencyProxy({ targetHost: server.hostname, targetPort: Number(server.port), ...settings });
      const port = await proxy.start();
      const started = performance.now();
      operator = await startChaosOperator({ watchNamespace: world.ns, server: `https://127.0.0.1:${port}`, label: 'slow' });
      // The requests arrive in rounds, so they meet the operator while its connections are being cut.
      for (let sent = 0; sent < sizes.proxyRequests; sent += sizes.requestsPerRound) {
        await world.createMixed(Math.min(sizes.requestsPerRound, sizes.proxyRequests - sent));
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 1000));
      }
      const report = await world.check(sizes.proxyRequests * 2_000 + 120_000);
      const operatorExited = operator.done();
      await stopOperator(operator);
      operator = undefined;
      printFigures('d-slow-apiserver', {
        proxy: `${settings.latencyMs}-${settings.latencyMs + settings.jitterMs} ms per chunk each way; connections open over ${settings.dropOlderThanMs} ms cut every ${settings.dropEveryMs} ms`,
        'proxy connections': `${proxy.figures.connections} opened, ${proxy.figures.dropped} cut`,
        ...invariantFigures(report),
        'operator kept running': !operatorExited,
        'wall time': `${((performance.now() - started) / 1000).toFixed(1)} s`,
      });
      expect(report.violations).toEqual([]);
      expect(clean(report)).toBe(true);
      expect(proxy.figures.dropped).toBeGreaterThan(0);
    },
    sizes.proxyRequests * 4_000 + 240_000,
  );
});
