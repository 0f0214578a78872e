// The MCP prompts and the server's instructions through the SDK's real client: the workflows name
// the tools and the object, and the instructions say how requests and outcomes work.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connectStdio, startHttpMcp, type HttpMcp, type McpConnection } from '../../support/mcp.js';

let stdio: McpConnection;
let http: HttpMcp;
let overHttp: McpConnection;

beforeAll(async () => {
  stdio = await connectStdio();
  http = await startHttpMcp();
  overHttp = await http.connect();
});

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed */
  await Promise.all([stdio?.close(), overHttp?.close()]);
  await http?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
});

async function prompt(connection: McpConnection, name: string, args: Record<string, string>): Promise<string> {
  const result = await connection.client.getPrompt({ name, arguments: args });
  expect(result.messages).toHaveLength(1);
  const [message] = result.messages;
  expect(message?.role).toBe('user');
  return message?.content.type === 'text' ? message.content.text : '';
}

describe.each([
  ['stdio', () => stdio],
  ['HTTP', () => overHttp],
])('over %s', (_transport, connection) => {
  it('lists the workflows with their arguments', async () => {
    const { prompts } = await connection().client.listPrompts();
    expect(prompts.map((p) => [p.name, (p.arguments ?? []).map((a) => `${a.name}${a.required ? '' : '?'}`)])).toEqual([
      ['reconcile_and_verify', ['kind', 'name', 'namespace']],
      ['debug_kustomization', ['name', 'namespace']],
      ['debug_helmrelease', ['name', 'namespace']],
    ]);
  });

  it('tells the agent how requests and their outcomes work', () => {
    const instructions = connection().client.getInstructions() ?? '';
    expect(instructions).toContain('each action tool creates a FluxActionRequest');
    expect(instructions).toContain('Awaiting approval: a policy rule requires a person to approve; Flux has not been touched.');
    expect(instructions).toContain('follow up with get_flux_action_request instead of creating another');
  });
});

describe('prompts', () => {
  it('reconcile_and_verify walks health, status, reconcile with source, verify and troubleshoot for the object', async () => {
    const text = await prompt(stdio, 'reconcile_and_verify', { kind: 'HelmRelease', name: 'web', namespace: 'apps' });
    const steps = text.split('\n').filter((l) => /^\d\. /.test(l));
    expect(steps.map((s) => s.split(':')[0])).toEqual(['1. Health', '2. Status', '3. Reconcile', '4. Verify', '5. Troubleshoot a failure']);
    expect(steps[0]).toContain('get_flux_instance');
    expect(steps[2]).toContain('reconcile_flux_resource with kind HelmRelease, name web, namespace apps, with_source true');
    expect(steps[4]).toContain('get_kubernetes_logs (kind Deployment, namespace flux-system, name helm-controller, grep "web")');
  });

  it('a source kind is reconciled without with_source', async () => {
    const text = await prompt(stdio, 'reconcile_and_verify', { kind: 'GitRepository', name: 'repo', namespace: 'flux-system' });
    expect(text).toContain('call reconcile_flux_resource with kind GitRepository, name repo, namespace flux-system.');
    expect(text).toContain('name source-controller');
  });

  it('debug_kustomization and debug_helmrelease read the object, trace it, read events and the controller logs', async () => {
    const ks = await prompt(stdio, 'debug_kustomization', { name: 'apps', namespace: 'flux-system' });
    expect(ks).toContain('resources_get: apiVersion kustomize.toolkit.fluxcd.io/v1, kind Kustomization, name apps, namespace flux-system');
    expect(ks).toContain('events_list: namespace flux-system, involvedObjectKind Kustomization, involvedObjectName apps.');
    expect(ks).toContain('get_kubernetes_logs: kind Deployment, name kustomize-controller, namespace flux-system, grep "apps", since 1h.');
    const hr = await prompt(stdio, 'debug_helmrelease', { name: 'web', namespace: 'apps' });
    expect(hr).toContain('trace_flux_resource on the HelmRelease');
    expect(hr).toContain('get_kubernetes_logs: kind Deployment, name helm-controller, namespace flux-system, grep "web", since 1h');
  });

  it('refuses a prompt without its arguments', async () => {
    await expect(stdio.client.getPrompt({ name: 'debug_helmrelease', arguments: { name: 'web' } })).rejects.toThrow(/namespace/);
  });
});
