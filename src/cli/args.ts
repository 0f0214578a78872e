// The command line's grammar, parsed with yargs (generated help, strict flags, shell completion):
// `fluxact reconcile|suspend|resume KIND NAME`, `get`, `describe`, `approve`, `reject`, `version`,
// with the flux CLI's nouns and flags. `operator` and `mcp` keep their own flag parsing and are
// only listed here. Parsing is pure: it returns what to do, or throws a UsageError (exit code 2).
import yargs, { type Argv } from 'yargs';
import { parseDuration, MaxTimeoutMs } from '../api/duration.js';
import { Action } from '../api/types.js';
import { firstWords, nounList, nouns, resolveNoun, UnknownNounError } from './nouns.js';
import { serverCommand, UsageError } from './usage.js';

export { UsageError };

/** Output formats of -o. */
export type OutputFormat = 'json' | 'yaml';

/** Where and as whom to talk to the API server. */
export interface Connection {
  kubeconfig?: string;
  context?: string;
  /** Impersonate this user (--as), as kubectl does. */
  as?: string;
  /** -n; undefined: the kubeconfig context's namespace, else "default". */
  namespace?: string;
}

/** What the command line asked for. */
export type CliCommand =
  | {
      command: 'action';
      action: Action;
      kind: string;
      name: string;
      withSource: boolean;
      /** --with-dependencies, --with-dependents: a chain (Kustomization, HelmRelease). */
      withDependencies: boolean;
      withDependents: boolean;
      force: boolean;
      reset: boolean;
      /** --timeout as written (a Go duration), and in milliseconds. */
      timeout?: { text: string; ms: number };
      wait: boolean;
      output?: OutputFormat;
      connection: Connection;
    }
  | { command: 'get'; allNamespaces: boolean; output?: OutputFormat; connection: Connection }
  | { command: 'describe'; name: string; connection: Connection }
  | { command: 'decide'; decision: 'approve' | 'reject'; name: string; output?: OutputFormat; connection: Connection }
  | { command: 'version' }
  | { command: 'operator' | 'mcp'; argv: string[] }
  /** Text yargs produced (help, a completion script or completions) for stdout. */
  | { command: 'print'; text: string };

/** What `get` lists: the flux CLI's and kubectl's names for requests. */
const requestNouns = ['requests', 'request', 'far', 'fluxactionrequest', 'fluxactionrequests'];

const commands = ['reconcile', 'suspend', 'resume', 'get', 'describe', 'approve', 'reject', 'version', 'operator', 'mcp', 'completion'];

/** The parser, with its help text; exported for the help snapshot. */
function parser(argv: readonly string[]): Argv {
  const actionCommand = (verb: 'reconcile' | 'suspend' | 'resume', describe: string) => ({
    command: `${verb} [kind..]`,
    describe,
    builder: (y: Argv) => {
      y.positional('kind', { describe: `KIND NAME, KIND one of: ${nounList()}`, type: 'string', array: true, default: undefined })
        .option('timeout', { type: 'string', describe: 'how long the action may take, a Go duration (default 5m); also how long to wait' })
        .option('wait', { type: 'boolean', default: true, describe: 'wait for the outcome; --no-wait returns once the request exists' })
        .option('output', { alias: 'o', choices: ['json', 'yaml'], describe: 'print the final request on stdout' });
      if (verb === 'reconcile')
        y.option('with-source', { type: 'boolean', default: false, describe: 'reconcile the source first' })
          .option('with-dependencies', {
            type: 'boolean',
            default: false,
            describe: 'reconcile what it depends on (spec.dependsOn) first, upstream first (Kustomization, HelmRelease)',
          })
          .option('with-dependents', {
            type: 'boolean',
            default: false,
            describe: 'afterwards reconcile what depends on it, in dependsOn order (Kustomization, HelmRelease)',
          })
          .option('force', { type: 'boolean', default: false, describe: 'force a one-off install or upgrade (HelmRelease)' })
          .option('reset', { type: 'boolean', default: false, describe: 'reset the failure count (HelmRelease)' });
      return y.example(
        verb === 'reconcile' ? `fluxact reconcile ks apps -n flux-system --with-source` : `fluxact ${verb} hr podinfo -n apps`,
        '',
      );
    },
    handler: () => undefined,
  });
  return (
    yargs([...argv])
      .scriptName('fluxact')
      .usage('$0 <command> [flags]\n\nCarry out Flux actions as FluxActionRequests, and follow them.')
      .command(actionCommand('reconcile', 'ask Flux to reconcile an object now, and follow it'))
      .command(actionCommand('suspend', 'suspend an object'))
      .command(actionCommand('resume', 'resume a suspended object and follow its reconcile'))
      .command('get [what]', 'list requests, like kubectl get far', (y) =>
        y
          .positional('what', { describe: 'requests', type: 'string' })
          .option('all-namespaces', { alias: 'A', type: 'boolean', default: false, describe: 'list requests in every namespace' })
          .option('output', { alias: 'o', choices: ['json', 'yaml'], describe: 'print the requests on stdout' }),
      )
      .command('describe <name>', "show a request's status, conditions and events", (y) =>
        y.positional('name', { type: 'string', describe: 'the request' }),
      )
      .command('approve <name>', 'approve a request awaiting approval, as yourself', (y) =>
        y.positional('name', { type: 'string', describe: 'the request' }).option('output', { alias: 'o', choices: ['json', 'yaml'] }),
      )
      .command('reject <name>', 'reject a request awaiting approval, as yourself', (y) =>
        y.positional('name', { type: 'string', describe: 'the request' }).option('output', { alias: 'o', choices: ['json', 'yaml'] }),
      )
      .command('version', 'print the version')
      .command('operator', 'run the operator (fluxact operator --help for its flags)')
      .command('mcp', 'run the MCP server for AI agents (fluxact mcp --help)')
      // yargs writes the script; the completions themselves come from completions() below.
      .completion('completion', 'print a bash/zsh completion script (source <(fluxact completion))')
      .option('namespace', { alias: 'n', type: 'string', describe: "the namespace (default: the context's, else default)", global: true })
      .option('kubeconfig', { type: 'string', describe: 'the kubeconfig file', global: true })
      .option('context', { type: 'string', describe: 'the kubeconfig context to use', global: true })
      .option('as', { type: 'string', describe: 'the user to impersonate', global: true })
      // Names are strings, even "42".
      .parserConfiguration({ 'parse-positional-numbers': false, 'parse-numbers': false })
      .version(false)
      .help('help')
      .alias('help', 'h')
      .strict()
      .demandCommand(1, 'say what to do: fluxact --help lists the commands')
      .wrap(110)
      .exitProcess(false)
  );
}

/**
 * Parses the arguments after `fluxact`. Returns the command to run, or `print` for help and
 * completion output; throws a UsageError with a one-line message for a mistake (exit code 2).
 */
export async function parseCli(argv: readonly string[]): Promise<CliCommand> {
  const server = serverCommand(argv);
  if (server) return server;
  const [first, ...rest] = argv;
  if (first === '--version') return { command: 'version' };
  // The completion script asks with the words typed so far, the program's name first.
  if (first === '--get-yargs-completions')
    return {
      command: 'print',
      text: completions(rest.slice(1))
        .map((w) => `${w}\n`)
        .join(''),
    };
  if (first !== undefined && !first.startsWith('-') && !commands.includes(first)) throw new UsageError(`unknown command "${first}"`);
  const { args, output } = await new Promise<{ args: Record<string, unknown>; output: string }>((resolve, reject) => {
    void parser(argv).parse([...argv], {}, (err: Error | undefined, parsed: Record<string, unknown>, text: string) => {
      if (err) reject(new UsageError(unknownOnce(oneLine(err.message))));
      else resolve({ args: parsed, output: text });
    });
  });
  if (output !== '') return { command: 'print', text: output.endsWith('\n') ? output : `${output}\n` };
  const verb = String((args['_'] as unknown[])[0]);
  const connection = connectionOf(args);
  const format = args['output'] as OutputFormat | undefined;
  const output_ = format ? { output: format } : {};
  switch (verb) {
    case 'reconcile':
    case 'suspend':
    case 'resume':
      return actionOf(verb, args, connection, output_);
    case 'get': {
      const what = args['what'] as string | undefined;
      if (what !== undefined && !requestNouns.includes(what.toLowerCase()))
        throw new UsageError(`fluxact get lists requests: "${what}" is not one (use fluxact get requests)`);
      return { command: 'get', allNamespaces: args['all-namespaces'] === true, connection, ...output_ };
    }
    case 'describe':
      return { command: 'describe', name: String(args['name']), connection };
    case 'approve':
    case 'reject':
      return { command: 'decide', decision: verb, name: String(args['name']), connection, ...output_ };
    case 'version':
      return { command: 'version' };
    default:
      throw new UsageError(`unknown command "${verb}"`);
  }
}

function actionOf(
  verb: 'reconcile' | 'suspend' | 'resume',
  args: Record<string, unknown>,
  connection: Connection,
  output: { output?: OutputFormat },
): CliCommand {
  let resolved: { kind: string; rest: string[] };
  try {
    resolved = resolveNoun(((args['kind'] as unknown[] | undefined) ?? []).filter((w): w is string => typeof w === 'string'));
  } catch (err) {
    if (err instanceof UnknownNounError) throw new UsageError(err.message);
    throw err;
  }
  const [name, ...extra] = resolved.rest;
  if (name === undefined) throw new UsageError(`say the name of the ${resolved.kind} to ${verb}: fluxact ${verb} KIND NAME`);
  if (extra.length > 0) throw new UsageError(`one ${resolved.kind} at a time: unexpected "${extra.join(' ')}"`);
  const timeoutText = args['timeout'] as string | undefined;
  let timeout: { text: string; ms: number } | undefined;
  if (timeoutText !== undefined) {
    const ms = parseDuration(timeoutText);
    if (ms === undefined || ms <= 0 || ms > MaxTimeoutMs)
      throw new UsageError(`--timeout: expected a duration such as 90s or 5m, at most 1h, got "${timeoutText}"`);
    timeout = { text: timeoutText, ms };
  }
  return {
    command: 'action',
    action: verb === 'reconcile' ? Action.Reconcile : verb === 'suspend' ? Action.Suspend : Action.Resume,
    kind: resolved.kind,
    name,
    withSource: args['with-source'] === true,
    withDependencies: args['with-dependencies'] === true,
    withDependents: args['with-dependents'] === true,
    force: args['force'] === true,
    reset: args['reset'] === true,
    wait: args['wait'] !== false,
    connection,
    ...(timeout ? { timeout } : {}),
    ...output,
  };
}

/** The words that may follow `typed` (the last one being completed). */
export function completions(typed: readonly string[]): string[] {
  const words = typed.filter((w) => !w.startsWith('-'));
  const current = words.at(-1) ?? '';
  if (words.length <= 1) return commands.filter((c) => c.startsWith(current));
  if (['reconcile', 'suspend', 'resume'].includes(words[0] ?? '')) {
    if (words.length === 2) return firstWords().filter((w) => w.startsWith(current));
    const prefixed = nouns.filter((n) => n.prefix === words[1]);
    if (words.length === 3 && prefixed.length > 0) return prefixed.flatMap((n) => (n.sub?.startsWith(current) ? [n.sub] : []));
  }
  if (words[0] === 'get' && words.length === 2) return requestNouns.slice(0, 1).filter((w) => w.startsWith(current));
  return [];
}

function connectionOf(args: Record<string, unknown>): Connection {
  const connection: Connection = {};
  for (const key of ['kubeconfig', 'context', 'as', 'namespace'] as const) {
    const value = args[key];
    if (typeof value === 'string') connection[key] = value;
    else if (value !== undefined) throw new UsageError(`--${key}: give it once, with a value`);
  }
  return connection;
}

/** yargs' message on one line ("Invalid values: Argument: output, Given: …"). */
/**
 * yargs names an unknown dashed flag twice, as typed and camel-cased ("Unknown arguments:
 * with-sources, withSources"): name it as typed, once.
 */
export function unknownOnce(message: string): string {
  const m = /^Unknown arguments?: (.*)$/.exec(message);
  if (!m?.[1]) return message;
  const names = m[1].split(', ');
  const camel = (name: string): string => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const typed = names.filter((n) => n.includes('-') || !names.some((other) => other !== n && camel(other) === n));
  return `Unknown argument${typed.length === 1 ? '' : 's'}: ${typed.join(', ')}`;
}

function oneLine(message: string): string {
  return message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ');
}
