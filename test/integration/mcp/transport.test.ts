// The MCP transports' safety: bearer tokens, DNS-rebinding protection, read-only mode.
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { repoRoot } from '../../support/kube.js';
import { connectStdio, mcpKubeconfigFile, startHttpMcp, type HttpMcp } from '../../support/mcp.js';

const token = 'test-token-0123456789abcdef';
let kubeconfig: string;
let http: HttpMcp;

beforeAll(async () => {
  kubeconfig = await mcpKubeconfigFile();
  http = await startHttpMcp(['--token', token], kubeconfig);
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await http?.stop();
});

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
};

async function post(headers: Record<string, string>): Promise<Response> {
  return fetch(http.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(initialize),
  });
}

/** A raw request with a chosen Host header (fetch() may not let one set it; node:http does). */
async function postWithHost(
  url: string,
  path: string,
  host: string,
  bearer?: string,
  method = 'POST',
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = method === 'POST' ? JSON.stringify(initialize) : '';
    const req = request(
      new URL(path, url),
      {
        method,
        headers: {
          host,
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: text });
        });
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

describe('Streamable HTTP', () => {
  it('refuses a client without the bearer token with 401 pointing to the protected-resource metadata', async () => {
    const response = await post({});
    expect(response.status).toBe(401);
    const metadata = new URL('/.well-known/oauth-protected-resource/mcp', http.url).href;
    expect(response.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${metadata}"`);
    // RFC 9728: the resource, and no authorization server unless configured (the token is shared, not issued).
    expect(await (await fetch(metadata)).json()).toEqual({
      resource: http.url,
      bearer_methods_supported: ['header'],
      resource_name: 'flux-action-operator MCP server',
    });
  });

  it('refuses a wrong token, saying it is invalid', async () => {
    const response = await post({ authorization: 'Bearer wrong-token-0123456789ab' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(
      /^Bearer error="invalid_token", error_description="missing or wrong bearer token"/,
    );
  });

  it('serves a client with the token through the SDK client', async () => {
    const connection = await http.connect(token);
    try {
      const { tools } = await connection.client.listTools();
      expect(tools.map((t) => t.name)).toContain('reconcile_flux_kustomization');
    } finally {
      await connection.close();
    }
  });

  it('refuses a request whose Host header is not a loopback name (DNS rebinding)', async () => {
    const answer = await postWithHost(http.url, '/mcp', 'evil.example.com', token);
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('Invalid Host: evil.example.com');
  });

  it('accepts loopback Host names on any port', async () => {
    for (const host of ['localhost:1234', '127.0.0.1', '[::1]:8081']) {
      expect({ host, status: (await postWithHost(http.url, '/mcp', host, token)).status }).toEqual({ host, status: 200 });
    }
  });

  it('answers /healthz whatever the Host header (probes name the pod IP)', async () => {
    const answer = await postWithHost(http.url, '/healthz', '10.1.2.3:8081', undefined, 'GET');
    expect(answer.status).toBe(200);
  });

  it('bound to loopback without a token, still refuses a foreign Host header', async () => {
    const open = await startHttpMcp([], kubeconfig);
    try {
      expect((await postWithHost(open.url, '/mcp', 'rebound.example.com:80')).status).toBe(403);
      expect((await postWithHost(open.url, '/mcp', 'localhost')).status).toBe(200);
    } finally {
      await open.stop();
    }
  });

  it('bound beyond loopback, accepts the names given with --allowed-hosts and refuses others', async () => {
    const wide = await startHttpMcp(['--listen', '0.0.0.0:0', '--token', token, '--allowed-hosts', 'MCP.example.com'], kubeconfig);
    try {
      const url = wide.url.replace('0.0.0.0', '127.0.0.1');
      expect((await postWithHost(url, '/mcp', 'mcp.example.com:443', token)).status).toBe(200);
      expect((await postWithHost(url, '/mcp', 'other.example.com', token)).status).toBe(403);
      expect((await postWithHost(url, '/mcp', 'mcp.example.com', 'wrong-token-0123456789ab')).status).toBe(401);
    } finally {
      await wide.stop();
    }
  });

  it('shuts down on SIGTERM with an open session, exit code 0', async () => {
    const other = await startHttpMcp([], kubeconfig);
    const connection = await other.connect();
    expect((await connection.client.listTools()).tools.length).toBeGreaterThan(0);
    expect(await other.stop()).toBe(0);
    await connection.close().catch(() => undefined);
  });

  it('refuses a body over 4 MiB with 413 and a JSON-RPC error, and keeps serving', async () => {
    const big = JSON.stringify({ ...initialize, params: { ...initialize.params, padding: 'x'.repeat(4 * 1024 * 1024) } });
    const response = await fetch(http.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: big,
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ jsonrpc: '2.0', error: { code: -32600, message: 'request body over 4 MiB' }, id: null });
    expect((await post({ authorization: `Bearer ${token}` })).status).toBe(200);
  });

  it('refuses a body that is not JSON with 400 and a JSON-RPC parse error', async () => {
    const response = await fetch(http.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{"jsonrpc": "2.0", "id": 1, "method": ',
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { jsonrpc: string; error: { code: number; message: string }; id: null };
    expect(body.jsonrpc).toBe('2.0');
    expect(body.id).toBeNull();
    expect(body.error.code).toBe(-32700);
    expect(body.error.message).toMatch(/^Parse error: the body is not JSON/);
  });

  it('answers 404 off the /mcp endpoint', async () => {
    const response = await fetch(http.url.replace('/mcp', '/other'), { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(404);
  });

  it('refuses to bind beyond loopback without a token', async () => {
    const main = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
    const child = spawn(process.execPath, [main, 'mcp', '--kubeconfig', kubeconfig, '--transport', 'http', '--listen', '0.0.0.0:0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(stderr).toContain('a bearer token (--token or FLUXACT_MCP_TOKEN) is required when not bound to loopback');
  });
});

describe('--read-only', () => {
  it('registers no tool that changes anything, and every tool says it only reads', async () => {
    const connection = await connectStdio(['--read-only'], kubeconfig);
    try {
      const { tools } = await connection.client.listTools();
      const names = tools.map((t) => t.name);
      for (const mutating of [
        'reconcile_flux_kustomization',
        'reconcile_flux_helmrelease',
        'reconcile_flux_resourceset',
        'reconcile_flux_source',
        'reconcile_flux_resource',
        'suspend_flux_reconciliation',
        'resume_flux_reconciliation',
      ]) {
        expect(names).not.toContain(mutating);
      }
      expect(names).toContain('get_flux_action_request');
      for (const tool of tools) expect(tool.annotations?.readOnlyHint).toBe(true);
    } finally {
      await connection.close();
    }
  });

  it('sets the hints on every tool of the full server', async () => {
    const connection = await connectStdio([], kubeconfig);
    try {
      const { tools } = await connection.client.listTools();
      for (const tool of tools) {
        expect(typeof tool.annotations?.readOnlyHint).toBe('boolean');
        expect(typeof tool.annotations?.destructiveHint).toBe('boolean');
        expect(typeof tool.annotations?.idempotentHint).toBe('boolean');
        expect(tool.description?.length ?? 0).toBeGreaterThan(40);
      }
    } finally {
      await connection.close();
    }
  });
});
