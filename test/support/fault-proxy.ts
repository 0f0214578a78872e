// A loopback HTTP proxy in front of the API server that fails chosen calls: a client given
// `http://127.0.0.1:<port>` and a bearer token talks to the real API server through it (the proxy
// speaks HTTPS upstream and checks the API server's certificate), except that calls matching `fail`
// get the answer an overloaded API server gives (503 with a Status body), or another answer the test
// names. Streams (watches) pass through as they come.
import { createServer, type IncomingMessage, type Server } from 'node:http';
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

export interface FaultProxyOptions {
  /** The API server, as the admin kubeconfig names it (its CA is used to check it). */
  admin: k8s.KubeConfig;
  /**
   * Calls that fail: true for Unavailable instead of reaching the API server, another answer to give
   * instead, or LoseAnswer.
   */
  fail: (call: { method: string; path: string }) => boolean | Fault | typeof LoseAnswer;
}

export class FaultProxy {
  /** How many calls were failed on purpose. */
  failed = 0;
  private readonly server: Server;

  constructor(options: FaultProxyOptions) {
    const cluster = options.admin.getCurrentCluster();
    if (!cluster) throw new Error('the admin kubeconfig has no current cluster');
    const upstream = new URL(cluster.server);
    const ca = cluster.caData ? Buffer.from(cluster.caData, 'base64') : undefined;
    this.server = createServer((req, res) => {
      const path = req.url ?? '/';
      const verdict = options.fail({ method: req.method ?? 'GET', path });
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

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }
}
