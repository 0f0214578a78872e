// A watch that records every version of the objects of one collection, resuming from the last
// resourceVersion it saw after any disconnect (an API server or etcd restart, a dropped connection), so
// the chaos suite sees each intermediate state, not only the latest. When the API server can no longer
// resume (410 Gone: the version left its watch cache), it lists again and counts a gap; the invariant
// checks then fall back on the objects' final state for what the gap may have hidden.
import * as k8s from '@kubernetes/client-node';
import { Group, Plural, Version, type FluxActionRequest } from '../../../src/api/types.js';
import { customObjectPath } from '../../../src/kube/client.js';
import { statusCode } from '../../../src/kube/errors.js';

/** One version of an object as the watch delivered it. */
export interface Version<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'LISTED';
  object: T;
}

export interface Listed<T> {
  metadata?: { resourceVersion?: string };
  items: T[];
}

type Named = { metadata?: { name?: string; resourceVersion?: string } };

export class HistoryWatch<T extends Named> {
  /** Every version seen, by object name, oldest first. */
  readonly versions = new Map<string, Version<T>[]>();
  /** Lists made after the API server could not resume the watch (410 Gone). */
  gaps = 0;
  /** Times the watch ended and was resumed. */
  reconnects = 0;
  private resourceVersion = '';
  /** Watches in a row that ended without delivering anything. */
  private fruitless = 0;
  private abort: AbortController | undefined;
  private stopped = false;

  constructor(
    private readonly kc: k8s.KubeConfig,
    /** REST path of a namespaced collection. */
    private readonly path: string,
    /** Lists the collection (with its resourceVersion). */
    private readonly listCollection: () => Promise<Listed<T>>,
  ) {}

  /** Lists the collection, then watches it from the list's resourceVersion. */
  async start(): Promise<void> {
    await this.list();
    await this.watch();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  /** The latest version of each object seen. */
  latest(): T[] {
    return [...this.versions.values()].map((v) => v.at(-1)!.object);
  }

  private record(type: Version<T>['type'], object: T): void {
    const name = object.metadata?.name ?? '';
    const list = this.versions.get(name) ?? [];
    const last = list.at(-1);
    // A re-list re-delivers what was already seen.
    if (type === 'LISTED' && last && last.object.metadata?.resourceVersion === object.metadata?.resourceVersion) return;
    list.push({ type, object });
    this.versions.set(name, list);
  }

  private async list(): Promise<void> {
    const body = await this.listCollection();
    for (const item of body.items) this.record('LISTED', item);
    this.resourceVersion = body.metadata?.resourceVersion ?? '';
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    const watcher = new k8s.Watch(this.kc);
    let gone = false;
    try {
      this.abort = await watcher.watch(
        this.path,
        { resourceVersion: this.resourceVersion, allowWatchBookmarks: true },
        (type: string, object: T & { code?: number }) => {
          this.fruitless = 0;
          if (type === 'ERROR') {
            if (object.code === 410) gone = true;
            return;
          }
          const rv = object.metadata?.resourceVersion;
          if (rv) this.resourceVersion = rv;
          if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') this.record(type, object);
        },
        (err: unknown) => {
          // Closed with nothing delivered ten times in a row: the server does not resume from this
          // resourceVersion; list afresh. (A failed connection is the server being away: not counted.)
          if (!err) this.fruitless += 1;
          void this.resume(gone || statusCode(err) === 410 || this.fruitless >= 10);
        },
      );
    } catch {
      // No cluster in the kubeconfig: Watch throws only then.
      void this.resume(false);
    }
  }

  /** Resumes after the watch ended; retries every 200 ms while the API server does not answer. */
  private async resume(gone: boolean): Promise<void> {
    if (this.stopped) return;
    this.reconnects += 1;
    await new Promise((resolve) => setTimeout(resolve, 200));
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may set it during the await above
    if (this.stopped) return;
    if (gone) {
      try {
        await this.list();
        this.gaps += 1;
        this.fruitless = 0;
      } catch {
        return this.resume(true);
      }
    }
    await this.watch();
  }
}

/** A HistoryWatch of one namespace's custom objects of a kind (FluxActionRequests, a Flux kind), as kc. */
export function customHistory<T extends Named>(
  kc: k8s.KubeConfig,
  kind: { group: string; version: string; plural: string },
  namespace: string,
): HistoryWatch<T> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const ref = { ...kind, namespace };
  return new HistoryWatch<T>(kc, customObjectPath(ref), async () => (await custom.listNamespacedCustomObject(ref)) as Listed<T>);
}

/** A HistoryWatch of the FluxActionRequests of one namespace, as kc. */
export function requestHistory(kc: k8s.KubeConfig, namespace: string): HistoryWatch<FluxActionRequest> {
  return customHistory<FluxActionRequest>(kc, { group: Group, version: Version, plural: Plural }, namespace);
}
