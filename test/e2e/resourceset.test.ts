// A ResourceSet run by the real flux-operator: a reconcile that restores what was deleted, and
// suspend / refused reconcile / resume through the fluxcd.controlplane.io/reconcile annotation.
// Each through a request applied with kubectl and through the MCP tools.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { FailureReason } from '../../src/api/conditions.js';
import {
  act,
  apply,
  bothWays,
  condition,
  configMapData,
  type E2eEnvironment,
  fluxObject,
  startE2eEnvironment,
  waitForFlux,
} from '../support/e2e.js';
import { getFluxObject, patchFluxObject } from '../support/harness.js';
import { waitFor } from '../support/kube.js';

describe.each(bothWays)('ResourceSet via %s', (via) => {
  let env: E2eEnvironment;
  let core: k8s.CoreV1Api;

  beforeAll(async () => {
    env = await startE2eEnvironment(`e2e-rs-${via}`);
    core = env.kc.makeApiClient(k8s.CoreV1Api);
    await apply(
      env.kc,
      fluxObject('ResourceSet', env.ns, 'tenants', {
        inputs: [{ tenant: 'a' }, { tenant: 'b' }],
        resources: [
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'tenant-<< inputs.tenant >>', namespace: env.ns },
            data: { tenant: '<< inputs.tenant >>' },
          },
        ],
      }),
    );
    await waitForFlux(env.kc, 'ResourceSet', env.ns, 'tenants');
    expect(await configMapData(env.kc, env.ns, 'tenant-a')).toEqual({ tenant: 'a' });
  });

  afterAll(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
    await env?.stop();
  });

  it('reconciles: flux-operator handles the token and restores a deleted resource', async () => {
    await core.deleteNamespacedConfigMap({ namespace: env.ns, name: 'tenant-a' });
    const outcome = await act(env, via, { action: 'Reconcile', target: { kind: 'ResourceSet', name: 'tenants' } }, { expect: 'Succeeded' });
    expect(outcome).toMatchObject({ phase: 'Succeeded', reason: 'Succeeded' });
    const rs = await getFluxObject(env.kc, 'ResourceSet', env.ns, 'tenants');
    expect(rs.status?.lastHandledReconcileAt).toBe(outcome.token);
    expect(await configMapData(env.kc, env.ns, 'tenant-a')).toEqual({ tenant: 'a' });
  });

  it('suspends with the annotation, refuses a reconcile, then resumes: reconciled and Ready', async () => {
    const suspended = await act(env, via, { action: 'Suspend', target: { kind: 'ResourceSet', name: 'tenants' } }, { expect: 'Succeeded' });
    expect(suspended.phase).toBe('Succeeded');
    let rs = await getFluxObject(env.kc, 'ResourceSet', env.ns, 'tenants');
    expect(rs.metadata.annotations?.['fluxcd.controlplane.io/reconcile']).toBe('disabled');

    const refused = await act(env, via, { action: 'Reconcile', target: { kind: 'ResourceSet', name: 'tenants' } }, { expect: 'Failed' });
    expect(refused).toMatchObject({ phase: 'Failed', reason: FailureReason.TargetSuspended });

    await core.deleteNamespacedConfigMap({ namespace: env.ns, name: 'tenant-b' });
    const resumed = await act(env, via, { action: 'Resume', target: { kind: 'ResourceSet', name: 'tenants' } }, { expect: 'Succeeded' });
    expect(resumed).toMatchObject({ phase: 'Succeeded', reason: 'Succeeded' });
    rs = await getFluxObject(env.kc, 'ResourceSet', env.ns, 'tenants');
    expect(rs.metadata.annotations?.['fluxcd.controlplane.io/reconcile']).toBe('enabled');
    expect(rs.status?.lastHandledReconcileAt).toBe(resumed.token);
    expect(condition(rs, 'Ready')?.status).toBe('True');
    // The resumed reconcile put back what was deleted while suspended.
    expect(await configMapData(env.kc, env.ns, 'tenant-b')).toEqual({ tenant: 'b' });
  });
});

describe("A ResourceSet disabled by hand with 'Disabled' (flux-operator reads the value in any case)", () => {
  let env: E2eEnvironment;

  beforeAll(async () => {
    env = await startE2eEnvironment('e2e-rs-case');
    await apply(
      env.kc,
      fluxObject('ResourceSet', env.ns, 'manual', {
        inputs: [{ tenant: 'c' }],
        resources: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'tenant-<< inputs.tenant >>', namespace: env.ns } }],
      }),
    );
    await waitForFlux(env.kc, 'ResourceSet', env.ns, 'manual');
  });

  afterAll(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
    await env?.stop();
  });

  it('flux-operator ignores it, and a reconcile is refused as suspended instead of waiting for Flux', async () => {
    await patchFluxObject(env.kc, 'ResourceSet', env.ns, 'manual', {
      metadata: { annotations: { 'fluxcd.controlplane.io/reconcile': 'Disabled' } },
      spec: { inputs: [{ tenant: 'd' }] },
    });
    // flux-operator says so on the object when the new generation wakes it: reconciliation disabled.
    const core = env.kc.makeApiClient(k8s.CoreV1Api);
    await waitFor('flux-operator to report the ResourceSet disabled', async () => {
      const events = await core.listNamespacedEvent({
        namespace: env.ns,
        fieldSelector: 'involvedObject.kind=ResourceSet,involvedObject.name=manual,reason=ReconciliationDisabled',
      });
      return events.items.length > 0 ? true : undefined;
    });
    const rs = await getFluxObject(env.kc, 'ResourceSet', env.ns, 'manual');
    expect(condition(rs, 'Ready')?.observedGeneration).toBeLessThan(rs.metadata.generation!);

    const refused = await act(
      env,
      'kubectl',
      { action: 'Reconcile', target: { kind: 'ResourceSet', name: 'manual' } },
      { expect: 'Failed', timeoutSeconds: 30 },
    );
    expect(refused).toMatchObject({ phase: 'Failed', reason: FailureReason.TargetSuspended });
    const after = await getFluxObject(env.kc, 'ResourceSet', env.ns, 'manual');
    expect(after.metadata.annotations?.['reconcile.fluxcd.io/requestedAt']).toBeUndefined();
  });
});
