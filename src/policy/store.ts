// The policy store: informers on FluxActionPolicies, ClusterFluxActionPolicies and namespaces (whose
// labels ClusterFluxActionPolicies select by), the policies loaded and compiled once per change, and
// each policy's Ready condition written to its status, so `kubectl get fap` says whether a policy is
// in force or, when it cannot be used, why it denies everything it governs.
import type { Logger } from 'pino';
import { ConditionStatus } from '../api/conditions.js';
import type { Condition } from '../api/types.js';
import { Group, Version } from '../api/types.js';
import type { ClusterAccess } from '../kube/access.js';
import { customObjectPath, kubeClient, type KubeClient } from '../kube/client.js';
import { apiMessage, isConflict, isForbidden, isInvalid, isNotFound, isTransient } from '../kube/errors.js';
import type { KubeObject } from '../kube/object.js';
import type { RefusalCheck } from '../kube/refusal.js';
import { customObjects, pageParams, startInformer, type InformerHandle, type SyncFailureReason } from '../operator/informers.js';
import { realClock, type Clock } from '../runtime/clock.js';
import { TerminalError, WorkQueue } from '../runtime/workqueue.js';
import { appliesTo, describePolicy, loadPolicy, type LoadedPolicy } from './evaluate.js';
import {
  ClusterPolicyKind,
  ClusterPolicyPlural,
  PolicyKind,
  PolicyPlural,
  PolicyReadyCondition,
  PolicyReadyReason,
  PolicyStatusSchema,
  type PolicyKindName,
} from './types.js';

/** How long one status write may take before it is abandoned (and retried). */
export const StatusCallTimeoutMs = 30_000;

export interface PolicyStoreOptions {
  kc: ClusterAccess;
  log: Logger;
  clock?: Clock;
  /** Write each policy's Ready condition (default true). Replicas that do not lead can leave it to the leader. */
  writeStatus?: boolean;
  /** First retry delay of a failed status write (default 200ms), doubled per failure up to maxRetryDelayMs. */
  baseRetryDelayMs?: number;
  /** Longest wait between status write attempts (default 30s). */
  maxRetryDelayMs?: number;
  /** Told when an informer starts or stops failing to sync (see startInformer). */
  onSyncFailing?: (resource: string, reason: SyncFailureReason | undefined) => void;
  /** Whether a 403 is the API server's verdict (see src/kube/refusal.ts): one given before its RBAC is loaded does not end whenSynced. */
  refusalStands?: RefusalCheck;
  /**
   * Only the FluxActionPolicies of this namespace (an operator's --watch-namespace): a policy governs
   * the requests of its own namespace, so the others are not this operator's to load or to write the
   * status of (another operator may watch their namespace). ClusterFluxActionPolicies are loaded all
   * the same. Default: every namespace.
   */
  namespace?: string;
}

interface Entry {
  policy: LoadedPolicy;
  /** The resourceVersion it was loaded from: an unchanged object is not loaded again. */
  resourceVersion: string | undefined;
}

/** `FluxActionPolicy/apps/guardrails`, `ClusterFluxActionPolicy//platform`: the status queue's keys. */
function keyOf(kind: PolicyKindName, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}

function parseKey(key: string): { kind: PolicyKindName; namespace: string | undefined; name: string } {
  const [kind, namespace, name] = key.split('/');
  return { kind: kind === ClusterPolicyKind ? ClusterPolicyKind : PolicyKind, namespace: namespace || undefined, name: name ?? '' };
}

/** The Ready condition a loaded policy should carry (without lastTransitionTime). */
export function readyCondition(policy: LoadedPolicy): Omit<Condition, 'lastTransitionTime'> {
  const generation = policy.generation !== undefined ? { observedGeneration: policy.generation } : {};
  if (policy.invalid)
    return {
      type: PolicyReadyCondition,
      status: ConditionStatus.False,
      reason: PolicyReadyReason.Invalid,
      message: `${policy.reason}; until this is fixed the policy denies every request it governs`,
      ...generation,
    };
  const n = policy.rules.length;
  return {
    type: PolicyReadyCondition,
    status: ConditionStatus.True,
    reason: PolicyReadyReason.Valid,
    message: `${n} rule${n === 1 ? '' : 's'} in force`,
    ...generation,
  };
}

/**
 * Keeps the FluxActionPolicies and ClusterFluxActionPolicies loaded and compiled, and the namespaces'
 * labels, from informers; writes each policy's Ready condition when it changes. Call start() once.
 */
export class PolicyStore {
  private readonly clock: Clock;
  private readonly client: KubeClient;
  private readonly loaded = new Map<string, Entry>();
  private readonly statusQueue: WorkQueue;
  private policyInformers: Partial<Record<PolicyKindName, InformerHandle<KubeObject>>> = {};
  private namespaces: InformerHandle<KubeObject> | undefined;
  /** Called when an informer starts or stops failing (see whenReady). */
  private failingChanged: (() => void)[] = [];

  constructor(private readonly options: PolicyStoreOptions) {
    this.clock = options.clock ?? realClock;
    this.client = kubeClient(options.kc);
    this.statusQueue = new WorkQueue({
      clock: this.clock,
      baseDelayMs: options.baseRetryDelayMs ?? 200,
      maxDelayMs: options.maxRetryDelayMs ?? 30_000,
      logger: options.log,
    });
  }

  /** Starts the informers (and the status writer). */
  start(): void {
    const { kc, log, refusalStands } = this.options;
    const onSyncFailing = (resource: string, reason: SyncFailureReason | undefined): void => {
      this.options.onSyncFailing?.(resource, reason);
      for (const wake of this.failingChanged.splice(0)) wake();
    };
    const watch = (kind: PolicyKindName, plural: string): InformerHandle<KubeObject> =>
      startInformer<KubeObject>({
        kc,
        ...customObjects(this.client, Group, Version, plural, kind === PolicyKind ? this.options.namespace : undefined),
        log,
        clock: this.clock,
        onSyncFailing,
        ...(refusalStands ? { refusalStands } : {}),
        onChange: (obj, event) => {
          this.onPolicy(kind, obj, event);
        },
      });
    this.policyInformers = {
      [PolicyKind]: watch(PolicyKind, PolicyPlural),
      [ClusterPolicyKind]: watch(ClusterPolicyKind, ClusterPolicyPlural),
    };
    this.namespaces = startInformer<KubeObject>({
      kc,
      path: '/api/v1/namespaces',
      resource: 'namespaces',
      log,
      clock: this.clock,
      onSyncFailing,
      ...(refusalStands ? { refusalStands } : {}),
      list: (page) => this.client.list('/api/v1/namespaces', pageParams(page)),
      onChange: () => undefined,
    });
    if (this.options.writeStatus ?? true) this.statusQueue.start((key, signal) => this.writeStatus(key, signal), { concurrency: 2 });
  }

  /** Whether every informer has loaded its list: until then policiesFor may miss policies. */
  get synced(): boolean {
    return this.watched().every(([, informer]) => informer.hasSynced());
  }

  /** Resolves once synced; rejects with the API's error when a list fails for good (403, 404), or with the signal's reason. */
  async whenSynced(signal?: AbortSignal): Promise<void> {
    await Promise.all(this.watched().map(([, informer]) => informer.whenSynced(true, signal)));
  }

  /**
   * Resolves once the store can decide requests, as policyDecider asks: synced, and no watch
   * restarting after an error (a list can succeed before its watch is answered). Rejects as whenSynced.
   */
  async whenReady(signal?: AbortSignal): Promise<void> {
    await this.whenSynced(signal);
    while (this.watchFailing() !== undefined) {
      signal?.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          this.failingChanged = this.failingChanged.filter((w) => w !== wake);
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the caller's own abort reason, as whenSynced rejects with it
          reject(signal?.reason);
        };
        const wake = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        this.failingChanged.push(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  /**
   * Why the policies may be out of date, while a watch of FluxActionPolicies, ClusterFluxActionPolicies
   * or namespaces is restarting after an error: a policy made meanwhile is not seen until it is back
   * (the cache is kept). Undefined while every watch runs.
   */
  watchFailing(): string | undefined {
    for (const [resource, informer] of this.watched()) {
      const err = informer.lastError();
      if (err !== undefined) return `the watch of ${resource} is restarting after an error: ${apiMessage(err)}`;
    }
    return undefined;
  }

  /** The informers started (none before start()), each with the resource it watches. */
  private watched(): [string, InformerHandle<KubeObject>][] {
    const all: [string, InformerHandle<KubeObject> | undefined][] = [
      [PolicyPlural, this.policyInformers[PolicyKind]],
      [ClusterPolicyPlural, this.policyInformers[ClusterPolicyKind]],
      ['namespaces', this.namespaces],
    ];
    return all.filter((w): w is [string, InformerHandle<KubeObject>] => w[1] !== undefined);
  }

  /** Whether the namespace is in the cache (a namespace created a moment ago may not be yet). */
  knowsNamespace(namespace: string): boolean {
    return this.namespaces?.get(namespace) !== undefined;
  }

  /**
   * The policies that govern requests in namespace, in evaluation order: the ClusterFluxActionPolicies
   * whose namespaceSelector selects it (by the namespace's labels; none known yet: no labels), then
   * the namespace's FluxActionPolicies, each by name. Invalid policies are included: they deny.
   */
  policiesFor(namespace: string): readonly LoadedPolicy[] {
    const labels = this.namespaces?.get(namespace)?.metadata?.labels ?? {};
    const cluster: LoadedPolicy[] = [];
    const own: LoadedPolicy[] = [];
    for (const { policy } of this.loaded.values()) {
      if (!appliesTo(policy, namespace, labels)) continue;
      (policy.kind === ClusterPolicyKind ? cluster : own).push(policy);
    }
    const byName = (a: LoadedPolicy, b: LoadedPolicy): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    return [...cluster.sort(byName), ...own.sort(byName)];
  }

  /** Stops the informers and the status writer (in-flight writes get up to a few seconds). */
  async stop(): Promise<void> {
    await Promise.all(this.watched().map(([, informer]) => informer.stop()));
    await this.statusQueue.shutdown({ deadlineMs: 5_000 });
  }

  private onPolicy(kind: PolicyKindName, obj: KubeObject, event: 'add' | 'update' | 'delete'): void {
    const name = obj.metadata?.name;
    if (!name) return;
    const namespace = kind === PolicyKind ? obj.metadata?.namespace : undefined;
    const key = keyOf(kind, namespace, name);
    if (event === 'delete') {
      this.loaded.delete(key);
      return;
    }
    const resourceVersion = obj.metadata?.resourceVersion;
    const known = this.loaded.get(key);
    if (!known || known.resourceVersion === undefined || known.resourceVersion !== resourceVersion) {
      const policy = loadPolicy({ ...obj, kind });
      if (policy.invalid && (!known || !known.policy.invalid || known.policy.reason !== policy.reason))
        this.options.log.warn(
          { policy: describePolicy(policy), reason: policy.reason },
          'policy cannot be used; it denies every request it governs',
        );
      this.loaded.set(key, { policy, resourceVersion });
    }
    this.statusQueue.add(key);
  }

  /** Writes the key's Ready condition when the status does not already say it; level-triggered from the cache. */
  private async writeStatus(key: string, signal: AbortSignal): Promise<undefined> {
    const { kind, namespace, name } = parseKey(key);
    const obj = this.policyInformers[kind]?.get(name, namespace);
    if (!obj) return undefined;
    const policy = loadPolicy({ ...obj, kind });
    const want = readyCondition(policy);
    const status = PolicyStatusSchema.safeParse(obj['status']);
    const current = status.success ? status.data : {};
    const have = current.conditions?.find((c) => c.type === PolicyReadyCondition);
    const spec = obj['spec'] as { rules?: unknown } | undefined;
    const rules = Array.isArray(spec?.rules) ? spec.rules.length : 0;
    const same =
      current.rules === rules &&
      have !== undefined &&
      have.status === want.status &&
      have.reason === want.reason &&
      have.message === want.message &&
      have.observedGeneration === want.observedGeneration &&
      current.observedGeneration === want.observedGeneration;
    if (same) return undefined;
    const lastTransitionTime =
      have?.status === want.status && have.lastTransitionTime
        ? have.lastTransitionTime
        : new Date(this.clock.now()).toISOString().replace(/\.\d+Z$/, 'Z');
    const others = (current.conditions ?? []).filter((c) => c.type !== PolicyReadyCondition);
    const body = {
      // The resourceVersion makes the write conditional: a policy changed since the cache saw it is
      // refused with a conflict and looked at again from the newer object.
      metadata: { resourceVersion: obj.metadata?.resourceVersion },
      status: {
        ...(want.observedGeneration !== undefined ? { observedGeneration: want.observedGeneration } : {}),
        rules,
        conditions: [...others, { ...want, lastTransitionTime }],
      },
    };
    const plural = kind === PolicyKind ? PolicyPlural : ClusterPolicyPlural;
    try {
      const ref = { group: Group, version: Version, plural, namespace: kind === PolicyKind ? namespace : undefined, name };
      await this.client.mergePatch(customObjectPath(ref, 'status'), body, { signal, timeoutMs: StatusCallTimeoutMs });
      this.options.log.info({ policy: describePolicy(policy), ready: want.status, reason: want.reason }, 'policy status written');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      // A conflict is retried (with backoff) from the newer object the informer delivers.
      if (isConflict(err)) throw new Error(`status of ${describePolicy(policy)} changed meanwhile; trying again`, { cause: err });
      if ((isForbidden(err) && !isTransient(err)) || isInvalid(err))
        throw new TerminalError(`cannot write the status of ${describePolicy(policy)}: ${apiMessage(err)}`);
      throw err;
    }
    return undefined;
  }
}
