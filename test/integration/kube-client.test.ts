// The operator's API client (src/kube/client.ts) against the real API server, as the operator's
// ServiceAccount, partly through the fault proxy: deadlines on a fake clock (a held call abandoned at
// its deadline, an answered or refused call leaving no timer behind), the API server's refusals as
// ApiError with its status and message, the field manager its User-Agent names, calls sharing
// keep-alive connections, and watches: events in order from a resourceVersion, a refused watch, a
// cut one.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { Group, Plural, Version } from '../../src/api/types.js';
import { ApiError, customObjectPath, KubeClient, setUserAgent, userAgentOf } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/kube/object.js';
import { statusCode } from '../../src/kube/errors.js';
import { FaultProxy, Hold } from '../support/fault-proxy.js';
import { OperatorNamespace, OperatorServiceAccount, ensureInstalled, serviceAccountToken } from '../support/harness.js';
import { adminKubeConfig, connectionsOpenedBy, createNamespace, deleteNamespace, tokenKubeConfig, waitFor } from '../support/kube.js';
import { FakeClock } from '../unit/runtime/fake-clock.js';

const OperatorUser = `system:serviceaccount:${OperatorNamespace}:${OperatorServiceAccount}`;

let admin: k8s.KubeConfig;
let proxy: FaultProxy;
/** The operator's identity, through the proxy. */
let proxied: KubeClient;
/** The operator's identity, straight to the API server. */
let direct: KubeClient;
/** The admin, straight to the API server. */
let adminClient: KubeClient;
let ns: string;

const configMaps = (namespace: string, name?: string): string => `/api/v1/namespaces/${namespace}/configmaps${name ? `/${name}` : ''}`;

beforeAll(async () => {
  admin = adminKubeConfig();
  await ensureInstalled();
  ns = await createNamespace(admin, 'kube-client');
  proxy = new FaultProxy({ admin, fail: ({ path }) => (path.includes('/namespaces/held') ? Hold : false) });
  const server = await proxy.start();
  const token = await serviceAccountToken(admin, OperatorNamespace, OperatorServiceAccount);
  proxied = new KubeClient(tokenKubeConfig(admin, token, OperatorUser, server));
  direct = new KubeClient(tokenKubeConfig(admin, token, OperatorUser));
  adminClient = new KubeClient(admin);
});

afterAll(async () => {
  for (const client of [proxied, direct, adminClient] as (KubeClient | undefined)[]) client?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed
  await proxy?.stop();

  if (ns) await deleteNamespace(admin, ns);
});

describe('calls', () => {
  it('are abandoned when they get no answer by their deadline', async () => {
    const clock = new FakeClock();
    const call = proxied.get('/api/v1/namespaces/held', { timeoutMs: 30_000, clock });
    await waitFor('the call to be held', () => (proxy.holding > 0 ? true : undefined));
    clock.advance(29_999);
    expect(proxy.holding).toBe(1);
    clock.advance(1);
    await expect(call).rejects.toMatchObject({ name: 'TimeoutError' });
    // The connection is closed, not left open at the proxy.
    await waitFor('the held call to be closed', () => (proxy.holding === 0 ? true : undefined));
  });

  it('clear their deadline once the answer is read, a refusal too', async () => {
    const clock = new FakeClock();
    const answered = await proxied.list('/api/v1/namespaces', { limit: 1 }, { clock });
    expect(answered.items).toHaveLength(1);
    expect(answered.metadata?.continue).toBeTruthy();
    await expect(proxied.get('/api/v1/namespaces/default/secrets', { clock })).rejects.toThrow(/forbidden/);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('stop when their signal aborts, with its reason', async () => {
    const stop = new AbortController();
    const call = proxied.get('/api/v1/namespaces/held', { signal: stop.signal });
    await waitFor('the call to be held', () => (proxy.holding > 0 ? true : undefined));
    stop.abort(new Error('the worker stopped'));
    await expect(call).rejects.toThrow('the worker stopped');
    await waitFor('the held call to be closed', () => (proxy.holding === 0 ? true : undefined));
  });

  it("reject a refusal with the API server's status and message", async () => {
    const refused = await direct.get('/api/v1/namespaces/default/secrets').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ApiError);
    expect(statusCode(refused)).toBe(403);
    expect((refused as ApiError).message).toMatch(
      new RegExp(`^HTTP 403: secrets is forbidden: User "${OperatorUser}" cannot list resource "secrets"`),
    );
    const missing = await adminClient.get(configMaps(ns, 'none')).catch((err: unknown) => err);
    expect(statusCode(missing)).toBe(404);
    expect((missing as ApiError).body).toMatchObject({ kind: 'Status', reason: 'NotFound' });
  });

  it('create, merge-patch, replace and delete, each answered with the object as stored', async () => {
    const created = await adminClient.create(configMaps(ns), { metadata: { name: 'c' }, data: { a: '1', b: '2' } });
    expect(created.metadata?.uid).toBeTruthy();
    const patched = await adminClient.mergePatch<{ data: Record<string, string> }>(configMaps(ns, 'c'), { data: { a: null, c: '3' } });
    expect(patched.data).toEqual({ b: '2', c: '3' });
    const stale = await adminClient.replace(configMaps(ns, 'c'), { ...created, data: {} }).catch((err: unknown) => err);
    expect(statusCode(stale)).toBe(409);
    await expect(adminClient.delete(configMaps(ns, 'c'), { preconditions: { uid: 'not-its-uid' } })).rejects.toMatchObject({ code: 409 });
    await adminClient.delete(configMaps(ns, 'c'), { preconditions: { uid: created.metadata?.uid } });
    await expect(adminClient.get(configMaps(ns, 'c'))).rejects.toMatchObject({ code: 404 });
  });

  it("name the field manager of their writes after the process's User-Agent: the operator's unless a command names itself", async () => {
    const managers = (object: KubeObject): string[] => (object.metadata?.managedFields ?? []).map((m) => `${m.manager} ${m.operation}`);
    const operators = await adminClient.create(configMaps(ns), { metadata: { name: 'managed-by-operator' }, data: { a: '1' } });
    expect(managers(operators)).toEqual(['flux-action-operator Update']);
    const before = setUserAgent(userAgentOf('fluxact', '1.2.3'));
    try {
      const cli = await adminClient.mergePatch(configMaps(ns, 'managed-by-operator'), { data: { b: '2' } });
      expect(managers(cli)).toEqual(['flux-action-operator Update', 'fluxact Update']);
    } finally {
      setUserAgent(before);
    }
  });

  it('share keep-alive connections: 20 calls in a row over one or two', async () => {
    const client = new KubeClient(admin);
    const opened = await connectionsOpenedBy(async () => {
      for (let i = 0; i < 20; i++) await client.list('/api/v1/namespaces', { limit: 1 });
    });
    client.close();
    expect(opened).toBeGreaterThanOrEqual(1);
    expect(opened).toBeLessThanOrEqual(2);
  });
});

describe('watches', () => {
  it('deliver every change after the resourceVersion, in order', async () => {
    const list = await adminClient.list(configMaps(ns));
    const seen: string[] = [];
    const ended: unknown[] = [];
    let opened = false;
    const watch = await adminClient.watch(
      configMaps(ns),
      { resourceVersion: list.metadata?.resourceVersion },
      (type, object) => {
        const o = object as { metadata?: { name?: string }; data?: Record<string, string> };
        if (type !== 'BOOKMARK') seen.push(`${type} ${o.metadata?.name ?? ''} ${JSON.stringify(o.data ?? {})}`);
      },
      (err) => ended.push(err),
      () => (opened = true),
    );
    await waitFor('the watch to open', () => (opened ? true : undefined));
    await adminClient.create(configMaps(ns), { metadata: { name: 'w' }, data: { v: '1' } });
    await adminClient.mergePatch(configMaps(ns, 'w'), { data: { v: '2' } });
    await adminClient.delete(configMaps(ns, 'w'));
    await waitFor('three events', () => (seen.length >= 3 ? true : undefined));
    watch.abort();
    expect(seen).toEqual(['ADDED w {"v":"1"}', 'MODIFIED w {"v":"2"}', 'DELETED w {"v":"2"}']);
    // Aborted by its owner: no done call.
    expect(ended).toEqual([]);
  });

  it('end with an ApiError when refused', async () => {
    const ended = await new Promise<unknown>((resolve) => {
      void direct.watch('/api/v1/namespaces/default/secrets', {}, () => undefined, resolve);
    });
    expect(statusCode(ended)).toBe(403);
  });

  it('end with an error when the connection is cut', async () => {
    let opened = false;
    const ended = new Promise<unknown>((resolve) => {
      void proxied.watch(
        customObjectPath({ group: Group, version: Version, plural: Plural, namespace: ns }),
        {},
        () => undefined,
        resolve,
        () => (opened = true),
      );
    });
    await waitFor('the watch to open', () => (opened ? true : undefined));
    expect(proxy.cut(/fluxactionrequests/)).toBe(1);
    expect(String(await ended)).toMatch(/cut|aborted|socket hang up/);
  });

  it('are refused before anything is sent when the kubeconfig names no cluster', async () => {
    const nowhere = adminKubeConfig();
    nowhere.setCurrentContext('nowhere');
    const ended: unknown[] = [];
    await expect(
      new KubeClient(nowhere).watch(
        '/api/v1/namespaces',
        {},
        () => undefined,
        (err) => ended.push(err),
      ),
    ).rejects.toThrow('the kubeconfig names no current cluster');
    expect(ended).toEqual([]);
  });
});
