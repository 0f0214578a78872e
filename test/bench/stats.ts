// Small statistics for the benchmark's figures.

/** The p-th percentile (0-100) by nearest rank; undefined for no samples. */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export interface Summary {
  count: number;
  min?: number;
  p50?: number;
  p95?: number;
  p99?: number;
  max?: number;
  mean?: number;
}

/** Count, min, p50/p95/p99, max and mean of samples. */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  if (sorted.length === 0) return { count: 0 };
  return {
    count: sorted.length,
    min: sorted[0],
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1],
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}

/** The median: the middle sample, or the mean of the two middle ones; undefined for no samples. */
export function median(samples: readonly number[]): number | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Rounds to a number of decimals (for the JSON line). */
export function round(n: number | undefined, decimals = 1): number | undefined {
  if (n === undefined || !Number.isFinite(n)) return undefined;
  const f = 10 ** decimals;
  return Math.round(n * f) / f;
}

/** Runs task(i) for i in [0, count) with at most `parallelism` in flight. */
export async function runBounded(count: number, parallelism: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallelism, count) }, worker));
}
