// Leader election against the real API server: two electors on one Lease in a fresh namespace.
import { describe, it, expect, beforeAll, afterAll, afterEach } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { LeaderElector, microTimeToMs, type StopReason } from '../../src/runtime/leader.js';
import { adminKubeConfig, createNamespace, deleteNamespace, waitFor } from '../support/kube.js';

// Short timings so hand-overs take well under a second; the ratios are those of the defaults.
const LEASE_DURATION_MS = 3000;
const RENEW_DEADLINE_MS = 2000;
const RETRY_PERIOD_MS = 250;

interface Candidate {
  elector: LeaderElector;
  started: number;
  stopped: StopReason[];
  result: Promise<StopReason | undefined>;
}

describe('leader election on a coordination.k8s.io/v1 Lease', () => {
  let kc: k8s.KubeConfig;
  let api: k8s.CoordinationV1Api;
  let namespace: string;
  const running: Candidate[] = [];

  beforeAll(async () => {
    kc = adminKubeConfig();
    api = kc.makeApiClient(k8s.CoordinationV1Api);
    namespace = await createNamespace(kc, 'leader');
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.elector.stop()));
  });

  afterAll(async () => {
    await deleteNamespace(kc, namespace);
  });

  const candidate = (leaseName: string, identity: string): Candidate => {
    const c: Candidate = {
      started: 0,
      stopped: [],
      result: Promise.resolve(undefined),
      elector: new LeaderElector({
        client: api,
        leaseName,
        namespace,
        identity,
        leaseDurationMs: LEASE_DURATION_MS,
        renewDeadlineMs: RENEW_DEADLINE_MS,
        retryPeriodMs: RETRY_PERIOD_MS,
        onStartedLeading: () => c.started++,
        onStoppedLeading: (reason) => c.stopped.push(reason),
      }),
    };
    c.result = c.elector.run();
    running.push(c);
    return c;
  };

  const readLease = (name: string): Promise<k8s.V1Lease> => api.readNamespacedLease({ name, namespace });

  /** Waits until the Lease has been renewed `times` more times (its renewTime moved on). */
  const waitForRenewals = async (name: string, times: number): Promise<void> => {
    let last = microTimeToMs((await readLease(name)).spec?.renewTime);
    let seen = 0;
    await waitFor(`${times} renewals of Lease ${namespace}/${name}`, async () => {
      const now = microTimeToMs((await readLease(name)).spec?.renewTime);
      if (now !== last) {
        seen++;
        last = now;
      }
      return seen >= times ? true : undefined;
    });
  };

  it('lets exactly one of two electors lead, and shows it in holderIdentity', async () => {
    const a = candidate('exactly-one', 'replica-a');
    const b = candidate('exactly-one', 'replica-b');
    const leader = await waitFor('a leader', () => [a, b].find((c) => c.elector.isLeader()));
    const follower = leader === a ? b : a;

    // Several renewals later the follower still has not led.
    await waitForRenewals('exactly-one', 3);
    expect(leader.started).toBe(1);
    expect(follower.started).toBe(0);
    expect(follower.elector.isLeader()).toBe(false);

    const lease = await readLease('exactly-one');
    expect(lease.spec?.holderIdentity).toBe(leader.elector.identity);
    expect(lease.spec?.leaseDurationSeconds).toBe(3);
    expect(lease.spec?.leaseTransitions).toBe(0);
    // Written as V1MicroTime: the API server keeps the microsecond precision.
    expect(String(lease.spec?.renewTime)).toMatch(/\.\d{6}Z$/);
    expect(microTimeToMs(lease.spec?.renewTime)).toBeGreaterThanOrEqual(microTimeToMs(lease.spec?.acquireTime) ?? Infinity);
  });

  it('hands over at once when the leader releases the Lease', async () => {
    const a = candidate('hand-over', 'replica-a');
    const b = candidate('hand-over', 'replica-b');
    const leader = await waitFor('a leader', () => [a, b].find((c) => c.elector.isLeader()));
    const follower = leader === a ? b : a;

    await leader.elector.stop();
    const releasedAt = Date.now();
    await expect(leader.result).resolves.toBe('released');
    expect(leader.stopped).toEqual(['released']);

    await waitFor('the follower to lead', () => (follower.elector.isLeader() ? true : undefined));
    // Sooner than the old Lease could have expired: the release, not expiry, let it in.
    expect(Date.now() - releasedAt).toBeLessThan(LEASE_DURATION_MS);

    const lease = await readLease('hand-over');
    expect(lease.spec?.holderIdentity).toBe(follower.elector.identity);
    expect(lease.spec?.leaseTransitions).toBe(1);
    expect(lease.spec?.leaseDurationSeconds).toBe(3);
  });

  it('stops leading when another writer takes the Lease', async () => {
    const a = candidate('taken', 'replica-a');
    await waitFor('replica-a to lead', () => (a.elector.isLeader() ? true : undefined));

    // Another party overwrites the holder, using the resourceVersion it read (retrying on conflict
    // with replica-a's renewals).
    await waitFor('the Lease to be taken', async () => {
      const lease = await readLease('taken');
      await api.replaceNamespacedLease({
        name: 'taken',
        namespace,
        body: { ...lease, spec: { ...lease.spec!, holderIdentity: 'intruder', renewTime: new k8s.V1MicroTime(Date.now()) } },
      });
      return true;
    });

    await expect(a.result).resolves.toBe('leaseLost');
    expect(a.stopped).toEqual(['leaseLost']);
    expect(a.elector.isLeader()).toBe(false);
    expect((await readLease('taken')).spec?.holderIdentity).toBe('intruder');
  });

  it('gets a 409 Conflict for a write with a stale resourceVersion, which is what decides races', async () => {
    const a = candidate('conflict', 'replica-a');
    await waitFor('replica-a to lead', () => (a.elector.isLeader() ? true : undefined));
    const stale = await readLease('conflict');
    await waitForRenewals('conflict', 1);
    const write = api.replaceNamespacedLease({
      name: 'conflict',
      namespace,
      body: { ...stale, spec: { ...stale.spec!, holderIdentity: 'late' } },
    });
    await expect(write).rejects.toMatchObject({ code: 409 });
    expect((await readLease('conflict')).spec?.holderIdentity).toBe('replica-a');
  });
});
