// The operator's API client (src/kube/client.ts) against a local HTTP server that answers as the
// test says: what the real API server does not do on demand. A call aborted while its credential was
// being fetched sends nothing; an answer split mid-character arrives whole; an answer that is not
// JSON is kept as text; a watch's events split across chunks (mid-line, mid-character) arrive
// whole; a line that is not JSON ends the watch; calls share a connection per TLS identity.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ClusterAccess } from '../../../src/kube/access.js';
import { ApiError, KubeClient } from '../../../src/kube/client.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let url: string;
let handler: Handler = (_req, res) => res.end('{}');
const seen: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
});

/** A ClusterAccess to the test's server, whose credential comes when `credential` resolves. */
function access(credential: Promise<void> = Promise.resolve()): ClusterAccess {
  return {
    getCurrentCluster: () => ({ name: 'local', server: url }),
    applyToHTTPSOptions: async (opts: https.RequestOptions) => {
      await credential;
      opts.headers = { ...(opts.headers as Record<string, string>), Authorization: 'Bearer t' };
    },
  };
}

/** Answers 200 with bytes, written in pieces cut at the given offsets. */
function answerInPieces(res: ServerResponse, bytes: Buffer, cuts: readonly number[]): void {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    res.write(bytes.subarray(from, cut));
    from = cut;
  }
  res.end();
}

describe('a call', () => {
  it('aborted while its credential is being fetched rejects with the reason and sends nothing', async () => {
    seen.length = 0;
    let credentialReady = (): void => undefined;
    const credential = new Promise<void>((resolve) => (credentialReady = resolve));
    const stop = new AbortController();
    const call = new KubeClient(access(credential)).get('/api/v1/namespaces', { signal: stop.signal });
    stop.abort(new Error('the worker stopped'));
    credentialReady();
    await expect(call).rejects.toThrow('the worker stopped');
    expect(seen).toEqual([]);
  });

  it('refused with a body that is not JSON keeps the text as the ApiError body', async () => {
    handler = (_req, res) => {
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end('bad gateway');
    };
    const refused = await new KubeClient(access()).get('/api/v1/namespaces').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ code: 502, body: 'bad gateway', message: 'HTTP 502' });
  });

  it('reads an answer split across chunks, mid-character, whole', async () => {
    const bytes = Buffer.from(JSON.stringify({ metadata: { name: 'café' }, items: ['ü'.repeat(3)] }));
    // Cut inside the two bytes of é and inside those of the second ü.
    const cuts = [bytes.indexOf(Buffer.from('é')) + 1, bytes.indexOf(Buffer.from('ü')) + 3];
    handler = (_req, res) => {
      answerInPieces(res, bytes, cuts);
    };
    await expect(new KubeClient(access()).get('/api/v1/namespaces/n')).resolves.toEqual({ metadata: { name: 'café' }, items: ['üüü'] });
  });

  it('sends its query and its JSON body with the identity the access gives', async () => {
    let got: { url?: string; auth?: string; type?: string; body?: string } = {};
    handler = (req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        got = { url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], body };
        res.end('{"ok":true}');
      });
    };
    const answer = await new KubeClient(access()).mergePatch('/apis/g/v1/namespaces/n/things/a', { spec: { x: null } });
    expect(answer).toEqual({ ok: true });
    expect(got).toEqual({
      url: '/apis/g/v1/namespaces/n/things/a',
      auth: 'Bearer t',
      type: 'application/merge-patch+json',
      body: '{"spec":{"x":null}}',
    });
  });

  it('told to ignore the answer resolves with nothing for a 2xx, and still reads a refusal', async () => {
    let status = 201;
    handler = (_req, res) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(status === 201 ? '{"kind":"Event","metadata":{"name":"e"}}' : '{"kind":"Status","message":"no"}');
    };
    const client = new KubeClient(access());
    await expect(client.create('/api/v1/namespaces/n/events', {}, { ignoreAnswer: true })).resolves.toBeUndefined();
    await expect(client.create('/api/v1/namespaces/n/events', {})).resolves.toEqual({ kind: 'Event', metadata: { name: 'e' } });
    status = 409;
    await expect(client.create('/api/v1/namespaces/n/events', {}, { ignoreAnswer: true })).rejects.toMatchObject({
      code: 409,
      body: { kind: 'Status', message: 'no' },
    });
  });
});

describe('connections', () => {
  it('are shared while the TLS identity stays the same, in the same or equal buffers; another identity gets its own', async () => {
    let ca = Buffer.from('ca one');
    const ports: number[] = [];
    handler = (req, res) => {
      ports.push(req.socket.remotePort ?? 0);
      res.end('{}');
    };
    const client = new KubeClient({
      getCurrentCluster: () => ({ name: 'local', server: url }),
      applyToHTTPSOptions: (opts: https.RequestOptions) => {
        opts.ca = ca;
        return Promise.resolve();
      },
    });
    const call = (): Promise<unknown> => client.get('/api/v1/namespaces');
    await call();
    await call();
    ca = Buffer.from('ca one'); // equal, not the same Buffer
    await call();
    ca = Buffer.from('ca two');
    await call();
    ca = Buffer.from('ca one');
    await call();
    client.close();
    const [first, ...rest] = ports;
    expect(rest.map((port) => port === first)).toEqual([true, true, false, true]);
  });
});

describe('a watch', () => {
  it('delivers events split across chunks, mid-line and mid-character, whole and in order', async () => {
    const line = (type: string, name: string): string => `${JSON.stringify({ type, object: { metadata: { name } } })}\n`;
    const text = line('ADDED', 'café') + line('MODIFIED', 'café') + line('BOOKMARK', '');
    const bytes = Buffer.from(text);
    // Cut inside the first line, inside the two bytes of é, and inside the last line.
    const cuts = [10, bytes.indexOf(Buffer.from('é')) + 1, bytes.length - 5];
    handler = (req, res) => {
      expect(req.url).toContain('watch=true');
      expect(req.url).toContain('allowWatchBookmarks=true');
      answerInPieces(res, bytes, cuts);
    };
    const events: string[] = [];
    const ended = await new Promise<unknown>((resolve) => {
      void new KubeClient(access()).watch(
        '/apis/g/v1/things',
        { resourceVersion: '5' },
        (type, object) => events.push(`${type} ${(object as { metadata: { name: string } }).metadata.name}`),
        resolve,
      );
    });
    expect(events).toEqual(['ADDED café', 'MODIFIED café', 'BOOKMARK ']);
    // The server ended the stream: no error.
    expect(ended).toBeUndefined();
  });

  it('ends with an error at a line that is not JSON, delivering nothing after it', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write(`${JSON.stringify({ type: 'ADDED', object: {} })}\nnot json\n${JSON.stringify({ type: 'ADDED', object: {} })}\n`);
    };
    const events: string[] = [];
    const ended = await new Promise<unknown>((resolve) => {
      void new KubeClient(access()).watch('/apis/g/v1/things', {}, (type) => events.push(type), resolve);
    });
    expect(events).toEqual(['ADDED']);
    expect(String(ended)).toContain('the watch of /apis/g/v1/things sent a line that is not JSON');
  });
});
