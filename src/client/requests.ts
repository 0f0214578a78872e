// A client's one way to act (the MCP adapter's and the command line's): create a FluxActionRequest
// and follow it, through a watch, until it finished or the wait ran out. It never touches a Flux object.
import type { Logger } from 'pino';
import { isFinished } from '../api/conditions.js';
import { awaitsApproval } from '../policy/gate.js';
import { InvalidObjectError, invalidObject } from '../api/parse.js';
import { buildRequest, type RequestOrigin } from '../api/request.js';
import {
  FluxActionRequestSchema,
  Group,
  Plural,
  ApprovedByAnnotation,
  RejectedByAnnotation,
  RequestedByAnnotation,
  RequestedByGroupsAnnotation,
  Version,
  type FluxActionRequest,
  type RequestSpec,
} from '../api/types.js';
import type { ClusterAccess } from '../kube/access.js';
import { customObjectPath, kubeClient, type KubeClient, type WatchHandle } from '../kube/client.js';

export interface RequestServiceOptions {
  kc: ClusterAccess;
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

/** A SelfSubjectReview's answer, as far as it is read. */
interface SelfSubjectReview {
  status?: { userInfo?: { username?: string; groups?: string[] } };
}

/** Who the client is to the API server (SelfSubjectReview). */
export interface Identity {
  username: string;
  groups: string[];
}

export class RequestService {
  private readonly client: KubeClient;
  private identity: Promise<Identity> | undefined;

  constructor(private readonly options: RequestServiceOptions) {
    this.client = kubeClient(options.kc);
  }

  /**
   * Who the client acts as, asked once with a SelfSubjectReview (every authenticated user may); a
   * failed review is asked again next time.
   */
  whoAmI(): Promise<Identity> {
    this.identity ??= this.client
      .create<SelfSubjectReview>('/apis/authentication.k8s.io/v1/selfsubjectreviews', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'SelfSubjectReview',
      })
      .then((review) => {
        const user = review.status?.userInfo;
        if (!user?.username) throw new Error('the API server did not say who you are (SelfSubjectReview without a username)');
        return { username: user.username, groups: user.groups ?? [] };
      })
      .catch((err: unknown) => {
        this.identity = undefined;
        throw err;
      });
    return this.identity;
  }

  /**
   * Creates a request in the target's namespace, with a TTL and its origin, saying who asks
   * (annotations requested-by and requested-by-groups, from whoAmI): clusters without
   * MutatingAdmissionPolicy do not fill them in, and admission checks them either way.
   */
  async create(namespace: string, spec: RequestSpec, origin: RequestOrigin): Promise<FluxActionRequest> {
    const me = await this.whoAmI();
    const body = buildRequest(
      namespace,
      { ...spec, ttlSecondsAfterFinished: spec.ttlSecondsAfterFinished ?? this.options.ttlSeconds ?? 3600 },
      origin,
    );
    body.metadata.annotations[RequestedByAnnotation] = me.username;
    body.metadata.annotations[RequestedByGroupsAnnotation] = me.groups.join(',');
    const created: unknown = await this.client.create(
      customObjectPath({ group: Group, version: Version, plural: Plural, namespace }),
      body,
    );
    return this.parse(created, namespace, body.metadata.name);
  }

  /** Reads one request; throws an InvalidObjectError naming the bad field when it does not parse. */
  async get(namespace: string, name: string): Promise<FluxActionRequest> {
    return this.parse(
      await this.client.get(customObjectPath({ group: Group, version: Version, plural: Plural, namespace, name })),
      namespace,
      name,
    );
  }

  /** Lists requests; one that does not parse is logged and reported in `invalid`, not dropped silently. */
  async list(namespace: string | undefined, labelSelector?: string): Promise<RequestList> {
    const list = await this.client.list<unknown>(customObjectPath({ group: Group, version: Version, plural: Plural, namespace }), {
      labelSelector,
    });
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
   * Follows a request through a watch until it finished, waits for an approver (nothing to wait for
   * then: a person decides, maybe in hours), timeoutMs passed or signal aborted (the client
   * cancelled); resolves with the last state seen either way. onUpdate sees every version on the way. Never rejects for a lost watch:
   * it reads the request once more. Rejects with an InvalidObjectError when the request stops parsing.
   */
  waitFinished(
    request: FluxActionRequest,
    timeoutMs: number,
    signal?: AbortSignal,
    onUpdate?: (request: FluxActionRequest) => void,
  ): Promise<FluxActionRequest> {
    return this.follow(request, { timeoutMs, until: settled, ...(signal ? { signal } : {}), ...(onUpdate ? { onUpdate } : {}) });
  }

  /**
   * Follows a request through a watch, calling onUpdate with every version the watch delivers, until
   * `until` holds (default: finished), timeoutMs passed or signal aborted; resolves with the last
   * state seen. A watch that ends early (a lost connection, an expired resourceVersion) is opened
   * again from a fresh read, so no transition is missed for long and the wait stays bounded.
   * Rejects with an InvalidObjectError when the request stops parsing.
   */
  async follow(request: FluxActionRequest, options: FollowOptions): Promise<FluxActionRequest> {
    const until = options.until ?? ((r: FluxActionRequest) => isFinished(r.status?.phase));
    const deadline = Date.now() + options.timeoutMs;
    const namespace = request.metadata.namespace ?? '';
    const name = request.metadata.name;
    let latest = request;
    for (;;) {
      if (until(latest) || options.signal?.aborted) return latest;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return latest;
      const watched = await this.watchOnce(latest, remaining, options);
      latest = watched.latest;
      if (watched.invalid) throw watched.invalid;
      if (until(latest) || options.signal?.aborted || Date.now() >= deadline) return latest;
      // The watch ended before the deadline: read the request again and watch from there.
      try {
        const fresh = await this.get(namespace, name);
        if (fresh.metadata.resourceVersion !== latest.metadata.resourceVersion) options.onUpdate?.(fresh);
        latest = fresh;
      } catch (err) {
        if (err instanceof InvalidObjectError) throw err;
        // The API server is unreachable for now: wait a little before watching again.
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, Math.max(0, deadline - Date.now()))));
      }
    }
  }

  /** One watch from request's resourceVersion until `until`, the time, the signal or the watch's end. */
  private async watchOnce(
    request: FluxActionRequest,
    timeoutMs: number,
    options: FollowOptions,
  ): Promise<{ latest: FluxActionRequest; invalid?: InvalidObjectError }> {
    const until = options.until ?? ((r: FluxActionRequest) => isFinished(r.status?.phase));
    const namespace = request.metadata.namespace ?? '';
    const name = request.metadata.name;
    const signal = options.signal;
    let latest = request;
    let invalid: InvalidObjectError | undefined;
    await new Promise<void>((resolve) => {
      if (signal?.aborted) {
        resolve();
        return;
      }
      let closed = false;
      let watch: WatchHandle | undefined;
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        closed = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        watch?.abort();
        resolve();
      }
      signal?.addEventListener('abort', done);
      this.client
        .watch(
          customObjectPath({ group: Group, version: Version, plural: Plural, namespace }),
          { fieldSelector: `metadata.name=${name}`, resourceVersion: request.metadata.resourceVersion ?? '' },
          (type, obj) => {
            // The API server's own ERROR events (an expired resourceVersion) end the watch below.
            if (closed || type === 'ERROR' || type === 'BOOKMARK') return;
            try {
              latest = this.parse(obj, namespace, name);
            } catch (err) {
              invalid = err as InvalidObjectError;
              done();
              return;
            }
            options.onUpdate?.(latest);
            if (until(latest)) done();
          },
          done,
        )
        .then((handle) => {
          watch = handle;
          // Finished before the watch was set up: close it now.
          if (closed) handle.abort();
        }, done);
    });
    return invalid ? { latest, invalid } : { latest };
  }

  /**
   * Decides a request awaiting approval: sets annotation approved-by or rejected-by to the caller's
   * own username (whoAmI), which is what admission accepts. Returns the request as stored.
   */
  async decide(namespace: string, name: string, decision: 'approve' | 'reject'): Promise<{ request: FluxActionRequest; by: string }> {
    const me = await this.whoAmI();
    const annotation = decision === 'approve' ? ApprovedByAnnotation : RejectedByAnnotation;
    const patched: unknown = await this.client.mergePatch(
      customObjectPath({ group: Group, version: Version, plural: Plural, namespace, name }),
      {
        metadata: { annotations: { [annotation]: me.username } },
      },
    );
    return { request: this.parse(patched, namespace, name), by: me.username };
  }
}

/** How RequestService.follow follows a request. */
export interface FollowOptions {
  /** How long to follow at most. */
  timeoutMs: number;
  /** Stop once this holds (default: the request finished). */
  until?: (request: FluxActionRequest) => boolean;
  /** Called with every new version of the request seen. */
  onUpdate?: (request: FluxActionRequest) => void;
  /** Stop when aborted (the client cancelled). */
  signal?: AbortSignal;
}

/** Nothing more to wait for: finished, or waiting for a person's approval. */
function settled(request: FluxActionRequest): boolean {
  return isFinished(request.status?.phase) || awaitsApproval(request);
}
