// A restart never loses a request and never makes Flux act twice: the token is recorded in the
// request's status before the target is touched, and a new operator re-uses it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import type { FluxSimulator } from '../simulator/flux-simulator.js';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import {
  createFluxObject,
  createRequest,
  getFluxObject,
  getRequest,
  patchFluxObject,
  spawnOperator,
  startOperator,
  startSimulator,
  testApiVersion,
  waitForFluxObject,
  waitForPhase,
  writeRequestStatus,
} from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, waitFor } from '../support/kube.js';

let kc: k8s.KubeConfig;
let ns: string;
let simulator: FluxSimulator;

beforeAll(async () => {
  kc = adminKubeConfig();
  ns = await createNamespace(kc, 'restart');
  simulator = await startSimulator({ namespaces: [ns] });
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await simulator?.stop();
  await deleteNamespace(kc, ns);
});

describe('operator restarts', () => {
  it('after the token was recorded but before the patch: the next operator writes that same token, once', async () => {
    await createFluxObject(kc, 'Kustomization', ns, 'half-done');
    await createRequest(kc, ns, 'recorded-only', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'half-done' } });
    // The state an operator killed right after recording its token leaves behind.
    const token = '2026-11-25T10:00:00.000000001Z';
    await writeRequestStatus(kc, ns, 'recorded-only', {
      phase: 'Running',
      startTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      token,
      target: { apiVersion: testApiVersion('Kustomization'), kind: 'Kustomization', name: 'half-done', namespace: ns, token },
    });
    expect(
      (await getFluxObject(kc, 'Kustomization', ns, 'half-done')).metadata.annotations?.['reconcile.fluxcd.io/requestedAt'],
    ).toBeUndefined();

    const operator = await startOperator({ watchNamespace: ns });
    try {
      const done = await waitForPhase(kc, ns, 'recorded-only', 'Succeeded');
      expect(done.status?.token).toBe(token);
      expect(simulator.record('Kustomization', ns, 'half-done').requestedAt).toEqual([token]);
    } finally {
      await operator.stop();
    }
  });

  it('mid-chain: the next operator resumes at the step it was on, re-patching no step already done', async () => {
    for (const [name, dependsOn] of [
      ['chain-infra', []],
      ['chain-database', [{ name: 'chain-infra' }]],
      ['chain-app', [{ name: 'chain-database' }]],
    ] as const)
      await createFluxObject(kc, 'Kustomization', ns, name, { spec: { dependsOn } });
    await createRequest(kc, ns, 'chain-resumed', {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'chain-app' },
      withDependencies: true,
    });
    // An operator killed right after recording database's token: infra done, database recorded, not written.
    const [done, recorded] = ['2026-11-25T10:00:00.000000001Z', '2026-11-25T10:00:01.000000001Z'];
    const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const step = (name: string, role: string, phase: string, token?: string): Record<string, unknown> => ({
      apiVersion: testApiVersion('Kustomization'),
      kind: 'Kustomization',
      name,
      namespace: ns,
      role,
      phase,
      ...(token ? { token, startTime: at } : {}),
      ...(phase === 'Succeeded' ? { completionTime: at } : {}),
    });
    await writeRequestStatus(kc, ns, 'chain-resumed', {
      phase: 'Running',
      startTime: at,
      steps: [
        step('chain-infra', 'Dependency', 'Succeeded', done),
        step('chain-database', 'Dependency', 'Running', recorded),
        step('chain-app', 'Target', 'Pending'),
      ],
    });

    const operator = await startOperator({ watchNamespace: ns });
    try {
      const finished = await waitForPhase(kc, ns, 'chain-resumed', 'Succeeded');
      expect(simulator.record('Kustomization', ns, 'chain-infra').requestedAt).toEqual([]);
      expect(simulator.record('Kustomization', ns, 'chain-database').requestedAt).toEqual([recorded]);
      expect(simulator.record('Kustomization', ns, 'chain-app').requestedAt).toEqual([finished.status?.token]);
      expect(finished.status?.steps?.map((s) => s.token)).toEqual([done, recorded, finished.status?.token]);
    } finally {
      await operator.stop();
    }
  });

  it('killed (SIGKILL) after the patch: the next operator follows the same token to the outcome', async () => {
    await createFluxObject(kc, 'Kustomization', ns, 'patched', { annotations: { [SimAnnotation.outcome]: 'Ignore' } });
    const first = await spawnOperator(['--watch-namespace', ns]);
    await createRequest(kc, ns, 'patched-then-killed', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'patched' } });
    const target = await waitForFluxObject(
      kc,
      'Kustomization',
      ns,
      'patched',
      'to carry a token',
      (o) => !!o.metadata.annotations?.['reconcile.fluxcd.io/requestedAt'],
    );
    const token = target.metadata.annotations!['reconcile.fluxcd.io/requestedAt'];
    first.kill('SIGKILL');
    expect(await first.exited).toBeNull();
    expect((await getRequest(kc, ns, 'patched-then-killed')).status).toMatchObject({ phase: 'Running', token });

    const second = await spawnOperator(['--watch-namespace', ns]);
    try {
      // Flux handles the request only now, while the second operator follows it.
      await patchFluxObject(kc, 'Kustomization', ns, 'patched', { metadata: { annotations: { [SimAnnotation.outcome]: null } } });
      const done = await waitForPhase(kc, ns, 'patched-then-killed', 'Succeeded');
      expect(done.status?.token).toBe(token);
      expect(simulator.record('Kustomization', ns, 'patched').requestedAt).toEqual([token]);
      expect(simulator.record('Kustomization', ns, 'patched').reconciles).toBe(1);
    } finally {
      second.kill('SIGTERM');
      await second.exited;
    }
  });

  it('carries out requests created while no operator ran', async () => {
    await createFluxObject(kc, 'Kustomization', ns, 'backlog');
    for (let i = 0; i < 10; i++)
      await createRequest(kc, ns, `backlog-${i}`, { action: 'Reconcile', target: { kind: 'Kustomization', name: 'backlog' } });
    const operator = await startOperator({ watchNamespace: ns });
    try {
      for (let i = 0; i < 10; i++) await waitForPhase(kc, ns, `backlog-${i}`, 'Succeeded');
    } finally {
      await operator.stop();
    }
  });

  it('stops gracefully on SIGTERM and exits 0', async () => {
    const operator = await spawnOperator(['--watch-namespace', ns]);
    operator.kill('SIGTERM');
    expect(await operator.exited).toBe(0);
    await waitFor('the shutdown to be logged', () => (operator.log().includes('operator stopped') ? true : undefined));
  });
});
