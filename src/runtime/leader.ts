// Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection package:
// several replicas may run, one acts. The holder renews the Lease every retryPeriod; if it cannot
// renew within renewDeadline it stops leading (and the operator exits), well before the Lease expires
// for the others after leaseDuration. Writes carry the resourceVersion that was read, so when two
// replicas race, the API server's 409 Conflict decides and only one wins.
//
// Expiry is judged as the Lease API defines it, renewTime + leaseDurationSeconds against our clock
// (client-go measures from when it observed the record instead); replicas' clocks are assumed to agree
// to well within leaseDuration - renewDeadline.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { pino, type Logger } from 'pino';
import type { ClusterAccess } from '../kube/access.js';
import { kubeClient } from '../kube/client.js';
import { describeError, isConflict, isNotFound } from '../kube/errors.js';
import { delay, realClock, type Clock } from './clock.js';

/**
 * A Lease's spec. Times are RFC 3339 with microseconds as the API server sends them (a Date is
 * read too: client-node's CoordinationV1Api gives V1MicroTime, a Date).
 */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string | Date;
  renewTime?: string | Date;
  leaseTransitions?: number;
}

export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** The Lease calls the elector makes (named as client-node's CoordinationV1Api, which satisfies it too). */
export interface LeaseClient {
  readNamespacedLease(param: { name: string; namespace: string }): Promise<Lease>;
  createNamespacedLease(param: { namespace: string; body: Lease }): Promise<Lease>;
  replaceNamespacedLease(param: { name: string; namespace: string; body: Lease }): Promise<Lease>;
}

/** The LeaseClient of a cluster, each call bounded by the API client's deadline. */
export function leaseClient(kc: ClusterAccess): LeaseClient {
  const client = kubeClient(kc);
  const path = (namespace: string, name?: string): string =>
    `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases${name ? `/${name}` : ''}`;
  return {
    readNamespacedLease: ({ name, namespace }) => client.get<Lease>(path(namespace, name)),
    createNamespacedLease: ({ namespace, body }) => client.create<Lease>(path(namespace), body),
    replaceNamespacedLease: ({ name, namespace, body }) => client.replace<Lease>(path(namespace, name), body),
  };
}

/** A time as a MicroTime: RFC 3339 with six fractional digits, which the API server requires of a Lease's times. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

/**
 * Why leadership ended: the Lease could not be renewed within renewDeadline, another replica was
 * found holding it, or stop() released it.
 */
export type StopReason = 'renewFailed' | 'leaseLost' | 'released';

export interface LeaderElectorOptions {
  client: LeaseClient;
  /** Lease name. */
  leaseName: string;
  /** Lease namespace (the operator's own). */
  namespace: string;
  /** This replica's name in holderIdentity. Default `<hostname>_<random UUID>`. */
  identity?: string;
  /** How long a Lease stays valid after its last renewal, for the others. Default 15 s. */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it gives up leading. Default 10 s. */
  renewDeadlineMs?: number;
  /** Time between acquire or renew attempts. Default 2 s. */
  retryPeriodMs?: number;
  /** Acquire attempts wait retryPeriod × (1 + random × jitterFactor), so replicas spread out. Default 1.2. */
  jitterFactor?: number;
  /** Source of randomness for the jitter, in [0, 1). Default Math.random. */
  random?: () => number;
  /** Default realClock. */
  clock?: Clock;
  /** Default: a silent logger. */
  logger?: Logger;
  /** Called once this replica holds the Lease. */
  onStartedLeading: () => void;
  /**
   * Called once when leadership ends, before the Lease is released on stop(). On 'renewFailed' or
   * 'leaseLost' the operator must stop acting at once (exit), since another replica may now lead.
   */
  onStoppedLeading: (reason: StopReason) => void;
  /** Called when a different holder (possibly this replica) is first observed. */
  onNewLeader?: (identity: string) => void;
}

/** Default time a Lease is valid after its last renewal, in ms. */
export const DEFAULT_LEASE_DURATION_MS = 15_000;
/** Default time the leader tries to renew before it stops leading, in ms. */
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
/** Default time between attempts, in ms. */
export const DEFAULT_RETRY_PERIOD_MS = 2_000;
/** Default jitter factor of acquire attempts (as client-go's JitterFactor). */
export const DEFAULT_JITTER_FACTOR = 1.2;

/**
 * A Lease MicroTime as milliseconds since the epoch, or undefined when absent or unparsable: an
 * RFC 3339 string with microseconds as the API server sends it, or a Date.
 */
export function microTimeToMs(value: unknown): number | undefined {
  let ms: number;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === 'string') ms = Date.parse(value);
  else return undefined;
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * When the Lease stops being valid: renewTime + leaseDurationSeconds, in ms. Undefined when either is
 * missing, which makes the Lease free to take (no one can claim to be renewing it).
 */
export function leaseExpiresAt(spec: LeaseSpec | undefined): number | undefined {
  const renewedAt = microTimeToMs(spec?.renewTime);
  const seconds = spec?.leaseDurationSeconds;
  if (renewedAt === undefined || seconds === undefined) return undefined;
  return renewedAt + seconds * 1000;
}

/** The identity holding the Lease at nowMs, or undefined when it has no holder or has expired. */
export function activeHolder(spec: LeaseSpec | undefined, nowMs: number): string | undefined {
  const holder = spec?.holderIdentity;
  if (!holder) return undefined;
  const expiresAt = leaseExpiresAt(spec);
  return expiresAt !== undefined && expiresAt >= nowMs ? holder : undefined;
}

/**
 * The spec identity writes to acquire or renew the Lease at nowMs. Renewing keeps acquireTime and
 * leaseTransitions; taking over from another holder (or a released Lease) counts a transition.
 * Times are written with the microseconds the API server requires (microTime: it refuses a plain
 * Date's milliseconds with 400 BadRequest).
 */
export function acquiredLeaseSpec(
  current: LeaseSpec | undefined,
  identity: string,
  nowMs: number,
  leaseDurationSeconds: number,
): LeaseSpec {
  const now = microTime(nowMs);
  const renewing = current?.holderIdentity === identity;
  let leaseTransitions = 0;
  if (current) leaseTransitions = renewing ? (current.leaseTransitions ?? 0) : (current.leaseTransitions ?? 0) + 1;
  const base: LeaseSpec = current ?? {};
  return {
    ...base,
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: renewing && current.acquireTime ? current.acquireTime : now,
    renewTime: now,
    leaseTransitions,
  };
}

/**
 * The spec a holder writes to give the Lease up: no holder, and a 1 s duration so that even a
 * successor that ignores the empty holder takes over at once (as client-go's ReleaseOnCancel).
 */
export function releasedLeaseSpec(current: LeaseSpec | undefined, nowMs: number): LeaseSpec {
  const now = microTime(nowMs);
  const base: LeaseSpec = current ?? {};
  return {
    ...base,
    holderIdentity: '',
    leaseDurationSeconds: 1,
    acquireTime: now,
    renewTime: now,
    leaseTransitions: current?.leaseTransitions ?? 0,
  };
}

/** Outcome of one attempt: the Lease is ours, another replica holds it, or the attempt failed (retry). */
type Attempt = 'acquired' | 'heldByOther' | 'failed';

/** Runs an election on one Lease for one replica. Create one per run. */
export class LeaderElector {
  /** This replica's holderIdentity. */
  readonly identity: string;

  private readonly client: LeaseClient;
  private readonly leaseName: string;
  private readonly namespace: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly jitterFactor: number;
  private readonly random: () => number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly callbacks: Pick<LeaderElectorOptions, 'onStartedLeading' | 'onStoppedLeading' | 'onNewLeader'>;

  private readonly abort = new AbortController();
  private running: Promise<StopReason | undefined> | undefined;
  private leading = false;
  private observedLeader: string | undefined;

  /** Throws a RangeError unless leaseDuration > renewDeadline > 1.2 × retryPeriod (as client-go checks). */
  constructor(options: LeaderElectorOptions) {
    this.client = options.client;
    this.leaseName = options.leaseName;
    this.namespace = options.namespace;
    this.identity = options.identity ?? `${hostname()}_${randomUUID()}`;
    this.leaseDurationMs = options.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS;
    this.renewDeadlineMs = options.renewDeadlineMs ?? DEFAULT_RENEW_DEADLINE_MS;
    this.retryPeriodMs = options.retryPeriodMs ?? DEFAULT_RETRY_PERIOD_MS;
    this.jitterFactor = options.jitterFactor ?? DEFAULT_JITTER_FACTOR;
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? realClock;
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({
      lease: `${options.namespace}/${options.leaseName}`,
      identity: this.identity,
    });
    this.callbacks = options;
    if (this.leaseDurationMs <= this.renewDeadlineMs) {
      throw new RangeError('leaseDuration must be greater than renewDeadline');
    }
    // As client-go: the leader needs room for more than one renewal attempt before its deadline.
    if (this.renewDeadlineMs <= this.retryPeriodMs * DEFAULT_JITTER_FACTOR) {
      throw new RangeError(`renewDeadline must be greater than ${DEFAULT_JITTER_FACTOR} × retryPeriod`);
    }
    if (this.retryPeriodMs <= 0) throw new RangeError('retryPeriod must be positive');
    if (!this.identity) throw new RangeError('identity must not be empty');
  }

  /** True while this replica holds the Lease and has renewed it within renewDeadline. */
  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns for the Lease until it is acquired, then renews it until leadership ends. Resolves with
   * why it ended, or undefined when stop() came before the Lease was acquired. Call once.
   */
  run(): Promise<StopReason | undefined> {
    if (this.running) throw new Error('leader elector already running');
    this.running = this.campaign();
    return this.running;
  }

  /**
   * Stops campaigning or leading; a held Lease is released so a successor takes over at once. Stop the
   * work that needs the Lease first. Resolves when run() has finished.
   */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private async campaign(): Promise<StopReason | undefined> {
    const signal = this.abort.signal;
    this.logger.info('campaigning for leader Lease');
    let acquiredAt: number;
    for (;;) {
      if (signal.aborted) return undefined;
      acquiredAt = this.clock.now();
      const attempt = await this.withDeadline(this.tryAcquireOrRenew(false), acquiredAt + this.renewDeadlineMs);
      if (attempt === 'acquired') break;
      const jittered = this.retryPeriodMs * (1 + this.random() * this.jitterFactor);
      await delay(this.clock, jittered, signal);
    }
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may abort it during the await above
    if (signal.aborted) {
      // stop() came while the winning attempt was in flight: hand the Lease back without acting.
      await this.release();
      return undefined;
    }

    this.leading = true;
    this.logger.info('acquired leader Lease');
    this.callbacks.onStartedLeading();
    const reason = await this.renewLoop(signal, acquiredAt);
    this.leading = false;
    this.logger.info({ reason }, 'stopped leading');
    this.callbacks.onStoppedLeading(reason);
    if (reason === 'released') await this.release();
    return reason;
  }

  /** Renews every retryPeriod; returns when renewal fails past renewDeadline, the Lease is lost, or on stop(). */
  private async renewLoop(signal: AbortSignal, acquiredAt: number): Promise<StopReason> {
    // Measured from when the winning write started: that is the renewTime the others see.
    let lastRenewed = acquiredAt;
    let wait = this.retryPeriodMs;
    for (;;) {
      await delay(this.clock, wait, signal);
      if (signal.aborted) return 'released';
      const deadline = lastRenewed + this.renewDeadlineMs;
      if (this.clock.now() >= deadline) return 'renewFailed';
      const startedAt = this.clock.now();
      const attempt = await this.withDeadline(this.tryAcquireOrRenew(true), deadline);
      if (attempt === 'acquired') {
        // The renewTime written is the attempt's start, so measure the deadline from there too.
        lastRenewed = startedAt;
        wait = this.retryPeriodMs;
      } else if (attempt === 'heldByOther') {
        return 'leaseLost';
      } else {
        const left = deadline - this.clock.now();
        if (left <= 0) return 'renewFailed';
        this.logger.warn({ msLeft: left }, 'failed to renew leader Lease; retrying');
        wait = Math.min(this.retryPeriodMs, left);
      }
    }
  }

  /**
   * One read-modify-write of the Lease. While leading, any holder other than us means the Lease was
   * lost, even if that holder has expired since: someone else may have acted in between.
   */
  private async tryAcquireOrRenew(leading: boolean): Promise<Attempt> {
    const now = this.clock.now();
    const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    let lease: Lease;
    try {
      lease = await this.client.readNamespacedLease({ name: this.leaseName, namespace: this.namespace });
    } catch (err) {
      if (!isNotFound(err)) {
        this.logger.warn({ error: describeError(err) }, 'cannot read leader Lease');
        return 'failed';
      }
      if (leading) this.logger.warn('leader Lease disappeared; recreating it');
      return this.write(() =>
        this.client.createNamespacedLease({
          namespace: this.namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.leaseName, namespace: this.namespace },
            spec: acquiredLeaseSpec(undefined, this.identity, now, durationSeconds),
          },
        }),
      );
    }

    const recorded = lease.spec?.holderIdentity ?? '';
    const holder = activeHolder(lease.spec, now);
    if (holder !== undefined) this.observe(holder);
    if (leading && recorded !== this.identity) return 'heldByOther';
    if (holder !== undefined && holder !== this.identity) return 'heldByOther';

    // The resourceVersion read is sent back: if anyone wrote in between, this fails with 409.
    return this.write(() =>
      this.client.replaceNamespacedLease({
        name: this.leaseName,
        namespace: this.namespace,
        body: { ...lease, spec: acquiredLeaseSpec(lease.spec, this.identity, now, durationSeconds) },
      }),
    );
  }

  private async write(call: () => Promise<Lease>): Promise<Attempt> {
    try {
      await call();
      this.observe(this.identity);
      return 'acquired';
    } catch (err) {
      // 409: another replica wrote the Lease first (Conflict) or created it first (AlreadyExists).
      if (isConflict(err)) this.logger.debug('lost a race for the leader Lease');
      else this.logger.warn({ error: describeError(err) }, 'cannot write leader Lease');
      return 'failed';
    }
  }

  /** Gives the Lease up if we still hold it; best effort, bounded by renewDeadline. */
  private async release(): Promise<void> {
    const released = async (): Promise<Attempt> => {
      const lease = await this.client.readNamespacedLease({ name: this.leaseName, namespace: this.namespace });
      if (lease.spec?.holderIdentity !== this.identity) return 'heldByOther';
      await this.client.replaceNamespacedLease({
        name: this.leaseName,
        namespace: this.namespace,
        body: { ...lease, spec: releasedLeaseSpec(lease.spec, this.clock.now()) },
      });
      return 'acquired';
    };
    const result = await this.withDeadline(
      released().catch((err: unknown) => {
        this.logger.warn({ error: describeError(err) }, 'cannot release leader Lease; it will expire instead');
        return 'failed' as const;
      }),
      this.clock.now() + this.renewDeadlineMs,
    );
    if (result === 'acquired') this.logger.info('released leader Lease');
  }

  /** Resolves with attempt's result, or 'failed' once the clock reaches deadline (a hung request must not hold the loop). */
  private withDeadline(attempt: Promise<Attempt>, deadline: number): Promise<Attempt> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimer(() => {
        resolve('failed');
      }, deadline - this.clock.now());
      void attempt.then((result) => {
        timer.cancel();
        resolve(result);
      });
    });
  }

  private observe(holder: string): void {
    if (holder === this.observedLeader) return;
    this.observedLeader = holder;
    this.logger.info({ leader: holder }, 'new leader observed');
    this.callbacks.onNewLeader?.(holder);
  }
}
