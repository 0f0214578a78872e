// The poster against a real HTTP server on loopback, with time on a FakeClock: timeouts and
// backoff move only when the test advances the clock.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import {
  DefaultBackoffMaxMs,
  DefaultPostTimeoutMs,
  DefaultRetries,
  FailureLogIntervalMs,
  FluxEventPoster,
} from '../../../src/audit/event-poster.js';
import type { FluxEvent } from '../../../src/audit/flux-events.js';
import { createMetrics, type OperatorMetrics } from '../../../src/runtime/metrics.js';
import { FakeClock, until } from '../runtime/fake-clock.js';

/** What the receiver does with the next POST: answer with a status (and headers), or never answer. */
type Reply = { status: number; headers?: Record<string, string> } | 'hang';

interface Receiver {
  url: string;
  /** Bodies received, parsed. */
  received: FluxEvent[];
  /** Requests received (answered or not). */
  requests(): number;
  /** Replies for the next requests, in order; afterwards 202. */
  replies: Reply[];
  close(): Promise<void>;
}

const servers: Server[] = [];

async function startReceiver(): Promise<Receiver> {
  const received: FluxEvent[] = [];
  const replies: Reply[] = [];
  let count = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      count++;
      expect(req.method).toBe('POST');
      expect(req.headers['content-type']).toBe('application/json');
      received.push(JSON.parse(body) as FluxEvent);
      const reply = replies.shift() ?? { status: 202 };
      if (reply === 'hang') return;
      res.writeHead(reply.status, reply.headers ?? {});
      res.end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    received,
    requests: () => count,
    replies,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  }
});

function event(name: string): FluxEvent {
  return {
    involvedObject: { kind: 'Kustomization', namespace: 'apps', name, apiVersion: 'kustomize.toolkit.fluxcd.io/v1' },
    severity: 'info',
    timestamp: '2026-11-25T11:00:05Z',
    message: `Kustomization apps/${name}: applied revision main@sha1:1`,
    reason: 'Succeeded',
    metadata: { 'kustomize.toolkit.fluxcd.io/action': 'Reconcile' },
    reportingController: 'flux-action-operator',
    reportingInstance: 'op-1',
  };
}

interface Setup {
  clock: FakeClock;
  metrics: OperatorMetrics;
  poster: FluxEventPoster;
  logs: Array<{ msg: string; notLoggedSinceLast?: number }>;
}

function setup(url: string, options: { queueSize?: number } = {}): Setup {
  const clock = new FakeClock();
  const metrics = createMetrics({ defaultMetrics: false });
  const logs: Setup['logs'] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk
        .toString()
        .split('\n')
        .filter((l) => l))
        logs.push(JSON.parse(line) as { msg: string; notLoggedSinceLast?: number });
      done();
    },
  });
  const poster = new FluxEventPoster({ url, clock, log: pino({ level: 'warn' }, sink), metrics, ...options });
  return { clock, metrics, poster, logs };
}

async function counted(metrics: OperatorMetrics, result: string): Promise<number> {
  return (await metrics.auditEvents.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
}

async function dropped(metrics: OperatorMetrics): Promise<number> {
  return (await metrics.auditEventsDropped.get()).values[0]?.value ?? 0;
}

/** Like until(), for a condition that must be awaited (a metric's value). */
async function eventually(what: string, condition: () => Promise<boolean>, maxRounds = 2000): Promise<void> {
  for (let i = 0; i < maxRounds; i++) {
    if (await condition()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`condition never held: ${what}`);
}

/**
 * Waits until the poster sleeps in a backoff: its one timer is no longer the attempt's 5 s timeout
 * (no backoff in these tests is 5 s). Returns the backoff.
 */
async function backoff(clock: FakeClock, what: string): Promise<number> {
  await until(what, () => clock.pendingTimers() === 1 && clock.nextTimerIn() !== DefaultPostTimeoutMs);
  return clock.nextTimerIn() ?? 0;
}

describe('FluxEventPoster', () => {
  it('POSTs the event as JSON and counts it accepted', async () => {
    const receiver = await startReceiver();
    const { poster, metrics } = setup(receiver.url);
    poster.post(event('app'));
    await eventually('the event to be accepted', async () => (await counted(metrics, 'accepted')) === 1);
    await poster.stop();
    expect(receiver.received).toEqual([event('app')]);
  });

  it('returns at once: post() never waits for the receiver', async () => {
    const receiver = await startReceiver();
    receiver.replies.push('hang');
    const { poster } = setup(receiver.url);
    // post() is synchronous: the first event is already with the sender, the second waits behind it.
    poster.post(event('a'));
    poster.post(event('b'));
    expect(poster.pending).toBe(1);
    await poster.stop(0);
  });

  it('sends events one at a time, in order', async () => {
    const receiver = await startReceiver();
    const { poster } = setup(receiver.url);
    for (const name of ['a', 'b', 'c']) poster.post(event(name));
    await until('three events', () => receiver.received.length === 3);
    expect(receiver.received.map((e) => e.involvedObject.name)).toEqual(['a', 'b', 'c']);
    await poster.stop();
  });

  describe('retries', () => {
    it('retries a 5xx with exponential backoff (1s, 2s, 4s) until it is accepted', async () => {
      const receiver = await startReceiver();
      receiver.replies.push({ status: 500 }, { status: 502 }, { status: 503 });
      const { poster, clock, metrics } = setup(receiver.url);
      poster.post(event('app'));
      const waits: number[] = [];
      for (let i = 1; i <= 3; i++) {
        await until(`attempt ${i}`, () => receiver.requests() === i);
        const wait = await backoff(clock, `backoff ${i}`);
        waits.push(wait);
        clock.advance(wait);
      }
      await eventually('accepted', async () => (await counted(metrics, 'accepted')) === 1);
      expect(receiver.requests()).toBe(4);
      expect(waits).toEqual([1000, 2000, 4000]);
      await poster.stop();
      expect(await counted(metrics, 'failed')).toBe(0);
    });

    it('gives up after 1 + 4 attempts, counts it failed and logs why', async () => {
      const receiver = await startReceiver();
      for (let i = 0; i < 5; i++) receiver.replies.push({ status: 500 });
      const { poster, clock, metrics, logs } = setup(receiver.url);
      poster.post(event('app'));
      const waits: number[] = [];
      for (let i = 1; i <= DefaultRetries; i++) {
        await until(`attempt ${i}`, () => receiver.requests() === i);
        const wait = await backoff(clock, `backoff ${i}`);
        waits.push(wait);
        clock.advance(wait);
      }
      await until('the failure to be counted', () => logs.length === 1);
      expect(receiver.requests()).toBe(5);
      expect(waits).toEqual([1000, 2000, 4000, 8000]);
      expect(await counted(metrics, 'failed')).toBe(1);
      expect(logs[0]?.msg).toBe(`could not post an outcome event: ${receiver.url} answered 500 (after 5 attempts)`);
      await poster.stop();
    });

    it('caps the backoff at 30s and honours a 503 Retry-After within that cap', async () => {
      const receiver = await startReceiver();
      receiver.replies.push({ status: 503, headers: { 'retry-after': '7' } }, { status: 503, headers: { 'retry-after': '3600' } });
      const { poster, clock } = setup(receiver.url);
      poster.post(event('app'));
      await until('attempt 1', () => receiver.requests() === 1);
      expect(await backoff(clock, 'backoff 1')).toBe(7000);
      clock.advance(7000);
      await until('attempt 2', () => receiver.requests() === 2);
      expect(await backoff(clock, 'backoff 2')).toBe(DefaultBackoffMaxMs);
      clock.advance(DefaultBackoffMaxMs);
      await until('attempt 3', () => receiver.requests() === 3);
      await poster.stop();
    });

    it('retries a connection that is refused', async () => {
      const receiver = await startReceiver();
      const url = receiver.url;
      await receiver.close();
      const { poster, clock, metrics, logs } = setup(url);
      poster.post(event('app'));
      const waits: number[] = [];
      for (let i = 1; i <= DefaultRetries; i++) {
        const wait = await backoff(clock, `backoff ${i}`);
        waits.push(wait);
        clock.advance(wait);
      }
      await until('the failure to be logged', () => logs.length === 1);
      expect(await counted(metrics, 'failed')).toBe(1);
      expect(waits).toEqual([1000, 2000, 4000, 8000]);
      expect(logs[0]?.msg).toBe(`could not post an outcome event: could not post to ${url}: ECONNREFUSED (after 5 attempts)`);
      await poster.stop();
    });

    it('does not retry a 429: notification-controller already has the event', async () => {
      const receiver = await startReceiver();
      receiver.replies.push({ status: 429 });
      const { poster, clock, metrics } = setup(receiver.url);
      poster.post(event('app'));
      await eventually('counted duplicate', async () => (await counted(metrics, 'duplicate')) === 1);
      expect(clock.pendingTimers()).toBe(0);
      await poster.stop();
      expect(receiver.requests()).toBe(1);
    });

    it('does not retry another 4xx, counts it rejected and logs the answer', async () => {
      const receiver = await startReceiver();
      receiver.replies.push({ status: 400 });
      const { poster, clock, metrics, logs } = setup(receiver.url);
      poster.post(event('app'));
      await until('the rejection to be logged', () => logs.length === 1);
      expect(clock.pendingTimers()).toBe(0);
      expect(receiver.requests()).toBe(1);
      expect(await counted(metrics, 'rejected')).toBe(1);
      expect(logs[0]?.msg).toBe(`could not post an outcome event: ${receiver.url} answered 400`);
      await poster.stop();
    });
  });

  describe('timeout', () => {
    it('abandons a POST after 5s and retries it', async () => {
      const receiver = await startReceiver();
      receiver.replies.push('hang');
      const { poster, clock, metrics } = setup(receiver.url);
      poster.post(event('app'));
      await until('attempt 1 to arrive', () => receiver.requests() === 1);
      expect(clock.nextTimerIn()).toBe(DefaultPostTimeoutMs);
      clock.advance(DefaultPostTimeoutMs);
      // The timed-out attempt is followed by the first backoff.
      expect(await backoff(clock, 'the backoff after the timeout')).toBe(1000);
      clock.advance(1000);
      await eventually('attempt 2 accepted', async () => (await counted(metrics, 'accepted')) === 1);
      expect(receiver.requests()).toBe(2);
      await poster.stop();
    });

    it('says the receiver did not answer in time when every attempt times out', async () => {
      const receiver = await startReceiver();
      for (let i = 0; i < 5; i++) receiver.replies.push('hang');
      const { poster, clock, logs } = setup(receiver.url);
      poster.post(event('app'));
      for (let i = 1; i <= 5; i++) {
        await until(`attempt ${i}`, () => receiver.requests() === i);
        clock.advance(DefaultPostTimeoutMs);
        if (i < 5) clock.advance(await backoff(clock, `backoff ${i}`));
      }
      await until('the failure to be logged', () => logs.length === 1);
      expect(logs[0]?.msg).toBe(`could not post an outcome event: ${receiver.url} did not answer within 5000ms (after 5 attempts)`);
      await poster.stop();
    });
  });

  describe('queue bound', () => {
    it('drops events beyond the queue size and counts them', async () => {
      const receiver = await startReceiver();
      receiver.replies.push('hang');
      const { poster, metrics } = setup(receiver.url, { queueSize: 2 });
      // The first is taken by the sender; two wait; the fourth and fifth are dropped.
      for (const name of ['a', 'b', 'c', 'd', 'e']) poster.post(event(name));
      expect(poster.pending).toBe(2);
      expect(await dropped(metrics)).toBe(2);
      await poster.stop(0);
    });

    it('sends what it queued once the receiver answers again', async () => {
      const receiver = await startReceiver();
      receiver.replies.push({ status: 500 });
      const { poster, clock } = setup(receiver.url, { queueSize: 2 });
      for (const name of ['a', 'b', 'c']) poster.post(event(name));
      await until('attempt 1', () => receiver.requests() === 1);
      clock.advance(await backoff(clock, 'the backoff'));
      await until('all three', () => receiver.received.length === 4);
      expect(receiver.received.map((e) => e.involvedObject.name)).toEqual(['a', 'a', 'b', 'c']);
      await poster.stop();
    });
  });

  describe('stop', () => {
    it('lets queued events go out within the grace period', async () => {
      const receiver = await startReceiver();
      const { poster, metrics } = setup(receiver.url);
      for (const name of ['a', 'b']) poster.post(event(name));
      await poster.stop();
      expect(receiver.received).toHaveLength(2);
      expect(await counted(metrics, 'accepted')).toBe(2);
      expect(await dropped(metrics)).toBe(0);
    });

    it('drops what is left after the grace period, and counts it', async () => {
      const receiver = await startReceiver();
      receiver.replies.push('hang');
      const { poster, clock, metrics } = setup(receiver.url);
      for (const name of ['a', 'b', 'c']) poster.post(event(name));
      await until('attempt 1', () => receiver.requests() === 1);
      const stopped = poster.stop(3000);
      await until('the grace timer', () => clock.pendingTimers() === 2);
      clock.advance(3000);
      await stopped;
      expect(await dropped(metrics)).toBe(3);
      expect(receiver.requests()).toBe(1);
    });

    it('drops events posted after stop', async () => {
      const receiver = await startReceiver();
      const { poster, metrics } = setup(receiver.url);
      await poster.stop();
      poster.post(event('late'));
      expect(await dropped(metrics)).toBe(1);
      expect(receiver.requests()).toBe(0);
    });
  });

  describe('logging', () => {
    it('logs at most one failure a minute, then says how many it held back', async () => {
      const receiver = await startReceiver();
      const { poster, clock, logs, metrics } = setup(receiver.url);
      for (let i = 0; i < 3; i++) receiver.replies.push({ status: 400 });
      for (const name of ['a', 'b', 'c']) poster.post(event(name));
      await eventually('three rejections', async () => (await counted(metrics, 'rejected')) === 3);
      expect(logs).toHaveLength(1);
      expect(logs[0]?.notLoggedSinceLast).toBe(0);

      clock.advance(FailureLogIntervalMs);
      receiver.replies.push({ status: 400 });
      poster.post(event('d'));
      await until('the second line', () => logs.length === 2);
      expect(logs[1]?.notLoggedSinceLast).toBe(2);
      await poster.stop();
    });
  });
});
