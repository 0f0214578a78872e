// Posts Flux events to an event receiver (notification-controller) the way Flux's controllers do
// (fluxcd/pkg runtime/events/recorder.go: 5 s per attempt, 4 retries with exponential backoff from
// 1 s to 30 s on connection errors and 5xx, no retry on 429), but off the reconcile path: events
// wait in a bounded queue and one sender posts them in order.
import type { Logger } from 'pino';
import { delay, type Clock } from '../runtime/clock.js';
import type { AuditResult, OperatorMetrics } from '../runtime/metrics.js';
import type { FluxEvent } from './flux-events.js';

/** How long one POST may take (Flux's recorder: the HTTP client's 5 s timeout). */
export const DefaultPostTimeoutMs = 5_000;
/** Retries after the first attempt (go-retryablehttp's default RetryMax). */
export const DefaultRetries = 4;
/** Backoff before the first retry, doubling after each (go-retryablehttp's RetryWaitMin). */
export const DefaultBackoffMinMs = 1_000;
/** Longest backoff, also the cap on a Retry-After (go-retryablehttp's RetryWaitMax). */
export const DefaultBackoffMaxMs = 30_000;
/** Events waiting to be sent; more are dropped (a receiver down for long must not grow memory). */
export const DefaultQueueSize = 1_000;
/** At most one failure log line per this long; the next says how many were not logged. */
export const FailureLogIntervalMs = 60_000;
/** How long stop() lets queued events go out before it drops the rest. */
export const DefaultStopGraceMs = 5_000;

export interface EventPosterOptions {
  /** The receiver's URL (--events-addr). */
  url: string;
  clock: Clock;
  log: Logger;
  metrics?: Pick<OperatorMetrics, 'auditEvents' | 'auditEventsDropped'>;
  /** Default DefaultPostTimeoutMs. */
  timeoutMs?: number;
  /** Default DefaultRetries. */
  retries?: number;
  /** Default DefaultBackoffMinMs. */
  backoffMinMs?: number;
  /** Default DefaultBackoffMaxMs. */
  backoffMaxMs?: number;
  /** Default DefaultQueueSize. */
  queueSize?: number;
}

/** What one attempt got back: an HTTP status, or why there was none. */
type Attempt = { status: number; retryAfter: string | null; body: string } | { error: string };

/** Sends events to one receiver, in order, without ever making the caller wait. */
export class FluxEventPoster {
  private readonly queue: FluxEvent[] = [];
  /** True while the sender runs. */
  private sending = false;
  private sent: Promise<void> = Promise.resolve();
  private stopping = false;
  /** Aborts the POST and backoff under way when stop() gives up waiting. */
  private readonly halt = new AbortController();
  private lastLoggedAt = Number.NEGATIVE_INFINITY;
  private unlogged = 0;

  constructor(private readonly options: EventPosterOptions) {}

  /** Events waiting to be sent (not counting the one being sent). */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Queues an event and returns at once. When the queue is full, or the poster is stopping, the
   * event is dropped and counted in fluxact_audit_events_dropped_total.
   */
  post(event: FluxEvent): void {
    if (this.stopping || this.queue.length >= (this.options.queueSize ?? DefaultQueueSize)) {
      this.drop(1, this.stopping ? 'the operator is stopping' : 'the queue is full');
      return;
    }
    this.queue.push(event);
    if (!this.sending) {
      this.sending = true;
      this.sent = this.drain();
    }
  }

  /**
   * Stops taking events, lets the queued ones go out for at most graceMs (default
   * DefaultStopGraceMs), then aborts the one under way and drops the rest (counted). Idempotent.
   */
  async stop(graceMs = DefaultStopGraceMs): Promise<void> {
    this.stopping = true;
    if (this.sending && graceMs > 0) {
      const gaveUp = new AbortController();
      await Promise.race([this.sent, delay(this.options.clock, graceMs, gaveUp.signal)]);
      gaveUp.abort();
    }
    this.halt.abort();
    await this.sent;
  }

  private async drain(): Promise<void> {
    try {
      for (let event = this.queue.shift(); event; event = this.queue.shift()) {
        if (this.halt.signal.aborted) {
          this.drop(1 + this.queue.length, 'the operator stopped before they were sent');
          this.queue.length = 0;
          return;
        }
        await this.deliver(event);
      }
    } finally {
      // In the same turn as the queue was found empty: a post() after this starts a new sender.
      this.sending = false;
    }
  }

  /** Posts one event with retries; records how it ended. Never throws. */
  private async deliver(event: FluxEvent): Promise<void> {
    const { clock, url } = this.options;
    const retries = this.options.retries ?? DefaultRetries;
    const body = JSON.stringify(event);
    for (let attempt = 0; ; attempt++) {
      const got = await this.attempt(body);
      if (this.halt.signal.aborted) {
        this.drop(1, 'the operator stopped while it was being sent');
        return;
      }
      if ('status' in got && got.status >= 200 && got.status < 300) {
        this.count('accepted');
        return;
      }
      // notification-controller's answer to an event it already has: Flux's recorder does not retry it either.
      if ('status' in got && got.status === 429) {
        this.count('duplicate');
        return;
      }
      if ('status' in got && !retryable(got.status)) {
        this.count('rejected');
        this.logFailure(event, `${url} answered ${got.status}${got.body ? `: ${got.body}` : ''}`);
        return;
      }
      if (attempt >= retries) {
        this.count('failed');
        const why = 'error' in got ? got.error : `${url} answered ${got.status}`;
        this.logFailure(event, `${why} (after ${retries + 1} attempts)`);
        return;
      }
      await delay(clock, this.backoffMs(attempt, 'status' in got ? got : undefined), this.halt.signal);
    }
  }

  /** One POST, abandoned after the timeout. */
  private async attempt(body: string): Promise<Attempt> {
    const { clock, url } = this.options;
    const timeoutMs = this.options.timeoutMs ?? DefaultPostTimeoutMs;
    const controller = new AbortController();
    const timer = clock.setTimer(() => {
      controller.abort();
    }, timeoutMs);
    const onHalt = (): void => {
      controller.abort();
    };
    this.halt.signal.addEventListener('abort', onHalt, { once: true });
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: controller.signal,
      });
      // The body is read within the same deadline; only its start is kept for the log.
      const text = (await response.text()).trim().slice(0, 200);
      return { status: response.status, retryAfter: response.headers.get('retry-after'), body: text };
    } catch (err) {
      // Aborted by the timer, not by stop(): the receiver did not answer in time.
      if (controller.signal.aborted && !this.halt.signal.aborted) return { error: `${url} did not answer within ${timeoutMs}ms` };
      return { error: `could not post to ${url}: ${causeOf(err)}` };
    } finally {
      timer.cancel();
      this.halt.signal.removeEventListener('abort', onHalt);
    }
  }

  /** Exponential from backoffMinMs, capped at backoffMaxMs; a 503's Retry-After (seconds) wins, capped too. */
  private backoffMs(attempt: number, response: { status: number; retryAfter: string | null } | undefined): number {
    const min = this.options.backoffMinMs ?? DefaultBackoffMinMs;
    const max = this.options.backoffMaxMs ?? DefaultBackoffMaxMs;
    if (response?.status === 503 && response.retryAfter && /^\d+$/.test(response.retryAfter))
      return Math.min(max, Number(response.retryAfter) * 1000);
    return Math.min(max, min * 2 ** attempt);
  }

  private count(result: AuditResult): void {
    this.options.metrics?.auditEvents.inc({ result });
  }

  private drop(count: number, why: string): void {
    this.options.metrics?.auditEventsDropped.inc(count);
    this.logLimited({ dropped: count }, `dropped ${count} outcome event${count === 1 ? '' : 's'} for ${this.options.url}: ${why}`);
  }

  private logFailure(event: FluxEvent, why: string): void {
    const o = event.involvedObject;
    this.logLimited({ object: `${o.kind}/${o.namespace}/${o.name}`, reason: event.reason }, `could not post an outcome event: ${why}`);
  }

  /** Logs at most once per FailureLogIntervalMs; a line also counts the ones held back since the last. */
  private logLimited(fields: Record<string, unknown>, message: string): void {
    const now = this.options.clock.now();
    if (now - this.lastLoggedAt < FailureLogIntervalMs) {
      this.unlogged++;
      return;
    }
    this.options.log.warn({ ...fields, eventsAddr: this.options.url, notLoggedSinceLast: this.unlogged }, message);
    this.lastLoggedAt = now;
    this.unlogged = 0;
  }
}

/** Statuses worth another attempt, as go-retryablehttp's policy: 5xx except 501 Not Implemented. */
function retryable(status: number): boolean {
  return status >= 500 && status !== 501;
}

/** The useful part of a fetch error: undici's "fetch failed" hides the socket error in its cause. */
function causeOf(err: unknown): string {
  // Read by shape, not instanceof: fetch's errors may come from another realm (a test runner's vm).
  const { message, cause } = (err ?? {}) as { message?: unknown; cause?: { code?: unknown; message?: unknown } };
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return typeof message === 'string' ? message : String(err);
}
