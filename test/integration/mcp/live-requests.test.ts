// Following a request through MCP, with the SDK's real client: progress notifications while a
// mutating tool waits (one per transition of the request), and requests as fluxaction:// resources
// that a client lists, reads and subscribes to (notifications/resources/updated), each saying what
// approval is awaited when a policy holds the request.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { CreateTaskResultSchema } from '@modelcontextprotocol/sdk/experimental/tasks/types.js';
import { CallToolResultSchema, ResourceUpdatedNotificationSchema, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { ApprovedByAnnotation } from '../../../src/api/types.js';
import { SimAnnotation } from '../../simulator/flux-simulator.js';
import { createFluxObject, createPolicy, getRequest, startOperatorEnvironment, type OperatorEnvironment } from '../../support/harness.js';
import { waitFor } from '../../support/kube.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { connectStdio, startHttpMcp, textOf, type HttpMcp, type McpConnection } from '../../support/mcp.js';
import { bindRole, impersonatedKubeConfig, patchAnnotations } from '../../support/users.js';

let env: OperatorEnvironment;
let kc: k8s.KubeConfig;
let ns: string;
let stdio: McpConnection;
const approver = 'sre-jane';
const updated: string[] = [];

beforeAll(async () => {
  env = await startOperatorEnvironment('mcp-live');
  ({ kc, ns } = env);
  await createFluxObject(kc, 'GitRepository', ns, 'repo', { annotations: { [SimAnnotation.revision]: 'main@sha1:cafe' } });
  await createFluxObject(kc, 'Kustomization', ns, 'app', { annotations: { [SimAnnotation.revision]: 'main@sha1:cafe' } });
  await createFluxObject(kc, 'HelmRelease', ns, 'held', { annotations: { [SimAnnotation.revision]: '1.2.3' } });
  await createFluxObject(kc, 'HelmRelease', ns, 'waits');
  // The simulator never answers it: a request for it waits.
  await createFluxObject(kc, 'Kustomization', ns, 'silent', { annotations: { [SimAnnotation.outcome]: 'Ignore' } });
  await createPolicy(kc, ns, 'guardrails', [
    {
      name: 'agents-need-approval',
      match: { origins: ['mcp'], names: ['held', 'waits'] },
      effect: 'RequireApproval',
      approvalTimeout: '1h',
    },
  ]);
  await bindRole(kc, ns, approver, { kind: 'ClusterRole', name: 'fluxact-approver' });
  stdio = await connectStdio();
  stdio.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    updated.push(n.params.uri);
  });
});

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed */
  await stdio?.close();
  await env?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
});

/** Calls a tool with a progressToken, collecting the progress notifications. */
async function callWithProgress(
  name: string,
  args: Record<string, unknown>,
): Promise<{ structured: Record<string, unknown>; text: string; progress: Progress[] }> {
  const progress: Progress[] = [];
  const result = await stdio.client.callTool({ name, arguments: args }, undefined, {
    onprogress: (p) => {
      progress.push(p);
    },
  });
  return { structured: (result.structuredContent ?? {}) as Record<string, unknown>, text: textOf(result), progress };
}

let heldUri = '';
let heldName = '';

describe('progress notifications', () => {
  it('report each transition of the request while a mutating tool waits: created, source fetched, revision applied', async () => {
    const out = await callWithProgress('reconcile_flux_kustomization', { name: 'app', namespace: ns, with_source: true });
    expect(out.structured).toMatchObject({ phase: 'Succeeded', revision: 'main@sha1:cafe' });
    const messages = out.progress.map((p) => p.message ?? '');
    expect(messages[0]).toBe(`created FluxActionRequest ${String(out.structured['request'])}`);
    expect(messages.some((m) => m.includes('source GitRepository/repo ready, revision main@sha1:cafe'))).toBe(true);
    expect(messages.some((m) => m.includes('target Kustomization/app') && m.includes('revision main@sha1:cafe'))).toBe(true);
    // (The SDK's client drops a progress notification it reads together with the response, so the
    // last line, Succeeded, is not asserted here: the result says it.)
    // One notification per transition, counted upwards, no line twice in a row.
    expect(messages.length).toBeGreaterThanOrEqual(3);
    expect(out.progress.map((p) => p.progress)).toEqual(messages.map((_, i) => i + 1));
    expect(messages.every((m, i) => i === 0 || m !== messages[i - 1])).toBe(true);
  });

  it('say what approval a held request awaits, and from whom', async () => {
    const out = await callWithProgress('reconcile_flux_resource', {
      kind: 'HelmRelease',
      name: 'held',
      namespace: ns,
      wait_timeout: '20s',
    });
    expect(out.structured).toMatchObject({ phase: 'Pending', awaitingApproval: true });
    expect(out.progress.at(-1)?.message).toContain(
      `awaits approval: FluxActionPolicy ${ns}/guardrails rule agents-need-approval requires a person with verb approve on fluxactionrequests in namespace ${ns}, not the requester, by `,
    );
    heldUri = String(out.structured['resource']);
    heldName = String(out.structured['request']).split('/')[1] ?? '';
    expect(heldUri).toBe(`fluxaction://${ns}/${heldName}`);
  });
});

describe('MCP tasks', () => {
  it('offer the action tools as tasks (taskSupport optional), and not the read tools', async () => {
    const { tools } = await stdio.client.listTools();
    const support = (name: string) => tools.find((t) => t.name === name)?.execution?.taskSupport;
    expect(support('reconcile_flux_kustomization')).toBe('optional');
    expect(support('suspend_flux_reconciliation')).toBe('optional');
    expect(support('get_flux_action_request')).not.toBe('optional');
  });

  it('answer a task-augmented call at once with a working task, whose status follows the request to its result', async () => {
    const created = await stdio.client.request(
      {
        method: 'tools/call',
        params: { name: 'reconcile_flux_kustomization', arguments: { name: 'app', namespace: ns }, task: { ttl: 60_000 } },
      },
      CreateTaskResultSchema,
    );
    expect(created.task.status).toBe('working');
    expect(created.task.statusMessage).toMatch(/^created FluxActionRequest /);
    const done = await waitFor('the task to complete', async () => {
      const task = await stdio.client.experimental.tasks.getTask(created.task.taskId);
      return task.status === 'working' ? undefined : task;
    });
    expect(done.status).toBe('completed');
    expect(done.statusMessage).toMatch(new RegExp(`^Reconcile Kustomization ${ns}/app: Succeeded`));
    const result = await stdio.client.experimental.tasks.getTaskResult(created.task.taskId, CallToolResultSchema);
    expect(result.structuredContent).toMatchObject({ phase: 'Succeeded', revision: 'main@sha1:cafe' });
  });
});

describe('MCP tasks, cancelled', () => {
  it('stop waiting at tasks/cancel, and leave the request as it is', async () => {
    const http = await startHttpMcp();
    try {
      const client = (await http.connect()).client;
      const created = await client.request(
        {
          method: 'tools/call',
          params: {
            name: 'reconcile_flux_resource',
            arguments: { kind: 'Kustomization', name: 'silent', namespace: ns },
            task: { ttl: 60_000 },
          },
        },
        CreateTaskResultSchema,
      );
      // Flux never answers: the wait would last the wait timeout (60 s).
      const request = /^created FluxActionRequest (\S+)$/.exec(created.task.statusMessage ?? '')?.[1] ?? '';
      expect(request).toMatch(new RegExp(`^${ns}/`));
      const cancelled = await client.experimental.tasks.cancelTask(created.task.taskId);
      expect(cancelled.status).toBe('cancelled');
      await waitFor(
        'the server to stop waiting for the request',
        () =>
          http
            .log()
            .split('\n')
            .some((l) => l.includes('stopped waiting for the request') && l.includes(`"request":"${request}"`)) || undefined,
        10_000,
      );
      expect((await client.experimental.tasks.getTask(created.task.taskId)).status).toBe('cancelled');
      const name = request.split('/')[1]!;
      expect((await getRequest(kc, ns, name)).status?.phase).toBe('Running');
      await client.close();
    } finally {
      await http.stop();
    }
  });
});

describe('fluxaction:// resources', () => {
  it('are offered as a template and listed, newest first, each with where it stands', async () => {
    const templates = await stdio.client.listResourceTemplates();
    expect(templates.resourceTemplates).toContainEqual(
      expect.objectContaining({
        uriTemplate: 'fluxaction://{namespace}/{name}',
        name: 'flux-action-request',
        mimeType: 'application/json',
      }),
    );
    const listed = await stdio.client.listResources();
    const held = listed.resources.find((r) => r.uri === heldUri);
    expect(held?.description).toContain('awaits approval');
  });

  it('read as the request with its progress and what it awaits', async () => {
    const read = await stdio.client.readResource({ uri: heldUri });
    const content = read.contents[0];
    expect(content?.mimeType).toBe('application/json');
    const body = JSON.parse(content && 'text' in content ? content.text : '') as Record<string, unknown>;
    expect(body).toMatchObject({ request: `${ns}/${heldName}`, phase: 'Pending', awaitingApproval: true, resource: heldUri });
    expect(String(body['progress'])).toContain('awaits approval');
  });

  it('tell a subscriber when the request changes and when it finished', async () => {
    await stdio.client.subscribeResource({ uri: heldUri });
    expect(updated).not.toContain(heldUri);
    await patchAnnotations(impersonatedKubeConfig(kc, approver), ns, heldName, { [ApprovedByAnnotation]: approver });
    await waitFor('the approved request to succeed', async () =>
      (await getRequest(kc, ns, heldName)).status?.phase === 'Succeeded' ? true : undefined,
    );
    await waitFor('a notification of the finished request', async () => {
      if (!updated.includes(heldUri)) return undefined;
      const read = await stdio.client.readResource({ uri: heldUri });
      const content = read.contents[0];
      return content && 'text' in content && content.text.includes('"phase": "Succeeded"') ? true : undefined;
    });
    // Approved, then running, then finished: more than one update.
    expect(updated.filter((u) => u === heldUri).length).toBeGreaterThanOrEqual(2);
    await stdio.client.unsubscribeResource({ uri: heldUri });
  });

  it('answer a request that does not exist with resource not found, and refuse subscriptions to other URIs', async () => {
    await expect(stdio.client.readResource({ uri: `fluxaction://${ns}/nope` })).rejects.toThrow(
      `resource not found: fluxaction://${ns}/nope`,
    );
    await expect(stdio.client.subscribeResource({ uri: 'file:///etc/hosts' })).rejects.toThrow(
      'only FluxActionRequests can be subscribed to',
    );
  });
});

describe('a subscription', () => {
  /** Whether the server logged that the subscription to uri ended for this reason. */
  const ended = (http: HttpMcp, uri: string, reason: string): true | undefined =>
    http
      .log()
      .split('\n')
      .some(
        (line) => line.includes('"msg":"subscription ended"') && line.includes(`"uri":"${uri}"`) && line.includes(`"reason":"${reason}"`),
      )
      ? true
      : undefined;

  it('ends when its session closes, and when its lifetime ran out, the request still waiting', async () => {
    const http = await startHttpMcp(['--subscription-timeout', '3s']);
    try {
      const first = await http.connect();
      const out = await first.client.callTool({
        name: 'reconcile_flux_resource',
        arguments: { kind: 'HelmRelease', name: 'waits', namespace: ns, wait_timeout: '20s' },
      });
      const uri = String((out.structuredContent as Record<string, unknown>)['resource']);
      expect(out.structuredContent).toMatchObject({ awaitingApproval: true });
      await first.client.subscribeResource({ uri });
      await (first.client.transport as StreamableHTTPClientTransport).terminateSession();
      await first.close();
      await waitFor("the closed session's subscription to end", () => ended(http, uri, 'the session closed'));
      expect(ended(http, uri, 'its lifetime (--subscription-timeout) ran out')).toBeUndefined();
      const second = await http.connect();
      try {
        await second.client.subscribeResource({ uri });
        await waitFor('the subscription to end after 3s', () => ended(http, uri, 'its lifetime (--subscription-timeout) ran out'), 20_000);
      } finally {
        await second.close();
      }
    } finally {
      await http.stop();
    }
  });
});
