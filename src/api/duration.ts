// Go-style durations ("90s", "5m", "1h30m", "250ms"), as Flux and Kubernetes users write them.

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const durationPattern = /^(\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/** The default spec.timeout of a request. */
export const DefaultTimeout = '5m';
/** DefaultTimeout in milliseconds. */
export const DefaultTimeoutMs = 300_000;
/** The longest spec.timeout the API accepts. */
export const MaxTimeoutMs = 3_600_000;

/** Milliseconds in a Go-style duration, or undefined when it is not one. */
export function parseDuration(value: string): number | undefined {
  if (!durationPattern.test(value)) return undefined;
  let total = 0;
  for (const [, amount, unit] of value.matchAll(part)) total += Number(amount) * (unitMs[unit ?? 's'] ?? 0);
  return total;
}

/** Formats milliseconds the way Go prints a duration, to the second ("1m30s", "5m0s" becomes "5m"). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let seconds = Math.round(ms / 1000);
  const h = Math.floor(seconds / 3600);
  seconds -= h * 3600;
  const m = Math.floor(seconds / 60);
  seconds -= m * 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${seconds || (!h && !m) ? `${seconds}s` : ''}`;
}
