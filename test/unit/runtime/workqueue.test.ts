import { describe, it, expect } from '@jest/globals';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { RetryWithinError, TerminalError, WorkQueue, type ReconcileResult, type WorkQueueOptions } from '../../../src/runtime/workqueue.js';
import { FakeClock, settle, until } from './fake-clock.js';

/** One handler invocation the test finishes by hand. */
interface Call {
  key: string;
  at: number;
  signal: AbortSignal;
  resolve(result?: ReconcileResult): void;
  reject(err: Error): void;
}

/** A queue on a fake clock with a handler whose calls stay open until the test settles them. */
/** A pino destination keeping the lines written to it. */
function logLines(): { lines: string[]; sink: Writable } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, sink };
}

function setup(options: WorkQueueOptions = {}) {
  const clock = new FakeClock();
  const queue = new WorkQueue({ clock, ...options });
  const calls: Call[] = [];
  let active = 0;
  let maxActive = 0;
  const start = (concurrency = 1): void => {
    queue.start(
      (key, signal) =>
        new Promise<ReconcileResult | undefined>((resolve, reject) => {
          active++;
          maxActive = Math.max(maxActive, active);
          const done = (): void => {
            active--;
          };
          calls.push({
            key,
            at: clock.now(),
            signal,
            resolve: (r) => {
              done();
              resolve(r);
            },
            reject: (e) => {
              done();
              reject(e);
            },
          });
        }),
      { concurrency },
    );
  };
  const call = (i: number): Call => {
    const c = calls[i];
    if (!c) throw new Error(`handler call ${i} has not happened (${calls.length} so far)`);
    return c;
  };
  return { clock, queue, calls, call, start, maxActive: () => maxActive };
}

/** Advances the fake clock to its next timer and lets the queue react. */
async function fireNextTimer(clock: FakeClock): Promise<void> {
  const next = clock.nextTimerIn();
  if (next === undefined) throw new Error('no timer pending');
  clock.advance(next);
  await settle();
}

describe('WorkQueue', () => {
  describe('add', () => {
    it('queues a key at most once', async () => {
      const { queue, calls, start } = setup();
      queue.add('ns/a');
      queue.add('ns/a');
      queue.add('ns/a');
      expect(queue.depth()).toBe(1);
      start();
      await settle();
      expect(calls.map((c) => c.key)).toEqual(['ns/a']);
    });

    it('processes keys in the order they were added', async () => {
      const { queue, calls, call, start } = setup();
      for (const k of ['a', 'b', 'c']) queue.add(k);
      start();
      for (let i = 0; i < 3; i++) {
        await until(`call ${i}`, () => calls.length > i);
        call(i).resolve();
      }
      expect(calls.map((c) => c.key)).toEqual(['a', 'b', 'c']);
    });

    it('never hands a key to a second worker while it is being processed', async () => {
      const { queue, calls, start } = setup();
      start(4);
      queue.add('ns/a');
      await until('first call', () => calls.length === 1);
      queue.add('ns/a');
      await settle();
      expect(calls).toHaveLength(1);
      expect(queue.inFlight()).toBe(1);
    });

    it('processes a key added during its processing once more afterwards', async () => {
      const { queue, calls, call, start } = setup();
      start(4);
      queue.add('ns/a');
      await until('first call', () => calls.length === 1);
      queue.add('ns/a');
      queue.add('ns/a');
      call(0).resolve();
      await until('second call', () => calls.length === 2);
      call(1).resolve();
      await settle();
      expect(calls.map((c) => c.key)).toEqual(['ns/a', 'ns/a']);
    });

    it('is ignored after shutdown', async () => {
      const { queue, calls, start } = setup();
      start();
      await queue.shutdown();
      queue.add('ns/a');
      await settle();
      expect(queue.depth()).toBe(0);
      expect(calls).toHaveLength(0);
    });
  });

  describe('addAfter', () => {
    it('queues the key only once the delay has passed', async () => {
      const { clock, queue, calls, start } = setup();
      start();
      queue.addAfter('ns/a', 1000);
      clock.advance(999);
      await settle();
      expect(calls).toHaveLength(0);
      clock.advance(1);
      await settle();
      expect(calls).toHaveLength(1);
    });

    it('keeps the earlier time when a waiting key is added again with a later one', async () => {
      const { clock, queue, calls, start } = setup();
      start();
      queue.addAfter('ns/a', 100);
      queue.addAfter('ns/a', 5000);
      clock.advance(100);
      await settle();
      expect(calls).toHaveLength(1);
      expect(clock.pendingTimers()).toBe(0);
    });

    it('moves a waiting key earlier when added again with a sooner time', async () => {
      const { clock, queue, calls, start } = setup();
      start();
      queue.addAfter('ns/a', 5000);
      queue.addAfter('ns/a', 100);
      clock.advance(100);
      await settle();
      expect(calls).toHaveLength(1);
      expect(clock.pendingTimers()).toBe(0);
    });
  });

  describe('backoff', () => {
    it('defaults to 50 ms doubling per failure, capped at 5 minutes', () => {
      const queue = new WorkQueue({ clock: new FakeClock() });
      const delays = Array.from({ length: 15 }, () => queue.addRateLimited('ns/a'));
      expect(delays).toEqual([50, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 102400, 204800, 300000, 300000]);
    });

    it('retries a failing key after delays that double up to the configured cap', async () => {
      const { clock, queue, calls, call, start } = setup({ baseDelayMs: 50, maxDelayMs: 400 });
      start();
      queue.add('ns/a');
      for (let i = 0; i < 6; i++) {
        await until(`attempt ${i}`, () => calls.length === i + 1);
        call(i).reject(new Error('API unavailable'));
        await settle();
        await fireNextTimer(clock);
      }
      const gaps = calls.slice(1).map((c, i) => c.at - call(i).at);
      expect(gaps).toEqual([50, 100, 200, 400, 400, 400]);
    });

    it('starts again at the base delay after a success (forget)', async () => {
      const retries: number[] = [];
      const { clock, queue, calls, call, start } = setup({ hooks: { onRetry: (_k, _e, ms) => retries.push(ms) } });
      start();
      queue.add('ns/a');
      await until('call 0', () => calls.length === 1);
      call(0).reject(new Error('boom'));
      await settle();
      await fireNextTimer(clock);
      call(1).reject(new Error('boom'));
      await settle();
      await fireNextTimer(clock);
      call(2).resolve();
      await settle();
      expect(queue.numRequeues('ns/a')).toBe(0);
      queue.add('ns/a');
      await until('call 3', () => calls.length === 4);
      call(3).reject(new Error('boom'));
      await settle();
      expect(retries).toEqual([50, 100, 50]);
    });

    it('never retries later than a RetryWithinError allows, however long the backoff has grown', async () => {
      const { clock, queue, calls, call, start } = setup({ baseDelayMs: 1000, maxDelayMs: 60_000 });
      start();
      queue.add('ns/a');
      // Three plain failures grow the backoff to 4s; a deadline 1.5s away must win over it.
      for (let i = 0; i < 3; i++) {
        await until(`attempt ${i}`, () => calls.length === i + 1);
        call(i).reject(new Error('API unavailable'));
        await settle();
        await fireNextTimer(clock);
      }
      await until('attempt 3', () => calls.length === 4);
      call(3).reject(new RetryWithinError('target unreadable', 1500));
      await settle();
      expect(clock.nextTimerIn()).toBe(1500);
      await fireNextTimer(clock);
      expect(calls).toHaveLength(5);
      expect(call(4).at - call(3).at).toBe(1500);
      expect(queue.numRequeues('ns/a')).toBe(4);
    });

    it('keeps backoff per key: one key failing does not slow another', () => {
      const { queue } = setup();
      queue.addRateLimited('ns/a');
      queue.addRateLimited('ns/a');
      queue.addRateLimited('ns/a');
      expect(queue.addRateLimited('ns/b')).toBe(50);
      expect(queue.numRequeues('ns/a')).toBe(3);
    });
  });

  describe('handler results', () => {
    it('does not retry a TerminalError, and logs it', async () => {
      const { lines, sink } = logLines();
      const terminal: string[] = [];
      const { clock, queue, calls, call, start } = setup({
        logger: pino({ level: 'info' }, sink),
        hooks: { onTerminalError: (key) => terminal.push(key) },
      });
      start();
      queue.add('ns/a');
      await until('call 0', () => calls.length === 1);
      call(0).reject(new TerminalError('target kind Alert cannot be reconciled'));
      await settle();
      expect(clock.pendingTimers()).toBe(0);
      clock.advance(10 * 60 * 1000);
      await settle();
      expect(calls).toHaveLength(1);
      expect(queue.numRequeues('ns/a')).toBe(0);
      expect(terminal).toEqual(['ns/a']);
      const logged = lines.map((l) => JSON.parse(l) as { key?: string; msg?: string; err?: { message?: string } });
      expect(logged).toContainEqual(
        expect.objectContaining({ key: 'ns/a', err: expect.objectContaining({ message: 'target kind Alert cannot be reconciled' }) }),
      );
    });

    it('logs a RetryWithinError as a wait: a warning with its message, no stack trace', async () => {
      const { lines, sink } = logLines();
      const { queue, calls, call, start } = setup({ logger: pino({ level: 'info' }, sink) });
      start();
      queue.add('ns/a');
      await until('call 0', () => calls.length === 1);
      call(0).reject(
        new RetryWithinError('the policies are not loaded yet', 60_000, { cause: new Error('the policies are not loaded yet') }),
      );
      await settle();
      expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
        expect.objectContaining({
          level: 40,
          key: 'ns/a',
          reason: 'the policies are not loaded yet',
          retryInMs: 50,
          msg: 'reconcile waits; retrying',
        }),
      ]);
      expect(lines.join('')).not.toContain('stack');
    });

    it('retries any other error with backoff and reports it to onRetry', async () => {
      const retried: Array<[string, number]> = [];
      const { clock, queue, calls, call, start } = setup({ hooks: { onRetry: (key, _err, ms) => retried.push([key, ms]) } });
      start();
      queue.add('ns/a');
      await until('call 0', () => calls.length === 1);
      call(0).reject(new Error('conflict'));
      await settle();
      expect(retried).toEqual([['ns/a', 50]]);
      clock.advance(50);
      await settle();
      expect(calls).toHaveLength(2);
    });

    it('looks at the key again exactly requeueAfter later', async () => {
      const { clock, queue, calls, call, start } = setup();
      start();
      queue.add('ns/a');
      await until('call 0', () => calls.length === 1);
      call(0).resolve({ requeueAfter: 30_000 });
      await settle();
      clock.advance(29_999);
      await settle();
      expect(calls).toHaveLength(1);
      clock.advance(1);
      await settle();
      expect(calls).toHaveLength(2);
      expect(call(1).at - call(0).at).toBe(30_000);
    });

    it('resets the backoff when the handler returns requeueAfter', async () => {
      const { clock, queue, calls, call, start } = setup();
      start();
      queue.add('ns/a');
      await until('call 0', () => calls.length === 1);
      call(0).reject(new Error('boom'));
      await settle();
      await fireNextTimer(clock);
      expect(queue.numRequeues('ns/a')).toBe(1);
      call(1).resolve({ requeueAfter: 1000 });
      await settle();
      expect(queue.numRequeues('ns/a')).toBe(0);
    });

    it('does not look at the key again after a plain success', async () => {
      const { clock, queue, calls, call, start } = setup();
      start();
      queue.add('ns/a');
      await until('call 0', () => calls.length === 1);
      call(0).resolve();
      await settle();
      expect(clock.pendingTimers()).toBe(0);
      expect(calls).toHaveLength(1);
    });
  });

  describe('concurrency', () => {
    it('never runs more handlers at once than the bound', async () => {
      const { queue, calls, call, start, maxActive } = setup();
      start(2);
      for (const k of ['a', 'b', 'c', 'd', 'e']) queue.add(k);
      await settle();
      expect(calls).toHaveLength(2);
      expect(queue.depth()).toBe(3);
      for (let i = 0; i < 5; i++) {
        await until(`call ${i}`, () => calls.length > i);
        call(i).resolve();
      }
      await settle();
      expect(calls.map((c) => c.key).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(maxActive()).toBe(2);
    });

    it('uses the free workers: with a bound of 3, three keys run at once', async () => {
      const { queue, calls, start } = setup();
      start(3);
      for (const k of ['a', 'b', 'c', 'd']) queue.add(k);
      await settle();
      expect(calls).toHaveLength(3);
    });

    it('rejects a bound that is not a positive integer', () => {
      const { start } = setup();
      expect(() => {
        start(0);
      }).toThrow('concurrency must be a positive integer, got 0');
    });

    it('cannot be started twice', () => {
      const { start } = setup();
      start();
      expect(() => {
        start();
      }).toThrow('work queue already started');
    });
  });

  describe('depth', () => {
    it('reports every change of the number of waiting keys to onDepth', async () => {
      const depths: number[] = [];
      const { queue, calls, call, start } = setup({ hooks: { onDepth: (d) => depths.push(d) } });
      queue.add('a');
      queue.add('b');
      start();
      await until('call 0', () => calls.length === 1);
      call(0).resolve();
      await until('call 1', () => calls.length === 2);
      expect(depths).toEqual([1, 2, 1, 0]);
    });
  });

  describe('whenIdle', () => {
    it('resolves only once the keys queued before start and those they requeue at once are handled', async () => {
      const { queue, calls, call, start } = setup();
      queue.add('a');
      queue.add('b');
      let idle = false;
      void queue.whenIdle().then(() => (idle = true));
      await settle();
      expect(idle).toBe(false);
      start(1);
      await until('call 0', () => calls.length === 1);
      call(0).resolve();
      await until('call 1', () => calls.length === 2);
      queue.add('c');
      call(1).resolve();
      await until('call 2', () => calls.length === 3);
      expect(idle).toBe(false);
      call(2).resolve();
      await until('idle', () => idle);
      expect(calls.map((c) => c.key)).toEqual(['a', 'b', 'c']);
    });

    it('does not wait for keys due later, and resolves at once on an idle queue', async () => {
      const { queue, calls, call, start } = setup();
      start(1);
      await expect(queue.whenIdle()).resolves.toBeUndefined();
      queue.add('a');
      await until('call 0', () => calls.length === 1);
      let idle = false;
      void queue.whenIdle().then(() => (idle = true));
      call(0).resolve({ requeueAfter: 60_000 });
      await until('idle', () => idle);
    });

    it('resolves on shutdown, with keys still queued', async () => {
      const { queue } = setup();
      queue.add('a');
      let idle = false;
      void queue.whenIdle().then(() => (idle = true));
      await queue.shutdown();
      await until('idle', () => idle);
    });
  });

  describe('shutdown', () => {
    it('resolves true only after the in-flight handlers have finished', async () => {
      const { queue, calls, call, start } = setup();
      start(2);
      queue.add('a');
      queue.add('b');
      await until('two calls', () => calls.length === 2);
      let resolved: boolean | undefined;
      void queue.shutdown().then((r) => (resolved = r));
      call(0).resolve();
      await settle();
      expect(resolved).toBeUndefined();
      call(1).reject(new Error('late failure'));
      await until('shutdown resolved', () => resolved !== undefined);
      expect(resolved).toBe(true);
    });

    it('aborts the signal handlers were given, so long waits can end', async () => {
      const { queue, calls, call, start } = setup();
      start();
      queue.add('a');
      await until('call 0', () => calls.length === 1);
      expect(call(0).signal.aborted).toBe(false);
      const done = queue.shutdown();
      expect(call(0).signal.aborted).toBe(true);
      call(0).resolve();
      await expect(done).resolves.toBe(true);
    });

    it('starts no queued or delayed key after shutdown', async () => {
      const { clock, queue, calls, call, start } = setup();
      start(1);
      queue.add('a');
      queue.add('b');
      queue.addAfter('c', 100);
      await until('call 0', () => calls.length === 1);
      const done = queue.shutdown();
      expect(queue.depth()).toBe(0);
      call(0).resolve({ requeueAfter: 10 });
      await expect(done).resolves.toBe(true);
      clock.advance(1000);
      await settle();
      expect(calls.map((c) => c.key)).toEqual(['a']);
      expect(clock.pendingTimers()).toBe(0);
    });

    it('gives up waiting at the deadline and resolves false', async () => {
      const { clock, queue, calls, start } = setup();
      start();
      queue.add('stuck');
      await until('call 0', () => calls.length === 1);
      let resolved: boolean | undefined;
      void queue.shutdown({ deadlineMs: 5000 }).then((r) => (resolved = r));
      clock.advance(4999);
      await settle();
      expect(resolved).toBeUndefined();
      clock.advance(1);
      await until('shutdown resolved', () => resolved !== undefined);
      expect(resolved).toBe(false);
    });

    it('resolves at once when nothing is in flight', async () => {
      const { queue, start } = setup();
      start();
      await expect(queue.shutdown()).resolves.toBe(true);
      expect(queue.isShuttingDown()).toBe(true);
    });
  });
});
