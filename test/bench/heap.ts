// The operator's memory over a run: its heap (from /metrics) and RSS (from /proc) sampled at an
// interval, and how fast the heap grows per finished request once the run is under way.
import { scrapeMetrics } from './operator-process.js';

export interface MemorySample {
  /** Seconds since sampling started. */
  t: number;
  /** Requests finished so far (all phases). */
  finished: number;
  heapUsedMiB: number | undefined;
  rssMiB: number | undefined;
}

/** Samples the operator every `everyMs` until stopped. */
export function startMemorySampler(
  metricsPort: number,
  rssMiB: () => number | undefined,
  finished: () => number,
  everyMs: number,
): { stop(): MemorySample[] } {
  const samples: MemorySample[] = [];
  const started = performance.now();
  let busy = false;
  const take = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const metrics = await scrapeMetrics(metricsPort);
      samples.push({
        t: (performance.now() - started) / 1000,
        finished: finished(),
        heapUsedMiB: metrics?.heapUsedBytes === undefined ? undefined : metrics.heapUsedBytes / 2 ** 20,
        rssMiB: rssMiB(),
      });
    } finally {
      busy = false;
    }
  };
  void take();
  const timer = setInterval(() => void take(), everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return samples;
    },
  };
}

/** The least-squares slope of y over x; undefined for fewer than two distinct x. */
export function slope(points: readonly { x: number; y: number }[]): number | undefined {
  const n = points.length;
  if (n < 2) return undefined;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const sxx = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  if (sxx === 0) return undefined;
  return points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0) / sxx;
}

/**
 * Heap growth per 1000 finished requests over the second half of the samples, from the lowest heap
 * of each run of `window` samples: the heap used swings with garbage not yet collected, its lows
 * follow what stays alive.
 */
export function heapGrowthPerThousand(samples: readonly MemorySample[], window = 6): number | undefined {
  const late = samples.slice(Math.floor(samples.length / 2)).filter((s) => s.heapUsedMiB !== undefined);
  const lows: { x: number; y: number }[] = [];
  for (let i = 0; i + window <= late.length; i += window) {
    const run = late.slice(i, i + window);
    const low = run.reduce((a, s) => (s.heapUsedMiB! < a.heapUsedMiB! ? s : a));
    lows.push({ x: low.finished / 1000, y: low.heapUsedMiB! });
  }
  return slope(lows);
}
