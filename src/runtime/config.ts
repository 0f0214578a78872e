// The operator's configuration: command-line flags, each with an environment variable as fallback
// (flags win), checked with zod. One table drives parsing and the --help text, so they cannot drift.
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { z } from 'zod';
import { parseListenAddress } from './http.js';
import { LOG_LEVELS, type LogLevel } from './logger.js';

/** The operator's settings after parsing. */
export interface OperatorConfig {
  /** Kubeconfig path (or path list, as in $KUBECONFIG); undefined: in-cluster config, else ~/.kube/config. */
  kubeconfig: string | undefined;
  /** The operator's own namespace: its Lease lives here. */
  namespace: string;
  /** Only watch requests in this namespace; undefined: all namespaces. */
  watchNamespace: string | undefined;
  /** Namespaces whose requests may target objects in other namespaces. */
  crossNamespaceFrom: string[];
  /** Requests reconciled at once. */
  concurrency: number;
  /** Listen address of /healthz, /readyz and /metrics. */
  metricsAddr: string;
  /** Hold a Lease so only one replica acts. */
  leaderElect: boolean;
  /** Name of the leader election Lease. */
  leaseName: string;
  logLevel: LogLevel;
  /** Where each request's outcome is posted as a Flux event (notification-controller); undefined: nowhere. */
  eventsAddr: string | undefined;
}

/** A configuration mistake, with a message that names the flag (and variable) and what is wrong. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** One command-line flag of the operator. */
export interface OperatorFlag {
  /** Flag name without the leading "--". */
  name: string;
  /** Environment variable read when the flag is not given. */
  env?: string;
  /** Placeholder shown in help for the value; booleans have none (`--flag`, `--flag=false`, `--no-flag`). */
  value?: string;
  description: string;
  /** The default, as shown in help. */
  defaultText: string;
}

/** The operator's flags, in help order. */
export const OPERATOR_FLAGS: readonly OperatorFlag[] = [
  {
    name: 'kubeconfig',
    env: 'KUBECONFIG',
    value: 'path',
    description: 'Kubeconfig file to use',
    defaultText: '~/.kube/config, else the in-cluster service account',
  },
  {
    name: 'namespace',
    env: 'FLUXACT_NAMESPACE',
    value: 'name',
    description: "The operator's own namespace (where its Lease lives)",
    defaultText: '$POD_NAMESPACE, else fluxact-system',
  },
  {
    name: 'watch-namespace',
    env: 'FLUXACT_WATCH_NAMESPACE',
    value: 'name',
    description: 'Only handle FluxActionRequests and FluxActionSchedules in this namespace',
    defaultText: 'all namespaces',
  },
  {
    name: 'cross-namespace-from',
    env: 'FLUXACT_CROSS_NAMESPACE_FROM',
    value: 'ns1,ns2',
    description: 'Namespaces whose requests may target objects in other namespaces (empty: none)',
    defaultText: "the operator's own namespace",
  },
  {
    name: 'concurrency',
    env: 'FLUXACT_CONCURRENCY',
    value: 'n',
    description: 'Requests handled at once (1-256)',
    defaultText: '8',
  },
  {
    name: 'metrics-addr',
    env: 'FLUXACT_METRICS_ADDR',
    value: '[host]:port',
    description: 'Address of /healthz, /readyz and /metrics',
    defaultText: ':8080',
  },
  {
    name: 'leader-elect',
    env: 'FLUXACT_LEADER_ELECT',
    description: 'Elect a leader through a Lease so only one replica acts (--no-leader-elect to disable)',
    defaultText: 'true',
  },
  {
    name: 'lease-name',
    value: 'name',
    description: 'Name of the leader election Lease',
    defaultText: 'flux-action-operator',
  },
  {
    name: 'events-addr',
    env: 'FLUXACT_EVENTS_ADDR',
    value: 'url',
    description:
      "Post each request's outcome as a Flux event to this notification-controller address (Flux's controllers use http://notification-controller.flux-system.svc.cluster.local./)",
    defaultText: 'none',
  },
  {
    name: 'log-level',
    env: 'FLUXACT_LOG_LEVEL',
    value: 'level',
    description: `Minimum log level (${LOG_LEVELS.join(', ')})`,
    defaultText: 'info',
  },
];

/** Default namespace when neither --namespace, $FLUXACT_NAMESPACE nor $POD_NAMESPACE says. */
export const DEFAULT_NAMESPACE = 'fluxact-system';
/** Default name of the leader election Lease. */
export const DEFAULT_LEASE_NAME = 'flux-action-operator';
/** Default number of requests handled at once. */
export const DEFAULT_CONCURRENCY = 8;
/** Default listen address of the probe and metrics server. */
export const DEFAULT_METRICS_ADDR = ':8080';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const namespaceName = z
  .string()
  .max(63, 'expected a namespace name of at most 63 characters')
  .regex(DNS1123_LABEL, 'expected a namespace name (lowercase letters, digits and "-", starting and ending with a letter or digit)');

// Each schema takes the raw string; its messages are completed with ', got "<raw>"'.
const valueSchemas = {
  kubeconfig: z.string().min(1, 'expected a path to a kubeconfig file'),
  namespace: namespaceName,
  'watch-namespace': namespaceName,
  'cross-namespace-from': z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== ''),
    )
    .superRefine((names, ctx) => {
      for (const name of names) {
        if (name.length > 63 || !DNS1123_LABEL.test(name)) {
          ctx.addIssue({ code: 'custom', message: `expected namespace names separated by commas ("${name}" is not one)` });
          return;
        }
      }
    }),
  concurrency: z
    .string()
    .regex(/^\d+$/, 'expected an integer from 1 to 256')
    .transform(Number)
    .pipe(z.number().min(1, 'expected an integer from 1 to 256').max(256, 'expected an integer from 1 to 256')),
  'metrics-addr': z.string().superRefine((addr, ctx) => {
    try {
      parseListenAddress(addr);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
    }
  }),
  'leader-elect': z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(['true', 'false', '1', '0'], 'expected true or false'))
    .transform((s) => s === 'true' || s === '1'),
  'lease-name': z
    .string()
    .max(253, 'expected a Lease name of at most 253 characters')
    .regex(DNS1123_SUBDOMAIN, 'expected a Lease name (lowercase letters, digits, "-" and ".")'),
  'log-level': z.enum(LOG_LEVELS, `expected one of ${LOG_LEVELS.join(', ')}`),
  'events-addr': z.string().superRefine((addr, ctx) => {
    let url: URL;
    try {
      url = new URL(addr);
    } catch {
      ctx.addIssue({
        code: 'custom',
        message: 'expected an http:// or https:// URL, such as "http://notification-controller.flux-system.svc.cluster.local./"',
      });
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      ctx.addIssue({ code: 'custom', message: `expected an http:// or https:// URL, not ${url.protocol}//` });
  }),
} satisfies Record<string, z.ZodType<unknown, string>>;

type FlagName = keyof typeof valueSchemas;

/** A raw value and where it came from, for error messages. */
interface RawValue {
  value: string;
  source: string;
}

/** True when argv asks for help (--help or -h). */
export function isHelpRequested(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

/**
 * Parses the operator's flags (argv without the program and subcommand) with env as fallback.
 * Flags win over environment variables; empty environment variables count as unset. Accepts
 * `--flag=value` and `--flag value`; booleans also `--flag`, `--flag=false`, `--flag false` and `--no-flag`.
 * Throws ConfigError naming the flag on an unknown flag, a missing value or an invalid one.
 * Defaults: see OPERATOR_FLAGS.
 */
export function parseOperatorConfig(argv: readonly string[], env: NodeJS.ProcessEnv): OperatorConfig {
  const raw = rawValues(argv, env, OPERATOR_FLAGS);
  const podNamespace = env.POD_NAMESPACE;
  if (!raw.has('namespace') && podNamespace !== undefined && podNamespace !== '') {
    raw.set('namespace', { value: podNamespace, source: 'POD_NAMESPACE (default of --namespace)' });
  }
  const check = checker(raw);
  const get = <N extends FlagName>(name: N): z.output<(typeof valueSchemas)[N]> | undefined =>
    check<unknown>(name, valueSchemas[name]) as z.output<(typeof valueSchemas)[N]> | undefined;

  const namespace = get('namespace') ?? DEFAULT_NAMESPACE;
  return {
    kubeconfig: get('kubeconfig'),
    namespace,
    watchNamespace: get('watch-namespace'),
    crossNamespaceFrom: get('cross-namespace-from') ?? [namespace],
    concurrency: get('concurrency') ?? DEFAULT_CONCURRENCY,
    metricsAddr: get('metrics-addr') ?? DEFAULT_METRICS_ADDR,
    leaderElect: get('leader-elect') ?? true,
    leaseName: get('lease-name') ?? DEFAULT_LEASE_NAME,
    logLevel: get('log-level') ?? 'info',
    eventsAddr: get('events-addr'),
  };
}

/**
 * Splits argv into [flag name, raw value] pairs with node:util parseArgs; the last occurrence of a
 * flag wins when read into a Map. parseArgs runs non-strict so that each mistake is reported here,
 * on one line naming the flag, rather than in parseArgs' own words.
 */
export function parseArgv(argv: readonly string[], flags: readonly OperatorFlag[] = OPERATOR_FLAGS): Array<[string, string]> {
  const byName = new Map(flags.map((f) => [f.name, f]));
  const options: ParseArgsOptionsConfig = Object.fromEntries(
    flags.map((f) => [f.name, { type: f.value === undefined ? ('boolean' as const) : ('string' as const) }]),
  );
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, allowNegative: true, tokens: true });
  const booleans = flags.filter((f) => f.value === undefined);
  const unknown = (name: string): ConfigError => {
    const negatedHint = name.startsWith('no-') ? closestFlag(name.slice(3), booleans) : undefined;
    const hint = negatedHint ? `no-${negatedHint}` : closestFlag(name, flags);
    return new ConfigError(`unknown flag --${name}${hint ? ` (did you mean --${hint}?)` : ''}; run with --help for the list`);
  };
  const pairs: Array<[string, string]> = [];
  let taken = -1; // a "true"/"false" token read as the value of the boolean before it
  for (const [t, token] of tokens.entries()) {
    if (t === taken) continue;
    if (token.kind === 'positional') throw new ConfigError(`unexpected argument ${JSON.stringify(token.value)}: only flags are taken`);
    if (token.kind === 'option-terminator') throw new ConfigError('unknown flag --; run with --help for the list');
    // Short flags are not taken: name the argument as given (-vx, not parseArgs' -v).
    if (!token.rawName.startsWith('--')) throw new ConfigError(`unknown flag ${argv[token.index]}; run with --help for the list`);
    const flag = byName.get(token.name);

    // allowNegative reads a bare --no-<name> as <name>; only booleans may be negated.
    if (token.rawName !== `--${token.name}`) {
      if (flag?.value !== undefined || !flag) throw unknown(token.rawName.slice(2));
      pairs.push([flag.name, 'false']);
      continue;
    }
    if (!flag) {
      // parseArgs negates only bare flags: --no-<boolean>=value arrives under its own name.
      const negated = token.name.startsWith('no-') ? byName.get(token.name.slice(3)) : undefined;
      if (negated && negated.value === undefined && token.value !== undefined)
        throw new ConfigError(`--${token.name}: takes no value, got ${JSON.stringify(token.value)}`);
      throw unknown(token.name);
    }

    if (flag.value === undefined) {
      // A boolean: bare means true; a following "true"/"false" is taken as its value, since the
      // commands have no positional arguments it could belong to.
      const next = tokens[t + 1];
      if (token.value !== undefined) pairs.push([flag.name, token.value]);
      else if (next?.kind === 'positional' && next.index === token.index + 1 && (next.value === 'true' || next.value === 'false')) {
        pairs.push([flag.name, next.value]);
        taken = t + 1;
      } else pairs.push([flag.name, 'true']);
      continue;
    }

    // A value flag: parseArgs takes the next argument as the value even when it is another flag.
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--')))
      throw new ConfigError(`--${flag.name}: missing value (expected --${flag.name} <${flag.value}>)`);
    pairs.push([flag.name, token.value]);
  }
  return pairs;
}

/** The known flag nearest to name by edit distance, when it is close enough to be a typo. */
function closestFlag(name: string, flags: readonly OperatorFlag[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const flag of flags) {
    const distance = editDistance(name, flag.name);
    if (!best || distance < best.distance) best = { name: flag.name, distance };
  }
  return best && best.distance <= 2 ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** Help text for `fluxact operator`, generated from OPERATOR_FLAGS. */
export function operatorHelp(command = 'fluxact operator'): string {
  return flagsHelp(command, 'Runs the flux-action-operator: carries out FluxActionRequests against Flux objects.', OPERATOR_FLAGS);
}

/** Help text for a command, generated from its flag table. */
export function flagsHelp(command: string, summary: string, flags: readonly OperatorFlag[]): string {
  const usage = (f: OperatorFlag): string => `--${f.name}${f.value ? ` <${f.value}>` : ''}`;
  const width = Math.max(...flags.map((f) => usage(f).length));
  const lines = flags.map((f) => {
    const env = f.env ? ` [$${f.env}]` : '';
    return `  ${usage(f).padEnd(width)}  ${f.description}${env} (default: ${f.defaultText})`;
  });
  return [
    `Usage: ${command} [flags]`,
    '',
    summary,
    'Flags win over environment variables.',
    '',
    'Flags:',
    ...lines,
    `  ${'--help'.padEnd(width)}  Show this help`,
    '',
  ].join('\n');
}

/** The raw value of each flag given: argv first, then the flag's environment variable (empty ones count as unset). */
function rawValues(argv: readonly string[], env: NodeJS.ProcessEnv, flags: readonly OperatorFlag[]): Map<string, RawValue> {
  const raw = new Map<string, RawValue>();
  for (const [name, value] of parseArgv(argv, flags)) raw.set(name, { value, source: `--${name}` });
  for (const flag of flags) {
    const fromEnv = flag.env ? env[flag.env] : undefined;
    if (!raw.has(flag.name) && flag.env && fromEnv !== undefined && fromEnv !== '')
      raw.set(flag.name, { value: fromEnv, source: `${flag.env} (--${flag.name})` });
  }
  return raw;
}

/** A getter that checks a flag's raw value with its schema, throwing ConfigError naming where the value came from. */
function checker(raw: ReadonlyMap<string, RawValue>): <T>(name: string, schema: z.ZodType<T, string>) => T | undefined {
  return <T>(name: string, schema: z.ZodType<T, string>): T | undefined => {
    const given = raw.get(name);
    if (given === undefined) return undefined;
    const result = schema.safeParse(given.value);
    if (!result.success) {
      const reason = result.error.issues[0]?.message ?? 'invalid value';
      throw new ConfigError(`${given.source}: ${reason}, got ${JSON.stringify(given.value)}`);
    }
    return result.data;
  };
}

/**
 * Reads flags (argv, then each flag's environment variable; empty variables count as unset) and
 * returns a getter that checks a value with its schema, throwing ConfigError naming the flag.
 */
export function readFlags(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  flags: readonly OperatorFlag[],
): <T>(name: string, schema: z.ZodType<T, string>) => T | undefined {
  return checker(rawValues(argv, env, flags));
}
