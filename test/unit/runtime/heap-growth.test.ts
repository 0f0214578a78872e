// V8's heap growth is limited while the caches sync and given back to V8's heuristics after, unless
// the command line set it.
import { describe, expect, it } from '@jest/globals';
import { limitHeapGrowthUntilSettled, SyncHeapGrowingPercent } from '../../../src/runtime/heap-growth.js';

describe('the heap growth limit while the caches sync', () => {
  it('is set at once and lifted back to V8 heuristics (0) once, however often the lift is called', () => {
    const set: string[] = [];
    const lift = limitHeapGrowthUntilSettled(['--max-semi-space-size=1'], (flags) => set.push(flags));
    expect(set).toEqual([`--heap-growing-percent=${SyncHeapGrowingPercent}`]);
    lift();
    lift();
    expect(set).toEqual([`--heap-growing-percent=${SyncHeapGrowingPercent}`, '--heap-growing-percent=0']);
  });

  it.each([['--heap-growing-percent=35'], ['--heap_growing_percent=0']])('leaves %s from the command line as it is', (flag) => {
    const set: string[] = [];
    const lift = limitHeapGrowthUntilSettled(['--max-semi-space-size=1', flag], (flags) => set.push(flags));
    lift();
    expect(set).toEqual([]);
  });
});
