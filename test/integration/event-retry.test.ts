// A request's Events survive an API server that drops calls: the recorder talks through a proxy that
// refuses Event creates with 503, or carries one out and loses its answer. The Event is created
// after the retries (the waits on an injected clock), and exactly once.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { ApiVersion, Kind, type FluxActionRequest } from '../../src/api/types.js';
import { EventAttempts, EventRecorder, EventRetryMs } from '../../src/operator/events.js';
import { FakeClock } from '../unit/runtime/fake-clock.js';
import { FaultProxy, LoseAnswer } from '../support/fault-proxy.js';
import { ensureInstalled, OperatorNamespace, OperatorServiceAccount, serviceAccountToken } from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, tokenKubeConfig, waitFor } from '../support/kube.js';

let admin: k8s.KubeConfig;
let ns: string;
let proxy: FaultProxy;
let recorder: EventRecorder;
const clock = new FakeClock();
/** How the next Event creates fail, in order; then they pass. */
let faults: (true | typeof LoseAnswer)[] = [];
let tries = 0;
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
      if (method !== 'POST' || !path.endsWith('/events')) return false;
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
          .filter((l) => l.includes('could not record event')),
      );
      callback();
    },
  });
  recorder = new EventRecorder(kc, 'test', clock, pino({ level: 'warn' }, sink));
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

  it(`gives up after ${EventAttempts} tries`, async () => {
    faults = Array.from({ length: EventAttempts }, () => true as const);
    tries = 0;
    await recordThroughFaults('given-up');
    expect(tries).toBe(EventAttempts);
    expect(await eventsOf('given-up')).toHaveLength(0);
    expect(warnings).toHaveLength(1);
  });
});
