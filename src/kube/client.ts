// The operator's Kubernetes API client: JSON over HTTPS for the dozen calls it makes, one keep-alive
// agent per cluster and identity, every call bounded by a deadline, watches as streams of events.
// It replaces @kubernetes/client-node in the operator's process, whose generated models cost about
// 20 MiB of memory the operator never uses. Any ClusterAccess works: the operator's own kubeconfig
// loader's, or a client-node KubeConfig (the MCP server's, the CLI's, the tests').
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { ClusterAccess } from './access.js';
import type { KubeObject } from './object.js';
import type { Clock, Timer } from '../runtime/clock.js';

/** How long one API call may take before it is abandoned (the caller retries). */
export const ApiCallTimeoutMs = 30_000;
/** How long a LIST may take: a large namespace's list is longer to send than one object. */
export const ListTimeoutMs = 60_000;

/** An API server's answer other than 2xx: its HTTP status and the Status object it sent (or its text). */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly code: number,
    readonly body: unknown,
  ) {
    const message = typeof body === 'object' && body !== null && 'message' in body ? String(body.message) : undefined;
    super(`HTTP ${code}${message ? `: ${message}` : ''}`);
  }
}

/** How one call is bounded, and what it sends. */
export interface CallOptions {
  /** Aborts the call (its reason is what the call rejects with). */
  signal?: AbortSignal | undefined;
  /** The call's deadline, answer's body included (default ApiCallTimeoutMs). */
  timeoutMs?: number | undefined;
  /** The clock the deadline runs on (tests); by default an unref'd timer. */
  clock?: Clock | undefined;
  /** A 2xx answer's body is read but not parsed: the call resolves with undefined (a refusal's still is). */
  ignoreAnswer?: boolean | undefined;
}

export type Query = Record<string, string | number | boolean | undefined>;

/**
 * A User-Agent as client-go writes one: `product/version (os/arch) runtime`. The API server names the
 * field manager of a write after it, up to the first '/' (so `kubectl get --show-managed-fields`
 * tells the operator's status writes from a user's), and its audit log records it with each call.
 */
export function userAgentOf(product: string, version: string): string {
  return `${product}/${version} (${process.platform}/${process.arch}) node/${process.versions.node}`;
}

/** The User-Agent every call sends: the operator's unless the process says otherwise (setUserAgent). */
let userAgent = userAgentOf('flux-action-operator', 'dev');

/** Sets the User-Agent of every later call in this process (each command names itself once, at start); returns the one it replaces. */
export function setUserAgent(value: string): string {
  const before = userAgent;
  userAgent = value;
  return before;
}

interface RequestOptions extends CallOptions {
  query?: Query | undefined;
  body?: unknown;
  contentType?: string | undefined;
}

/** A list as the API server sends it. */
export interface ObjectList<T = KubeObject> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** One event of a watch: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR (whose object is a Status). */
export type WatchEventHandler = (type: string, object: unknown) => void;

/** A watch under way; abort() ends it without calling its done handler. */
export interface WatchHandle {
  abort(): void;
}

/** Where a custom object (or its collection) is: group, version, plural, and namespace when namespaced. */
export interface CustomObjectRef {
  group: string;
  version: string;
  plural: string;
  namespace?: string | undefined;
  name?: string | undefined;
}

/** The REST path of a custom object, its collection, or a subresource of it. */
export function customObjectPath(ref: CustomObjectRef, subresource?: string): string {
  const base = ref.namespace
    ? `/apis/${ref.group}/${ref.version}/namespaces/${ref.namespace}/${ref.plural}`
    : `/apis/${ref.group}/${ref.version}/${ref.plural}`;
  return ref.name ? `${base}/${ref.name}${subresource ? `/${subresource}` : ''}` : base;
}

const MergePatch = 'application/merge-patch+json';

/** The TLS options that tell one client identity from another: calls alike in these may share connections. */
const TlsFields = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'servername', 'rejectUnauthorized'] as const;

/**
 * A fingerprint of the TLS identity in options, after whatever is given first (a server, a proxy):
 * the key of the keep-alive agent its calls share, here and in client-node's KubeConfig
 * (src/runtime/kubeconfig.ts).
 */
export function tlsFingerprint(options: Pick<https.AgentOptions, (typeof TlsFields)[number]>, ...first: string[]): string {
  const hash = createHash('sha256');
  for (const text of first) hash.update(text);
  for (const field of TlsFields) {
    const value = options[field];
    hash.update('\0');
    if (value !== undefined) hash.update(typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value));
  }
  return hash.digest('hex');
}

/** An answer's body: its JSON, else its text (a proxy's error page, a plain-text healthz); undefined when empty. */
function answerBody(chunks: Buffer[]): unknown {
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export class KubeClient {
  private readonly agents = new Map<string, http.Agent>();
  /** The TLS values of the last call and its agent: the next call with the same values skips the fingerprint. */
  private lastIdentity: { plain: boolean; values: unknown[]; agent: http.Agent } | undefined;

  constructor(private readonly access: ClusterAccess) {}

  /** The API server's URL. */
  server(): string {
    const cluster = this.access.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig names no current cluster');
    return cluster.server.replace(/\/+$/, '');
  }

  async get<T = KubeObject>(path: string, options: CallOptions & { query?: Query } = {}): Promise<T> {
    return this.request<T>('GET', path, options);
  }

  async list<T = KubeObject>(path: string, query: Query = {}, options: CallOptions = {}): Promise<ObjectList<T>> {
    return this.request<ObjectList<T>>('GET', path, { timeoutMs: ListTimeoutMs, ...options, query });
  }

  async create<T = KubeObject>(path: string, body: unknown, options: CallOptions = {}): Promise<T> {
    return this.request<T>('POST', path, { ...options, body });
  }

  async replace<T = KubeObject>(path: string, body: unknown, options: CallOptions = {}): Promise<T> {
    return this.request<T>('PUT', path, { ...options, body });
  }

  /** A JSON merge patch (RFC 7386): null deletes a field, objects merge, everything else replaces. */
  async mergePatch<T = KubeObject>(path: string, patch: unknown, options: CallOptions = {}): Promise<T> {
    return this.request<T>('PATCH', path, { ...options, body: patch, contentType: MergePatch });
  }

  /** Deletes, with DeleteOptions as the body when given (preconditions, propagation). */
  async delete<T = unknown>(path: string, body?: unknown, options: CallOptions = {}): Promise<T> {
    return this.request<T>('DELETE', path, { ...options, body });
  }

  /**
   * One call: resolves with the answer's JSON (undefined for an empty body), rejects with ApiError
   * for any other status than 2xx, with the connection's error when it fails, and with a
   * TimeoutError (or the signal's reason) when the deadline passes (or the signal aborts) first.
   */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    options.signal?.throwIfAborted();
    const { url, init, transport } = await this.prepare(method, path, options.query);
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (payload !== undefined) {
      init.headers = {
        ...(init.headers as http.OutgoingHttpHeaders),
        'Content-Type': options.contentType ?? 'application/json',
        'Content-Length': Buffer.byteLength(payload),
      };
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        req.destroy(
          options.signal?.reason instanceof Error ? options.signal.reason : new DOMException('The operation was aborted', 'AbortError'),
        );
      };
      const expire = (): void => {
        req.destroy(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
      };
      const timeoutMs = options.timeoutMs ?? ApiCallTimeoutMs;
      const timer = options.clock ? options.clock.setTimer(expire, timeoutMs) : unrefTimer(expire, timeoutMs);
      const finish = (): void => {
        timer.cancel();
        options.signal?.removeEventListener('abort', onAbort);
      };
      const req = transport.request(url, init, (res) => {
        const chunks: Buffer[] = [];
        const status = res.statusCode ?? 0;
        const keep = !(options.ignoreAnswer && status >= 200 && status < 300);
        res.on('data', (chunk: Buffer) => {
          if (keep) chunks.push(chunk);
        });
        res.on('error', (err) => {
          finish();
          reject(err);
        });
        res.on('end', () => {
          finish();
          if (!keep) resolve(undefined as T);
          else if (status >= 200 && status < 300) resolve(answerBody(chunks) as T);
          else reject(new ApiError(status, answerBody(chunks)));
        });
      });
      options.signal?.addEventListener('abort', onAbort, { once: true });
      // Aborted while the call was being prepared (a credential plugin running): no event comes now.
      if (options.signal?.aborted) onAbort();
      req.on('error', (err) => {
        finish();
        reject(err);
      });
      req.end(payload);
    });
  }

  /**
   * Watches a collection from resourceVersion (bookmarks asked for): onEvent gets every event in
   * order, then done is called once, with undefined when the server ended the stream and with the
   * error when it failed (an ApiError for an answer other than 200). An answer must start within
   * ApiCallTimeoutMs; once it has, the stream may stay quiet for as long as the server keeps it
   * open (TCP keep-alive probes a silent connection). onOpen is called when the server answered 200.
   * Rejects when the call cannot be made at all (no current cluster, a credential plugin that fails).
   */
  async watch(
    path: string,
    query: Query,
    onEvent: WatchEventHandler,
    done: (err: unknown) => void,
    onOpen?: () => void,
  ): Promise<WatchHandle> {
    let ended = false;
    // Rejects, before anything is sent, when there is no cluster to call or no credential to call it with.
    const { url, init, transport } = await this.prepare('GET', path, { ...query, watch: true, allowWatchBookmarks: true });
    const end = (err: unknown): void => {
      if (ended) return;
      ended = true;
      timer.cancel();
      req.destroy();
      done(err);
    };
    const req = transport.request(url, init, (res) => {
      timer.cancel();
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', end);
        res.on('end', () => {
          end(new ApiError(status, answerBody(chunks)));
        });
        return;
      }
      res.socket.setKeepAlive(true, 30_000);
      onOpen?.();
      // One JSON event per line; a chunk may end mid-line (and mid-character: the decoder keeps it).
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        for (let newline = buffered.indexOf('\n'); newline >= 0 && !ended; newline = buffered.indexOf('\n')) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line === '') continue;
          let event: { type?: unknown; object?: unknown };
          try {
            event = JSON.parse(line) as { type?: unknown; object?: unknown };
          } catch {
            end(new Error(`the watch of ${path} sent a line that is not JSON`));
            return;
          }
          if (typeof event.type === 'string') onEvent(event.type, event.object);
        }
      });
      res.on('error', end);
      res.on('close', () => {
        end(res.complete ? undefined : new Error(`the watch of ${path} was cut`));
      });
    });
    const timer = unrefTimer(() => {
      end(new DOMException('The watch was not answered in time', 'TimeoutError'));
    }, ApiCallTimeoutMs);
    req.on('error', end);
    req.end();
    return {
      abort: () => {
        ended = true;
        timer.cancel();
        req.destroy();
      },
    };
  }

  /** The URL, the request's options (TLS, identity, a shared keep-alive agent) and the module to send it with. */
  private async prepare(
    method: string,
    path: string,
    query: Query | undefined,
  ): Promise<{ url: URL; init: https.RequestOptions; transport: typeof https | typeof http }> {
    const url = new URL(this.server() + path);
    for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const init: https.RequestOptions = { method, headers: { Accept: 'application/json', 'User-Agent': userAgent } };
    await this.access.applyToHTTPSOptions(init);
    const plain = url.protocol === 'http:';
    init.agent = this.agent(init, plain);
    return { url, init, transport: plain ? http : https };
  }

  /** One keep-alive agent per TLS identity (a client certificate rotated by an exec plugin gets a new one). */
  private agent(init: https.RequestOptions, plain: boolean): http.Agent {
    // The access hands out the same Buffers and strings call after call (files are read again
    // every minute): hashing the CA and the client certificate for every call cost the operator
    // about 2% of its CPU under load. Values that are not the very same as last time are hashed.
    const values = TlsFields.map((field) => init[field]);
    const last = this.lastIdentity;
    if (last?.plain === plain && last.values.every((value, i) => value === values[i])) return last.agent;
    const key = `${plain ? 'http' : 'https'}:${tlsFingerprint(init)}`;
    let agent = this.agents.get(key);
    if (!agent) {
      const tls = Object.fromEntries(TlsFields.flatMap((field) => (init[field] === undefined ? [] : [[field, init[field]]])));
      agent = plain ? new http.Agent({ keepAlive: true }) : new https.Agent({ ...tls, keepAlive: true });
      this.agents.set(key, agent);
    }
    this.lastIdentity = { plain, values, agent };
    return agent;
  }

  /** Closes the idle connections (an operator that stops). */
  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
    this.lastIdentity = undefined;
  }
}

const clients = new WeakMap<ClusterAccess, KubeClient>();

/** The client for a ClusterAccess: one per access, so the operator's parts share their connections. */
export function kubeClient(access: ClusterAccess): KubeClient {
  let client = clients.get(access);
  if (!client) clients.set(access, (client = new KubeClient(access)));
  return client;
}

/** As AbortSignal.timeout's timer: the deadline alone does not keep the process running. */
export function unrefTimer(fn: () => void, ms: number): Timer {
  const handle = setTimeout(fn, ms);
  handle.unref();
  return {
    cancel: () => {
      clearTimeout(handle);
    },
  };
}
