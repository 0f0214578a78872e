// What a request leaves behind for people and tools: Events, metrics, health endpoints, TTL, and
// conditions that `kubectl wait` understands.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { Group, Plural, Version } from '../../src/api/types.js';
import { isNotFound } from '../../src/kube/errors.js';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import {
  createFluxObject,
  createRequest,
  requestEvents,
  waitForPhase,
  startOperatorEnvironment,
  type OperatorEnvironment,
} from '../support/harness.js';
import { repoRoot, testKubeconfigPath, waitFor } from '../support/kube.js';

const run = promisify(execFile);

let env: OperatorEnvironment;

beforeAll(async () => {
  env = await startOperatorEnvironment('observe');
  await createFluxObject(env.kc, 'Kustomization', env.ns, 'app');
  await createFluxObject(env.kc, 'Kustomization', env.ns, 'broken', {
    annotations: { [SimAnnotation.outcome]: 'Failed', [SimAnnotation.message]: 'boom' },
  });
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await env?.stop();
});

async function metricsText(): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${env.operator.operator.port}/metrics`);
  return response.text();
}

describe('Events', () => {
  it('records Requested then Succeeded on a request', async () => {
    await createRequest(env.kc, env.ns, 'evented', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
    await waitForPhase(env.kc, env.ns, 'evented', 'Succeeded');
    const events = await waitFor('two events', async () => {
      const list = await requestEvents(env.kc, env.ns, 'evented');
      return list.length >= 2 ? list : undefined;
    });
    expect(events.map((e) => [e.type, e.reason])).toEqual([
      ['Normal', 'Requested'],
      ['Normal', 'Succeeded'],
    ]);
    expect(events[1]?.message).toContain(`Kustomization ${env.ns}/app`);
    expect(events[0]?.source?.component).toBe('flux-action-operator');
  });

  it('records a Warning Failed event with the reason and Flux message', async () => {
    await createRequest(env.kc, env.ns, 'evented-fail', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'broken' } });
    await waitForPhase(env.kc, env.ns, 'evented-fail', 'Failed');
    const failed = await waitFor('a Failed event', async () =>
      (await requestEvents(env.kc, env.ns, 'evented-fail')).find((e) => e.reason === 'Failed'),
    );
    expect(failed.type).toBe('Warning');
    expect(failed.message).toBe(`ReconciliationFailed: Kustomization ${env.ns}/broken: ReconciliationFailed: boom`);
  });
});

describe('ttlSecondsAfterFinished', () => {
  it('deletes a finished request once its TTL has passed', async () => {
    await createRequest(env.kc, env.ns, 'short-lived', {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'app' },
      ttlSecondsAfterFinished: 1,
    });
    // The request may be gone before a poll sees it Succeeded; its Succeeded Event stays.
    await waitFor('the Succeeded event', async () =>
      (await requestEvents(env.kc, env.ns, 'short-lived')).find((e) => e.reason === 'Succeeded'),
    );
    const custom = env.kc.makeApiClient(k8s.CustomObjectsApi);
    await waitFor(
      'the request to be deleted',
      async () => {
        try {
          await custom.getNamespacedCustomObject({
            group: Group,
            version: Version,
            plural: Plural,
            namespace: env.ns,
            name: 'short-lived',
          });
          return undefined;
        } catch (err) {
          return isNotFound(err) ? true : undefined;
        }
      },
      15_000,
    );
  });

  it('keeps a finished request without a TTL', async () => {
    await createRequest(env.kc, env.ns, 'kept', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
    const done = await waitForPhase(env.kc, env.ns, 'kept', 'Succeeded');
    expect(done.metadata.deletionTimestamp).toBeUndefined();
  });
});

describe('kubectl wait', () => {
  it('returns once a request is Ready', async () => {
    const kubectl = path.join(repoRoot, 'test', 'cluster', 'cluster.sh');
    await createRequest(env.kc, env.ns, 'waited', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } });
    const { stdout } = await run(
      'bash',
      [kubectl, 'kubectl', 'wait', '--for=condition=Ready', `far/waited`, '-n', env.ns, '--timeout=30s'],
      {
        env: { ...process.env, KUBECONFIG: testKubeconfigPath() },
      },
    );
    expect(stdout.trim()).toBe('fluxactionrequest.fluxaction.io/waited condition met');
  });
});

describe('metrics and health', () => {
  it('counts finished requests by action, kind and result', async () => {
    const text = await metricsText();
    expect(text).toMatch(/fluxact_requests_total\{action="Reconcile",kind="Kustomization",result="Succeeded"\} [1-9]/);
    expect(text).toMatch(/fluxact_requests_total\{action="Reconcile",kind="Kustomization",result="ReconciliationFailed"\} [1-9]/);
    expect(text).toMatch(/fluxact_request_duration_seconds_count\{action="Reconcile",kind="Kustomization",result="Succeeded"\} [1-9]/);
    expect(text).toContain('fluxact_workqueue_depth');
  });

  it('answers /healthz and /readyz', async () => {
    expect((await fetch(`http://127.0.0.1:${env.operator.operator.port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${env.operator.operator.port}/readyz`)).status).toBe(200);
  });
});
