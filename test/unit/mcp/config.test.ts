// `fluxact mcp` flags: the same parser as the operator's, over the MCP adapter's table.
import { describe, expect, it } from '@jest/globals';
import { parseMcpConfig } from '../../../src/mcp/config.js';
import { ConfigError } from '../../../src/runtime/config.js';

function errorOf(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parseMcpConfig(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error(`expected ${JSON.stringify(argv)} to be refused`);
}

describe('parseMcpConfig', () => {
  it('defaults to stdio, loopback HTTP address, and the documented limits', () => {
    expect(parseMcpConfig([], {})).toMatchObject({
      transport: 'stdio',
      listen: { host: '127.0.0.1', port: 8081 },
      allowedHosts: [],
      readOnly: false,
      waitTimeoutMs: 60_000,
      requestTtlSeconds: 3600,
      maxOutput: 50_000,
    });
  });

  it('reads --flag value, --flag=value and bare booleans together', () => {
    const config = parseMcpConfig(
      [
        '--transport',
        'http',
        '--listen=0.0.0.0:9000',
        '--token',
        'a-token-of-16-chars',
        '--allowed-hosts=mcp.example.com, mcp',
        '--read-only',
      ],
      {},
    );
    expect(config).toMatchObject({
      transport: 'http',
      listen: { host: '0.0.0.0', port: 9000 },
      token: 'a-token-of-16-chars',
      allowedHosts: ['mcp.example.com', 'mcp'],
      readOnly: true,
    });
  });

  it('reads --read-only false, --no-read-only, and the environment', () => {
    expect(parseMcpConfig(['--read-only', 'false'], { FLUXACT_MCP_READ_ONLY: 'true' }).readOnly).toBe(false);
    expect(parseMcpConfig(['--no-read-only'], { FLUXACT_MCP_READ_ONLY: 'true' }).readOnly).toBe(false);
    expect(parseMcpConfig([], { FLUXACT_MCP_READ_ONLY: 'true' }).readOnly).toBe(true);
  });

  it('refuses an unknown flag on one line, suggesting a near one', () => {
    expect(errorOf(['--read-onyl'])).toBe('unknown flag --read-onyl (did you mean --read-only?); run with --help for the list');
  });

  it('names the flag of a bad value', () => {
    expect(errorOf(['--token=short'])).toBe('--token: expected a token of at least 16 characters, got "short"');
    expect(errorOf(['--transport'])).toBe('--transport: missing value (expected --transport <stdio|http>)');
  });
});

describe('parseMcpConfig: identity, confirmation, limits and the audit log', () => {
  it('reads passthrough, authorization servers, the resource URL, --confirm, --rate-limit and --audit-log', () => {
    const config = parseMcpConfig(
      [
        '--transport=http',
        '--auth=passthrough',
        '--authorization-server=https://login.example.com,https://idp.example.org/realms/k8s',
        '--resource-url=https://mcp.example.com/mcp',
        '--confirm',
        '--rate-limit=30/1m',
        '--audit-log=calls.jsonl',
        '--subscription-timeout=10m',
      ],
      {},
    );
    expect(config).toMatchObject({
      auth: 'passthrough',
      authorizationServers: ['https://login.example.com', 'https://idp.example.org/realms/k8s'],
      resourceUrl: 'https://mcp.example.com/mcp',
      confirm: true,
      rateLimit: { calls: 30, windowMs: 60_000 },
      auditLog: 'calls.jsonl',
      subscriptionTimeoutMs: 600_000,
    });
  });

  it('defaults to token auth when a token is set, else none, and to no limit, no log, no confirmation', () => {
    expect(parseMcpConfig(['--token=a-token-of-16-chars'], {})).toMatchObject({ auth: 'token', confirm: false });
    const none = parseMcpConfig([], {});
    expect(none).toMatchObject({ auth: 'none', authorizationServers: [], subscriptionTimeoutMs: 3_600_000 });
    expect(none.rateLimit).toBeUndefined();
    expect(none.auditLog).toBeUndefined();
  });

  it('refuses passthrough on stdio, passthrough with a shared token, token auth without a token', () => {
    expect(errorOf(['--auth=passthrough'])).toBe(
      '--auth passthrough: only for --transport http (on stdio the server runs as its own kubeconfig)',
    );
    expect(errorOf(['--transport=http', '--auth=passthrough', '--token=a-token-of-16-chars'])).toBe(
      '--auth passthrough: leave out --token; each client sends its own token',
    );
    expect(errorOf(['--transport=http', '--auth=token'])).toBe('--auth token: set --token (or FLUXACT_MCP_TOKEN)');
  });

  it('names the flag of a bad rate limit, auth mode or authorization server', () => {
    expect(errorOf(['--rate-limit=30'])).toBe('--rate-limit: expected calls/duration such as 30/1m, got "30"');
    expect(errorOf(['--rate-limit=0/1m'])).toBe('--rate-limit: expected calls/duration such as 30/1m, got "0/1m"');
    expect(errorOf(['--auth=oidc'])).toContain('--auth: expected none, token or passthrough');
    expect(errorOf(['--authorization-server=login.example.com'])).toContain('--authorization-server: expected an http(s) URL');
  });
});

describe('parseMcpConfig: binding beyond loopback', () => {
  it('needs a token or passthrough, said in one line', () => {
    expect(errorOf(['--transport=http', '--listen=0.0.0.0:8081'])).toBe(
      '--listen 0.0.0.0: a bearer token (--token or FLUXACT_MCP_TOKEN) is required when not bound to loopback, or --auth passthrough',
    );
    expect(parseMcpConfig(['--transport=http', '--listen=0.0.0.0:8081', '--auth=passthrough'], {}).auth).toBe('passthrough');
  });
});
