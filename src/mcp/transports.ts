// Transports: stdio (the default; stdout belongs to the protocol, logs go to stderr) and
// Streamable HTTP on /mcp, bound to 127.0.0.1 by default, with a bearer token required when bound
// elsewhere (a shared one, or each caller's own Kubernetes token in passthrough mode), OAuth
// protected-resource metadata (RFC 9728) saying where to get one, and the SDK's Host-header
// validation (DNS-rebinding protection) in front of /mcp.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { hostHeaderValidation } from '@modelcontextprotocol/sdk/server/middleware/hostHeaderValidation.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type * as k8s from '@kubernetes/client-node';
import type { Identity } from '../client/requests.js';
import { isLoopback } from '../runtime/http.js';
import { connectionFailure, describeError } from '../kube/errors.js';
import {
  callerKubeConfig,
  InvalidTokenError,
  metadataPath,
  protectedResourceMetadata,
  tokenHash,
  TokenReviewer,
  wwwAuthenticate,
  type AuthMode,
} from './auth.js';

/** Serves one MCP server over stdin/stdout until stdin closes. */
export async function serveStdio(server: McpServer): Promise<{ close(): Promise<void> }> {
  const transport = new StdioServerTransport();
  await server.connect(transport);
  return { close: () => server.close() };
}

export interface HttpOptions {
  host: string;
  port: number;
  /**
   * none (loopback only), token (every client sends `token`), or passthrough (each client sends its
   * own Kubernetes token, used toward the API server for its session). Default: token when one is set.
   */
  auth?: AuthMode;
  /** Required as `Authorization: Bearer <token>` in token mode. */
  token?: string;
  /** The cluster passthrough sessions talk to (its server and CA; its credentials are not used). */
  kc?: k8s.KubeConfig;
  /** Authorization servers named in the protected-resource metadata. */
  authorizationServers?: string[];
  /** The public URL of /mcp, the metadata's `resource` (default: the bound address). */
  resourceUrl?: string;
  /** Extra Host header values to accept (e.g. a Service's DNS name), besides loopback names. */
  allowedHosts?: string[];
  /** A new McpServer for each session; in passthrough mode with the caller's KubeConfig and identity. */
  newServer: (caller?: { kc: k8s.KubeConfig; identity: Identity }) => McpServer;
  log: Logger;
}

export interface HttpServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The Host header names /mcp answers to, without ports: loopback names, the bound address unless it
 * is loopback, and extra names (e.g. a Service's DNS name). A browser page on another site resolves
 * its own name, which is not among them, so it cannot reach the server by rebinding that name.
 */
export function allowedHostnames(host: string, extra: readonly string[] = []): string[] {
  const hostname = (h: string): string => {
    try {
      // An IPv6 address (two colons or more) is bracketed as in a Host header; a name may carry a port.
      const ipv6 = !h.startsWith('[') && h.split(':').length > 2;
      return new URL(`http://${ipv6 ? `[${h}]` : h}`).hostname;
    } catch {
      return h.toLowerCase();
    }
  };
  const names = ['127.0.0.1', 'localhost', '[::1]', ...(isLoopback(host) ? [] : [host]), ...extra].map(hostname);
  return [...new Set(names)];
}

/** Serves MCP over Streamable HTTP on /mcp, one McpServer per session. */
export async function serveHttp(options: HttpOptions): Promise<HttpServer> {
  const { host, token, log } = options;
  const auth: AuthMode = options.auth ?? (token ? 'token' : 'none');
  if (auth === 'none' && !isLoopback(host)) {
    throw new Error(
      `--listen ${host}: a bearer token (--token or FLUXACT_MCP_TOKEN) is required when not bound to loopback, or --auth passthrough`,
    );
  }
  if (auth === 'token' && !token) throw new Error('--auth token needs --token (or FLUXACT_MCP_TOKEN)');
  const base = options.kc;
  if (auth === 'passthrough' && !base) throw new Error('--auth passthrough needs the cluster to talk to (a kubeconfig)');
  const reviewer = base ? new TokenReviewer(base) : undefined;
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer; tokenHash?: string }>();
  // Known once listening (the port may be chosen by the system).
  let resource = new URL('http://127.0.0.1/mcp');
  let metadataUrl: string | undefined;

  const bearerOf = (req: http.IncomingMessage): string | undefined => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    return m?.[1];
  };
  const authorized = (req: http.IncomingMessage): boolean => {
    if (!token) return true;
    const given = Buffer.from(req.headers.authorization ?? '');
    const wanted = Buffer.from(`Bearer ${token}`);
    return given.length === wanted.length && timingSafeEqual(given, wanted);
  };
  const unauthorized = (res: http.ServerResponse, message: string, invalid: boolean): void => {
    res
      .writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': wwwAuthenticate(metadataUrl, invalid ? { code: 'invalid_token', description: message } : undefined),
      })
      .end(jsonError(message));
  };

  const app = express();
  app.disable('x-powered-by');
  // Before the bearer token and the body are looked at: a foreign Host header is refused with 403.
  app.use('/mcp', hostHeaderValidation(allowedHostnames(host, options.allowedHosts)));
  app.use((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (err instanceof BodyError) {
        // The client's mistake: a JSON-RPC error saying what was wrong, and no stack in the log.
        log.info({ status: err.status, err: err.message }, 'MCP HTTP request refused');
        if (!res.headersSent) res.writeHead(err.status, { 'content-type': 'application/json' }).end(jsonError(err.message, err.rpcCode));
        return;
      }
      log.error({ err }, 'MCP HTTP request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(jsonError('internal error'));
    });
  });
  const httpServer = http.createServer(app);

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // For probes: says only that the process serves.
    if (url.pathname === '/healthz' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    // RFC 9728: where clients learn which authorization servers issue tokens for /mcp.
    if (
      auth !== 'none' &&
      req.method === 'GET' &&
      (url.pathname === metadataPath(resource) || url.pathname === metadataPath(new URL('/', resource)))
    ) {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(protectedResourceMetadata(resource, options.authorizationServers ?? [])));
      return;
    }
    if (url.pathname !== '/mcp') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the MCP endpoint is /mcp\n');
      return;
    }
    let caller: { token: string; identity: Identity; tokenHash: string } | undefined;
    if (auth === 'token' && !authorized(req)) {
      unauthorized(res, 'missing or wrong bearer token', req.headers.authorization !== undefined);
      return;
    }
    if (auth === 'passthrough' && base && reviewer) {
      const bearer = bearerOf(req);
      if (!bearer) {
        unauthorized(res, 'a bearer token is required: your Kubernetes token, which this server uses toward the API server', false);
        return;
      }
      try {
        const identity = await reviewer.review(bearer);
        caller = { token: bearer, identity, tokenHash: tokenHash(bearer) };
      } catch (err) {
        if (err instanceof InvalidTokenError) {
          unauthorized(res, err.message, true);
          return;
        }
        // The review itself failed (the API server is away or erring): neither the caller's fault
        // nor a fault of this server, and worth a retry.
        const message = `cannot check the bearer token with the Kubernetes API server: ${connectionFailure(err) ?? describeError(err)}`;
        log.warn({ err: message }, 'MCP HTTP request refused');
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' }).end(jsonError(message));
        return;
      }
    }
    const sessionId = req.headers['mcp-session-id'];
    const existing = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
    if (existing) {
      // A session belongs to the token that opened it: another token, even of the same user, opens its own.
      if (caller && existing.tokenHash !== caller.tokenHash) {
        res
          .writeHead(403, { 'content-type': 'application/json' })
          .end(jsonError('this session was opened with another bearer token; initialize a new session'));
        return;
      }
      await existing.transport.handleRequest(req, res, req.method === 'POST' ? await readJson(req) : undefined);
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(400, { 'content-type': 'application/json' }).end(jsonError('no valid session: initialize first'));
      return;
    }
    const body = await readJson(req);
    if (!isInitializeRequest(body)) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(jsonError('no valid session: initialize first'));
      return;
    }
    const server = options.newServer(caller && base ? { kc: callerKubeConfig(base, caller.token), identity: caller.identity } : undefined);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server, ...(caller ? { tokenHash: caller.tokenHash } : {}) });
        if (caller) log.info({ session: id, user: caller.identity.username }, 'MCP session opened as the caller');
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port, host, () => {
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  resource = new URL(options.resourceUrl ?? `http://${shownHost}:${port}/mcp`);
  if (auth !== 'none') metadataUrl = new URL(metadataPath(resource), resource).href;
  log.info(
    {
      url: `http://${shownHost}:${port}/mcp`,
      auth: auth === 'token' ? 'bearer' : auth,
      ...(metadataUrl ? { resourceMetadata: metadataUrl } : {}),
    },
    'MCP server listening',
  );
  return {
    url: `http://${shownHost}:${port}/mcp`,
    port,
    close: async () => {
      for (const { transport, server } of sessions.values()) {
        await transport.close();
        await server.close();
      }
      sessions.clear();
      await new Promise<void>((resolve) =>
        httpServer.close(() => {
          resolve();
        }),
      );
      httpServer.closeAllConnections();
    },
  };
}

function jsonError(message: string, code = -32000): string {
  return JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
}

/** The largest request body accepted, in bytes. */
export const MaxBodyBytes = 4 * 1024 * 1024;

/** A request body the server refuses: 413 when too large, 400 when not JSON, with its JSON-RPC error code. */
class BodyError extends Error {
  override readonly name = 'BodyError';

  constructor(
    readonly status: 400 | 413,
    readonly rpcCode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads a JSON body of at most MaxBodyBytes; rejects with a BodyError for a larger one or one that is
 * not JSON. The rest of an oversized body is read and dropped, so the client gets the 413 rather than
 * a reset connection.
 */
function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const tooLarge = (): void => {
      reject(new BodyError(413, -32600, 'request body over 4 MiB'));
    };
    const declared = Number(req.headers['content-length']);
    let over = Number.isFinite(declared) && declared > MaxBodyBytes;
    if (over) tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size <= MaxBodyBytes) {
        chunks.push(chunk);
        return;
      }
      over = true;
      chunks.length = 0;
      tooLarge();
    });
    req.once('error', reject);
    req.once('end', () => {
      if (over) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text) {
        resolve(undefined);
        return;
      }
      try {
        resolve(JSON.parse(text) as unknown);
      } catch (err) {
        // -32700 is JSON-RPC's "Parse error".
        reject(new BodyError(400, -32700, `Parse error: the body is not JSON (${err instanceof Error ? err.message : String(err)})`));
      }
    });
  });
}
