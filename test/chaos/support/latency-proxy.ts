// A loopback TCP proxy in front of the API server that makes it slow and unreliable: every chunk in
// either direction is held back by a latency (with jitter, order kept), and every `dropEveryMs` the
// connections open longer than `dropOlderThanMs` are cut — the long-lived ones are the watches (and
// kept-alive connections, whose next request then fails mid-flight). TLS passes through untouched,
// so the client still checks the API server's certificate.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface ProxyOptions {
  targetHost: string;
  targetPort: number;
  /** Added to every chunk, each way (default 50). */
  latencyMs?: number;
  /** Up to this much more, at random (default 50). */
  jitterMs?: number;
  /** How often connections are cut (default 3000; 0: never). */
  dropEveryMs?: number;
  /** Only connections open at least this long are cut (default 2000). */
  dropOlderThanMs?: number;
}

export interface ProxyFigures {
  connections: number;
  dropped: number;
  chunks: number;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  openedAt: number;
}

export class LatencyProxy {
  readonly figures: ProxyFigures = { connections: 0, dropped: 0, chunks: 0 };
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private dropTimer: NodeJS.Timeout | undefined;
  private readonly latency: number;
  private readonly jitter: number;

  constructor(private readonly options: ProxyOptions) {
    this.latency = options.latencyMs ?? 50;
    this.jitter = options.jitterMs ?? 50;
    this.server = createServer((client) => {
      this.accept(client);
    });
  }

  /** Listens on a free loopback port; resolves with the port. */
  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        resolve();
      });
    });
    const every = this.options.dropEveryMs ?? 3000;
    if (every > 0)
      this.dropTimer = setInterval(() => {
        this.drop();
      }, every);
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  async stop(): Promise<void> {
    clearInterval(this.dropTimer);
    for (const p of this.pairs) this.close(p);
    await new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }

  private accept(client: Socket): void {
    this.figures.connections += 1;
    const upstream = connect(this.options.targetPort, this.options.targetHost);
    const pair: Pair = { client, upstream, openedAt: Date.now() };
    this.pairs.add(pair);
    this.pipe(client, upstream);
    this.pipe(upstream, client);
    const end = (): void => {
      this.close(pair);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  }

  /** Forwards chunks from `from` to `to`, each after the latency, never overtaking an earlier one. */
  private pipe(from: Socket, to: Socket): void {
    let lastDue = 0;
    from.on('data', (chunk: Buffer) => {
      this.figures.chunks += 1;
      const due = Math.max(Date.now() + this.latency + Math.random() * this.jitter, lastDue);
      lastDue = due;
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, due - Date.now());
    });
    from.on('end', () => setTimeout(() => to.end(), Math.max(0, lastDue - Date.now())));
  }

  /** Cuts the connections that have been open long enough. */
  private drop(): void {
    const now = Date.now();
    for (const p of this.pairs) {
      if (now - p.openedAt < (this.options.dropOlderThanMs ?? 2000)) continue;
      this.figures.dropped += 1;
      this.close(p);
    }
  }

  private close(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.client.destroy();
    pair.upstream.destroy();
  }
}
