import { describe, it, expect } from '@jest/globals';
import { ApiError } from '../../../src/kube/client.js';
import {
  LeaderElector,
  acquiredLeaseSpec,
  activeHolder,
  leaseExpiresAt,
  microTimeToMs,
  releasedLeaseSpec,
  type LeaderElectorOptions,
  type Lease,
  type LeaseClient,
  type LeaseSpec,
  type StopReason,
} from '../../../src/runtime/leader.js';
import { FakeClock, settle, until } from './fake-clock.js';

const T0 = 1_700_000_000_000;
const MICRO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

describe('microTimeToMs', () => {
  it('reads the RFC 3339 string with microseconds that the API server sends for a Lease', () => {
    expect(microTimeToMs('2023-11-14T22:13:20.123456Z')).toBe(T0 + 123);
  });

  it('reads a Date', () => {
    expect(microTimeToMs(new Date(T0))).toBe(T0);
  });

  it('gives undefined for a missing or unparsable time', () => {
    expect(microTimeToMs(undefined)).toBeUndefined();
    expect(microTimeToMs('yesterday')).toBeUndefined();
    expect(microTimeToMs(new Date(Number.NaN))).toBeUndefined();
  });
});

describe('lease expiry', () => {
  const spec = (holder: string, renewedAt: number, seconds = 15): LeaseSpec => ({
    holderIdentity: holder,
    renewTime: new Date(renewedAt).toISOString(),
    leaseDurationSeconds: seconds,
  });

  it('expires leaseDurationSeconds after renewTime', () => {
    expect(leaseExpiresAt(spec('b', T0, 15))).toBe(T0 + 15_000);
  });

  it('counts the holder as active up to and including the expiry, and not after', () => {
    expect(activeHolder(spec('b', T0), T0 + 15_000)).toBe('b');
    expect(activeHolder(spec('b', T0), T0 + 15_001)).toBeUndefined();
  });

  it('has no active holder when holderIdentity is empty (a released Lease)', () => {
    expect(activeHolder(spec('', T0), T0)).toBeUndefined();
  });

  it('has no active holder when renewTime or the duration is missing', () => {
    expect(activeHolder({ holderIdentity: 'b', leaseDurationSeconds: 15 }, T0)).toBeUndefined();
    expect(activeHolder({ holderIdentity: 'b', renewTime: new Date(T0) }, T0)).toBeUndefined();
  });
});

describe('acquiredLeaseSpec', () => {
  it('starts a new Lease at transition 0 with both times now', () => {
    const spec = acquiredLeaseSpec(undefined, 'a', T0, 15);
    expect(spec).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect(microTimeToMs(spec.acquireTime)).toBe(T0);
    expect(microTimeToMs(spec.renewTime)).toBe(T0);
  });

  it('writes times with the microseconds the API server requires', () => {
    const wire = JSON.parse(JSON.stringify(acquiredLeaseSpec(undefined, 'a', T0 + 7, 15))) as Record<string, unknown>;
    expect(wire.renewTime).toBe('2023-11-14T22:13:20.007000Z');
    expect(wire.acquireTime).toMatch(MICRO);
  });

  it('keeps acquireTime and leaseTransitions when renewing its own Lease', () => {
    const mine = acquiredLeaseSpec(undefined, 'a', T0, 15);
    const renewed = acquiredLeaseSpec({ ...mine, leaseTransitions: 4 }, 'a', T0 + 2000, 15);
    expect(microTimeToMs(renewed.acquireTime)).toBe(T0);
    expect(microTimeToMs(renewed.renewTime)).toBe(T0 + 2000);
    expect(renewed.leaseTransitions).toBe(4);
  });

  it('counts a transition and resets acquireTime when taking over', () => {
    const theirs = { ...acquiredLeaseSpec(undefined, 'b', T0, 15), leaseTransitions: 4 };
    const taken = acquiredLeaseSpec(theirs, 'a', T0 + 20_000, 15);
    expect(taken.holderIdentity).toBe('a');
    expect(taken.leaseTransitions).toBe(5);
    expect(microTimeToMs(taken.acquireTime)).toBe(T0 + 20_000);
  });
});

describe('releasedLeaseSpec', () => {
  it('clears the holder and shortens the duration to 1 s, keeping the transitions', () => {
    const released = releasedLeaseSpec({ ...acquiredLeaseSpec(undefined, 'a', T0, 15), leaseTransitions: 2 }, T0 + 5000);
    expect(released).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 2 });
    expect(activeHolder(released, T0 + 5000)).toBeUndefined();
  });
});

/**
 * An in-memory Lease store with the API server's optimistic concurrency (resourceVersion, 404, 409)
 * and its wire format (objects round-trip through JSON, so times come back as strings, as from
 * client-node). It stands in for the API server where the test is about timing: the real one is
 * exercised by test/integration/leader-election.test.ts.
 */
class MemoryLeases implements LeaseClient {
  lease: Lease | undefined;
  conflicts = 0;
  /** 'fail': calls reject as a network failure would; 'hang': calls never settle. */
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  private version = 0;

  async readNamespacedLease(param: { name: string; namespace: string }): Promise<Lease> {
    await this.gate();
    if (!this.lease) throw new ApiError(404, { message: `leases "${param.name}" not found` });
    return wire(this.lease);
  }

  async createNamespacedLease(param: { namespace: string; body: Lease }): Promise<Lease> {
    await this.gate();
    if (this.lease) {
      this.conflicts++;
      throw new ApiError(409, { message: 'already exists' });
    }
    return this.store(param.body);
  }

  async replaceNamespacedLease(param: { name: string; namespace: string; body: Lease }): Promise<Lease> {
    await this.gate();
    if (!this.lease) throw new ApiError(404, {});
    const sent = param.body.metadata?.resourceVersion;
    // Like the API server: a resourceVersion that is not the current one loses; none means unconditional.
    if (sent !== undefined && sent !== this.lease.metadata?.resourceVersion) {
      this.conflicts++;
      throw new ApiError(409, { message: 'the object has been modified' });
    }
    return this.store(param.body);
  }

  /** Puts a Lease held by someone else, renewed at renewedAt. */
  holdBy(holder: string, renewedAt: number, transitions = 0): void {
    this.store({
      metadata: { name: 'lease', namespace: 'ns' },
      spec: { ...acquiredLeaseSpec(undefined, holder, renewedAt, 15), leaseTransitions: transitions },
    });
  }

  spec(): LeaseSpec {
    const spec = this.lease?.spec;
    if (!spec) throw new Error('no Lease stored');
    return spec;
  }

  private store(body: Lease): Lease {
    const stored = wire(body);
    stored.metadata = { ...stored.metadata!, resourceVersion: String(++this.version) };
    this.lease = stored;
    return wire(stored);
  }

  private gate(): Promise<void> {
    if (this.mode === 'fail') return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6443'));
    if (this.mode === 'hang') return new Promise(() => undefined);
    return Promise.resolve();
  }
}

function wire(lease: Lease): Lease {
  return JSON.parse(JSON.stringify(lease)) as Lease;
}

/** An elector on the fake clock and store, recording its callbacks. */
function elector(store: MemoryLeases, clock: FakeClock, identity: string, options: Partial<LeaderElectorOptions> = {}) {
  const events: string[] = [];
  const stopped: StopReason[] = [];
  const e = new LeaderElector({
    client: store,
    leaseName: 'lease',
    namespace: 'ns',
    identity,
    clock,
    jitterFactor: 0,
    onStartedLeading: () => events.push('started'),
    onStoppedLeading: (reason) => {
      events.push(`stopped:${reason}`);
      stopped.push(reason);
    },
    ...options,
  });
  return { e, events, stopped };
}

/** Advances the clock ms at a time, letting the elector react after each step. */
async function step(clock: FakeClock, ms: number, times = 1): Promise<void> {
  for (let i = 0; i < times; i++) {
    clock.advance(ms);
    await settle();
  }
}

describe('LeaderElector', () => {
  it('creates an absent Lease and leads', async () => {
    const store = new MemoryLeases();
    const clock = new FakeClock(T0);
    const { e, events } = elector(store, clock, 'a');
    void e.run();
    await until('leading', () => events.includes('started'));
    expect(e.isLeader()).toBe(true);
    expect(store.spec()).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect(store.spec().renewTime).toMatch(MICRO);
    await e.stop();
  });

  it("waits while another holder's Lease is valid and takes it over once it has expired", async () => {
    const store = new MemoryLeases();
    const clock = new FakeClock(T0);
    store.holdBy('b', T0, 3);
    const newLeaders: string[] = [];
    const { e, events } = elector(store, clock, 'a', { onNewLeader: (id) => newLeaders.push(id) });
    void e.run();
    await settle();
    await step(clock, 2000, 7); // t = 14 s: b's Lease is valid until 15 s
    expect(events).toEqual([]);
    expect(store.spec().holderIdentity).toBe('b');
    await step(clock, 2000); // t = 16 s
    expect(events).toEqual(['started']);
    expect(store.spec()).toMatchObject({ holderIdentity: 'a', leaseTransitions: 4 });
    expect(microTimeToMs(store.spec().acquireTime)).toBe(T0 + 16_000);
    expect(newLeaders).toEqual(['b', 'a']);
    await e.stop();
  });

  it('takes a released Lease (empty holder) at once', async () => {
    const store = new MemoryLeases();
    const clock = new FakeClock(T0);
    store.holdBy('b', T0);
    store.lease = { ...store.lease!, spec: releasedLeaseSpec(store.spec(), T0) };
    const { e, events } = elector(store, clock, 'a');
    void e.run();
    await until('leading', () => events.includes('started'));
    expect(clock.now()).toBe(T0);
    await e.stop();
  });

  it('renews the Lease every retryPeriod, keeping acquireTime', async () => {
    const store = new MemoryLeases();
    const clock = new FakeClock(T0);
    const { e, events } = elector(store, clock, 'a');
    void e.run();
    await until('leading', () => events.includes('started'));
    await step(clock, 2000, 3);
    expect(microTimeToMs(store.spec().renewTime)).toBe(T0 + 6000);
    expect(microTimeToMs(store.spec().acquireTime)).toBe(T0);
    expect(e.isLeader()).toBe(true);
    await e.stop();
  });

  it('keeps leading through failed renewals until renewDeadline, then stops', async () => {
    const store = new MemoryLeases();
    const clock = new FakeClock(T0);
    const { e, events, stopped } = elector(store, clock, 'a');
    const result = e.run();
    await until('leading', () => events.includes('started'));
    store.mode = 'fail';
    await step(clock, 2000, 4); // attempts at 2, 4, 6 and 8 s fail
    await step(clock, 1999);
    expect(e.isLeader()).toBe(true);
    expect(stopped).toEqual([]);
    await step(clock, 1); // 10 s after the last renewal
    expect(e.isLeader()).toBe(false);
    expect(stopped).toEqual(['renewFailed']);
    await expect(result).resolves.toBe('renewFailed');
  });

  it('measures renewDeadline from the last successful renewal', async () => {
    const store = new MemoryLeases();
    const clock = new FakeClock(T0);
    const { e, events, stopped } = elector(store, clock, 'a');
    void e.run();
    await until('leading', () => events.includes('started'));
    store.mode = 'fail';
    await step(clock, 2000, 4); // failing through 8 s
    store.mode = 'ok';
    await step(clock, 2000); // 10 s: cannot renew any more, the deadline has passed
    expect(stopped).toEqual(['renewFailed']);
  });

  it('recovers when a renewal succeeds before renewDeadline', async () => {
    const store = new MemoryLeases();
    const clock = new FakeClock(T0);
    const { e, events, stopped } = elector(store, clock, 'a');
    void e.run();
    await until('leading', () => events.includes('started'));
    store.mode = 'fail';
    await step(clock, 2000, 3); // failing through 6 s
    store.mode = 'ok';
    await step(clock, 2000); // 8 s: renewed
    store.mode = 'fail';
    await step(clock, 2000, 4); // 16 s: still within 10 s of the 8 s renewal
    expect(stopped).toEqual([]);
    expect(e.isLeader()).toBe(true);
    await step(clock, 2000); // 18 s
    expect(stopped).toEqual(['renewFailed']);
  });

  it('stops leading at renewDeadline even when a renewal request hangs', async () => {
    const store = new MemoryLeases();
    const clock = new FakeClock(T0);
    const { e, events, stopped } = elector(store, clock, 'a');
    void e.run();
    await until('leading', () => events.includes('started'));
    store.mode = 'hang';
    await step(clock, 2000); // the 2 s attempt never answers
    await step(clock, 7999);
    expect(stopped).toEqual([]);
    await step(clock, 1);
    expect(stopped).toEqual(['renewFailed']);
  });

  it('stops leading at once when the Lease shows another holder', async () => {
    const store = new MemoryLeases();
    const clock = new FakeClock(T0);
    const { e, events, stopped } = elector(store, clock, 'a');
    const result = e.run();
    await until('leading', () => events.includes('started'));
    store.holdBy('b', clock.now());
    await step(clock, 2000);
    expect(stopped).toEqual(['leaseLost']);
    await expect(result).resolves.toBe('leaseLost');
    expect(store.spec().holderIdentity).toBe('b');
  });

  it('counts any other holder as a loss while leading, even one whose Lease has expired since', async () => {
    const store = new MemoryLeases();
    const clock = new FakeClock(T0);
    const { e, events, stopped } = elector(store, clock, 'a');
    void e.run();
    await until('leading', () => events.includes('started'));
    // Someone held it in between and is gone again: they may have acted, so we must not carry on.
    store.holdBy('b', clock.now() - 60_000);
    await step(clock, 2000);
    expect(stopped).toEqual(['leaseLost']);
    expect(store.spec().holderIdentity).toBe('b');
  });

  it('releases the Lease on stop so a successor can take it at once', async () => {
    const store = new MemoryLeases();
    const clock = new FakeClock(T0);
    const { e, events } = elector(store, clock, 'a');
    const result = e.run();
    await until('leading', () => events.includes('started'));
    await e.stop();
    await expect(result).resolves.toBe('released');
    expect(events).toEqual(['started', 'stopped:released']);
    expect(store.spec()).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 });
    expect(e.isLeader()).toBe(false);
  });

  it('stopped before it acquires, resolves undefined and leaves the holder alone', async () => {
    const store = new MemoryLeases();
    const clock = new FakeClock(T0);
    store.holdBy('b', T0);
    const { e, events } = elector(store, clock, 'a');
    const result = e.run();
    await settle();
    await e.stop();
    await expect(result).resolves.toBeUndefined();
    expect(events).toEqual([]);
    expect(store.spec().holderIdentity).toBe('b');
    expect(clock.pendingTimers()).toBe(0);
  });

  it('lets exactly one of two replicas lead when both find the Lease free at the same moment', async () => {
    const store = new MemoryLeases();
    const clock = new FakeClock(T0);
    store.holdBy('old', T0 - 60_000, 1);
    const a = elector(store, clock, 'a');
    const b = elector(store, clock, 'b');
    void a.e.run();
    void b.e.run();
    await settle();
    expect([a.e.isLeader(), b.e.isLeader()].filter(Boolean)).toHaveLength(1);
    expect(store.conflicts).toBe(1);
    expect(store.spec().leaseTransitions).toBe(2);

    // The leader steps down; the other takes over on its next attempt.
    const [leader, follower] = a.e.isLeader() ? [a, b] : [b, a];
    await leader.e.stop();
    await step(clock, 2000);
    expect(follower.e.isLeader()).toBe(true);
    expect(store.spec()).toMatchObject({ holderIdentity: follower.e.identity, leaseTransitions: 3 });
    await follower.e.stop();
  });

  it('recreates the Lease if it disappears while leading', async () => {
    const store = new MemoryLeases();
    const clock = new FakeClock(T0);
    const { e, events, stopped } = elector(store, clock, 'a');
    void e.run();
    await until('leading', () => events.includes('started'));
    store.lease = undefined;
    await step(clock, 2000);
    expect(stopped).toEqual([]);
    expect(store.spec().holderIdentity).toBe('a');
    await e.stop();
  });

  it('spreads acquire attempts by the jitter factor', async () => {
    const store = new MemoryLeases();
    const clock = new FakeClock(T0);
    store.holdBy('b', T0);
    const { e } = elector(store, clock, 'a', { jitterFactor: 1.2, random: () => 0.5 });
    void e.run();
    await settle();
    expect(clock.nextTimerIn()).toBe(2000 * (1 + 0.5 * 1.2));
    await e.stop();
  });

  it('defaults identity to the hostname and a random suffix', () => {
    const store = new MemoryLeases();
    const one = new LeaderElector({
      client: store,
      leaseName: 'l',
      namespace: 'n',
      onStartedLeading: () => {},
      onStoppedLeading: () => {},
    });
    const two = new LeaderElector({
      client: store,
      leaseName: 'l',
      namespace: 'n',
      onStartedLeading: () => {},
      onStoppedLeading: () => {},
    });
    expect(one.identity).toMatch(/^.+_[0-9a-f-]{36}$/);
    expect(one.identity).not.toBe(two.identity);
  });

  it.each([
    [{ leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }, 'leaseDuration must be greater than renewDeadline'],
    [{ renewDeadlineMs: 2400, retryPeriodMs: 2000, jitterFactor: 0 }, 'renewDeadline must be greater than 1.2 × retryPeriod'],
  ])('refuses inconsistent timings %j', (timings, message) => {
    const store = new MemoryLeases();
    expect(
      () =>
        new LeaderElector({
          client: store,
          leaseName: 'l',
          namespace: 'n',
          onStartedLeading: () => {},
          onStoppedLeading: () => {},
          ...timings,
        }),
    ).toThrow(message);
  });
});
