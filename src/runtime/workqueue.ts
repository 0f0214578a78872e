// A work queue of string keys (namespace/name), modelled on client-go's workqueue and
// controller-runtime's controller: the queue, not the reconciler, owns retries.
//
// - A key is queued at most once ("dirty" set); adding a queued key does nothing.
// - A key is never processed by two workers at once: added while being processed, it is marked dirty
//   and queued again when the handler finishes, so the handler sees the latest state.
// - A failure requeues the key with per-key exponential backoff; success forgets the failures. A
//   RetryWithinError caps that backoff at its own deadline, and is logged as a wait (a warning, no stack).
// - A TerminalError is logged and not retried; a requeueAfter result schedules the next look.
import { pino, type Logger } from 'pino';
import { realClock, type Clock, type Timer } from './clock.js';

/**
 * A failure that retrying cannot fix (bad input, a forbidden target): the queue logs it and does not
 * retry the key. Anything else a handler throws is retried with backoff.
 */
export class TerminalError extends Error {
  override readonly name = 'TerminalError';
}

/**
 * A failure to retry with backoff, but no later than withinMs from now: the key has a deadline of its
 * own (a request's timeout) that a long backoff must not overshoot. It is a wait the handler expects
 * to end (a cache not loaded yet), logged as a warning with its message, without a stack trace.
 */
export class RetryWithinError extends Error {
  override readonly name = 'RetryWithinError';

  constructor(
    message: string,
    readonly withinMs: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True when err is a TerminalError. */
export function isTerminalError(err: unknown): err is TerminalError {
  return err instanceof TerminalError;
}

/** What a handler may return: requeueAfter (ms, > 0) looks at the key again later without counting a failure. */
export interface ReconcileResult {
  requeueAfter?: number;
}

/**
 * Processes one key. signal aborts when the queue shuts down, so long waits can end early.
 * Throwing requeues with backoff (TerminalError: no retry).
 */
export type KeyHandler = (key: string, signal: AbortSignal) => Promise<ReconcileResult | undefined>;

/** Callbacks for metrics; each is optional and called synchronously. */
export interface WorkQueueHooks {
  /** The number of keys waiting to be processed changed. */
  onDepth?(depth: number): void;
  /** A key failed and will be retried after delayMs. */
  onRetry?(key: string, error: unknown, delayMs: number): void;
  /** A key failed with a TerminalError and will not be retried. */
  onTerminalError?(key: string, error: TerminalError): void;
}

export interface WorkQueueOptions {
  /** Time source for delays and the shutdown deadline. Default realClock. */
  clock?: Clock;
  /** Delay after the first failure of a key, doubled per further failure. Default 50 ms. */
  baseDelayMs?: number;
  /** Cap on the backoff delay. Default 5 minutes. */
  maxDelayMs?: number;
  /** Where failures are logged. Default: a silent logger. */
  logger?: Logger;
  hooks?: WorkQueueHooks;
}

export interface StartOptions {
  /** Maximum number of keys processed at once. Default 1. */
  concurrency?: number;
}

export interface ShutdownOptions {
  /** How long to wait for in-flight handlers before giving up on them. Default 30 s. */
  deadlineMs?: number;
}

/** Default backoff after a key's first failure, in ms (doubles per failure). */
export const DEFAULT_BASE_DELAY_MS = 50;
/** Default cap on a key's backoff, in ms. */
export const DEFAULT_MAX_DELAY_MS = 5 * 60 * 1000;
/** Default time shutdown() waits for in-flight handlers, in ms. */
export const DEFAULT_SHUTDOWN_DEADLINE_MS = 30_000;

/** FIFO of keys with O(1) removal from the head. */
class Fifo {
  private items: string[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(key: string): void {
    this.items.push(key);
  }

  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const key = this.items[this.head++];
    // Compact once the consumed prefix dominates, so memory stays proportional to the queue.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return key;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

/** A de-duplicating, rate-limited work queue with a bounded pool of workers. */
export class WorkQueue {
  private readonly clock: Clock;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly logger: Logger;
  private readonly hooks: WorkQueueHooks;

  private readonly queue = new Fifo();
  /** Keys that need processing: queued, or added again while being processed. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  /** Keys waiting for addAfter, with the time they are due. */
  private readonly waiting = new Map<string, { at: number; timer: Timer }>();
  private readonly failures = new Map<string, number>();

  private handler: KeyHandler | undefined;
  private concurrency = 1;
  private active = 0;
  private shuttingDown = false;
  private readonly abort = new AbortController();
  private idleWaiters: Array<() => void> = [];
  private lastDepth = 0;

  constructor(options: WorkQueueOptions = {}) {
    this.clock = options.clock ?? realClock;
    this.baseDelayMs = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
    this.maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.hooks = options.hooks ?? {};
  }

  /** Queues key unless it is already queued; ignored after shutdown. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    // Being processed: done() queues it again, so no two workers ever hold the same key.
    if (this.processing.has(key)) return;
    this.queue.push(key);
    this.emitDepth();
    this.dispatch();
  }

  /**
   * Queues key after ms milliseconds (at once when ms <= 0). While a key waits, a later request for it
   * keeps the earlier time, as client-go's delaying queue does.
   */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const existing = this.waiting.get(key);
    if (existing && existing.at <= at) return;
    existing?.timer.cancel();
    const timer = this.clock.setTimer(() => {
      this.waiting.delete(key);
      this.add(key);
    }, ms);
    this.waiting.set(key, { at, timer });
  }

  /** Queues key after its backoff delay (at most capMs when given) and counts a failure; returns the delay in ms. */
  addRateLimited(key: string, capMs?: number): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delayMs = Math.max(0, Math.min(this.baseDelayMs * 2 ** n, this.maxDelayMs, capMs ?? Infinity));
    this.addAfter(key, delayMs);
    return delayMs;
  }

  /** Clears key's failure count, so its next failure starts again at the base delay. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** How many times key has failed since it was last forgotten. */
  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Keys queued and not yet handed to a worker (delayed keys are not counted until due). */
  depth(): number {
    return this.queue.length;
  }

  /** Keys being processed right now. */
  inFlight(): number {
    return this.active;
  }

  /**
   * Resolves once no key is queued and none is being processed: at once when that is so now, else
   * when the last worker finishes (keys waiting for addAfter do not count). Keys queued before
   * start() keep it waiting until they are handled; shutdown() resolves it.
   */
  whenIdle(): Promise<void> {
    if (this.active === 0 && (this.queue.length === 0 || this.shuttingDown)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** True once shutdown() has been called. */
  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /**
   * Starts processing keys with handler, at most `concurrency` at once (default 1). Keys added
   * before start are processed now. Throws if already started or concurrency is not a positive integer.
   */
  start(handler: KeyHandler, options: StartOptions = {}): void {
    if (this.handler) throw new Error('work queue already started');
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    }
    this.handler = handler;
    this.concurrency = concurrency;
    this.dispatch();
  }

  /**
   * Stops taking work: later adds are ignored, delayed and queued keys are dropped (a level-triggered
   * controller finds them again on its next list), and the signal given to handlers aborts. Resolves
   * when in-flight handlers have finished — true — or when the deadline (default 30 s) passes first — false.
   */
  shutdown(options: ShutdownOptions = {}): Promise<boolean> {
    const deadlineMs = options.deadlineMs ?? DEFAULT_SHUTDOWN_DEADLINE_MS;
    if (!this.shuttingDown) {
      this.shuttingDown = true;
      for (const { timer } of this.waiting.values()) timer.cancel();
      this.waiting.clear();
      this.queue.clear();
      this.dirty.clear();
      this.emitDepth();
      this.abort.abort();
    }
    if (this.active === 0) {
      this.wakeIdleWaiters();
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer = this.clock.setTimer(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== onIdle);
        this.logger.warn({ inFlight: this.active }, 'work queue shutdown deadline passed with handlers still running');
        resolve(false);
      }, deadlineMs);
      const onIdle = (): void => {
        timer.cancel();
        resolve(true);
      };
      this.idleWaiters.push(onIdle);
    });
  }

  /** Hands queued keys to free workers. */
  private dispatch(): void {
    const handler = this.handler;
    if (!handler) return;
    while (!this.shuttingDown && this.active < this.concurrency) {
      const key = this.queue.shift();
      if (key === undefined) break;
      this.dirty.delete(key);
      this.processing.add(key);
      this.active++;
      this.emitDepth();
      void this.process(handler, key);
    }
  }

  private async process(handler: KeyHandler, key: string): Promise<void> {
    try {
      const result = await handler(key, this.abort.signal);
      // Success (with or without requeueAfter) resets the backoff, as controller-runtime does.
      this.forget(key);
      const after = result?.requeueAfter;
      if (after !== undefined && after > 0) this.addAfter(key, after);
    } catch (err) {
      if (isTerminalError(err)) {
        this.forget(key);
        this.logger.error({ key, err }, 'reconcile failed terminally; not retrying');
        this.hooks.onTerminalError?.(key, err);
      } else {
        const delayMs = this.addRateLimited(key, err instanceof RetryWithinError ? err.withinMs : undefined);
        // A wait the handler expects to end (a cache not loaded yet) is told in a line, without a stack trace.
        if (err instanceof RetryWithinError)
          this.logger.warn({ key, reason: err.message, retryInMs: delayMs }, 'reconcile waits; retrying');
        else this.logger.error({ key, err, retryInMs: delayMs }, 'reconcile failed; retrying');
        this.hooks.onRetry?.(key, err, delayMs);
      }
    } finally {
      this.processing.delete(key);
      this.active--;
      // Added while it was processed: queue it again now that no worker holds it.
      if (this.dirty.has(key) && !this.shuttingDown) {
        this.queue.push(key);
        this.emitDepth();
      }
      this.dispatch();
      if (this.active === 0) this.wakeIdleWaiters();
    }
  }

  private wakeIdleWaiters(): void {
    if (this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private emitDepth(): void {
    const depth = this.queue.length;
    if (depth === this.lastDepth) return;
    this.lastDepth = depth;
    this.hooks.onDepth?.(depth);
  }
}
