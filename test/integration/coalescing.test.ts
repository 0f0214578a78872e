// A burst of requests for one target makes Flux reconcile once or twice, and every request gets
// the outcome of a reconcile that started after it was made.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import {
  createFluxObject,
  createRequest,
  getRequest,
  waitForPhase,
  startOperatorEnvironment,
  type OperatorEnvironment,
} from '../support/harness.js';

let env: OperatorEnvironment;

beforeAll(async () => {
  env = await startOperatorEnvironment('burst');
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await env?.stop();
});

describe('coalescing', () => {
  it('100 concurrent reconcile requests for one Kustomization all succeed with a handful of tokens written', async () => {
    // A reconcile takes a while, as Flux's does, so requests pile up while one is in flight.
    await createFluxObject(env.kc, 'Kustomization', env.ns, 'busy', { annotations: { [SimAnnotation.delayMs]: '300' } });
    const names = Array.from({ length: 100 }, (_, i) => `burst-${i}`);
    await Promise.all(
      names.map((name) => createRequest(env.kc, env.ns, name, { action: 'Reconcile', target: { kind: 'Kustomization', name: 'busy' } })),
    );
    const done = [];
    for (const name of names) done.push(await waitForPhase(env.kc, env.ns, name, 'Succeeded', 60_000));

    const written = env.simulator.record('Kustomization', env.ns, 'busy').requestedAt;
    expect(written.length).toBeGreaterThanOrEqual(1);
    expect(written.length).toBeLessThanOrEqual(5);
    // Every request shares one of the written tokens, and was handled by a reconcile of it.
    for (const request of done) expect(written).toContain(request.status?.token);
    expect(env.simulator.record('Kustomization', env.ns, 'busy').reconciles).toBeLessThanOrEqual(written.length + 1);
  }, 120_000);

  it('does not share a token across requests with different options (force)', async () => {
    await createFluxObject(env.kc, 'HelmRelease', env.ns, 'mixed', { annotations: { [SimAnnotation.delayMs]: '200' } });
    await Promise.all([
      createRequest(env.kc, env.ns, 'plain-1', { action: 'Reconcile', target: { kind: 'HelmRelease', name: 'mixed' } }),
      createRequest(env.kc, env.ns, 'forced-1', { action: 'Reconcile', target: { kind: 'HelmRelease', name: 'mixed' }, force: true }),
      createRequest(env.kc, env.ns, 'plain-2', { action: 'Reconcile', target: { kind: 'HelmRelease', name: 'mixed' } }),
    ]);
    for (const name of ['plain-1', 'forced-1', 'plain-2']) await waitForPhase(env.kc, env.ns, name, 'Succeeded');
    const forced = await getRequest(env.kc, env.ns, 'forced-1');
    const plain = [await getRequest(env.kc, env.ns, 'plain-1'), await getRequest(env.kc, env.ns, 'plain-2')];
    for (const p of plain) expect(p.status?.token).not.toBe(forced.status?.token);
  });
});
