// The adapter's one way to act: create a FluxActionRequest and follow it, through a watch, until
// it finished or the wait ran out. It never touches a Flux object itself.
import * as k8s from '@kubernetes/client-node';
import { isFinished } from '../api/conditions.js';
import { buildRequest, type RequestOrigin } from '../api/request.js';
import { FluxActionRequestSchema, Group, Plural, Version, type FluxActionRequest, type RequestSpec } from '../api/types.js';

export interface RequestServiceOptions {
  kc: k8s.KubeConfig;
  /** ttlSecondsAfterFinished of the requests it creates (default 3600). */
  ttlSeconds?: number;
}

export class RequestService {
  private readonly custom: k8s.CustomObjectsApi;

  constructor(private readonly options: RequestServiceOptions) {
    this.custom = options.kc.makeApiClient(k8s.CustomObjectsApi);
  }

  /** Creates a request in the target's namespace, with a TTL and its origin. */
  async create(namespace: string, spec: RequestSpec, origin: RequestOrigin): Promise<FluxActionRequest> {
    const body = buildRequest(
      namespace,
      { ...spec, ttlSecondsAfterFinished: spec.ttlSecondsAfterFinished ?? this.options.ttlSeconds ?? 3600 },
      origin,
    );
    const created: unknown = await this.custom.createNamespacedCustomObject({
      group: Group,
      version: Version,
      plural: Plural,
      namespace,
      body,
    });
    return FluxActionRequestSchema.parse(created);
  }

  async get(namespace: string, name: string): Promise<FluxActionRequest> {
    return FluxActionRequestSchema.parse(
      await this.custom.getNamespacedCustomObject({ group: Group, version: Version, plural: Plural, namespace, name }),
    );
  }

  async list(namespace: string | undefined, labelSelector?: string): Promise<FluxActionRequest[]> {
    const list = (
      namespace
        ? await this.custom.listNamespacedCustomObject({
            group: Group,
            version: Version,
            plural: Plural,
            namespace,
            ...(labelSelector ? { labelSelector } : {}),
          })
        : await this.custom.listClusterCustomObject({
            group: Group,
            version: Version,
            plural: Plural,
            ...(labelSelector ? { labelSelector } : {}),
          })
    ) as { items: unknown[] };
    return list.items.flatMap((item) => {
      const parsed = FluxActionRequestSchema.safeParse(item);
      return parsed.success ? [parsed.data] : [];
    });
  }

  /**
   * Follows a request through a watch until it finished or timeoutMs passed; resolves with the
   * last state seen either way. Never rejects for a lost watch: it reads the request once more.
   */
  async waitFinished(request: FluxActionRequest, timeoutMs: number, signal?: AbortSignal): Promise<FluxActionRequest> {
    if (isFinished(request.status?.phase)) return request;
    const namespace = request.metadata.namespace ?? '';
    const name = request.metadata.name;
    let latest = request;
    await new Promise<void>((resolve) => {
      let controller: AbortController | undefined;
      let closed = false;
      const done = (): void => {
        closed = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        controller?.abort();
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done);
      const watch = new k8s.Watch(this.options.kc);
      void watch
        .watch(
          `/apis/${Group}/${Version}/namespaces/${namespace}/${Plural}`,
          { fieldSelector: `metadata.name=${name}`, resourceVersion: request.metadata.resourceVersion ?? '' },
          (_phase: string, obj: unknown) => {
            const parsed = FluxActionRequestSchema.safeParse(obj);
            if (!parsed.success) return;
            latest = parsed.data;
            if (isFinished(latest.status?.phase)) done();
          },
          () => {
            done();
          },
        )
        .then(
          (c) => {
            controller = c;
            // Finished before the watch was set up: close it now.
            if (closed) c.abort();
          },
          () => {
            done();
          },
        );
    });
    if (isFinished(latest.status?.phase)) return latest;
    // The watch ended (time, or a lost connection): read the request once more.
    try {
      return await this.get(namespace, name);
    } catch {
      return latest;
    }
  }
}
