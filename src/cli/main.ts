#!/usr/bin/env node
// fluxact: the client command line (reconcile, suspend, resume, get, describe, approve, reject),
// the operator and the MCP server, in one command.
import { createRequire } from 'node:module';
import type * as k8s from '@kubernetes/client-node';
import { ConfigError, isHelpRequested, operatorHelp, parseOperatorConfig } from '../runtime/config.js';
import { setUserAgent, userAgentOf } from '../kube/client.js';
import { operatorAccess, readKubeconfig } from '../kube/kubeconfig.js';
import { limitHeapGrowthUntilSettled } from '../runtime/heap-growth.js';
import { createLogger } from '../runtime/logger.js';
import { mcpHelp, parseMcpConfig } from '../mcp/config.js';
import type { Identity } from '../client/requests.js';
import { serverCommand, UsageError } from './usage.js';
// Each command loads only its own modules (below, when it runs): the operator's process holds
// neither the MCP server nor the client's, nor the client's argument parser (yargs, whose
// terminal-width code reads ICU's data as it loads), nor @kubernetes/client-node (the operator has
// its own API client), which is memory a long-running process keeps.

const require = createRequire(import.meta.url);

function version(): string {
  for (const candidate of ['../../package.json', '../../../package.json']) {
    try {
      return (require(candidate) as { version: string }).version;
    } catch {
      // try the next layout (sources or dist)
    }
  }
  return 'unknown';
}

async function runOperator(argv: string[]): Promise<number> {
  if (isHelpRequested(argv)) {
    process.stdout.write(operatorHelp());
    return 0;
  }
  const config = parseOperatorConfig(argv, process.env);
  const log = createLogger({ level: config.logLevel, component: 'operator' });
  const kc = operatorAccess(readKubeconfig(config));
  // Before the operator's modules load: their allocations count too.
  const liftHeapGrowth = limitHeapGrowthUntilSettled();
  const { Operator } = await import('../operator/manager.js');
  let exitCode = 0;
  let stopping: Promise<void> | undefined;
  let stopped: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  const shutdown = (): Promise<void> => {
    stopping ??= operator.stop().then(() => {
      log.info('operator stopped');
      stopped();
    });
    return stopping;
  };
  const operator = new Operator({
    config,
    kc,
    log,
    onSettled: liftHeapGrowth,
    onLostLeadership: (reason) => {
      // Never act without the Lease: exit and let the Deployment restart us as a standby.
      log.error({ reason }, 'lost leadership; exiting');
      exitCode = 1;
      void shutdown();
    },
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'shutting down');
      void shutdown();
    });
  }
  await operator.start();
  await done;
  return exitCode;
}

async function runMcp(argv: string[]): Promise<number> {
  if (isHelpRequested(argv)) {
    process.stdout.write(mcpHelp());
    return 0;
  }
  const config = parseMcpConfig(argv, process.env);
  const log = createLogger({ level: config.logLevel, component: 'mcp' });
  const { loadKubeConfig } = await import('../runtime/kubeconfig.js');
  const kc = loadKubeConfig(config);
  const { createMcpServer } = await import('../mcp/server.js');
  const { serveHttp, serveStdio } = await import('../mcp/transports.js');
  const { AuditLog } = await import('../mcp/guard.js');
  const audit = config.auditLog ? new AuditLog(config.auditLog) : undefined;
  if (audit)
    await audit.opened().catch((err: unknown) => Promise.reject(new ConfigError(err instanceof Error ? err.message : String(err))));
  const newServer = (caller?: { kc: k8s.KubeConfig; identity: Identity }) =>
    createMcpServer({
      kc: caller?.kc ?? kc,
      ...(caller ? { caller: caller.identity } : {}),
      confirm: config.confirm,
      ...(config.rateLimit ? { rateLimit: config.rateLimit } : {}),
      ...(audit ? { audit } : {}),
      subscriptionLifetimeMs: config.subscriptionTimeoutMs,
      log,
      version: version(),
      readOnly: config.readOnly,
      waitTimeoutMs: config.waitTimeoutMs,
      requestTtlSeconds: config.requestTtlSeconds,
      maxOutput: config.maxOutput,
      ...(config.docsDir ? { docsDir: config.docsDir } : {}),
    });
  let close: () => Promise<void>;
  const closed = new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const)
      process.once(signal, () => {
        resolve();
      });
    // On stdio, the client closing stdin ends the session.
    if (config.transport === 'stdio')
      process.stdin.once('end', () => {
        resolve();
      });
  });
  if (config.transport === 'stdio') {
    const stdio = await serveStdio(newServer());
    close = () => stdio.close();
    log.info({ readOnly: config.readOnly }, 'MCP server on stdio');
  } else {
    const http = await serveHttp({
      ...config.listen,
      ...(config.token ? { token: config.token } : {}),
      auth: config.auth,
      kc,
      authorizationServers: config.authorizationServers,
      ...(config.resourceUrl ? { resourceUrl: config.resourceUrl } : {}),
      allowedHosts: config.allowedHosts,
      newServer,
      log,
    });
    close = () => http.close();
  }
  await closed;
  await close();
  await audit?.close();
  log.info('MCP server stopped');
  return 0;
}

async function main(argv: string[]): Promise<number> {
  // The operator and the MCP server parse their own flags: the client's parser is loaded only for the client's commands.
  const cmd = serverCommand(argv) ?? (await (await import('./args.js')).parseCli(argv));
  // Each command names itself to the API server (and so as the field manager of what it writes).
  setUserAgent(
    userAgentOf(
      cmd.command === 'operator' ? 'flux-action-operator' : cmd.command === 'mcp' ? 'flux-action-operator-mcp' : 'fluxact',
      version(),
    ),
  );
  switch (cmd.command) {
    case 'operator':
      return runOperator(cmd.argv);
    case 'mcp':
      return runMcp(cmd.argv);
    case 'version':
      process.stdout.write(`${version()}\n`);
      return 0;
    case 'print':
      process.stdout.write(cmd.text);
      return 0;
    default: {
      const { runClient } = await import('./client.js');
      return runClient(cmd, { stdout: process.stdout, stderr: process.stderr, now: Date.now });
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Let stdout drain when piped, then leave even if a watch or agent socket lingers.
    process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`fluxact: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`fluxact: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
