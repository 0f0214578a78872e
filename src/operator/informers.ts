// Informers: list+watch caches of requests and of the Flux kinds requests act on, restarted with
// backoff when a watch fails. A lost watch is opened again from the last version seen, and one too
// old to resume (410 Gone) re-lists and delivers the difference, so no change is dropped.
import type { Logger } from 'pino';
import type { Clock, Timer } from '../runtime/clock.js';
import type { ClusterAccess } from '../kube/access.js';
import { customObjectPath, kubeClient, type KubeClient, type ObjectList, type WatchHandle } from '../kube/client.js';
import { apiMessage, isForbidden, isTransient, statusCode } from '../kube/errors.js';
import type { RefusalCheck } from '../kube/refusal.js';
import type { KubeObject } from '../kube/object.js';
import { ByName } from './by-name.js';

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
 * whole, as sent. 40, not client-go's 500: a page of 500 requests, as sent and as parsed, outlives
 * V8's young generation and stays in the old one until a full collection; a page of 100 (a restart
 * on 10 000 finished requests peaked 19–28 MiB lower than with 500) is still 140–270 KB of JSON
 * for requests, Kustomizations and Events: above 128 KB, where V8 puts a string in its large-object
 * space and the C library gives a buffer an mmap of its own. Pages of 40 (55–110 KB) peaked about
 * 5 MiB lower again (medians of ten restarts each), all of it memory outside V8's heap.
 */
export const ListPageSize = 40;

/** One page of a list: at most limit objects, after those of the page that gave the continue token. */
export interface ListPage {
  limit: number;
  continue?: string;
}

/** The query parameters of a list call for a page. */
export function pageParams(page: ListPage): { limit: number; continue?: string } {
  return { limit: page.limit, ...(page.continue ? { continue: page.continue } : {}) };
}

/** The continue token of a list page, if more pages follow. */
function continueOf(list: ObjectList): string | undefined {
  return list.metadata?.continue || undefined;
}

/** Why an informer cannot sync, for logs and the fluxact_informer_sync_failing metric. */
export type SyncFailureReason = 'Forbidden' | 'NotFound' | 'Unauthorized' | 'Unavailable' | 'Error';

export interface WatchOptions<T extends KubeObject> {
  kc: ClusterAccess;
  /** REST path of the collection, e.g. /apis/fluxaction.io/v1alpha1/fluxactionrequests. */
  path: string;
  /**
   * One page of the collection (see ListPage; the API server's continue token in the answer's
   * metadata asks for the next). A list that ignores the page and answers with everything works too.
   */
  list: (page: ListPage) => Promise<ObjectList<T>>;
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
  client: KubeClient,
  group: string,
  version: string,
  plural: string,
  namespace?: string,
): Pick<WatchOptions<T>, 'path' | 'list' | 'resource' | 'namespace'> {
  const path = customObjectPath({ group, version, plural, namespace });
  return {
    path,
    resource: `${plural}.${group}`,
    ...(namespace ? { namespace } : {}),
    list: (page) => client.list<T>(path, pageParams(page)),
  };
}

/** What the list-and-watch loop tells the informer. */
interface ListWatchHandlers<T> {
  add(obj: T): void;
  update(obj: T): void;
  delete(obj: T): void;
  /** The list or the watch failed; the loop stops until started again. */
  error(err: unknown): void;
}

/**
 * A cache kept by listing a collection and watching it from the list's resourceVersion, after
 * client-go's reflector (and client-node's ListWatch, which it replaces). A watch the server ends is
 * opened again from the last resourceVersion seen; one that expired (410 Gone) re-lists, and the
 * list's difference to the cache is delivered as adds, updates and deletes. Any other failure is
 * handed to `error`, and the loop waits for start() again (the informer's backoff decides when).
 */
class ListWatch<T extends KubeObject> {
  private readonly objects = new Map<string, Map<string, T>>();
  private resourceVersion = '';
  private watching: WatchHandle | undefined;
  private stopped = false;

  constructor(
    private readonly client: KubeClient,
    private readonly path: string,
    private readonly listAll: () => Promise<ObjectList<T>>,
    private readonly transform: ((obj: T) => T) | undefined,
    private readonly on: ListWatchHandlers<T>,
  ) {}

  /** Lists (when there is no resourceVersion to watch from) and watches; resolves once the watch answered or the attempt failed. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.next(undefined);
  }

  stop(): void {
    this.stopped = true;
    this.watching?.abort();
    this.watching = undefined;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.objects.get(namespace ?? '')?.get(name);
  }

  list(namespace?: string): T[] {
    if (namespace) return [...(this.objects.get(namespace)?.values() ?? [])];
    const all: T[] = [];
    for (const objects of this.objects.values()) all.push(...objects.values());
    return all;
  }

  private async next(err: unknown): Promise<void> {
    this.watching?.abort();
    this.watching = undefined;
    if (err !== undefined) {
      if (statusCode(err) !== 410) {
        this.on.error(err);
        return;
      }
      this.resourceVersion = '';
    }
    if (this.stopped) return;
    if (!this.resourceVersion) {
      let list: ObjectList<T>;
      try {
        list = await this.listAll();
      } catch (listErr) {
        this.on.error(listErr);
        return;
      }
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may have been called while the list was read
      if (this.stopped) return;
      this.replaceAll(list.items);
      this.resourceVersion = list.metadata?.resourceVersion ?? '';
    }
    // Resolves once the watch answered, or ended first; rejects when it could not be made at all.
    await new Promise<void>((opened, failed) => {
      this.client
        .watch(
          this.path,
          { resourceVersion: this.resourceVersion },
          (type, object) => {
            this.event(type, object);
          },
          (watchErr) => {
            opened();
            this.next(watchErr).catch((err: unknown) => {
              this.on.error(err);
            });
          },
          opened,
        )
        .then((watching) => {
          this.watching = watching;
          if (this.stopped) watching.abort();
        }, failed);
    });
  }

  private event(type: string, object: unknown): void {
    const obj = object as T | undefined;
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
        if (obj?.metadata) this.put(this.transform ? this.transform(obj) : obj);
        break;
      case 'DELETED':
        if (obj?.metadata) this.remove(this.transform ? this.transform(obj) : obj);
        break;
      case 'ERROR':
        // A Status: 410 means the resourceVersion expired; the watch ends and the next attempt re-lists.
        if ((object as { code?: unknown } | undefined)?.code === 410) this.resourceVersion = '';
        return;
      default:
        break; // BOOKMARK: only its resourceVersion counts.
    }
    const version = obj?.metadata?.resourceVersion;
    if (version) this.resourceVersion = version;
  }

  /** The cache becomes the list: what is not in it is deleted, the rest added or updated. */
  private replaceAll(items: readonly T[]): void {
    // The first list (the cache empty, as at every start) has nothing to delete.
    if (this.objects.size > 0) this.deleteUnlisted(items);
    for (const item of items) this.put(item);
  }

  /** Deletes from the cache what the list does not hold. */
  private deleteUnlisted(items: readonly T[]): void {
    const listed = new Map<string, Set<string>>();
    for (const item of items) {
      const ns = item.metadata?.namespace ?? '';
      let names = listed.get(ns);
      if (!names) listed.set(ns, (names = new Set<string>()));
      names.add(item.metadata?.name ?? '');
    }
    for (const [ns, objects] of this.objects) {
      const names = listed.get(ns);
      for (const [name, obj] of objects) {
        if (names?.has(name)) continue;
        objects.delete(name);
        this.on.delete(obj);
      }
      if (objects.size === 0) this.objects.delete(ns);
    }
  }

  private put(obj: T): void {
    const ns = obj.metadata?.namespace ?? '';
    let objects = this.objects.get(ns);
    if (!objects) this.objects.set(ns, (objects = new Map<string, T>()));
    const name = obj.metadata?.name ?? '';
    const found = objects.get(name);
    if (!found) {
      objects.set(name, obj);
      this.on.add(obj);
    } else if (!found.metadata?.resourceVersion || found.metadata.resourceVersion !== obj.metadata?.resourceVersion) {
      objects.set(name, obj);
      this.on.update(obj);
    }
  }

  private remove(obj: T): void {
    const ns = obj.metadata?.namespace ?? '';
    const objects = this.objects.get(ns);
    if (!objects?.delete(obj.metadata?.name ?? '')) return;
    if (objects.size === 0) this.objects.delete(ns);
    this.on.delete(obj);
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
  const listAndMark = async (): Promise<ObjectList<T>> => {
    const first = await list({ limit: pageSize });
    const items = transform ? first.items.map((item) => transform(item)) : first.items;
    // Every page is of the first one's resourceVersion: the watch starts from there.
    for (let next = continueOf(first); next;) {
      const page = await list({ limit: pageSize, continue: next });
      for (const item of page.items) items.push(transform ? transform(item) : item);
      next = continueOf(page);
    }
    // After the informer has stored the items (it does so right after this promise resolves).
    setImmediate(() => {
      setSync({ state: 'synced' });
    });
    return { ...first, items };
  };
  const index = options.indexKey ? new SecondaryIndex(options.indexKey) : undefined;
  const informer = new ListWatch<T>(kubeClient(kc), path, listAndMark, transform, {
    add: (obj) => {
      index?.set(obj);
      onChange(obj, 'add');
    },
    update: (obj) => {
      index?.set(obj);
      onChange(obj, 'update');
    },
    delete: (obj) => {
      index?.delete(obj);
      onChange(obj, 'delete');
    },
    error: (err) => {
      fail(err);
    },
  });
  let stopped = false;
  let failures = 0;
  /** Whether the attempt under way has failed (the loop reports a failed list or watch through `error`, not as a rejection). */
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
    stop: () => {
      stopped = true;
      retry?.cancel();
      informer.stop();
      return Promise.resolve();
    },
  };
}

/**
 * Cache keys (namespace, name) by a second key of the object, and each key's current value. Held by
 * namespace and name, the strings the cached objects hold already: an entry costs no string of its
 * own (a cache of 10 000 requests holds 10 000 of them).
 */
class SecondaryIndex<T extends KubeObject> {
  /** value -> namespace ('' for none) -> names. */
  private readonly byValue = new Map<string, Map<string, Set<string>>>();
  /** namespace ('' for none), name -> value. */
  private readonly valueOf = new ByName<string>();

  constructor(private readonly indexKey: (obj: T) => string | undefined) {}

  set(obj: T): void {
    const value = this.indexKey(obj);
    const namespace = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name;
    if (!name) return;
    if (this.valueOf.get(namespace, name) === value) return;
    this.delete(obj);
    if (value === undefined) return;
    let namespaces = this.byValue.get(value);
    if (!namespaces) this.byValue.set(value, (namespaces = new Map<string, Set<string>>()));
    let names = namespaces.get(namespace);
    if (!names) namespaces.set(namespace, (names = new Set<string>()));
    names.add(name);
    this.valueOf.set(namespace, name, value);
  }

  delete(obj: T): void {
    const namespace = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name;
    const value = name === undefined ? undefined : this.valueOf.get(namespace, name);
    if (name === undefined || value === undefined) return;
    this.valueOf.delete(namespace, name);
    const namespaces = this.byValue.get(value);
    const names = namespaces?.get(namespace);
    names?.delete(name);
    if (names?.size === 0) namespaces?.delete(namespace);
    if (namespaces?.size === 0) this.byValue.delete(value);
  }

  /** The (namespace, name) of the objects whose second key is value. */
  keys(value: string): [string | undefined, string][] {
    const out: [string | undefined, string][] = [];
    for (const [namespace, names] of this.byValue.get(value) ?? []) for (const name of names) out.push([namespace || undefined, name]);
    return out;
  }
}

/** Compares resourceVersions as etcd revisions; undefined when either is not a number. */
export function newerThan(a: string | undefined, b: string | undefined): boolean | undefined {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  return BigInt(a) > BigInt(b);
}
