// A mistake in the command line: one line on stderr, exit code 2. Its own module, so the operator
// and the MCP server, which never load the client's argument parser, can still catch it.

export class UsageError extends Error {}
