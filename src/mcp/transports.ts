// Transports: stdio (the default; stdout belongs to the protocol, logs go to stderr) and
// Streamable HTTP on /mcp, bound to 127.0.0.1 by default, with a bearer token required when bound
// elsewhere and the SDK's DNS-rebinding protection on.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';

/** Serves one MCP server over stdin/stdout until stdin closes. */
export async function serveStdio(server: McpServer): Promise<{ close(): Promise<void> }> {
  const transport = new StdioServerTransport();
  await server.connect(transport);
  return { close: () => server.close() };
}

export interface HttpOptions {
  host: string;
  port: number;
  /** Required as `Authorization: Bearer <token>` when set; must be set unless bound to loopback. */
  token?: string;
  /** Extra Host header values to accept (e.g. a Service's DNS name), besides loopback names. */
  allowedHosts?: string[];
  /** A new McpServer for each session. */
  newServer: () => McpServer;
  log: Logger;
}

export interface HttpServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Whether an address is on the loopback interface. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Serves MCP over Streamable HTTP on /mcp, one McpServer per session. */
export async function serveHttp(options: HttpOptions): Promise<HttpServer> {
  const { host, token, log } = options;
  if (!token && !isLoopback(host)) {
    throw new Error(`--listen ${host}: a bearer token (--token or FLUXACT_MCP_TOKEN) is required when not bound to loopback`);
  }
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();
  let allowedHosts: string[] = [];

  const authorized = (req: http.IncomingMessage): boolean => {
    if (!token) return true;
    const given = Buffer.from(req.headers.authorization ?? '');
    const wanted = Buffer.from(`Bearer ${token}`);
    return given.length === wanted.length && timingSafeEqual(given, wanted);
  };

  const httpServer = http.createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      log.error({ err }, 'MCP HTTP request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(jsonError('internal error'));
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // For probes: says only that the process serves.
    if (url.pathname === '/healthz' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (url.pathname !== '/mcp') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the MCP endpoint is /mcp\n');
      return;
    }
    if (!authorized(req)) {
      res
        .writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' })
        .end(jsonError('missing or wrong bearer token'));
      return;
    }
    const sessionId = req.headers['mcp-session-id'];
    const existing = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
    if (existing) {
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
    const server = options.newServer();
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      // The SDK's replacement is Express middleware; this server is plain node:http.
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      enableDnsRebindingProtection: true,
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      allowedHosts,
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server });
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
  const loopbackNames = ['127.0.0.1', 'localhost', '[::1]'];
  allowedHosts = [...loopbackNames, ...(isLoopback(host) ? [] : [host]), ...(options.allowedHosts ?? [])].flatMap((h) => [
    h,
    `${h}:${port}`,
  ]);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  log.info({ url: `http://${shownHost}:${port}/mcp`, auth: token ? 'bearer' : 'none' }, 'MCP server listening');
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

function jsonError(message: string): string {
  return JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null });
}

/** Reads a JSON body of at most 4 MiB. */
async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 4 * 1024 * 1024) throw new Error('request body over 4 MiB');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as unknown) : undefined;
}
