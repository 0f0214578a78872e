// What the entry point needs before it loads the client's argument parser (yargs): a mistake in the
// command line, which the operator and the MCP server can raise too, and which commands parse their
// own flags.

/** A mistake in the command line: one line on stderr, exit code 2. */
export class UsageError extends Error {}

/** `fluxact operator …` and `fluxact mcp …`, which parse their own flags (the rest of argv); undefined for the client's commands. */
export function serverCommand(argv: readonly string[]): { command: 'operator' | 'mcp'; argv: string[] } | undefined {
  const [first, ...rest] = argv;
  return first === 'operator' || first === 'mcp' ? { command: first, argv: rest } : undefined;
}
