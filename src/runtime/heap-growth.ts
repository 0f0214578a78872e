// V8's heap growth while the operator's caches fill. Listing every request and Flux object at start
// allocates far more than the caches keep, and V8 grows its heap rather than collect while it may:
// a restart on 10 000 finished requests peaked at 181–183 MiB RSS with V8's own heuristics and at
// 133–154 MiB with the growth limited to 20% between full collections (README, Performance). The
// limit costs capacity under load (11–21% in the benchmark), so it holds only while the operator
// settles: until the caches have synced, the requests found at start have been looked at once and
// the outcome Events of those that finished recently looked for (the Operator's onSettled); then
// V8's heuristics are back.
import v8 from 'node:v8';

/** How much V8 may grow the heap between full collections while the operator settles, in percent. */
export const SyncHeapGrowingPercent = 20;

/**
 * Limits V8's heap growth now and returns what lifts the limit (once; later calls do nothing). When
 * the command line sets --heap-growing-percent itself, that setting stands: nothing is limited or
 * lifted.
 */
export function limitHeapGrowthUntilSettled(
  execArgv: readonly string[] = process.execArgv,
  setFlags: (flags: string) => void = (flags) => {
    v8.setFlagsFromString(flags);
  },
): () => void {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent\b/.test(arg))) return () => undefined;
  setFlags(`--heap-growing-percent=${SyncHeapGrowingPercent}`);
  let lifted = false;
  return () => {
    if (lifted) return;
    lifted = true;
    // 0 is V8's default: its own heuristics decide.
    setFlags('--heap-growing-percent=0');
  };
}
