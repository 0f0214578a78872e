import { describe, expect, it } from '@jest/globals';
import { heapGrowthPerThousand, slope, type MemorySample } from '../../bench/heap.js';

describe('slope', () => {
  it('is the least-squares slope', () => {
    expect(
      slope([
        { x: 0, y: 1 },
        { x: 1, y: 3 },
        { x: 2, y: 5 },
      ]),
    ).toBeCloseTo(2);
    expect(slope([{ x: 1, y: 1 }])).toBeUndefined();
  });
});

describe('heapGrowthPerThousand', () => {
  const samples = (f: (i: number) => number): MemorySample[] =>
    Array.from({ length: 48 }, (_, i) => ({ t: i, finished: i * 500, heapUsedMiB: f(i), rssMiB: 100 }));

  it('follows the lows of the heap, not the garbage between collections', () => {
    // Flat live heap of 30 MiB with up to 20 MiB of garbage on top, collected every sixth sample.
    expect(heapGrowthPerThousand(samples((i) => 30 + (i % 6) * 4))).toBeCloseTo(0);
  });

  it('reports a leak as MiB per 1000 requests', () => {
    // 0.1 MiB per 500 requests = 0.2 MiB per 1000.
    expect(heapGrowthPerThousand(samples((i) => 30 + i * 0.1 + (i % 6) * 4))).toBeCloseTo(0.2);
  });
});
