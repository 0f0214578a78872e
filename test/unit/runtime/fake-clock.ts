// A Clock whose time moves only when a test says so, and helpers that wait for the event loop to
// catch up with it: tests of backoff and lease deadlines run in microseconds and never sleep.
import type { Clock, Timer } from '../../../src/runtime/clock.js';

interface Pending {
  due: number;
  seq: number;
  fn: () => void;
}

/** A manual Clock: timers fire only inside advance(), earliest first (ties in the order they were set). */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private pending: Pending[] = [];

  /** @param start the initial time in ms since the epoch (default 2023-11-14T22:13:20Z). */
  constructor(start = 1_700_000_000_000) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const entry: Pending = { due: this.current + Math.max(0, ms), seq: this.seq++, fn };
    this.pending.push(entry);
    return {
      cancel: () => {
        this.pending = this.pending.filter((p) => p !== entry);
      },
    };
  }

  /**
   * Moves time forward by ms, firing every timer that falls due on the way, in order, with now()
   * equal to each timer's due time while it runs. Timers set by a firing timer fire too if they fall
   * within the window.
   */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const next = this.earliest();
      if (!next || next.due > target) break;
      this.pending = this.pending.filter((p) => p !== next);
      this.current = next.due;
      next.fn();
    }
    this.current = target;
  }

  /** Number of timers not yet fired or cancelled. */
  pendingTimers(): number {
    return this.pending.length;
  }

  /** Milliseconds until the next timer fires, or undefined when none is set. */
  nextTimerIn(): number | undefined {
    const next = this.earliest();
    return next ? next.due - this.current : undefined;
  }

  private earliest(): Pending | undefined {
    let best: Pending | undefined;
    for (const p of this.pending) {
      if (!best || p.due < best.due || (p.due === best.due && p.seq < best.seq)) best = p;
    }
    return best;
  }
}

/** Lets pending promise callbacks and I/O run: resolves after `rounds` turns of the event loop. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Yields to the event loop until condition() holds; throws after maxRounds turns naming what was
 * awaited. Waiting on a condition, not on time.
 */
export async function until(what: string, condition: () => boolean, maxRounds = 2000): Promise<void> {
  for (let i = 0; i < maxRounds; i++) {
    if (condition()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`condition never held: ${what}`);
}
