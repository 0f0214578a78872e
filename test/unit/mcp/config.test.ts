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
