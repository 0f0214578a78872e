// The Flux objects requests act on, read through one informer per kind and version, started the
// first time a request needs that kind. A change to an object wakes the requests following it.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { FluxObjectSchema, type FluxObject } from '../api/types.js';
import type { FluxKind } from '../flux/kinds.js';
import { objectKey } from '../flux/objects.js';
import type { Clock } from '../runtime/clock.js';
import type { KubeObject } from '../kube/object.js';
import { newerThan, startInformer, type InformerHandle } from './informers.js';

export interface FluxObjectsOptions {
  kc: k8s.KubeConfig;
  log: Logger;
  clock: Clock;
  /** Restrict the informers to one namespace (default: all). */
  namespace?: string;
  /** Called with the objectKey of every object that changed. */
  onChange: (objectKey: string) => void;
}

export class FluxObjects {
  private readonly informers = new Map<string, InformerHandle<KubeObject>>();
  /** Objects we just wrote, newer than the cache until the watch delivers them. */
  private readonly fresh = new Map<string, FluxObject>();
  private readonly custom: k8s.CustomObjectsApi;

  constructor(private readonly options: FluxObjectsOptions) {
    this.custom = options.kc.makeApiClient(k8s.CustomObjectsApi);
  }

  /**
   * Reads an object from the informer of its kind and version, starting the informer when needed.
   * Rejects with the list's error (a 403 when the operator may not list the kind).
   */
  async get(kind: FluxKind, apiVersion: string, namespace: string, name: string): Promise<FluxObject | undefined> {
    const informer = this.informerFor(kind, apiVersion);
    await informer.whenSynced();
    const cached = informer.get(name, namespace);
    const key = objectKey({ apiVersion, kind: kind.kind, namespace, name });
    const fresh = this.fresh.get(key);
    if (fresh && (!cached || newerThan(fresh.metadata.resourceVersion, cached.metadata?.resourceVersion) === true)) return fresh;
    if (fresh) this.fresh.delete(key);
    if (!cached) return undefined;
    const parsed = FluxObjectSchema.safeParse({ apiVersion, kind: kind.kind, ...cached });
    return parsed.success ? parsed.data : undefined;
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
    const { kc, log, clock, namespace, onChange } = this.options;
    const group = kind.group;
    const plural = kind.plural;
    const path = namespace ? `/apis/${group}/${version}/namespaces/${namespace}/${plural}` : `/apis/${group}/${version}/${plural}`;
    const list = async (): Promise<k8s.KubernetesListObject<KubeObject>> =>
      (namespace
        ? await this.custom.listNamespacedCustomObject({ group, version, namespace, plural })
        : await this.custom.listClusterCustomObject({ group, version, plural })) as k8s.KubernetesListObject<KubeObject>;
    informer = startInformer<KubeObject>({
      kc,
      path,
      list,
      log,
      clock,
      onChange: (obj) => {
        // List items lack apiVersion/kind; the key is built from the informer's own kind.
        onChange(objectKey({ apiVersion, kind: kind.kind, namespace: obj.metadata?.namespace, name: obj.metadata?.name ?? '' }));
      },
    });
    this.informers.set(id, informer);
    return informer;
  }
}
