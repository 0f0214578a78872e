// Identity over HTTP, with the SDK's real client and ServiceAccount tokens standing in for people:
// --auth passthrough creates requests as the caller (RBAC, admission and requested-by see them),
// the OAuth protected-resource metadata (RFC 9728) and the 401 pointing to it, and the audit log
// naming who called.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Group, Plural, RequestedByAnnotation, Version, type FluxActionRequest } from '../../../src/api/types.js';
import { SimAnnotation } from '../../simulator/flux-simulator.js';
import {
  createFluxObject,
  getRequest,
  serviceAccountToken,
  startOperatorEnvironment,
  type OperatorEnvironment,
} from '../../support/harness.js';
import { waitFor } from '../../support/kube.js';
import { startHttpMcp, textOf, type HttpMcp, type McpConnection } from '../../support/mcp.js';

let env: OperatorEnvironment;
let kc: k8s.KubeConfig;
let ns: string;
let http: HttpMcp;
let alice: McpConnection;
let mallory: McpConnection;
let aliceToken: string;
let malloryToken: string;
const auditLog = path.join(mkdtempSync(path.join(tmpdir(), 'fluxact-audit-')), 'calls.jsonl');
const authorizationServer = 'https://login.example.com/realms/platform';

beforeAll(async () => {
  env = await startOperatorEnvironment('mcp-identity');
  ({ kc, ns } = env);
  await createFluxObject(kc, 'Kustomization', ns, 'app', { annotations: { [SimAnnotation.revision]: 'main@sha1:cafe' } });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  // alice may file requests in the namespace; mallory may not.
  for (const name of ['alice', 'mallory']) await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name } } });
  // fluxact-requester: create requests, and the verbs on the targets that admission checks.
  await kc.makeApiClient(k8s.RbacAuthorizationV1Api).createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata: { name: 'alice-requester' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'fluxact-requester' },
      subjects: [{ kind: 'ServiceAccount', name: 'alice', namespace: ns }],
    },
  });
  aliceToken = await serviceAccountToken(kc, ns, 'alice');
  malloryToken = await serviceAccountToken(kc, ns, 'mallory');
  http = await startHttpMcp(['--auth', 'passthrough', '--authorization-server', authorizationServer, '--audit-log', auditLog]);
  alice = await http.connect(aliceToken);
  mallory = await http.connect(malloryToken);
});

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed */
  await alice?.close();
  await mallory?.close();
  await http?.stop();
  await env?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
});

const aliceName = (): string => `system:serviceaccount:${ns}:alice`;
const malloryName = (): string => `system:serviceaccount:${ns}:mallory`;
const metadataUrl = (): string => new URL('/.well-known/oauth-protected-resource/mcp', http.url).href;

async function requestsInNamespace(): Promise<FluxActionRequest[]> {
  const list = (await kc
    .makeApiClient(k8s.CustomObjectsApi)
    .listNamespacedCustomObject({ group: Group, version: Version, plural: Plural, namespace: ns })) as {
    items: FluxActionRequest[];
  };
  return list.items;
}

describe('OAuth protected-resource metadata (RFC 9728)', () => {
  it('names the /mcp resource and the configured authorization server, at the path-suffixed and the root well-known URL', async () => {
    for (const url of [metadataUrl(), new URL('/.well-known/oauth-protected-resource', http.url).href]) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        resource: http.url,
        authorization_servers: [authorizationServer],
        bearer_methods_supported: ['header'],
        resource_name: 'flux-action-operator MCP server',
      });
    }
  });

  it('is pointed to by the 401 without a token, and by the 401 with a token the API server refuses', async () => {
    const post = (headers: Record<string, string>) =>
      fetch(http.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });
    const none = await post({});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${metadataUrl()}"`);
    const wrong = await post({ authorization: 'Bearer not-a-kubernetes-token' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe(
      `Bearer error="invalid_token", error_description="the Kubernetes API server did not accept the bearer token", resource_metadata="${metadataUrl()}"`,
    );
  });
});

describe('--auth passthrough', () => {
  it("creates the request as the caller: requested-by is the caller's identity, checked by admission", async () => {
    const result = await alice.client.callTool({ name: 'reconcile_flux_kustomization', arguments: { name: 'app', namespace: ns } });
    expect(result.isError ? textOf(result) : '').toBe('');
    const structured = result.structuredContent as Record<string, unknown>;
    expect(structured).toMatchObject({ phase: 'Succeeded', requestedBy: aliceName() });
    const request = await getRequest(kc, ns, String(structured['request']).split('/')[1] ?? '');
    expect(request.metadata.annotations?.[RequestedByAnnotation]).toBe(aliceName());
    expect(request.status?.requestedBy).toBe(aliceName());
  });

  it('refuses a caller whom RBAC does not allow with a tool error naming them, and creates nothing', async () => {
    const before = (await requestsInNamespace()).length;
    const result = await mallory.client.callTool({ name: 'reconcile_flux_kustomization', arguments: { name: 'app', namespace: ns } });
    expect(result.isError).toBe(true);
    const text = textOf(result);
    expect(text).toMatch(/^forbidden: .*cannot create resource "fluxactionrequests"/);
    expect(text).toContain(
      `You (${malloryName()}) lack this permission: the server acts with your own token, so the cluster's RBAC and admission policies apply to you.`,
    );
    expect((await requestsInNamespace()).length).toBe(before);
    expect((await requestsInNamespace()).every((r) => r.metadata.annotations?.[RequestedByAnnotation] !== malloryName())).toBe(true);
  });

  it('keeps a session to the token that opened it', async () => {
    const sessionId = (alice.client.transport as StreamableHTTPClientTransport | undefined)?.sessionId ?? '';
    expect(sessionId).not.toBe('');
    const res = await fetch(http.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${malloryToken}`,
        'mcp-session-id': sessionId,
        'mcp-protocol-version': '2025-06-18',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' }),
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('this session was opened with another bearer token; initialize a new session');
  });

  it("logs every call as one JSON line with the caller's identity and session", async () => {
    const lines = await waitFor('both calls in the audit log', () => {
      const text = readFileSync(auditLog, 'utf8');
      const parsed = text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      return parsed.length >= 2 ? parsed : undefined;
    });
    const aliceSession = (alice.client.transport as StreamableHTTPClientTransport | undefined)?.sessionId;
    const mallorySession = (mallory.client.transport as StreamableHTTPClientTransport | undefined)?.sessionId;
    expect(lines[0]).toMatchObject({
      tool: 'reconcile_flux_kustomization',
      arguments: { name: 'app', namespace: ns },
      outcome: 'ok',
      identity: aliceName(),
      session: aliceSession,
      client: 'fluxact-tests/1.0.0',
    });
    expect(lines[1]).toMatchObject({
      tool: 'reconcile_flux_kustomization',
      outcome: 'error',
      identity: malloryName(),
      session: mallorySession,
    });
    for (const line of lines) {
      expect(line['resultBytes']).toEqual(expect.any(Number));
      expect(line['resultBytes'] as number).toBeGreaterThan(50);
      expect(line['durationMs']).toEqual(expect.any(Number));
      expect(Date.parse(String(line['time']))).not.toBeNaN();
    }
  });
});
