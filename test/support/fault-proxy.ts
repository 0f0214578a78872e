// A loopback HTTP proxy in front of the API server that fails chosen calls: a client given
// `http://127.0.0.1:<port>` and a bearer token talks to the real API server through it (the proxy
// speaks HTTPS upstream and checks the API server's certificate), except that calls matching `fail`
// get the answer an overloaded API server gives (503 with a Status body), or another answer the test
// names, or no answer at all until released (Hold). Streams (watches) pass through as they come, and
// can be cut.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type * as k8s from '@kubernetes/client-node';

/** An answer the proxy gives instead of the API server's: the HTTP status and the Status's message and reason. */
export interface Fault {
  code: number;
  message: string;
  reason: string;
}

/** What an overloaded API server answers. */
export const Unavailable: Fault = {
  code: 503,
  message: 'the server is currently unable to handle the request',
  reason: 'ServiceUnavailable',
};

/** The call reaches the API server, which carries it out, but its answer is lost: the connection is cut. */
export const LoseAnswer = 'lose-answer';

/** The call is held: no answer at all, the connection open, until release() cuts it (a watch that delivers nothing). */
export const Hold = 'hold';

export interface FaultProxyOptions {
  /** The API server, as the admin kubeconfig names it (its CA is used to check it). */
  admin: k8s.KubeConfig;
  /**
   * Calls that fail: true for Unavailable instead of reaching the API server, another answer to give
   * instead, or LoseAnswer.
   */
  fail: (call: { method: string; path: string }) => boolean | Fault | typeof LoseAnswer | typeof Hold;
}

export class FaultProxy {
  /** How many calls were failed on purpose. */
  failed = 0;
  /** How many calls are held now. */
  get holding(): number {
    return this.held.size;
  }
  private readonly server: Server;
  private readonly held = new Set<ServerResponse>();
  /** Answers passing through now, with their paths, so cut() can end the streams among them. */
  private readonly open = new Map<ServerResponse, string>();

  constructor(options: FaultProxyOptions) {
    const cluster = options.admin.getCurrentCluster();
    if (!cluster) throw new Error('the admin kubeconfig has no current cluster');
    const upstream = new URL(cluster.server);
    const ca = cluster.caData ? Buffer.from(cluster.caData, 'base64') : undefined;
    this.server = createServer((req, res) => {
      const path = req.url ?? '/';
      const verdict = options.fail({ method: req.method ?? 'GET', path });
      if (verdict === Hold) {
        this.held.add(res);
        res.on('close', () => this.held.delete(res));
        return;
      }
      const lose = verdict === LoseAnswer;
      if (verdict !== false && verdict !== LoseAnswer) {
        const fault = verdict === true ? Unavailable : verdict;
        this.failed += 1;
        req.resume();
        res.writeHead(fault.code, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', ...fault }));
        return;
      }
      const forward = httpsRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path,
          headers: { ...req.headers, host: upstream.host },
          ...(ca ? { ca } : {}),
        },
        (answer: IncomingMessage) => {
          if (lose) {
            this.failed += 1;
            answer.resume();
            res.destroy();
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          // As the API server does: a watch is answered before its first event (Node.js would hold the headers until then).
          res.flushHeaders();
          this.open.set(res, path);
          res.on('close', () => this.open.delete(res));
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      res.on('close', () => forward.destroy());
      req.pipe(forward);
    });
  }

  /** Listens on a free loopback port; resolves with the URL clients use. */
  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        resolve();
      });
    });
    const address = this.server.address();
    return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  /** Cuts the answers passing through now whose path matches (open watches): the client has to call again. */
  cut(path: RegExp): number {
    let cut = 0;
    for (const [res, at] of this.open) {
      if (!path.test(at)) continue;
      res.destroy();
      cut += 1;
    }
    return cut;
  }

  /** Cuts the held calls: their clients see the connection end and call again. */
  release(): void {
    for (const res of this.held) res.destroy();
    this.held.clear();
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }
}
