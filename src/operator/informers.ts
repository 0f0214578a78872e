// Informers: list+watch caches of requests and of the Flux kinds requests act on, restarted with
// backoff when a watch fails. A lost watch re-lists, and the re-list re-delivers every object, so no
// change is dropped.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Clock, Timer } from '../runtime/clock.js';
import { bounded, ListTimeoutMs } from '../kube/bounded.js';
import { apiMessage, isForbidden, isTransient, statusCode } from '../kube/errors.js';
import type { RefusalCheck } from '../kube/refusal.js';
import type { KubeObject } from '../kube/object.js';

export interface InformerHandle<T extends KubeObject> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
  /**
   * The cached objects whose `indexKey` (see WatchOptions) is value, without a scan of the cache;
   * every object when the informer has no indexKey.
   */
  indexed(value: string): readonly T[];
  /**
   * Resolves once a list has been loaded. With failFast (default) it rejects with the error when the
   * latest attempt failed (a 403 stays a 403 until RBAC changes), so callers can report it; without,
   * it waits through the informer's retries. An aborted signal rejects with its reason and forgets the wait.
   */
  whenSynced(failFast?: boolean, signal?: AbortSignal): Promise<void>;
  /** Whether a list has been loaded (the cache may lag while the watch is restarted). */
  hasSynced(): boolean;
  /** The error of the latest failed attempt, until a list and watch are set up again without error. */
  lastError(): unknown;
  /**
   * The lasting error the informer failed with before it ever synced (a 403 that stands, a 404), which
   * whenSynced rejects with; undefined while it is syncing or synced, and while its errors are transient.
   */
  failure(): unknown;
  stop(): Promise<void>;
}

/**
 * How many objects one page of an informer's list holds. A list comes in pages (each slimmed by
 * `transform` before the next is asked for), so a collection of 10 000 requests is never in memory
 * whole, as sent; 500 is client-go's page size.
 */
export const ListPageSize = 500;

/** One page of a list: at most limit objects, after those of the page that gave the continue token. */
export interface ListPage {
  limit: number;
  continue?: string;
}

/** The query parameters of a list call for a page (client-node's names). */
export function pageParams(page: ListPage): { limit: number; _continue?: string } {
  return { limit: page.limit, ...(page.continue ? { _continue: page.continue } : {}) };
}

/**
 * The continue token of a list page, if more pages follow: `_continue` in client-node's typed lists,
 * `continue` as the API server sends it (custom objects come untyped).
 */
function continueOf(list: k8s.KubernetesListObject<KubeObject>): string | undefined {
  const metadata: { _continue?: string; continue?: string } | undefined = list.metadata;
  return metadata?._continue || metadata?.continue || undefined;
}

/** Why an informer cannot sync, for logs and the fluxact_informer_sync_failing metric. */
export type SyncFailureReason = 'Forbidden' | 'NotFound' | 'Unauthorized' | 'Unavailable' | 'Error';

export interface WatchOptions<T extends KubeObject> {
  kc: k8s.KubeConfig;
  /** REST path of the collection, e.g. /apis/fluxaction.io/v1alpha1/fluxactionrequests. */
  path: string;
  /**
   * One page of the collection (see ListPage; the API server's continue token in the answer's
   * metadata asks for the next). A list that ignores the page and answers with everything works too.
   */
  list: (page: ListPage) => Promise<k8s.KubernetesListObject<T>>;
  onChange: (obj: T, event: 'add' | 'update' | 'delete') => void;
  log: Logger;
  clock: Clock;
  /** The resource as `plural.group` (e.g. kustomizations.kustomize.toolkit.fluxcd.io), for logs and metrics. Default: the path. */
  resource?: string;
  /** The namespace listed, when only one is (for logs). */
  namespace?: string;
  /** First wait after an error (default 500ms), doubled per further failure. */
  baseBackoffMs?: number;
  /** Longest wait between restarts after errors (default 30s). */
  maxBackoffMs?: number;
  /** Random numbers in [0, 1) for the backoff's jitter (default Math.random). */
  random?: () => number;
  /**
   * Told when the informer starts failing to sync (with why) and when it syncs again (undefined),
   * e.g. to keep the fluxact_informer_sync_failing gauge.
   */
  onSyncFailing?: (resource: string, reason: SyncFailureReason | undefined) => void;
  /**
   * Asked about a 403 before it counts as lasting: false when the API server was not ready to judge
   * (see src/kube/refusal.ts), and the informer keeps waiting through its retries instead. Without
   * it every 403 is lasting.
   */
  refusalStands?: RefusalCheck;
  /**
   * Applied to every object on its way into the cache, from lists and watch events alike: keeps only
   * what the operator reads, so a large cache stays small (see src/kube/slim.ts). Default: as sent.
   */
  transform?: (obj: T) => T;
  /** Objects per page of the list (default ListPageSize). */
  pageSize?: number;
  /**
   * A second key to find objects by (e.g. a request's target name), kept up to date from the same
   * events as the cache, for `indexed`. Undefined for an object: not indexed.
   */
  indexKey?: (obj: T) => string | undefined;
}

/**
 * What an informer on a collection of custom objects needs to know of it, cluster-wide or in one
 * namespace: its REST path, its list (bounded by ListTimeoutMs), and its resource and namespace for
 * logs and metrics.
 */
export function customObjects<T extends KubeObject = KubeObject>(
  custom: k8s.CustomObjectsApi,
  group: string,
  version: string,
  plural: string,
  namespace?: string,
): Pick<WatchOptions<T>, 'path' | 'list' | 'resource' | 'namespace'> {
  return {
    path: namespace ? `/apis/${group}/${version}/namespaces/${namespace}/${plural}` : `/apis/${group}/${version}/${plural}`,
    resource: `${plural}.${group}`,
    ...(namespace ? { namespace } : {}),
    list: async (page) => {
      const paging = pageParams(page);
      return (
        namespace
          ? await custom.listNamespacedCustomObject({ group, version, namespace, plural, ...paging }, bounded(undefined, ListTimeoutMs))
          : await custom.listClusterCustomObject({ group, version, plural, ...paging }, bounded(undefined, ListTimeoutMs))
      ) as k8s.KubernetesListObject<T>;
    },
  };
}

/** client-node's Watch, handing each object through `transform` before the informer caches it. */
class TransformingWatch<T> extends k8s.Watch {
  constructor(
    kc: k8s.KubeConfig,
    private readonly transform: (obj: T) => T,
  ) {
    super(kc);
  }

  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(
      path,
      queryParams,
      // ERROR and BOOKMARK events carry a Status or a bare object, not one to cache.
      (phase, apiObj: unknown, watchObj?: unknown) => {
        callback(phase, phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED' ? this.transform(apiObj as T) : apiObj, watchObj);
      },
      done,
    );
  }
}

type SyncState = { state: 'syncing' } | { state: 'synced' } | { state: 'failed'; error: unknown };

/** How often a failing informer says so at error level while it keeps failing. */
export const SyncFailureLogIntervalMs = 60_000;

/**
 * The wait before restart number `failures` (1 for the first): base·2^(failures-1), plus up to 20%
 * jitter so informers failing together do not retry in step, capped at max.
 */
export function backoffDelay(failures: number, baseMs: number, maxMs: number, random: () => number): number {
  const exponential = baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 30);
  return Math.round(Math.min(maxMs, exponential * (1 + 0.2 * random())));
}

/** Classifies an informer's error for logs and metrics. */
export function syncFailureReason(err: unknown): SyncFailureReason {
  const code = statusCode(err);
  if (code === 403) return 'Forbidden';
  if (code === 404) return 'NotFound';
  if (code === 401) return 'Unauthorized';
  if (isTransient(err)) return 'Unavailable';
  return 'Error';
}

/** What an informer's failure means for the operator, in words that say what to fix. */
export function describeSyncFailure(resource: string, namespace: string | undefined, err: unknown): string {
  const where = namespace ? `in namespace ${namespace}` : 'cluster-wide';
  const detail = apiMessage(err);
  switch (syncFailureReason(err)) {
    case 'Forbidden':
      return `the operator may not list and watch ${resource} ${where}: grant it list and watch on ${resource} (see config/rbac): ${detail}`;
    case 'NotFound':
      return `the API server does not serve ${resource}: is its CustomResourceDefinition installed? (${detail})`;
    case 'Unauthorized':
      return `the API server does not accept the operator's credentials listing ${resource}: ${detail}`;
    default:
      return `cannot list ${resource} ${where}: ${detail}`;
  }
}

/**
 * Starts an informer and keeps it running: after an error it restarts with exponential backoff and
 * jitter (from baseBackoffMs to maxBackoffMs), keeping its cache; the restart re-lists when the watch
 * expired. The backoff starts over only once a list and watch were set up without error. While it
 * cannot sync, it logs an error once a minute naming what is missing.
 */
export function startInformer<T extends KubeObject>(options: WatchOptions<T>): InformerHandle<T> {
  const { kc, path, list, onChange, log, clock } = options;
  const resource = options.resource ?? path;
  const baseBackoff = options.baseBackoffMs ?? 500;
  const maxBackoff = options.maxBackoffMs ?? 30_000;
  const random = options.random ?? Math.random;
  let sync: SyncState = { state: 'syncing' };
  let waiters: (() => void)[] = [];
  const setSync = (next: SyncState): void => {
    sync = next;
    const woken = waiters;
    waiters = [];
    for (const wake of woken) wake();
  };
  // Every successful list marks the cache synced. Page by page, each slimmed before the next.
  const transform = options.transform;
  const pageSize = options.pageSize ?? ListPageSize;
  const listAndMark = async (): Promise<k8s.KubernetesListObject<T>> => {
    const first = await list({ limit: pageSize });
    const items = transform ? first.items.map((item) => transform(item)) : first.items;
    // Every page is of the first one's resourceVersion: the watch starts from there.
    for (let next = continueOf(first); next;) {
      const page = await list({ limit: pageSize, continue: next });
      for (const item of page.items) items.push(transform ? transform(item) : item);
      next = continueOf(page);
    }
    const result: k8s.KubernetesListObject<T> = { ...first, items };
    // After the informer has stored the items (it does so right after this promise resolves).
    setImmediate(() => {
      setSync({ state: 'synced' });
    });
    return result;
  };
  const informer = transform
    ? new k8s.ListWatch<T>(path, new TransformingWatch<T>(kc, transform), listAndMark, false)
    : k8s.makeInformer<T>(kc, path, listAndMark);
  let stopped = false;
  let failures = 0;
  /** Whether the attempt under way has failed (client-node reports a failed list as an event, not a rejection). */
  let attemptFailed = false;
  let lastError: unknown;
  let failingReason: SyncFailureReason | undefined;
  let lastErrorLogAt: number | undefined;
  let attempts = 0;
  let retry: Timer | undefined;

  const recovered = (): void => {
    failures = 0;
    lastError = undefined;
    lastErrorLogAt = undefined;
    if (failingReason !== undefined) {
      failingReason = undefined;
      log.info({ resource }, 'informer synced again');
      options.onSyncFailing?.(resource, undefined);
    }
  };

  const fail = (err: unknown): void => {
    if (stopped) return;
    attemptFailed = true;
    failures += 1;
    lastError = err;
    const delay = backoffDelay(failures, baseBackoff, maxBackoff, random);
    const reason = syncFailureReason(err);
    log.warn({ resource, path, err: apiMessage(err), failures, retryInMs: delay }, 'watch failed; restarting');
    if (reason !== failingReason) {
      failingReason = reason;
      options.onSyncFailing?.(resource, reason);
    }
    // Warnings alone scroll by; once a minute, say at error level what keeps the informer from syncing.
    const now = clock.now();
    if (lastErrorLogAt === undefined || now - lastErrorLogAt >= SyncFailureLogIntervalMs) {
      lastErrorLogAt = now;
      log.error({ resource, reason, failures }, describeSyncFailure(resource, options.namespace, err));
    }
    // A transient error (the API server asks to come back, as its watch cache does while a CRD's
    // storage initialises) is waited through; a lasting one (403, 404) is reported to whenSynced,
    // a 403 once the API server is ready to judge.
    if (sync.state !== 'synced' && !isTransient(err)) {
      if (isForbidden(err) && options.refusalStands) {
        const attempt = attempts;
        void options.refusalStands(err).then((stands) => {
          // Only while nothing newer happened: a later attempt may have synced or failed otherwise.
          if (stands && attempt === attempts && lastError === err && sync.state !== 'synced' && !stopped)
            setSync({ state: 'failed', error: err });
        });
      } else setSync({ state: 'failed', error: err });
    }
    retry?.cancel();
    retry = clock.setTimer(run, delay);
  };

  // One attempt: list (when the watch expired) and watch. start() rejects only when the watch could
  // not even be set up (credentials, kubeconfig); that is a failure like any other, retried.
  function run(): void {
    if (stopped) return;
    retry = undefined;
    attemptFailed = false;
    const attempt = ++attempts;
    informer.start().then(
      () => {
        if (attempt === attempts && !attemptFailed && !stopped) recovered();
      },
      (err: unknown) => {
        log.error({ resource, err: apiMessage(err) }, 'informer could not start its watch; restarting');
        fail(err);
      },
    );
  }

  const index = options.indexKey ? new SecondaryIndex(options.indexKey) : undefined;
  informer.on('add', (obj) => {
    index?.set(obj);
    onChange(obj, 'add');
  });
  informer.on('update', (obj) => {
    index?.set(obj);
    onChange(obj, 'update');
  });
  informer.on('delete', (obj) => {
    index?.delete(obj);
    onChange(obj, 'delete');
  });
  informer.on('error', fail);
  run();

  const whenSynced = (failFast = true, signal?: AbortSignal): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        waiters = waiters.filter((w) => w !== check);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the caller's own abort reason, as fetch rejects with it
        reject(signal?.reason);
      };
      const check = (): void => {
        if (sync.state === 'synced' || (sync.state === 'failed' && failFast)) {
          signal?.removeEventListener('abort', onAbort);
          if (sync.state === 'synced') resolve();
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the API's own error: callers tell 403 from 404 by it
          else reject(sync.error);
        } else waiters.push(check);
      };
      if (signal?.aborted) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the caller's own abort reason, as fetch rejects with it
        reject(signal.reason);
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      check();
    });

  return {
    get: (name, namespace) => informer.get(name, namespace),
    list: (namespace) => informer.list(namespace),
    indexed: (value) =>
      index
        ? index.keys(value).flatMap(([namespace, name]) => {
            const obj = informer.get(name, namespace);
            return obj ? [obj] : [];
          })
        : informer.list(),
    whenSynced,
    hasSynced: () => sync.state === 'synced',
    lastError: () => lastError,
    failure: () => (sync.state === 'failed' ? sync.error : undefined),
    stop: async () => {
      stopped = true;
      retry?.cancel();
      await informer.stop();
    },
  };
}

/** Cache keys (namespace, name) by a second key of the object, and each key's current value. */
class SecondaryIndex<T extends KubeObject> {
  private readonly byValue = new Map<string, Map<string, [string | undefined, string]>>();
  private readonly valueOf = new Map<string, string>();

  constructor(private readonly indexKey: (obj: T) => string | undefined) {}

  set(obj: T): void {
    const value = this.indexKey(obj);
    const key = SecondaryIndex.keyOf(obj);
    if (this.valueOf.get(key) === value) return;
    this.delete(obj);
    if (value === undefined || !obj.metadata?.name) return;
    let keys = this.byValue.get(value);
    if (!keys) this.byValue.set(value, (keys = new Map<string, [string | undefined, string]>()));
    keys.set(key, [obj.metadata.namespace, obj.metadata.name]);
    this.valueOf.set(key, value);
  }

  delete(obj: T): void {
    const key = SecondaryIndex.keyOf(obj);
    const value = this.valueOf.get(key);
    if (value === undefined) return;
    this.valueOf.delete(key);
    const keys = this.byValue.get(value);
    keys?.delete(key);
    if (keys?.size === 0) this.byValue.delete(value);
  }

  keys(value: string): [string | undefined, string][] {
    return [...(this.byValue.get(value)?.values() ?? [])];
  }

  private static keyOf(obj: KubeObject): string {
    return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
  }
}

/** Compares resourceVersions as etcd revisions; undefined when either is not a number. */
export function newerThan(a: string | undefined, b: string | undefined): boolean | undefined {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  return BigInt(a) > BigInt(b);
}
