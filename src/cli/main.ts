#!/usr/bin/env node
// fluxact: one command for the operator (and, later, the MCP adapter).
import { createRequire } from 'node:module';
import { ConfigError, isHelpRequested, loadKubeConfig, operatorHelp, parseOperatorConfig } from '../runtime/config.js';
import { createLogger } from '../runtime/logger.js';
import { Operator } from '../operator/manager.js';

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

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'operator':
      return runOperator(rest);
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
