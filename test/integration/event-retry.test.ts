// A request's Events survive an API server that drops calls: the recorder talks through a proxy that
// refuses Event creates with 503, or carries one out and loses its answer. The Event is created
// after the retries (the waits on an injected clock), and exactly once.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { ApiVersion, Kind, type FluxActionRequest } from '../../src/api/types.js';
import { refusalCheck } from '../../src/kube/refusal.js';
import { EventAttempts, EventRecorder, EventRetryMs, OutcomeLookupBatch } from '../../src/operator/events.js';
import { FakeClock } from '../unit/runtime/fake-clock.js';
import { FaultProxy, LoseAnswer, type Fault } from '../support/fault-proxy.js';
import { ensureInstalled, OperatorNamespace, OperatorServiceAccount, serviceAccountToken } from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, tokenKubeConfig, waitFor } from '../support/kube.js';

let admin: k8s.KubeConfig;
let ns: string;
let proxy: FaultProxy;
let recorder: EventRecorder;
const clock = new FakeClock();
/** How the next Event creates fail, in order; then they pass. */
let faults: (true | Fault | typeof LoseAnswer)[] = [];
/** Whether /readyz answers 500 (an API server whose RBAC has not loaded yet). */
let notReady = false;
let tries = 0;
/** How the next Event lists fail, in order; then they pass. */
let listFaults: true[] = [];
/** Event lists through the proxy. */
let lists = 0;
/** The recorder's 'could not record event' log lines. */
const warnings: string[] = [];

const request = (name: string): FluxActionRequest => ({
  apiVersion: ApiVersion,
  kind: Kind,
  metadata: { name, namespace: ns },
  spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } },
});

async function eventsOf(name: string): Promise<k8s.CoreV1Event[]> {
  const list = await admin
    .makeApiClient(k8s.CoreV1Api)
    .listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${name},involvedObject.kind=${Kind}` });
  return list.items;
}

/** Records an Event while the proxy fails the first creates, moving the clock over each retry's wait. */
async function recordThroughFaults(name: string): Promise<void> {
  // A wait follows each failed try but the last.
  const retries = Math.min(faults.length, EventAttempts - 1);
  const done = recorder.record(request(name), 'Normal', 'Succeeded', `${name} succeeded`);
  for (let retry = 1; retry <= retries; retry += 1) {
    await waitFor(`try ${retry} to fail and the next to be set`, () => (clock.pendingTimers() > 0 ? true : undefined));
    clock.advance(clock.nextTimerIn()!);
  }
  await done;
}

beforeAll(async () => {
  admin = adminKubeConfig();
  await ensureInstalled();
  ns = await createNamespace(admin, 'event-retry');
  proxy = new FaultProxy({
    admin,
    fail: ({ method, path }) => {
      if (path.startsWith('/readyz')) return notReady ? { code: 500, reason: 'InternalError', message: 'readyz check failed' } : false;
      if (!path.includes('/events')) return false;
      // Event lists fail as listFaults says, creates as faults says.
      if (method === 'GET') {
        lists += 1;
        return listFaults.shift() ?? false;
      }
      if (method !== 'POST') return false;
      tries += 1;
      return faults.shift() ?? false;
    },
  });
  const server = await proxy.start();
  const token = await serviceAccountToken(admin, OperatorNamespace, OperatorServiceAccount);
  const kc = tokenKubeConfig(admin, token, `system:serviceaccount:${OperatorNamespace}:${OperatorServiceAccount}`, server);
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      warnings.push(
        ...chunk
          .toString()
          .split('\n')
          .filter((l) => l.includes('could not record event') || l.includes('could not look for the outcome event')),
      );
      callback();
    },
  });
  recorder = new EventRecorder(kc, 'test', clock, pino({ level: 'warn' }, sink), refusalCheck(kc));
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed
  await proxy?.stop();
  await deleteNamespace(admin, ns);
});

describe('recording an Event', () => {
  it('tries again after 503s, waiting longer each time, and creates it', async () => {
    faults = [true, true];
    tries = 0;
    const start = clock.now();
    await recordThroughFaults('after-503s');
    expect(tries).toBe(3);
    expect(clock.now() - start).toBe(EventRetryMs + 2 * EventRetryMs);
    expect((await eventsOf('after-503s')).map((e) => e.reason)).toEqual(['Succeeded']);
  });

  it('creates it once when the answer to a create that was carried out is lost', async () => {
    faults = [LoseAnswer];
    tries = 0;
    await recordThroughFaults('answer-lost');
    expect(tries).toBe(2);
    // The second try's AlreadyExists is the first one's success, not a failure.
    expect(await eventsOf('answer-lost')).toHaveLength(1);
    expect(warnings).toEqual([]);
  });

  it('tries again after a 403 from an API server that is not ready, and gives up on one that is', async () => {
    const refusal: Fault = {
      code: 403,
      reason: 'Forbidden',
      message: 'events is forbidden: User "system:serviceaccount:fluxact-system:fluxact-operator" cannot create resource "events"',
    };
    notReady = true;
    faults = [refusal, refusal];
    tries = 0;
    warnings.length = 0;
    await recordThroughFaults('forbidden-not-ready');
    expect(tries).toBe(3);
    expect((await eventsOf('forbidden-not-ready')).map((e) => e.reason)).toEqual(['Succeeded']);
    notReady = false;
    faults = [refusal];
    tries = 0;
    // No retry, so no wait to move the clock over.
    await recorder.record(request('forbidden-ready'), 'Normal', 'Succeeded', 'forbidden-ready succeeded');
    expect(tries).toBe(1);
    expect(await eventsOf('forbidden-ready')).toHaveLength(0);
    expect(warnings).toHaveLength(1);
    faults = [];
  });

  it(`gives up after ${EventAttempts} tries`, async () => {
    faults = Array.from({ length: EventAttempts }, () => true as const);
    tries = 0;
    warnings.length = 0;
    const start = clock.now();
    await recordThroughFaults('given-up');
    expect(tries).toBe(EventAttempts);
    // The waits double up to 8 s: long enough to outlast a kube-apiserver's restart.
    expect(clock.now() - start).toBe(500 + 1000 + 2000 + 4000 + 8000 + 8000 + 8000);
    expect(await eventsOf('given-up')).toHaveLength(0);
    expect(warnings).toHaveLength(1);
  });
});

describe('recording a recovered outcome Event', () => {
  /** recordOutcome for a finished request, moving the clock over each retry's wait. */
  async function recordOutcomeThroughFaults(name: string, retries: number): Promise<void> {
    const finished = { ...request(name), metadata: { ...request(name).metadata, uid: `uid-${name}` } };
    const done = recorder.recordOutcome(finished, 'Normal', 'Succeeded', `${name} succeeded`);
    for (let retry = 1; retry <= retries; retry += 1) {
      await waitFor(`look ${retry} to fail and the next to be set`, () => (clock.pendingTimers() > 0 ? true : undefined));
      clock.advance(clock.nextTimerIn()!);
    }
    await done;
  }

  it('looks again after 503s on the list of its Events, then records it once', async () => {
    listFaults = [true, true];
    warnings.length = 0;
    await recordOutcomeThroughFaults('outcome-after-503s', 2);
    expect(listFaults).toEqual([]);
    expect((await eventsOf('outcome-after-503s')).map((e) => e.reason)).toEqual(['Succeeded']);
    expect(warnings).toEqual([]);
  });

  it(`records nothing when the list fails ${EventAttempts} times`, async () => {
    listFaults = Array.from({ length: EventAttempts }, () => true as const);
    warnings.length = 0;
    await recordOutcomeThroughFaults('outcome-not-listed', EventAttempts - 1);
    expect(await eventsOf('outcome-not-listed')).toHaveLength(0);
    expect(warnings).toHaveLength(1);
  });

  it('looks for many at once with one list of the namespace, records the missing ones and doubles none', async () => {
    const finished = (name: string): FluxActionRequest => ({
      ...request(name),
      metadata: { ...request(name).metadata, uid: `uid-${name}` },
    });
    const names = Array.from({ length: 3 * OutcomeLookupBatch }, (_, i) => `batch-${i}`);
    // Every third already has its outcome Event.
    const recorded = names.filter((_, i) => i % 3 === 0);
    for (const name of recorded) await recorder.record(finished(name), 'Normal', 'Succeeded', `${name} succeeded`);
    lists = 0;
    warnings.length = 0;
    // As an operator that starts finds them: all at once, the lookup under way when most arrive.
    await Promise.all(names.map((name) => recorder.recordOutcome(finished(name), 'Normal', 'Succeeded', `${name} succeeded`)));
    // One list of the namespace's request Events for them all, not one per request.
    expect(lists).toBe(1);
    for (const name of names)
      expect({ name, events: (await eventsOf(name)).map((e) => e.reason) }).toEqual({ name, events: ['Succeeded'] });
    expect(warnings).toEqual([]);
  });

  it('records an outcome queued twice in one lookup once', async () => {
    const name = 'queued-twice';
    const finished: FluxActionRequest = { ...request(name), metadata: { ...request(name).metadata, uid: `uid-${name}` } };
    warnings.length = 0;
    await Promise.all([
      recorder.recordOutcome(finished, 'Normal', 'Succeeded', `${name} succeeded`),
      recorder.recordOutcome(finished, 'Normal', 'Succeeded', `${name} succeeded`),
    ]);
    expect((await eventsOf(name)).map((e) => e.reason)).toEqual(['Succeeded']);
    expect(warnings).toEqual([]);
  });
});
