// Random arguments thrown at every tool get well-formed answers — a result, or a JSON-RPC
// invalid-params error — and never crash the server.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { connectStdio, type McpConnection } from '../../support/mcp.js';

let connection: McpConnection;
let tools: Tool[];

beforeAll(async () => {
  // A short wait, so random but valid action requests answer quickly with the request's phase.
  connection = await connectStdio(['--wait-timeout', '1s']);
  tools = (await connection.client.listTools()).tools;
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await connection?.close();
});

/** Arbitrary values for one argument: often of the declared type, sometimes anything. */
function argument(schema: { type?: unknown; enum?: unknown[] } | undefined): fc.Arbitrary<unknown> {
  const any = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 3 }),
    fc.dictionary(fc.string(), fc.string()),
  );
  if (schema?.enum) return fc.oneof(fc.constantFrom(...schema.enum), any);
  switch (schema?.type) {
    case 'string':
      return fc.oneof(
        fc.string({ maxLength: 300 }),
        fc.constantFrom('default', 'kube-system', '', '..', 'a'.repeat(300), '5m', '-1s'),
        any,
      );
    case 'number':
    case 'integer':
      return fc.oneof(fc.integer(), fc.double(), any);
    case 'boolean':
      return fc.oneof(fc.boolean(), any);
    default:
      return any;
  }
}

function argumentsFor(tool: Tool): fc.Arbitrary<Record<string, unknown>> {
  const properties = (tool.inputSchema.properties ?? {}) as Record<string, { type?: unknown; enum?: unknown[] }>;
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, schema] of Object.entries(properties)) record[name] = argument(schema);
  return fc.record(record, { requiredKeys: [] });
}

describe('every tool under random arguments', () => {
  it('answers with a well-formed result or an invalid-params error, and keeps serving', async () => {
    expect(tools.length).toBeGreaterThan(0);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...tools), fc.nat(), async (tool, seed) => {
        const args = fc.sample(argumentsFor(tool), { numRuns: 1, seed })[0] ?? {};
        try {
          const result = await connection.client.callTool({ name: tool.name, arguments: args });
          expect(Array.isArray(result.content)).toBe(true);
          expect((result.content as unknown[]).length).toBeGreaterThan(0);
          if (result.isError) expect(typeof (result.content as { text?: unknown }[])[0]?.text).toBe('string');
        } catch (err) {
          expect(err).toBeInstanceOf(McpError);
          expect((err as McpError).code).toBe(-32602);
        }
      }),
      { numRuns: 150 },
    );
    // Still serving.
    expect((await connection.client.listTools()).tools.length).toBe(tools.length);
  }, 300_000);
});
