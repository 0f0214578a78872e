// Informers: list+watch caches of requests and of the Flux kinds requests act on, restarted with
// backoff when a watch fails. A lost watch re-lists, and the re-list re-delivers every object, so no
// change is dropped.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Clock } from '../runtime/clock.js';

/** An object as informers hold it. */
export interface KubeObject extends k8s.KubernetesObject {
  metadata?: k8s.V1ObjectMeta;
}

export interface InformerHandle<T extends KubeObject> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
  /**
   * Resolves once a list has been loaded. With failFast (default) it rejects with the error when the
   * latest attempt failed (a 403 stays a 403 until RBAC changes), so callers can report it; without,
   * it waits through the informer's retries.
   */
  whenSynced(failFast?: boolean): Promise<void>;
  stop(): Promise<void>;
}

export interface WatchOptions<T extends KubeObject> {
  kc: k8s.KubeConfig;
  /** REST path of the collection, e.g. /apis/fluxaction.io/v1alpha1/fluxactionrequests. */
  path: string;
  list: () => Promise<k8s.KubernetesListObject<T>>;
  onChange: (obj: T, event: 'add' | 'update' | 'delete') => void;
  log: Logger;
  clock: Clock;
  /** Longest wait between restarts after errors (default 30s). */
  maxBackoffMs?: number;
}

type SyncState = { state: 'syncing' } | { state: 'synced' } | { state: 'failed'; error: unknown };

/**
 * Starts an informer and keeps it running: after an error it restarts with exponential backoff
 * (from 500ms to maxBackoffMs), keeping its cache; the restart re-lists when the watch expired.
 */
export function startInformer<T extends KubeObject>(options: WatchOptions<T>): InformerHandle<T> {
  const { kc, path, list, onChange, log, clock } = options;
  const maxBackoff = options.maxBackoffMs ?? 30_000;
  let sync: SyncState = { state: 'syncing' };
  let waiters: (() => void)[] = [];
  const setSync = (next: SyncState): void => {
    sync = next;
    const woken = waiters;
    waiters = [];
    for (const wake of woken) wake();
  };
  // Every successful list marks the cache synced.
  const listAndMark = async (): Promise<k8s.KubernetesListObject<T>> => {
    const result = await list();
    // After the informer has stored the items (it does so right after this promise resolves).
    setImmediate(() => {
      setSync({ state: 'synced' });
    });
    return result;
  };
  const informer = k8s.makeInformer<T>(kc, path, listAndMark);
  let stopped = false;
  let failures = 0;

  informer.on('add', (obj) => {
    onChange(obj, 'add');
  });
  informer.on('update', (obj) => {
    onChange(obj, 'update');
  });
  informer.on('delete', (obj) => {
    onChange(obj, 'delete');
  });
  informer.on('connect', () => {
    failures = 0;
  });
  informer.on('error', (err: unknown) => {
    if (stopped) return;
    failures += 1;
    const delay = Math.min(maxBackoff, 500 * 2 ** Math.min(failures - 1, 10));
    log.warn({ path, err: err instanceof Error ? err.message : String(err), retryInMs: delay }, 'watch failed; restarting');
    // A transient error (the API server asks to come back, as its watch cache does while a CRD's
    // storage initialises) is waited through; a lasting one (403, 404) is reported to whenSynced.
    if (sync.state !== 'synced' && !isTransient(err)) setSync({ state: 'failed', error: err });
    clock.setTimer(() => {
      if (!stopped) void informer.start().catch(() => undefined);
    }, delay);
  });
  void informer.start().catch(() => undefined);

  const whenSynced = (failFast = true): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (sync.state === 'synced') resolve();
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the informer's own error, as it came
        else if (sync.state === 'failed' && failFast) reject(sync.error);
        else waiters.push(check);
      };
      check();
    });

  return {
    get: (name, namespace) => informer.get(name, namespace),
    list: (namespace) => informer.list(namespace),
    whenSynced,
    stop: async () => {
      stopped = true;
      await informer.stop();
    },
  };
}

/**
 * Whether an API error says to try again shortly rather than that the request is wrong: 429 (with
 * Retry-After; "storage is (re)initializing" right after a CRD is established) and 5xx.
 */
export function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' && (code === 429 || code >= 500);
}

/** Compares resourceVersions as etcd revisions; undefined when either is not a number. */
export function newerThan(a: string | undefined, b: string | undefined): boolean | undefined {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  return BigInt(a) > BigInt(b);
}
