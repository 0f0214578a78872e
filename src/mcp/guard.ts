// What stands around every tool call of a session: a rate limit on calls and a JSONL audit log of
// each call (tool, arguments, size of the answer, duration, outcome, who called, which session).
import { createWriteStream, type WriteStream } from 'node:fs';
import { formatDuration, parseDuration } from '../api/duration.js';

/** At most `calls` tool calls in any window of `windowMs` (--rate-limit calls/window). */
export interface RateLimit {
  calls: number;
  windowMs: number;
}

/** Parses `N/duration` (e.g. 30/1m); undefined when it does not have that shape. */
export function parseRateLimit(text: string): RateLimit | undefined {
  const m = /^(\d+)\/(.+)$/.exec(text.trim());
  if (!m) return undefined;
  const calls = Number(m[1]);
  const windowMs = parseDuration(m[2] ?? '');
  if (!Number.isSafeInteger(calls) || calls < 1 || windowMs === undefined || windowMs <= 0) return undefined;
  return { calls, windowMs };
}

/**
 * A sliding-window limit on one session's tool calls: a call is admitted when fewer than `calls`
 * admitted calls fall in the last `windowMs`. Refused calls do not count. The clock is injected.
 */
export class RateLimiter {
  private readonly admitted: number[] = [];

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
  ) {}

  /** Admits a call (undefined) or says why not, naming the limit and when to retry. */
  admit(): string | undefined {
    const now = this.now();
    while (this.admitted.length > 0 && (this.admitted[0] ?? 0) <= now - this.limit.windowMs) this.admitted.shift();
    if (this.admitted.length < this.limit.calls) {
      this.admitted.push(now);
      return undefined;
    }
    const retryMs = (this.admitted[0] ?? now) + this.limit.windowMs - now;
    return `rate limit: this session made ${this.limit.calls} tool calls in the last ${formatDuration(this.limit.windowMs)} (--rate-limit ${this.limit.calls}/${formatDuration(this.limit.windowMs)}); the call was not carried out. Retry in ${Math.ceil(retryMs / 1000)}s.`;
  }
}

/** One line of the audit log. */
export interface AuditEntry {
  time: string;
  session: string;
  /** The Kubernetes user the call ran as (the caller's own in passthrough mode). */
  identity: string;
  client?: string;
  tool: string;
  arguments: unknown;
  /** ok, error (the tool answered isError), or refused (rate limit, confirmation declined). */
  outcome: 'ok' | 'error' | 'refused';
  resultBytes: number;
  durationMs: number;
}

/** Appends one JSON line per tool call to a file (--audit-log), shared by every session of the process. */
export class AuditLog {
  private readonly stream: WriteStream;
  private failed: Error | undefined;

  constructor(readonly path: string) {
    this.stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
    this.stream.on('error', (err) => {
      this.failed = err;
    });
  }

  /** Resolves once the file is open; rejects (e.g. a directory that does not exist) with a one-line reason. */
  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.failed) {
        reject(new Error(`--audit-log ${this.path}: ${this.failed.message}`));
        return;
      }
      if (!this.stream.pending) {
        resolve();
        return;
      }
      this.stream.once('ready', () => {
        resolve();
      });
      this.stream.once('error', (err) => {
        reject(new Error(`--audit-log ${this.path}: ${err.message}`));
      });
    });
  }

  write(entry: AuditEntry): void {
    this.stream.write(`${JSON.stringify(entry)}\n`);
  }

  /** Flushes what was written and closes the file. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.stream.end(() => {
        resolve();
      });
    });
  }
}
