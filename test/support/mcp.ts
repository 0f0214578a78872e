// Test access to the MCP adapter through the SDK's real Client: `fluxact mcp` (from dist/) as a
// child process, over stdio or Streamable HTTP, running as the adapter's ServiceAccount.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, type ClientOptions } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, type CallToolResult, type ElicitRequest, type ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { ensureInstalled, OperatorNamespace, serviceAccountKubeConfig } from './harness.js';
import { adminKubeConfig, repoRoot, waitFor } from './kube.js';

export const McpServiceAccount = 'fluxact-mcp';
const main = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

/** A kubeconfig file for the adapter's ServiceAccount (or another one). */
export async function mcpKubeconfigFile(serviceAccount = McpServiceAccount): Promise<string> {
  await ensureInstalled();
  const kc = await serviceAccountKubeConfig(adminKubeConfig(), OperatorNamespace, serviceAccount);
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'fluxact-mcp-')), 'kubeconfig');
  writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
  return file;
}

function requireBuilt(): void {
  if (!existsSync(main)) throw new Error(`${main} is missing: build with 'npm run build:all' (make test does)`);
}

export interface McpConnection {
  client: Client;
  close(): Promise<void>;
}

const clientInfo = { name: 'fluxact-tests', version: '1.0.0' };

/** How the test client presents itself: its capabilities, and how it answers elicitation (a person's answer). */
export interface ClientSetup {
  capabilities?: ClientOptions['capabilities'];
  onElicit?: (request: ElicitRequest['params']) => ElicitResult | Promise<ElicitResult>;
}

function newClient(setup: ClientSetup = {}): Client {
  const client = new Client(clientInfo, setup.capabilities ? { capabilities: setup.capabilities } : {});
  const onElicit = setup.onElicit;
  if (onElicit) client.setRequestHandler(ElicitRequestSchema, (req) => onElicit(req.params));
  return client;
}

/** Starts `fluxact mcp` on stdio and connects the SDK client to it. */
export async function connectStdio(args: string[] = [], kubeconfig?: string, setup?: ClientSetup): Promise<McpConnection> {
  requireBuilt();
  const file = kubeconfig ?? (await mcpKubeconfigFile());
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [main, 'mcp', '--kubeconfig', file, '--log-level', 'warn', ...args],
    stderr: 'pipe',
  });
  const client = newClient(setup);
  await client.connect(transport);
  return { client, close: () => client.close() };
}

export interface HttpMcp {
  url: string;
  /** The server process. */
  pid: number;
  connect(token?: string, setup?: ClientSetup): Promise<McpConnection>;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Everything the server wrote to stderr so far (its JSON log). */
  log(): string;
}

/** Starts `fluxact mcp --transport http` on a free loopback port. */
export async function startHttpMcp(args: string[] = [], kubeconfig?: string): Promise<HttpMcp> {
  requireBuilt();
  const file = kubeconfig ?? (await mcpKubeconfigFile());
  const child = spawn(
    process.execPath,
    [main, 'mcp', '--kubeconfig', file, '--transport', 'http', '--listen', '127.0.0.1:0', '--log-level', 'info', ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      resolve(code);
    }),
  );
  const url = await waitFor('the MCP HTTP server to listen', () => {
    if (child.exitCode !== null) throw new Error(`fluxact mcp exited ${child.exitCode}: ${output}`);
    return /"url":"([^"]+)"/.exec(output)?.[1];
  });
  return {
    url,
    pid: child.pid ?? -1,
    connect: async (token?: string, setup?: ClientSetup) => {
      const transport = new StreamableHTTPClientTransport(
        new URL(url),
        token ? { requestInit: { headers: { Authorization: `Bearer ${token}` } } } : {},
      );
      const client = newClient(setup);
      await client.connect(transport);
      return { client, close: () => client.close() };
    },
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
    log: () => output,
  };
}

/** The text of a tool result. */
export function textOf(result: unknown): string {
  const content = (result as Partial<CallToolResult>).content ?? [];
  return content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}
