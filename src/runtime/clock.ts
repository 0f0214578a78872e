// Time as a dependency: the work queue and the leader elector take a Clock, so backoff, deadlines
// and lease expiry are tested by advancing a fake clock instead of sleeping.

/** A scheduled callback that can be cancelled before it fires; cancelling twice or after firing is harmless. */
export interface Timer {
  cancel(): void;
}

/** Wall-clock time in milliseconds and one-shot timers. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls fn once, ms milliseconds from now (a negative ms counts as 0). */
  setTimer(fn: () => void, ms: number): Timer;
}

/**
 * Strictly increasing nanoseconds since the epoch from a millisecond clock: equal milliseconds get
 * increasing sub-millisecond digits, so two readings never collide.
 */
export function monotonicNanos(now: () => number): () => bigint {
  let last = 0n;
  return () => {
    const next = BigInt(now()) * 1_000_000n;
    last = next > last ? next : last + 1n;
    return last;
  };
}

/** The process's clock: Date.now and setTimeout. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const handle = setTimeout(fn, Math.max(0, ms));
    return {
      cancel: () => {
        clearTimeout(handle);
      },
    };
  },
};

/**
 * Resolves after ms milliseconds on clock, or at once when signal aborts (the timer is then cancelled,
 * so an aborted wait leaves nothing behind that keeps the process alive). Never rejects.
 */
export function delay(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      timer.cancel();
      resolve();
    };
    const timer = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Waits for wait (which stops when the signal it is given aborts), at most ms on clock and no longer
 * than signal allows. True when wait resolved; false when the time ran out or signal aborted; rejects
 * with wait's own error otherwise. Either way the loser is cancelled: the timer, or wait.
 */
export async function waitAtMost(
  clock: Clock,
  ms: number,
  signal: AbortSignal | undefined,
  wait: (signal: AbortSignal) => Promise<void>,
): Promise<boolean> {
  const ended = new AbortController();
  const onAbort = (): void => {
    ended.abort();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([wait(ended.signal).then(() => true), delay(clock, ms, ended.signal).then(() => false)]);
  } catch (err) {
    // Aborted by signal, wait rejects with the abort's reason: that is an end like the timer's.
    if (ended.signal.aborted) return false;
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    ended.abort();
  }
}
