// What stands in front of the tools, through the SDK's real client: --confirm asks the person
// through MCP elicitation before a request is created (and refuses a client that cannot ask),
// --rate-limit caps each session's tool calls, and --audit-log keeps one JSON line per call.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import type { ElicitRequest, ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { Group, Plural, Version } from '../../../src/api/types.js';
import { SimAnnotation } from '../../simulator/flux-simulator.js';
import { createFluxObject, OperatorNamespace, startOperatorEnvironment, type OperatorEnvironment } from '../../support/harness.js';
import { waitFor } from '../../support/kube.js';
import { connectStdio, McpServiceAccount, startHttpMcp, textOf, type HttpMcp, type McpConnection } from '../../support/mcp.js';

let env: OperatorEnvironment;
let kc: k8s.KubeConfig;
let ns: string;
let confirming: McpConnection;
let noElicitation: McpConnection;
let limited: HttpMcp;
const auditLog = path.join(mkdtempSync(path.join(tmpdir(), 'fluxact-audit-')), 'calls.jsonl');
/** What the person answers, and what they were asked. */
let answer: ElicitResult = { action: 'accept', content: { confirm: true } };
const asked: ElicitRequest['params'][] = [];

beforeAll(async () => {
  env = await startOperatorEnvironment('mcp-guards');
  ({ kc, ns } = env);
  await createFluxObject(kc, 'Kustomization', ns, 'app', { annotations: { [SimAnnotation.revision]: 'main@sha1:cafe' } });
  confirming = await connectStdio(['--confirm', '--audit-log', auditLog], undefined, {
    capabilities: { elicitation: { form: {} } },
    onElicit: (params) => {
      asked.push(params);
      return answer;
    },
  });
  noElicitation = await connectStdio(['--confirm']);
  limited = await startHttpMcp(['--rate-limit', '2/1h']);
});

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed */
  await confirming?.close();
  await noElicitation?.close();
  await limited?.stop();
  await env?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
});

async function requestCount(): Promise<number> {
  const list = (await kc
    .makeApiClient(k8s.CustomObjectsApi)
    .listNamespacedCustomObject({ group: Group, version: Version, plural: Plural, namespace: ns })) as { items: unknown[] };
  return list.items.length;
}

const reconcile = () => ({ name: 'reconcile_flux_kustomization', arguments: { name: 'app', namespace: ns } });

describe('--confirm', () => {
  it('asks the person through elicitation what will be requested, and acts once they confirm', async () => {
    answer = { action: 'accept', content: { confirm: true } };
    const result = await confirming.client.callTool(reconcile());
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ phase: 'Succeeded', revision: 'main@sha1:cafe' });
    expect(asked.at(-1)?.message).toBe(`Reconcile Kustomization ${ns}/app: create a FluxActionRequest for it?`);
  });

  it('creates no request when the person declines, and says so', async () => {
    const before = await requestCount();
    answer = { action: 'decline' };
    const result = await confirming.client.callTool(reconcile());
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe('the person declined the confirmation: no FluxActionRequest was created.');
    answer = { action: 'accept', content: { confirm: false } };
    expect(textOf(await confirming.client.callTool(reconcile()))).toBe('the person did not confirm: no FluxActionRequest was created.');
    expect(await requestCount()).toBe(before);
  });

  it('refuses a client that does not support elicitation, creating nothing', async () => {
    const before = await requestCount();
    const result = await noElicitation.client.callTool(reconcile());
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe(
      'this server asks a person to confirm every action (--confirm), and this client does not support MCP elicitation, so nobody can be asked. Use a client that supports elicitation, or create the FluxActionRequest with fluxact or kubectl: no FluxActionRequest was created.',
    );
    expect(await requestCount()).toBe(before);
  });

  it('does not ask before a tool that only reads', async () => {
    const count = asked.length;
    const result = await confirming.client.callTool({ name: 'list_flux_action_requests', arguments: { namespace: ns } });
    expect(result.isError).toBeFalsy();
    expect(asked.length).toBe(count);
  });
});

describe('--rate-limit', () => {
  it("refuses a session's calls over the limit with a tool error naming it, while another session still calls", async () => {
    const first = await limited.connect();
    const second = await limited.connect();
    try {
      const list = { name: 'list_flux_action_requests', arguments: { namespace: ns } };
      expect((await first.client.callTool(list)).isError).toBeFalsy();
      expect((await first.client.callTool(list)).isError).toBeFalsy();
      const refused = await first.client.callTool(list);
      expect(refused.isError).toBe(true);
      expect(textOf(refused)).toMatch(
        /^rate limit: this session made 2 tool calls in the last 1h \(--rate-limit 2\/1h\); the call was not carried out\. Retry in \d+s\.$/,
      );
      expect((await second.client.callTool(list)).isError).toBeFalsy();
    } finally {
      await first.close();
      await second.close();
    }
  });
});

describe('--audit-log', () => {
  it('holds one JSON line per call: tool, arguments, result size, duration, outcome, identity, session', async () => {
    // Calls so far on the confirming server: confirmed, declined, not confirmed, a read.
    const lines = await waitFor('four lines in the audit log', () => {
      const parsed = readFileSync(auditLog, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      return parsed.length >= 4 ? parsed : undefined;
    });
    const identity = `system:serviceaccount:${OperatorNamespace}:${McpServiceAccount}`;
    const common = { session: 'stdio', identity, client: 'fluxact-tests/1.0.0' };
    expect(lines.map((l) => [l['tool'], l['outcome']])).toEqual([
      ['reconcile_flux_kustomization', 'ok'],
      ['reconcile_flux_kustomization', 'refused'],
      ['reconcile_flux_kustomization', 'refused'],
      ['list_flux_action_requests', 'ok'],
    ]);
    for (const line of lines) expect(line).toMatchObject(common);
    expect(lines[0]?.['arguments']).toEqual({ name: 'app', namespace: ns });
    // The size of the answer as sent: the confirmed call's is larger than a refusal's.
    expect(lines[0]?.['resultBytes'] as number).toBeGreaterThan(lines[1]?.['resultBytes'] as number);
    expect(lines.every((l) => typeof l['durationMs'] === 'number' && typeof l['resultBytes'] === 'number')).toBe(true);
  });
});
