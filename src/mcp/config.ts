// Configuration of `fluxact mcp`: flags with environment variables as fallback, checked with zod.
import { z } from 'zod';
import { parseDuration } from '../api/duration.js';
import { flagsHelp, readFlags, type OperatorFlag } from '../runtime/config.js';
import { parseListenAddress } from '../runtime/http.js';
import { LOG_LEVELS, type LogLevel } from '../runtime/logger.js';

export interface McpConfig {
  kubeconfig: string | undefined;
  transport: 'stdio' | 'http';
  /** host:port for HTTP. */
  listen: { host: string; port: number };
  token: string | undefined;
  allowedHosts: string[];
  readOnly: boolean;
  waitTimeoutMs: number;
  requestTtlSeconds: number;
  maxOutput: number;
  docsDir: string | undefined;
  logLevel: LogLevel;
}

export const MCP_FLAGS: readonly OperatorFlag[] = [
  {
    name: 'kubeconfig',
    env: 'KUBECONFIG',
    value: 'path',
    description: 'Kubeconfig file to use',
    defaultText: '~/.kube/config, else the in-cluster service account',
  },
  { name: 'transport', env: 'FLUXACT_MCP_TRANSPORT', value: 'stdio|http', description: 'How clients connect', defaultText: 'stdio' },
  {
    name: 'listen',
    env: 'FLUXACT_MCP_LISTEN',
    value: 'host:port',
    description: 'Address of the HTTP transport (endpoint /mcp)',
    defaultText: '127.0.0.1:8081',
  },
  {
    name: 'token',
    env: 'FLUXACT_MCP_TOKEN',
    value: 'token',
    description: 'Bearer token HTTP clients must send; required when not bound to loopback',
    defaultText: 'none',
  },
  {
    name: 'allowed-hosts',
    env: 'FLUXACT_MCP_ALLOWED_HOSTS',
    value: 'h1,h2',
    description: 'Extra Host header names the HTTP transport accepts (DNS-rebinding protection)',
    defaultText: 'loopback names and the bound address',
  },
  { name: 'read-only', env: 'FLUXACT_MCP_READ_ONLY', description: 'Register no tool that changes anything', defaultText: 'false' },
  {
    name: 'wait-timeout',
    env: 'FLUXACT_MCP_WAIT_TIMEOUT',
    value: 'duration',
    description: 'How long mutating tools wait for the outcome by default',
    defaultText: '60s',
  },
  {
    name: 'request-ttl',
    env: 'FLUXACT_MCP_REQUEST_TTL',
    value: 'duration',
    description: 'ttlSecondsAfterFinished of the requests the adapter creates',
    defaultText: '1h',
  },
  { name: 'max-output', env: 'FLUXACT_MCP_MAX_OUTPUT', value: 'chars', description: "Cap on a tool's text output", defaultText: '50000' },
  {
    name: 'docs-dir',
    env: 'FLUXACT_MCP_DOCS_DIR',
    value: 'path',
    description: 'Markdown files search_flux_docs indexes besides the Flux CRD schemas',
    defaultText: 'none',
  },
  {
    name: 'log-level',
    env: 'FLUXACT_LOG_LEVEL',
    value: 'level',
    description: `Minimum log level (${LOG_LEVELS.join(', ')}), on stderr`,
    defaultText: 'info',
  },
];

const duration = (max: number) =>
  z.string().transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms === undefined || ms <= 0 || ms > max) {
      ctx.addIssue({ code: 'custom', message: 'expected a Go duration such as 30s or 2m' });
      return z.NEVER;
    }
    return ms;
  });
const bool = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.enum(['true', 'false', '1', '0'], 'expected true or false'))
  .transform((s) => s === 'true' || s === '1');

/** Parses `fluxact mcp` flags; throws ConfigError naming the flag on a bad value. */
export function parseMcpConfig(argv: readonly string[], env: NodeJS.ProcessEnv): McpConfig {
  const get = readFlags(argv, env, MCP_FLAGS);
  const listen = get(
    'listen',
    z.string().transform((s, ctx) => {
      try {
        const parsed = parseListenAddress(s);
        return { host: parsed.host === '0.0.0.0' && s.startsWith(':') ? '0.0.0.0' : parsed.host, port: parsed.port };
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
        return z.NEVER;
      }
    }),
  ) ?? { host: '127.0.0.1', port: 8081 };
  return {
    kubeconfig: get('kubeconfig', z.string().min(1, 'expected a path')),
    transport: get('transport', z.enum(['stdio', 'http'], 'expected stdio or http')) ?? 'stdio',
    listen,
    token: get('token', z.string().min(16, 'expected a token of at least 16 characters')),
    allowedHosts:
      get(
        'allowed-hosts',
        z.string().transform((s) =>
          s
            .split(',')
            .map((h) => h.trim())
            .filter(Boolean),
        ),
      ) ?? [],
    readOnly: get('read-only', bool) ?? false,
    waitTimeoutMs: get('wait-timeout', duration(600_000)) ?? 60_000,
    requestTtlSeconds: Math.round((get('request-ttl', duration(7 * 24 * 3_600_000)) ?? 3_600_000) / 1000),
    maxOutput:
      get(
        'max-output',
        z.string().regex(/^\d+$/, 'expected a number of characters').transform(Number).pipe(z.number().min(1000, 'expected at least 1000')),
      ) ?? 50_000,
    docsDir: get('docs-dir', z.string().min(1, 'expected a directory')),
    logLevel: get('log-level', z.enum(LOG_LEVELS, `expected one of ${LOG_LEVELS.join(', ')}`)) ?? 'info',
  };
}

export function mcpHelp(): string {
  return flagsHelp('fluxact mcp', 'Runs the MCP server: Flux tools for AI agents, acting only through FluxActionRequests.', MCP_FLAGS);
}
