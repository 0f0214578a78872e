// Configuration of `fluxact mcp`: flags with environment variables as fallback, checked with zod.
import { z } from 'zod';
import { parseDuration } from '../api/duration.js';
import { ConfigError, flagsHelp, readFlags, type OperatorFlag } from '../runtime/config.js';
import type { AuthMode } from './auth.js';
import { parseRateLimit, type RateLimit } from './guard.js';
import { isLoopback, parseListenAddress } from '../runtime/http.js';
import { LOG_LEVELS, type LogLevel } from '../runtime/logger.js';

export interface McpConfig {
  kubeconfig: string | undefined;
  transport: 'stdio' | 'http';
  /** host:port for HTTP. */
  listen: { host: string; port: number };
  token: string | undefined;
  /** How HTTP clients authenticate; passthrough uses each caller's bearer token toward the API server. */
  auth: AuthMode;
  /** Authorization servers named in the OAuth protected-resource metadata. */
  authorizationServers: string[];
  /** Public URL of the /mcp endpoint (the metadata's resource). */
  resourceUrl: string | undefined;
  allowedHosts: string[];
  /** Ask the person to confirm each action through MCP elicitation. */
  confirm: boolean;
  /** Per-session limit on tool calls. */
  rateLimit: RateLimit | undefined;
  /** JSONL file with one line per tool call. */
  auditLog: string | undefined;
  /** How long a resource subscription follows a request that does not finish. */
  subscriptionTimeoutMs: number;
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
    description: 'Bearer token HTTP clients must send (--auth token); without it, binding beyond loopback needs --auth passthrough',
    defaultText: 'none',
  },
  {
    name: 'auth',
    env: 'FLUXACT_MCP_AUTH',
    value: 'none|token|passthrough',
    description:
      "How HTTP clients authenticate: token (the shared --token), passthrough (each client's own Kubernetes bearer token, used toward the API server so requests are created as that user), none (loopback only)",
    defaultText: 'token when --token is set, else none',
  },
  {
    name: 'authorization-server',
    env: 'FLUXACT_MCP_AUTHORIZATION_SERVERS',
    value: 'url1,url2',
    description: 'OAuth 2.1 authorization servers named in /.well-known/oauth-protected-resource (RFC 9728)',
    defaultText: 'none',
  },
  {
    name: 'resource-url',
    env: 'FLUXACT_MCP_RESOURCE_URL',
    value: 'url',
    description: 'Public URL of the /mcp endpoint, the resource of the protected-resource metadata',
    defaultText: 'http://<listen>/mcp',
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
    name: 'confirm',
    env: 'FLUXACT_MCP_CONFIRM',
    description:
      'Ask the person to confirm every action through MCP elicitation before a request is created; a client without elicitation is refused',
    defaultText: 'false',
  },
  {
    name: 'rate-limit',
    env: 'FLUXACT_MCP_RATE_LIMIT',
    value: 'calls/duration',
    description: 'At most this many tool calls per session in any such window, e.g. 30/1m; more are refused with a tool error',
    defaultText: 'no limit',
  },
  {
    name: 'audit-log',
    env: 'FLUXACT_MCP_AUDIT_LOG',
    value: 'path',
    description: 'Append one JSON line per tool call (tool, arguments, result bytes, duration, outcome, identity, session) to this file',
    defaultText: 'none',
  },
  {
    name: 'subscription-timeout',
    env: 'FLUXACT_MCP_SUBSCRIPTION_TIMEOUT',
    value: 'duration',
    description: 'How long a resource subscription follows a request that does not finish',
    defaultText: '1h',
  },
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
  const transport = get('transport', z.enum(['stdio', 'http'], 'expected stdio or http')) ?? 'stdio';
  const token = get('token', z.string().min(16, 'expected a token of at least 16 characters'));
  const auth = get('auth', z.enum(['none', 'token', 'passthrough'], 'expected none, token or passthrough')) ?? (token ? 'token' : 'none');
  if (auth === 'passthrough' && transport !== 'http')
    throw new ConfigError('--auth passthrough: only for --transport http (on stdio the server runs as its own kubeconfig)');
  if (auth === 'passthrough' && token) throw new ConfigError('--auth passthrough: leave out --token; each client sends its own token');
  if (auth === 'token' && !token) throw new ConfigError('--auth token: set --token (or FLUXACT_MCP_TOKEN)');
  if (transport === 'http' && auth === 'none' && !isLoopback(listen.host))
    throw new ConfigError(
      `--listen ${listen.host}: a bearer token (--token or FLUXACT_MCP_TOKEN) is required when not bound to loopback, or --auth passthrough`,
    );
  const url = z.string().refine((s) => {
    try {
      return ['http:', 'https:'].includes(new URL(s).protocol);
    } catch {
      return false;
    }
  }, 'expected an http(s) URL');
  return {
    kubeconfig: get('kubeconfig', z.string().min(1, 'expected a path')),
    transport,
    listen,
    token,
    auth,
    authorizationServers:
      get(
        'authorization-server',
        z
          .string()
          .transform((s) =>
            s
              .split(',')
              .map((h) => h.trim())
              .filter(Boolean),
          )
          .pipe(z.array(url)),
      ) ?? [],
    resourceUrl: get('resource-url', url),
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
    confirm: get('confirm', bool) ?? false,
    rateLimit: get(
      'rate-limit',
      z.string().transform((s, ctx) => {
        const limit = parseRateLimit(s);
        if (!limit) {
          ctx.addIssue({ code: 'custom', message: 'expected calls/duration such as 30/1m' });
          return z.NEVER;
        }
        return limit;
      }),
    ),
    auditLog: get('audit-log', z.string().min(1, 'expected a file path')),
    subscriptionTimeoutMs: get('subscription-timeout', duration(24 * 3_600_000)) ?? 3_600_000,
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

const McpSummary = [
  'Runs the MCP server: Flux tools for AI agents, acting only through FluxActionRequests.',
  '',
  'Action tools send notifications/progress (one message per transition of the request) to a client',
  'that gives a progressToken. Requests are resources, fluxaction://NAMESPACE/NAME: list, read, and',
  'resources/subscribe to be sent notifications/resources/updated until the request finished. The',
  'action tools are also MCP tasks (taskSupport optional): call them with "task" and poll tasks/get.',
  '',
  "Over HTTP, --auth passthrough uses each client's own Kubernetes bearer token toward the API server:",
  "requests are created as the caller (RBAC, admission and requested-by see them, not the server's",
  'ServiceAccount). /.well-known/oauth-protected-resource serves the OAuth protected-resource metadata',
  '(RFC 9728) naming --authorization-server; a 401 points to it (WWW-Authenticate resource_metadata).',
  '',
  '--confirm asks the person through MCP elicitation before each action; a client without',
  'elicitation is refused (nothing is done). --rate-limit refuses calls over the limit with a tool',
  'error naming it. --audit-log appends one JSON line per tool call: time, session, identity, client,',
  'tool, arguments, outcome (ok, error, refused), resultBytes, durationMs.',
  '',
].join('\n');

/** The text of `fluxact mcp --help`: what the server does and its flags. */
export function mcpHelp(): string {
  return flagsHelp('fluxact mcp', McpSummary, MCP_FLAGS);
}
