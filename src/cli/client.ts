// The client commands: create a request and follow it from a watch, list, describe, approve and
// reject. A client like any other: it goes through RequestService, as the MCP adapter does, and
// never touches a Flux object. Human output on stderr (a live line on a TTY), data on stdout.
import * as k8s from '@kubernetes/client-node';
import ora, { type Ora } from 'ora';
import { stringify } from 'yaml';
import { Phase, isFinished } from '../api/conditions.js';
import { DefaultTimeoutMs, formatDuration } from '../api/duration.js';
import type { RequestSpec, FluxActionRequest } from '../api/types.js';
import { Kind } from '../api/types.js';
import { RequestService } from '../client/requests.js';
import { bounded } from '../kube/bounded.js';
import { apiMessage, connectionFailure, statusCode } from '../kube/errors.js';
import { awaitsApproval } from '../policy/gate.js';
import { ConfigError } from '../runtime/config.js';
import { loadKubeConfig, reuseConnections } from '../runtime/kubeconfig.js';
import type { CliCommand, Connection, OutputFormat } from './args.js';
import { describeRequest, liveText, requestTable, stateOf, stepLine, transitionLine } from './render.js';

/** Exit codes scripts can trust. */
export const ExitCode = { Succeeded: 0, Failed: 1, Usage: 2 } as const;

/** How long past --timeout the command waits for the operator's own verdict on the request. */
const VerdictGraceMs = 5_000;

/** Where a command writes, and the clock it reads. */
export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  now: () => number;
}

type ClientCommand = Exclude<CliCommand, { command: 'version' | 'operator' | 'mcp' | 'print' }>;

/**
 * Runs a client command and returns its exit code: 0 done (Succeeded), 1 failed (the request
 * failed, timed out, or the API server refused), 2 bad usage (a kubeconfig or context that cannot
 * be used). Throws only for faults that are not the user's.
 */
export async function runClient(cmd: ClientCommand, io: Io): Promise<number> {
  let kc: k8s.KubeConfig;
  try {
    kc = kubeConfigFor(cmd.connection);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr.write(`fluxact: ${err.message}\n`);
      return ExitCode.Usage;
    }
    throw err;
  }
  const namespace = cmd.connection.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  const requests = new RequestService({ kc });
  try {
    switch (cmd.command) {
      case 'action':
        return await act(cmd, namespace, requests, io);
      case 'get': {
        const list = await requests.list(cmd.allNamespaces ? undefined : namespace);
        const sorted = [...list.requests].sort((a, b) => key(a).localeCompare(key(b)));
        if (cmd.output) {
          io.stdout.write(format({ apiVersion: 'v1', kind: 'List', items: sorted }, cmd.output));
        } else if (sorted.length === 0) {
          io.stderr.write(cmd.allNamespaces ? 'No requests found.\n' : `No requests found in ${namespace} namespace.\n`);
        } else {
          io.stdout.write(requestTable(sorted, io.now(), cmd.allNamespaces));
        }
        for (const bad of list.invalid) io.stderr.write(`fluxact: ${bad.message}\n`);
        return ExitCode.Succeeded;
      }
      case 'describe': {
        const request = await requests.get(namespace, cmd.name);
        const events = await kc.makeApiClient(k8s.CoreV1Api).listNamespacedEvent(
          {
            namespace,
            fieldSelector: `involvedObject.kind=${Kind},involvedObject.name=${cmd.name}`,
          },
          bounded(),
        );
        const sorted = [...events.items].sort((a, b) => eventTime(a) - eventTime(b));
        io.stdout.write(describeRequest(request, sorted, io.now()));
        return ExitCode.Succeeded;
      }
      case 'decide': {
        const { request, by } = await requests.decide(namespace, cmd.name, cmd.decision);
        io.stderr.write(`${cmd.decision === 'approve' ? 'approved' : 'rejected'} request ${namespace}/${request.metadata.name} as ${by}\n`);
        if (cmd.output) io.stdout.write(format(request, cmd.output));
        return ExitCode.Succeeded;
      }
    }
  } catch (err) {
    // The API server's refusal (RBAC, admission, not found) is the user's answer: one line.
    if (statusCode(err) !== undefined) {
      io.stderr.write(`fluxact: ${oneLine(apiMessage(err))}\n`);
      return ExitCode.Failed;
    }
    // No answer at all (refused, reset, unknown host, TLS): where it tried and why, one line.
    const unreachable = connectionFailure(err);
    if (unreachable) {
      io.stderr.write(`fluxact: cannot reach the API server at ${kc.getCurrentCluster()?.server ?? '?'}: ${unreachable}\n`);
      return ExitCode.Failed;
    }
    throw err;
  }
}

/** Creates the request and follows it from a watch until it finished or the wait ran out. */
async function act(
  cmd: Extract<ClientCommand, { command: 'action' }>,
  namespace: string,
  requests: RequestService,
  io: Io,
): Promise<number> {
  const spec: RequestSpec = {
    action: cmd.action,
    target: { kind: cmd.kind, name: cmd.name },
    ...(cmd.withSource ? { withSource: true } : {}),
    ...(cmd.withDependencies ? { withDependencies: true } : {}),
    ...(cmd.withDependents ? { withDependents: true } : {}),
    ...(cmd.force ? { force: true } : {}),
    ...(cmd.reset ? { reset: true } : {}),
    ...(cmd.timeout ? { timeout: cmd.timeout.text } : {}),
  };
  const start = io.now();
  const created = await requests.create(namespace, spec, { origin: 'cli' });
  const name = created.metadata.name;
  const target = `${cmd.kind} ${namespace}/${cmd.name}`;
  io.stderr.write(`► ${cmd.action} ${target}: request ${name} created\n`);
  if (!cmd.wait) {
    io.stderr.write(`not waiting; follow it with: fluxact describe ${name} -n ${namespace}\n`);
    if (cmd.output) io.stdout.write(format(created, cmd.output));
    return ExitCode.Succeeded;
  }
  const waitMs = (cmd.timeout?.ms ?? DefaultTimeoutMs) + VerdictGraceMs;
  let latest = created;
  const live = io.stderr.isTTY ? ora({ stream: io.stderr, text: liveText(created, 0) }).start() : undefined;
  const ticker = live ? setInterval(() => (live.text = liveText(latest, io.now() - start)), 1000) : undefined;
  let shown = '';
  let approvalShown = false;
  // A chain's steps: the phase each was last shown in, so each step transition is one line.
  const stepsShown: string[] = [];
  const show = (request: FluxActionRequest): void => {
    latest = request;
    const elapsed = io.now() - start;
    for (const [index, step] of (request.status?.steps ?? []).entries()) {
      const phase = step.phase ?? Phase.Pending;
      if (phase === Phase.Pending || stepsShown[index] === phase) continue;
      stepsShown[index] = phase;
      print(live, io, stepLine(request, index, elapsed));
    }
    const state = stateOf(request);
    if (state === shown) return;
    shown = state;
    print(live, io, transitionLine(request, elapsed));
    if (live) live.text = liveText(request, elapsed);
    if (awaitsApproval(request) && !approvalShown) {
      approvalShown = true;
      const until = request.status?.approval?.expiresAt;
      print(
        live,
        io,
        `awaiting approval${until ? ` until ${until}` : ''}: someone with verb approve on fluxactionrequests (not you) runs ` +
          `fluxact approve ${name} -n ${namespace}; waiting up to ${formatDuration(waitMs)}`,
      );
    }
  };
  show(created);
  let final: FluxActionRequest;
  try {
    final = await requests.follow(created, { timeoutMs: waitMs, onUpdate: show });
  } finally {
    if (ticker) clearInterval(ticker);
    live?.stop();
  }
  show(final);
  if (cmd.output) io.stdout.write(format(final, cmd.output));
  const elapsed = formatDuration(io.now() - start);
  if (!isFinished(final.status?.phase)) {
    io.stderr.write(
      `fluxact: timed out after ${elapsed} waiting for request ${name} (${final.status?.phase ?? 'Pending'}); ` +
        `it keeps running: fluxact describe ${name} -n ${namespace}\n`,
    );
    return ExitCode.Failed;
  }
  if (final.status?.phase === Phase.Succeeded) {
    io.stderr.write(`✔ ${final.status.message ?? `${cmd.action} ${target} succeeded`} (${elapsed})\n`);
    return ExitCode.Succeeded;
  }
  io.stderr.write(`✗ ${final.status?.message ?? `${cmd.action} ${target} failed`} (${elapsed})\n`);
  return ExitCode.Failed;
}

/** Writes a line to stderr above the live line (which ora draws again on its next frame). */
function print(live: Ora | undefined, io: Io, line: string): void {
  live?.clear();
  io.stderr.write(`${line}\n`);
  live?.render();
}

/**
 * The kubeconfig to use: --kubeconfig (else $KUBECONFIG, ~/.kube/config), its --context, and --as
 * as the user to impersonate. Throws a ConfigError (one line) for one that cannot be used.
 */
export function kubeConfigFor(connection: Connection): k8s.KubeConfig {
  const kc = loadKubeConfig({ kubeconfig: connection.kubeconfig });
  if (connection.context !== undefined) {
    if (!kc.getContextObject(connection.context)) throw new ConfigError(`--context: no context "${connection.context}" in the kubeconfig`);
    kc.setCurrentContext(connection.context);
  }
  if (connection.as === undefined) return kc;
  const context = kc.getContextObject(kc.getCurrentContext());
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!context || !cluster || !user) throw new ConfigError(`the kubeconfig's context "${kc.getCurrentContext()}" names no cluster or user`);
  const impersonating = reuseConnections(new k8s.KubeConfig());
  impersonating.loadFromOptions({
    clusters: [cluster],
    users: [{ ...user, impersonateUser: connection.as }],
    contexts: [context],
    currentContext: context.name,
  });
  return impersonating;
}

function format(data: unknown, output: OutputFormat): string {
  return output === 'json' ? `${JSON.stringify(data, null, 2)}\n` : stringify(data);
}

function key(request: FluxActionRequest): string {
  return `${request.metadata.namespace ?? ''}/${request.metadata.name}`;
}

function eventTime(event: k8s.CoreV1Event): number {
  const at = event.lastTimestamp ?? event.eventTime ?? event.metadata.creationTimestamp;
  return at ? new Date(at).getTime() : 0;
}

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}
