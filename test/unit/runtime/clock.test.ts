import { describe, it, expect } from '@jest/globals';
import { delay, realClock, waitAtMost } from '../../../src/runtime/clock.js';
import { FakeClock, settle, until } from './fake-clock.js';

describe('FakeClock', () => {
  it('fires due timers in time order, with now() at each due time', () => {
    const clock = new FakeClock(0);
    const fired: Array<[string, number]> = [];
    clock.setTimer(() => fired.push(['b', clock.now()]), 200);
    clock.setTimer(() => fired.push(['a', clock.now()]), 100);
    clock.setTimer(() => fired.push(['c', clock.now()]), 300);
    clock.advance(250);
    expect(fired).toEqual([
      ['a', 100],
      ['b', 200],
    ]);
    expect(clock.now()).toBe(250);
  });

  it('fires timers set by a timer when they fall due within the same advance', () => {
    const clock = new FakeClock(0);
    const fired: number[] = [];
    clock.setTimer(() => {
      fired.push(clock.now());
      clock.setTimer(() => fired.push(clock.now()), 50);
    }, 100);
    clock.advance(200);
    expect(fired).toEqual([100, 150]);
  });

  it('does not fire a cancelled timer', () => {
    const clock = new FakeClock(0);
    let fired = false;
    clock.setTimer(() => (fired = true), 10).cancel();
    clock.advance(100);
    expect(fired).toBe(false);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('delay', () => {
  it('resolves once the clock reaches the time', async () => {
    const clock = new FakeClock(0);
    let done = false;
    void delay(clock, 1000).then(() => (done = true));
    clock.advance(999);
    await settle();
    expect(done).toBe(false);
    clock.advance(1);
    await until('delay resolved', () => done);
  });

  it('resolves at once on abort and leaves no timer behind', async () => {
    const clock = new FakeClock(0);
    const abort = new AbortController();
    let done = false;
    void delay(clock, 60_000, abort.signal).then(() => (done = true));
    abort.abort();
    await until('delay resolved', () => done);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('realClock', () => {
  it('fires a timer and can cancel one', async () => {
    let fired = 0;
    realClock.setTimer(() => (fired += 100), 0).cancel();
    // Timers with the same delay fire in the order they were set, so the cancelled one had its turn.
    await new Promise<void>((resolve) =>
      realClock.setTimer(() => {
        fired++;
        resolve();
      }, 0),
    );
    expect(fired).toBe(1);
    expect(Math.abs(realClock.now() - Date.now())).toBeLessThan(1000);
  });
});

describe('waitAtMost', () => {
  /** A wait that resolves or rejects when told, and rejects with the reason of the signal it is given. */
  function controlled(): {
    wait: (signal: AbortSignal) => Promise<void>;
    resolve: () => void;
    reject: (err: Error) => void;
    aborted: () => boolean;
  } {
    let settle: { resolve: () => void; reject: (err: Error) => void } | undefined;
    let given: AbortSignal | undefined;
    const wait = (signal: AbortSignal): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        given = signal;
        settle = { resolve, reject };
        signal.addEventListener('abort', () => {
          reject(signal.reason as Error);
        });
      });
    return {
      wait,
      resolve: () => {
        settle?.resolve();
      },
      reject: (err) => {
        settle?.reject(err);
      },
      aborted: () => given?.aborted === true,
    };
  }

  it('is true when the wait ends first, and cancels the timer', async () => {
    const clock = new FakeClock(0);
    const w = controlled();
    const result = waitAtMost(clock, 1000, undefined, w.wait);
    w.resolve();
    await expect(result).resolves.toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('is false when the time runs out, and ends the wait', async () => {
    const clock = new FakeClock(0);
    const w = controlled();
    const result = waitAtMost(clock, 1000, undefined, w.wait);
    clock.advance(999);
    await settle();
    clock.advance(1);
    await expect(result).resolves.toBe(false);
    expect(w.aborted()).toBe(true);
  });

  it('is false when the signal aborts, and cancels the timer', async () => {
    const clock = new FakeClock(0);
    const w = controlled();
    const stop = new AbortController();
    const result = waitAtMost(clock, 1000, stop.signal, w.wait);
    stop.abort();
    await expect(result).resolves.toBe(false);
    expect(w.aborted()).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("rejects with the wait's own error", async () => {
    const clock = new FakeClock(0);
    const w = controlled();
    const result = waitAtMost(clock, 1000, undefined, w.wait);
    w.reject(new Error('forbidden'));
    await expect(result).rejects.toThrow('forbidden');
    expect(clock.pendingTimers()).toBe(0);
  });
});
