// The per-session rate limit on tool calls: a sliding window on an injected clock.
import { describe, expect, it } from '@jest/globals';
import { parseRateLimit, RateLimiter } from '../../../src/mcp/guard.js';

describe('parseRateLimit', () => {
  it('reads calls/duration', () => {
    expect(parseRateLimit('30/1m')).toEqual({ calls: 30, windowMs: 60_000 });
    expect(parseRateLimit(' 5/10s ')).toEqual({ calls: 5, windowMs: 10_000 });
  });

  it('refuses what is not calls/duration', () => {
    for (const bad of ['30', '/1m', '0/1m', '3/soon', '-1/1m', '3/0s']) expect(parseRateLimit(bad)).toBeUndefined();
  });
});

describe('RateLimiter', () => {
  it('admits `calls` calls per window, refuses the next naming the limit and when to retry, and admits again once the window slid', () => {
    let now = 1_000_000;
    const limiter = new RateLimiter({ calls: 2, windowMs: 60_000 }, () => now);
    expect(limiter.admit()).toBeUndefined();
    now += 20_000;
    expect(limiter.admit()).toBeUndefined();
    now += 10_000;
    expect(limiter.admit()).toBe(
      'rate limit: this session made 2 tool calls in the last 1m (--rate-limit 2/1m); the call was not carried out. Retry in 30s.',
    );
    // The first call leaves the window 60s after it was made; refused calls did not count.
    now += 30_000;
    expect(limiter.admit()).toBeUndefined();
    expect(limiter.admit()).toMatch(/Retry in 20s\.$/);
  });
});
