// A Clock that runs with real time but can jump forward: timers run on real time, and a jump fires
// at once every timer that the jump made due. Integration tests move the operator to the next cron
// slot this way instead of waiting a minute for it.
import type { Clock, Timer } from '../../src/runtime/clock.js';

interface Entry {
  due: number;
  fire: () => void;
  handle: NodeJS.Timeout;
}

export class JumpClock implements Clock {
  private offset = 0;
  private readonly timers = new Set<Entry>();

  now(): number {
    return Date.now() + this.offset;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const wait = Math.max(0, ms);
    const entry: Entry = {
      due: this.now() + wait,
      fire: () => {
        if (!this.timers.delete(entry)) return;
        clearTimeout(entry.handle);
        fn();
      },
      handle: setTimeout(() => {
        entry.fire();
      }, wait),
    };
    this.timers.add(entry);
    return {
      cancel: () => {
        clearTimeout(entry.handle);
        this.timers.delete(entry);
      },
    };
  }

  /** Moves time forward by ms and fires the timers now due, earliest first. */
  jump(ms: number): void {
    this.offset += ms;
    const now = this.now();
    for (const entry of [...this.timers].filter((e) => e.due <= now).sort((a, b) => a.due - b.due)) entry.fire();
  }

  /** Moves time forward to t (ms since the epoch); does nothing when t has passed. */
  jumpTo(t: number): void {
    if (t > this.now()) this.jump(t - this.now());
  }
}
