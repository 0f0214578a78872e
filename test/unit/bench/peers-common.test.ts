import { describe, expect, it } from '@jest/globals';
import { procKiB } from '../../support/proc.js';
import { fluxProcessesThatFit, fluxStep, highestMemory } from '../../bench/peers-common.js';

// A flux process's /proc/PID/status, cut to the lines read.
const status = `Name:\tflux
VmHWM:\t   59812 kB
VmRSS:\t   58120 kB
RssAnon:\t   12004 kB
RssFile:\t   46116 kB
RssShmem:\t       0 kB
`;

describe('procKiB', () => {
  it('reads a named kB line', () => {
    expect(procKiB(status, 'VmHWM')).toBe(59812);
    expect(procKiB(status, 'RssAnon')).toBe(12004);
    expect(procKiB(status, 'RssFile')).toBe(46116);
    expect(procKiB('MemTotal:       24684328 kB\nMemAvailable:   23620000 kB\n', 'MemAvailable')).toBe(23620000);
  });

  it('is 0 for a line that is not there, and does not match a longer name', () => {
    expect(procKiB(status, 'VmSwap')).toBe(0);
    expect(procKiB(status, 'Rss')).toBe(0);
  });
});

describe('fluxProcessesThatFit', () => {
  it('counts the private pages of each process and the shared binary once', () => {
    const one = { peakRssKiB: 59812, anonKiB: 12004, fileKiB: 46116 };
    // 3/4 of 16 GiB = 12 582 912 KiB; less the shared 46 116; over 12 004 each.
    expect(fluxProcessesThatFit(16 * 1024 * 1024, one)).toBe(Math.floor((12_582_912 - 46_116) / 12_004));
    // Counting the whole RSS per process would allow far fewer.
    expect(fluxProcessesThatFit(16 * 1024 * 1024, one)).toBeGreaterThan(Math.floor(12_582_912 / 59_812) * 4);
  });

  it('is 0 when not even the binary fits', () => {
    expect(fluxProcessesThatFit(1000, { peakRssKiB: 5000, anonKiB: 100, fileKiB: 5000 })).toBe(0);
  });
});

describe('fluxStep', () => {
  const out = (...lines: string[]): string => lines.join('\n');

  it('is the last progress line before the ✗, without names and revisions', () => {
    expect(
      fluxStep(
        out(
          '► annotating GitRepository repo in peers-1 namespace',
          '✔ GitRepository annotated',
          '◎ waiting for GitRepository reconciliation',
          '✔ fetched revision main@sha1:3f774e3',
          '► annotating Kustomization good-0001 in peers-1 namespace',
          '✗ Timeout: request did not complete within requested timeout - context deadline exceeded',
        ),
      ),
    ).toBe('► annotating Kustomization');
    expect(fluxStep(out('◎ waiting for GitRepository reconciliation', '✗ context deadline exceeded'))).toBe(
      '◎ waiting for GitRepository reconciliation',
    );
    expect(fluxStep(out('✔ fetched revision main@sha1:3f774e3', '✗ x'))).toBe('✔ fetched revision');
  });

  it('is (none) when it failed before printing a step', () => {
    expect(fluxStep(out('✗ Timeout: request did not complete within requested timeout - context deadline exceeded'))).toBe('(none)');
  });
});

describe('highestMemory', () => {
  it('keeps the highest of each figure, counting a missing reading as nothing', () => {
    const a = { peakRssKiB: 60_000, anonKiB: 12_000, fileKiB: 46_000 };
    expect(highestMemory(undefined, a)).toEqual(a);
    expect(highestMemory(a, { peakRssKiB: 59_000, anonKiB: 13_000, fileKiB: 45_000 })).toEqual({
      peakRssKiB: 60_000,
      anonKiB: 13_000,
      fileKiB: 46_000,
    });
  });
});
