// Scenario f: fuzzed MCP calls through the SDK's client, over stdio and Streamable HTTP at once:
// random arguments for every tool (often of the declared type, sometimes anything), unknown tools and
// other requests. The server must answer every call (a result, or a JSON-RPC error) within 60 s,
// never exit, and keep its memory bounded.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { McpError, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { randomSuffix } from '../support/kube.js';
import { connectStdio, startHttpMcp, type HttpMcp, type McpConnection } from '../support/mcp.js';
import { procKiB, processStatus } from '../support/proc.js';
import { printFigures, sizes } from './support/sizes.js';

let stdio: McpConnection | undefined;
let stdioPid = -1;
let http: HttpMcp | undefined;
let httpClient: McpConnection | undefined;

// Mutating tools act in a namespace that does not exist, so a call that passes validation is refused
// by the API server at once instead of leaving a request behind.
const absentNamespace = `chaos-absent-${randomSuffix()}`;

beforeAll(async () => {
  const args = ['--wait-timeout', '1s'];
  stdio = await connectStdio(args);
  stdioPid = (stdio.client.transport as { pid?: number | null } | undefined)?.pid ?? -1;
  http = await startHttpMcp(args);
  httpClient = await http.connect();
});

afterAll(async () => {
  await stdio?.close();
  await httpClient?.close();
  await http?.stop();
});

function memoryKiB(pid: number): { rss: number; peak: number } | undefined {
  const status = processStatus(pid);
  return status === undefined ? undefined : { rss: procKiB(status, 'VmRSS'), peak: procKiB(status, 'VmHWM') };
}

type PropertySchema = { type?: unknown; enum?: unknown[] };

/** Values for one argument: often of the declared type, sometimes anything. */
function argument(schema: PropertySchema | undefined): fc.Arbitrary<unknown> {
  const any = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 3 }),
    fc.dictionary(fc.string(), fc.string()),
    fc.jsonValue({ maxDepth: 3 }),
  );
  if (schema?.enum) return fc.oneof(fc.constantFrom(...schema.enum), any);
  switch (schema?.type) {
    case 'string':
      return fc.oneof(
        fc.string({ maxLength: 300 }),
        fc.constantFrom('Kustomization', 'HelmRelease', 'flux-system', '', '..', '*', 'a'.repeat(5000), '5m', '-1s', '1h', 'é\u0000\n'),
        any,
      );
    case 'number':
    case 'integer':
      return fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -1, 2 ** 53, 1e308), any);
    case 'boolean':
      return fc.oneof(fc.boolean(), any);
    default:
      return any;
  }
}

type Call = { kind: 'tool'; name: string; args: unknown } | { kind: 'list' } | { kind: 'ping' };

function callsFor(tools: Tool[]): fc.Arbitrary<Call> {
  const toolCall = fc.constantFrom(...tools).chain((tool) => {
    const properties = (tool.inputSchema.properties ?? {}) as Record<string, PropertySchema>;
    const record: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [name, schema] of Object.entries(properties)) record[name] = argument(schema);
    const mutating = tool.annotations?.readOnlyHint === false;
    const args = fc.oneof(
      { weight: 8, arbitrary: fc.record(record, { requiredKeys: [] }) },
      // Extra keys, or no object at all.
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.record(record, { requiredKeys: [] }), fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })))
          .map(([a, b]) => ({ ...b, ...a })),
      },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
    );
    return args.map((a): Call => ({
      kind: 'tool',
      name: tool.name,
      args: mutating && a !== null && typeof a === 'object' && !Array.isArray(a) ? { ...a, namespace: absentNamespace } : a,
    }));
  });
  return fc.oneof(
    { weight: 17, arbitrary: toolCall },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((name): Call => ({ kind: 'tool', name, args: {} })) },
    { weight: 1, arbitrary: fc.constant<Call>({ kind: 'list' }) },
    { weight: 1, arbitrary: fc.constant<Call>({ kind: 'ping' }) },
  );
}

interface Tally {
  results: number;
  toolErrors: number;
  protocolErrors: Record<string, number>;
  /** Calls without an answer in time, or failed in the transport. */
  unanswered: string[];
  /** Examples of internal errors (-32603): the server failed on the call. */
  internal: string[];
  slowestMs: number;
}

async function run(connection: McpConnection, calls: Call[], parallel: number, tally: Tally): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < calls.length) {
      const call = calls[next++]!;
      const t = performance.now();
      try {
        const options = { timeout: 60_000 };
        if (call.kind === 'list') await connection.client.listTools(undefined, options);
        else if (call.kind === 'ping') await connection.client.ping(options);
        else {
          const result = await connection.client.callTool(
            { name: call.name, arguments: call.args as Record<string, unknown> },
            undefined,
            options,
          );
          if (result.isError) tally.toolErrors += 1;
          else tally.results += 1;
        }
      } catch (err) {
        if (err instanceof McpError && err.code !== -32001 /* request timeout */) {
          tally.protocolErrors[err.code] = (tally.protocolErrors[err.code] ?? 0) + 1;
          if (err.code === -32603 && tally.internal.length < 5)
            tally.internal.push(`${JSON.stringify(call).slice(0, 300)}: ${err.message.slice(0, 300)}`);
        } else if (tally.unanswered.length < 10) {
          tally.unanswered.push(`${JSON.stringify(call).slice(0, 200)}: ${err instanceof Error ? err.message : String(err)}`);
        } else tally.unanswered.push('…');
      }
      tally.slowestMs = Math.max(tally.slowestMs, performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

describe('fuzzed MCP calls over stdio and HTTP', () => {
  it(
    `are all answered, crash nothing and leave memory bounded (${sizes.mcpCalls} calls)`,
    async () => {
      const tools = (await stdio!.client.listTools()).tools;
      const calls = fc.sample(callsFor(tools), { numRuns: sizes.mcpCalls });
      const half = Math.ceil(calls.length / 2);
      const tallies = {
        stdio: { results: 0, toolErrors: 0, protocolErrors: {}, unanswered: [], internal: [], slowestMs: 0 } as Tally,
        http: { results: 0, toolErrors: 0, protocolErrors: {}, unanswered: [], internal: [], slowestMs: 0 } as Tally,
      };
      // Warm-up (outside the figures): a tenth as many fuzzed calls, so the memory figures compare a
      // warm server (its caches and the docs index built) with itself.
      const warm = fc.sample(callsFor(tools), { numRuns: Math.max(100, Math.ceil(sizes.mcpCalls / 10)) });
      const scratch = (): Tally => ({ results: 0, toolErrors: 0, protocolErrors: {}, unanswered: [], internal: [], slowestMs: 0 });
      await Promise.all([run(stdio!, warm, 8, scratch()), run(httpClient!, warm, 8, scratch())]);
      const before = { stdio: memoryKiB(stdioPid), http: memoryKiB(http!.pid) };
      const started = performance.now();
      await Promise.all([run(stdio!, calls.slice(0, half), 8, tallies.stdio), run(httpClient!, calls.slice(half), 8, tallies.http)]);
      const seconds = (performance.now() - started) / 1000;
      const after = { stdio: memoryKiB(stdioPid), http: memoryKiB(http!.pid) };
      // Still answering afterwards.
      const stillServing =
        (await stdio!.client.listTools()).tools.length === tools.length &&
        (await httpClient!.client.listTools()).tools.length === tools.length;
      const mib = (k: number | undefined): string => (k === undefined ? 'gone' : `${(k / 1024).toFixed(0)} MiB`);
      const figures: Record<string, unknown> = {
        calls: calls.length,
        seconds: seconds.toFixed(1),
        'calls per second': (calls.length / seconds).toFixed(0),
      };
      for (const t of ['stdio', 'http'] as const) {
        const tally = tallies[t];
        figures[t] =
          `${tally.results} results, ${tally.toolErrors} tool errors (isError), protocol errors ${JSON.stringify(tally.protocolErrors)}, ${tally.unanswered.length} unanswered, slowest ${tally.slowestMs.toFixed(0)} ms; RSS ${mib(before[t]?.rss)} before, ${mib(after[t]?.rss)} after (peak ${mib(after[t]?.peak)})`;
      }
      const internal = [...tallies.stdio.internal, ...tallies.http.internal];
      printFigures('f-mcp-fuzz', {
        ...figures,
        'still serving': stillServing,
        ...(internal.length > 0 ? { 'internal errors, e.g.': internal } : {}),
        ...(tallies.stdio.unanswered.length + tallies.http.unanswered.length > 0
          ? { unanswered: [...tallies.stdio.unanswered, ...tallies.http.unanswered] }
          : {}),
      });
      expect([...tallies.stdio.unanswered, ...tallies.http.unanswered]).toEqual([]);
      expect(stillServing).toBe(true);
      for (const t of ['stdio', 'http'] as const) {
        expect(after[t]).toBeDefined();
        // Bounded: V8 grows its heap lazily, so RSS before and after are reported, and the peak is held
        // under a ceiling that a leak of what the calls sent would break at full size.
        expect(after[t]!.peak).toBeLessThan(512 * 1024);
      }
    },
    sizes.mcpCalls * 100 + 120_000,
  );
});
