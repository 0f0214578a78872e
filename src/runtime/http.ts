// The operator's probe and metrics endpoint, on plain node:http: three routes do not need a framework.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';

/** A readiness check passes when it returns true; false or a thrown error (its message is shown) fails it. */
export type ReadinessCheck = () => boolean | Promise<boolean>;

/** A host and port to listen on. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Whether an address is on the loopback interface. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Parses a listen address as Go programs write it: ":8080" (all IPv4 interfaces, 0.0.0.0),
 * "127.0.0.1:8080", "[::1]:8080". Port 0 asks the OS for a free port. Throws an Error saying
 * what is wrong otherwise.
 */
export function parseListenAddress(addr: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr);
  if (!match) throw new Error('expected [host]:port, such as ":8080" or "127.0.0.1:8080"');
  const port = Number(match[3]);
  if (port > 65535) throw new Error(`port ${port} is out of range 0-65535`);
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

export interface HealthServerOptions {
  /** Listen address, see parseListenAddress. Default ":8080". */
  addr?: string;
  /** Registry served on /metrics. */
  registry: Registry;
  /** Readiness checks by name; more can be added later with addReadinessCheck. */
  readinessChecks?: Record<string, ReadinessCheck>;
  logger?: Logger;
}

export interface HealthServer {
  /** The bound host. */
  readonly host: string;
  /** The bound port (the OS's choice when asked for port 0). */
  readonly port: number;
  /** Adds or replaces a named readiness check. */
  addReadinessCheck(name: string, check: ReadinessCheck): void;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/**
 * Starts an HTTP server with /healthz (200 while the event loop answers), /readyz (200 when every
 * readiness check passes, else 503 with the failing ones listed) and /metrics (the registry in
 * Prometheus text format). Resolves once listening.
 */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const { host, port } = parseListenAddress(options.addr ?? ':8080');
  const checks = new Map<string, ReadinessCheck>(Object.entries(options.readinessChecks ?? {}));
  const { registry, logger } = options;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
      return;
    }
    switch (path) {
      case '/healthz':
        // Answering at all is the proof: a blocked event loop would not get here.
        reply(res, 200, 'text/plain; charset=utf-8', 'ok\n');
        return;
      case '/readyz': {
        const failing = await failingChecks(checks);
        if (failing.length === 0) reply(res, 200, 'text/plain; charset=utf-8', 'ok\n');
        else reply(res, 503, 'text/plain; charset=utf-8', failing.map((f) => `${f}\n`).join(''));
        return;
      }
      case '/metrics':
        reply(res, 200, registry.contentType, await registry.metrics());
        return;
      default:
        reply(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger?.error({ err, url: req.url }, 'health server request failed');
      if (!res.headersSent) reply(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  logger?.info({ host: bound.address, port: bound.port }, 'serving /healthz, /readyz and /metrics');

  return {
    host: bound.address,
    port: bound.port,
    addReadinessCheck: (name, check) => {
      checks.set(name, check);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => {
          if (err) reject(err);
          else resolve();
        });
        // Keep-alive connections would otherwise hold close() open until they time out.
        server.closeAllConnections();
      }),
  };
}

/** Runs every check; returns "name: reason" for each that fails. */
async function failingChecks(checks: Map<string, ReadinessCheck>): Promise<string[]> {
  const results = await Promise.all(
    [...checks].map(async ([name, check]): Promise<string | undefined> => {
      try {
        return (await check()) ? undefined : `${name}: not ready`;
      } catch (err) {
        return `${name}: ${err instanceof Error ? err.message : String(err)}`;
      }
    }),
  );
  return results.filter((r): r is string => r !== undefined).sort();
}

function reply(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
