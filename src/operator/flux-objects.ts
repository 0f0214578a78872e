// The Flux objects requests act on, read through one informer per kind and version, started the
// first time a request needs that kind. A change to an object wakes the requests following it.
import type { Logger } from 'pino';
import { invalidObject } from '../api/parse.js';
import { FluxObjectSchema, type FluxObject } from '../api/types.js';
import type { FluxKind } from '../flux/kinds.js';
import { describeRef, objectKey, slimFluxObject } from '../flux/objects.js';
import { waitAtMost, type Clock } from '../runtime/clock.js';
import type { ClusterAccess } from '../kube/access.js';
import { customObjectPath, kubeClient, type KubeClient } from '../kube/client.js';
import { apiMessage, isNotFound } from '../kube/errors.js';
import type { RefusalCheck } from '../kube/refusal.js';
import type { KubeObject } from '../kube/object.js';
import { customObjects, newerThan, startInformer, type InformerHandle, type SyncFailureReason } from './informers.js';

/** How long a read waits for its kind's informer to sync by default. */
export const DefaultSyncWaitMs = 5_000;

export interface FluxObjectsOptions {
  kc: ClusterAccess;
  log: Logger;
  clock: Clock;
  /** Restrict the informers to one namespace (default: all). */
  namespace?: string;
  /** Called with the objectKey of every object that changed. */
  onChange: (objectKey: string) => void;
  /** Told when an informer starts or stops failing to sync (see startInformer). */
  onSyncFailing?: (resource: string, reason: SyncFailureReason | undefined) => void;
  /** Whether a 403 stands (see startInformer); without it every 403 does. */
  refusalStands?: RefusalCheck;
}

/** How long a read may wait for its kind's informer, and what ends the wait early. */
export interface ReadOptions {
  /** Longest wait for the informer's first sync, in ms (default DefaultSyncWaitMs). */
  timeoutMs?: number;
  /** Aborts the wait (the work queue shutting down). */
  signal?: AbortSignal;
}

/** The informer of a kind has not synced within the read's deadline; says what kept failing. */
export class CacheNotSyncedError extends Error {
  override readonly name = 'CacheNotSyncedError';
}

export class FluxObjects {
  private readonly informers = new Map<string, InformerHandle<KubeObject>>();
  /** Objects we just wrote, newer than the cache until the watch delivers them. */
  private readonly fresh = new Map<string, FluxObject>();
  private readonly client: KubeClient;

  constructor(private readonly options: FluxObjectsOptions) {
    this.client = kubeClient(options.kc);
  }

  /**
   * Reads an object from the informer of its kind and version, starting the informer when needed;
   * one the cache lacks is looked up on the API server before it is called absent.
   * Rejects with the list's error (a 403 when the operator may not list the kind), with a
   * CacheNotSyncedError when the informer has not synced within the read's timeout or its signal
   * aborted, and with an InvalidObjectError naming the field when the object does not parse.
   */
  async get(kind: FluxKind, apiVersion: string, namespace: string, name: string, read: ReadOptions = {}): Promise<FluxObject | undefined> {
    const informer = this.informerFor(kind, apiVersion);
    await this.synced(informer, `${kind.plural}.${kind.group}`, read);
    const cached = informer.get(name, namespace);
    const key = objectKey({ apiVersion, kind: kind.kind, namespace, name });
    const fresh = this.fresh.get(key);
    if (fresh && (!cached || newerThan(fresh.metadata.resourceVersion, cached.metadata?.resourceVersion) === true)) return fresh;
    if (fresh) this.fresh.delete(key);
    const found = cached ?? (await this.readLive(kind, apiVersion, namespace, name));
    if (!found) return undefined;
    const parsed = FluxObjectSchema.safeParse({ apiVersion, kind: kind.kind, ...found });
    if (parsed.success) return parsed.data;
    const error = invalidObject(describeRef({ kind: kind.kind, namespace, name }), parsed.error);
    this.options.log.warn({ object: error.object, field: error.field, problem: error.problem }, 'Flux object does not parse');
    throw error;
  }

  /**
   * Every object of a kind and version the operator can see (its namespace, or all), from the
   * informer, started when needed; objects that do not parse are left out. Rejects like get().
   */
  async list(kind: FluxKind, apiVersion: string, read: ReadOptions = {}): Promise<FluxObject[]> {
    const informer = this.informerFor(kind, apiVersion);
    await this.synced(informer, `${kind.plural}.${kind.group}`, read);
    return informer.list().flatMap((cached) => {
      const parsed = FluxObjectSchema.safeParse({ apiVersion, kind: kind.kind, ...cached });
      return parsed.success ? [parsed.data] : [];
    });
  }

  /**
   * An object the cache does not hold, read from the API server: the watch may not have delivered
   * it yet (an object created just before the request naming it). Undefined when it does not exist;
   * any other failure rejects, and the request is tried again.
   */
  private async readLive(kind: FluxKind, apiVersion: string, namespace: string, name: string): Promise<KubeObject | undefined> {
    const version = apiVersion.slice(apiVersion.indexOf('/') + 1);
    try {
      const live = await this.client.get(customObjectPath({ group: kind.group, version, namespace, plural: kind.plural, name }));
      this.options.log.debug(
        { object: describeRef({ kind: kind.kind, namespace, name }) },
        'not in the cache yet, read from the API server',
      );
      return live;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Waits for the informer's first sync, at most read.timeoutMs and no longer than read.signal allows. */
  private async synced(informer: InformerHandle<KubeObject>, resource: string, read: ReadOptions): Promise<void> {
    const timeoutMs = read.timeoutMs ?? DefaultSyncWaitMs;
    if (informer.hasSynced()) return;
    // Waiting helps a new informer through its first list. One that already failed retries on its
    // own schedule: a worker waiting for it would only be held, so say at once what keeps failing.
    const lasting = informer.failure();
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- the API's own error: callers tell 403 from 404 by it
    if (lasting !== undefined) throw lasting;
    const failing = informer.lastError();
    if (failing !== undefined) {
      throw new CacheNotSyncedError(`the cache of ${resource} has not synced: listing keeps failing: ${apiMessage(failing)}`);
    }
    // A list that failed for good (a 403) rejects: the caller reports it.
    if (await waitAtMost(this.options.clock, timeoutMs, read.signal, (signal) => informer.whenSynced(true, signal))) return;
    const last = informer.lastError();
    const why = last === undefined ? 'no list has completed yet' : `listing keeps failing: ${apiMessage(last)}`;
    if (read.signal?.aborted) throw new CacheNotSyncedError(`stopped waiting for the cache of ${resource}: ${why}`);
    throw new CacheNotSyncedError(`the cache of ${resource} has not synced within ${timeoutMs}ms: ${why}`);
  }

  /** Remembers an object the operator just wrote, so the next read does not see the older cached copy. */
  remember(obj: FluxObject): void {
    this.fresh.set(
      objectKey({ apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name }),
      obj,
    );
  }

  async stop(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    this.informers.clear();
  }

  private informerFor(kind: FluxKind, apiVersion: string): InformerHandle<KubeObject> {
    const version = apiVersion.slice(apiVersion.indexOf('/') + 1);
    const id = `${kind.group}/${version}/${kind.plural}`;
    let informer = this.informers.get(id);
    if (informer) return informer;
    const { kc, log, clock, namespace, onChange, onSyncFailing, refusalStands } = this.options;
    const group = kind.group;
    const plural = kind.plural;
    informer = startInformer<KubeObject>({
      kc,
      ...customObjects(this.client, group, version, plural, namespace),
      log,
      clock,
      ...(onSyncFailing ? { onSyncFailing } : {}),
      ...(refusalStands ? { refusalStands } : {}),
      transform: slimFluxObject(kind),
      onChange: (obj) => {
        // List items lack apiVersion/kind; the key is built from the informer's own kind.
        onChange(objectKey({ apiVersion, kind: kind.kind, namespace: obj.metadata?.namespace, name: obj.metadata?.name ?? '' }));
      },
    });
    this.informers.set(id, informer);
    return informer;
  }
}
