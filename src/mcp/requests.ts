// The adapter's one way to act: create a FluxActionRequest and follow it, through a watch, until
// it finished or the wait ran out. It never touches a Flux object itself.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isFinished } from '../api/conditions.js';
import { InvalidObjectError, invalidObject } from '../api/parse.js';
import { buildRequest, type RequestOrigin } from '../api/request.js';
import { FluxActionRequestSchema, Group, Plural, Version, type FluxActionRequest, type RequestSpec } from '../api/types.js';

export interface RequestServiceOptions {
  kc: k8s.KubeConfig;
  /** ttlSecondsAfterFinished of the requests it creates (default 3600). */
  ttlSeconds?: number;
  /** Where requests that do not parse are logged. */
  log?: Logger;
}

/** Requests listed: those that parse, and an error naming the bad field of each that does not. */
export interface RequestList {
  requests: FluxActionRequest[];
  invalid: InvalidObjectError[];
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
    return this.parse(created, namespace, body.metadata.name);
  }

  /** Reads one request; throws an InvalidObjectError naming the bad field when it does not parse. */
  async get(namespace: string, name: string): Promise<FluxActionRequest> {
    return this.parse(
      await this.custom.getNamespacedCustomObject({ group: Group, version: Version, plural: Plural, namespace, name }),
      namespace,
      name,
    );
  }

  /** Lists requests; one that does not parse is logged and reported in `invalid`, not dropped silently. */
  async list(namespace: string | undefined, labelSelector?: string): Promise<RequestList> {
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
    const requests: FluxActionRequest[] = [];
    const invalid: InvalidObjectError[] = [];
    for (const item of list.items) {
      const meta = (item as { metadata?: { namespace?: string; name?: string } }).metadata;
      try {
        requests.push(this.parse(item, meta?.namespace ?? '', meta?.name ?? '?'));
      } catch (err) {
        if (!(err instanceof InvalidObjectError)) throw err;
        invalid.push(err);
      }
    }
    return { requests, invalid };
  }

  /** Parses a request read from the API server, logging and naming the first bad field when it does not. */
  private parse(raw: unknown, namespace: string, name: string): FluxActionRequest {
    const parsed = FluxActionRequestSchema.safeParse(raw);
    if (parsed.success) return parsed.data;
    const error = invalidObject(`FluxActionRequest ${namespace}/${name}`, parsed.error);
    this.options.log?.warn({ object: error.object, field: error.field, problem: error.problem }, 'FluxActionRequest does not parse');
    throw error;
  }

  /**
   * Follows a request through a watch until it finished, timeoutMs passed or signal aborted (the
   * client cancelled); resolves with the last state seen either way. Never rejects for a lost watch:
   * it reads the request once more. Rejects with an InvalidObjectError when the request stops parsing.
   */
  async waitFinished(request: FluxActionRequest, timeoutMs: number, signal?: AbortSignal): Promise<FluxActionRequest> {
    if (isFinished(request.status?.phase)) return request;
    const namespace = request.metadata.namespace ?? '';
    const name = request.metadata.name;
    let latest = request;
    let invalid: InvalidObjectError | undefined;
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
      if (signal?.aborted) {
        resolve();
        return;
      }
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done);
      const watch = new k8s.Watch(this.options.kc);
      void watch
        .watch(
          `/apis/${Group}/${Version}/namespaces/${namespace}/${Plural}`,
          { fieldSelector: `metadata.name=${name}`, resourceVersion: request.metadata.resourceVersion ?? '' },
          (phase: string, obj: unknown) => {
            // The API server's own ERROR events (an expired resourceVersion) end the watch below.
            if (phase === 'ERROR' || phase === 'BOOKMARK') return;
            try {
              latest = this.parse(obj, namespace, name);
            } catch (err) {
              invalid = err as InvalidObjectError;
              done();
              return;
            }
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
    if (invalid) throw invalid;
    if (isFinished(latest.status?.phase) || signal?.aborted) return latest;
    // The watch ended (time, or a lost connection): read the request once more.
    try {
      return await this.get(namespace, name);
    } catch (err) {
      if (err instanceof InvalidObjectError) throw err;
      return latest;
    }
  }
}
