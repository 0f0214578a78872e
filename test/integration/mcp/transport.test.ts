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

describe('Streamable HTTP', () => {
  it('refuses a client without the bearer token with 401', async () => {
    const response = await post({});
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('refuses a wrong token', async () => {
    expect((await post({ authorization: 'Bearer wrong-token-0123456789ab' })).status).toBe(401);
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
    // fetch() may not set Host; node:http may.
    const status = await new Promise<number>((resolve, reject) => {
      const body = JSON.stringify(initialize);
      const req = request(
        http.url,
        {
          method: 'POST',
          headers: {
            host: 'evil.example.com',
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.once('error', reject);
      req.end(body);
    });
    expect(status).toBe(403);
  });

  it('shuts down on SIGTERM with an open session, exit code 0', async () => {
    const other = await startHttpMcp([], kubeconfig);
    const connection = await other.connect();
    expect((await connection.client.listTools()).tools.length).toBeGreaterThan(0);
    expect(await other.stop()).toBe(0);
    await connection.close().catch(() => undefined);
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
