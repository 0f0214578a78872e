// Reconcile tokens: the values written to reconcile.fluxcd.io/requestedAt. Flux copies the value it
// acted on into status.lastHandledReconcileAt, which is how the operator knows its request was handled.
import { monotonicNanos } from '../runtime/clock.js';

const rfc3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Parses an RFC 3339 timestamp with up to nanosecond precision (the flux CLI writes Go's
 * RFC3339Nano, which trims trailing zeros) into nanoseconds since the epoch; undefined otherwise.
 */
export function tokenTime(value: string | undefined): bigint | undefined {
  if (!value) return undefined;
  const m = rfc3339.exec(value);
  if (!m) return undefined;
  const [, seconds, fraction = '', zone] = m;
  const ms = Date.parse(`${seconds}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt(fraction.padEnd(9, '0'));
}

/**
 * Whether Flux has handled `token`: its lastHandledReconcileAt is the token itself, or a request
 * written after it (a later timestamp). A reconcile started for a later request read the object
 * after our token was written, so it covers our request too.
 */
export function isHandled(token: string, lastHandledReconcileAt: string | undefined): boolean {
  if (lastHandledReconcileAt === undefined) return false;
  if (lastHandledReconcileAt === token) return true;
  const ours = tokenTime(token);
  const handled = tokenTime(lastHandledReconcileAt);
  return ours !== undefined && handled !== undefined && handled > ours;
}

/** Formats nanoseconds since the epoch as a fixed-width RFC 3339 UTC timestamp with 9 fraction digits. */
export function formatToken(nanos: bigint): string {
  const ms = nanos / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // 2026-11-25T11:00:00.123Z
  const fraction = (nanos % 1_000_000_000n).toString().padStart(9, '0');
  return `${iso.slice(0, 19)}.${fraction}Z`;
}

/**
 * Returns a function that mints strictly increasing tokens from a millisecond clock: equal
 * milliseconds get increasing sub-millisecond digits, so two tokens never collide.
 */
export function tokenMinter(now: () => number): () => string {
  const nanos = monotonicNanos(now);
  return () => formatToken(nanos());
}
