#!/usr/bin/env node
// fluxact: one command for the operator (and, later, the MCP adapter).
import { createRequire } from 'node:module';
import { ConfigError, isHelpRequested, loadKubeConfig, operatorHelp, parseOperatorConfig } from '../runtime/config.js';
import { createLogger } from '../runtime/logger.js';
import { Operator } from '../operator/manager.js';
import { mcpHelp, parseMcpConfig } from '../mcp/config.js';
import { createMcpServer } from '../mcp/server.js';
import { serveHttp, serveStdio } from '../mcp/transports.js';

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

const usage = `fluxact ${version()} - carry out Flux actions requested as FluxActionRequests

Usage:
  fluxact operator [flags]   run the operator (fluxact operator --help for its flags)
  fluxact mcp [flags]        run the MCP server for AI agents (fluxact mcp --help)
  fluxact version            print the version
`;

async function runOperator(argv: string[]): Promise<number> {
  if (isHelpRequested(argv)) {
    process.stdout.write(operatorHelp());
    return 0;
  }
  const config = parseOperatorConfig(argv, process.env);
  const log = createLogger({ level: config.logLevel, component: 'operator' });
  const kc = loadKubeConfig(config);
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
  const kc = loadKubeConfig(config);
  const newServer = () =>
    createMcpServer({
      kc,
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
      allowedHosts: config.allowedHosts,
      newServer,
      log,
    });
    close = () => http.close();
  }
  await closed;
  await close();
  log.info('MCP server stopped');
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'operator':
      return runOperator(rest);
    case 'mcp':
      return runMcp(rest);
    case 'version':
    case '--version':
      process.stdout.write(`${version()}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`fluxact: unknown command "${command}"\n\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`fluxact: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`fluxact: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
