// --auth passthrough when the API server does not answer the token's review: the caller gets a 503
// with Retry-After and one line saying why, not a 500 "internal error", and the log holds one line
// without a stack trace.
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { startHttpMcp, type HttpMcp } from '../../support/mcp.js';

let http: HttpMcp;

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  return port;
}

beforeAll(async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'fluxact-mcp-')), 'kubeconfig');
  const server = `https://127.0.0.1:${await closedPort()}`;
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'away', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'nobody', user: {} }],
      contexts: [{ name: 'away', context: { cluster: 'away', user: 'nobody' } }],
      'current-context': 'away',
    }),
    { mode: 0o600 },
  );
  http = await startHttpMcp(['--auth', 'passthrough'], file);
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed
  await http?.stop();
});

describe('--auth passthrough with the API server away', () => {
  it('answers 503 with Retry-After and the reason, and logs one line without a stack', async () => {
    const res = await fetch(http.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: 'Bearer some-token' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const body = (await res.json()) as { error?: { message?: string } };
    expect(body.error?.message).toMatch(/^cannot check the bearer token with the Kubernetes API server: .*ECONNREFUSED/);
    const refused = http
      .log()
      .split('\n')
      .filter((l) => l.includes('MCP HTTP request refused'));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toContain('ECONNREFUSED');
    expect(http.log()).not.toMatch(/\n\s+at /);
    expect(http.log()).not.toContain('MCP HTTP request failed');
  });
});
