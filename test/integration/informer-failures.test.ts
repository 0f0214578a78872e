// Informers against the real API server. Those that cannot sync: the backoff grows (on an injected
// clock), the operator says once a minute what permission is missing, and an informer whose watch
// cannot start is restarted instead of left dead. And the index by a second key (a request's target).
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { Group, Plural, Version } from '../../src/api/types.js';
import type { KubeObject } from '../../src/kube/object.js';
import { startInformer, type InformerHandle, type SyncFailureReason } from '../../src/operator/informers.js';
import { createRequest, ensureInstalled, serviceAccountKubeConfig } from '../support/harness.js';
import { requestTargetName } from '../../src/operator/request-cache.js';
import { adminKubeConfig, createNamespace, deleteNamespace, waitFor } from '../support/kube.js';
import { FakeClock } from '../unit/runtime/fake-clock.js';

interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

/** A debug logger whose JSON lines the test reads back. */
function capturingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
      callback();
    },
  });
  return { log: pino({ level: 'debug', formatters: { level: (label) => ({ level: label }) } }, sink), lines };
}

const resource = `${Plural}.${Group}`;

/** Lists the test namespace's requests with the client given (and its credentials). */
const listRequests = (custom: k8s.CustomObjectsApi) => async (): Promise<k8s.KubernetesListObject<KubeObject>> =>
  (await custom.listNamespacedCustomObject({
    group: Group,
    version: Version,
    namespace: ns,
    plural: Plural,
  })) as k8s.KubernetesListObject<KubeObject>;
let admin: k8s.KubeConfig;
let ns: string;
const informers: InformerHandle<KubeObject>[] = [];

beforeAll(async () => {
  admin = adminKubeConfig();
  await ensureInstalled();
  ns = await createNamespace(admin, 'informer-failures');
});

afterAll(async () => {
  await Promise.all(informers.map((i) => i.stop()));
  await deleteNamespace(admin, ns);
});

describe('an informer that may not list its resource', () => {
  it('backs off exponentially, says once a minute which permission is missing, and syncs once granted', async () => {
    const core = admin.makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'nobody' } } });
    const kc = await serviceAccountKubeConfig(admin, ns, 'nobody');
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const clock = new FakeClock();
    const start = clock.now();
    const { log, lines } = capturingLogger();
    const failing: (SyncFailureReason | undefined)[] = [];
    const informer = startInformer<KubeObject>({
      kc,
      path: `/apis/${Group}/${Version}/namespaces/${ns}/${Plural}`,
      list: listRequests(custom),
      onChange: () => undefined,
      log,
      clock,
      resource,
      namespace: ns,
      random: () => 0,
      onSyncFailing: (_resource, reason) => failing.push(reason),
    });
    informers.push(informer);
    const attempts = (): number => lines.filter((l) => l.msg === 'watch failed; restarting').length;

    // Each retry is due only when the fake clock says so; record how long the informer asks to wait.
    const delays: number[] = [];
    for (let attempt = 1; clock.now() - start < 60_000; attempt++) {
      await waitFor(`attempt ${attempt} to fail`, () => (attempts() >= attempt ? true : undefined));
      const next = clock.nextTimerIn();
      if (next === undefined) throw new Error('no restart scheduled after a failure');
      delays.push(next);
      clock.advance(next);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000]);
    await waitFor('the attempt after a minute to fail', () => (attempts() >= 8 ? true : undefined));

    // One error line at the first failure and one a minute later, naming the permission and namespace.
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(2);
    for (const line of errors) {
      expect(line.msg).toContain(
        `the operator may not list and watch ${resource} in namespace ${ns}: grant it list and watch on ${resource}`,
      );
      expect(line.msg).toContain(`system:serviceaccount:${ns}:nobody`);
      expect(line['reason']).toBe('Forbidden');
    }
    expect(failing).toEqual(['Forbidden']);
    await expect(informer.whenSynced()).rejects.toMatchObject({ code: 403 });

    // Granted list and watch, the next retry syncs and the failure is cleared.
    const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns,
      body: { metadata: { name: 'read-requests' }, rules: [{ apiGroups: [Group], resources: [Plural], verbs: ['list', 'watch'] }] },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'read-requests' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-requests' },
        subjects: [{ kind: 'ServiceAccount', name: 'nobody', namespace: ns }],
      },
    });
    await waitFor('the informer to sync once granted', async () => {
      if (failing.at(-1) === undefined) return true;
      const before = attempts();
      const next = clock.nextTimerIn();
      if (next !== undefined) clock.advance(next);
      // Let the attempt finish before the next probe.
      await waitFor('the retry to finish', () => (attempts() > before || failing.at(-1) === undefined ? true : undefined));
      return failing.at(-1) === undefined ? true : undefined;
    });
    await informer.whenSynced();
    expect(lines.some((l) => l.msg === 'informer synced again')).toBe(true);
  });
});

describe('an informer whose watch cannot start', () => {
  it('logs it and restarts it, and then delivers changes', async () => {
    const core = admin.makeApiClient(k8s.CoreV1Api);
    // Listing works, but the kubeconfig the watch reads names a context that does not exist, as a
    // credential problem (an exec plugin that fails) would: the watch cannot be made at all.
    const kc = adminKubeConfig();
    const context = kc.getCurrentContext();
    kc.setCurrentContext('nowhere');
    const clock = new FakeClock();
    const { log, lines } = capturingLogger();
    const failing: (SyncFailureReason | undefined)[] = [];
    const seen: string[] = [];
    const informer = startInformer<KubeObject>({
      kc,
      path: `/api/v1/namespaces/${ns}/configmaps`,
      list: async () => (await core.listNamespacedConfigMap({ namespace: ns })) as k8s.KubernetesListObject<KubeObject>,
      onChange: (obj, event) => seen.push(`${event} ${obj.metadata?.name ?? ''}`),
      log,
      clock,
      resource: 'configmaps',
      random: () => 0,
      onSyncFailing: (_resource, reason) => failing.push(reason),
    });
    informers.push(informer);
    await waitFor('the watch to fail to start', () =>
      lines.some((l) => l.msg === 'informer could not start its watch; restarting') ? true : undefined,
    );
    expect(lines.find((l) => l.msg === 'informer could not start its watch; restarting')?.['err']).toBe(
      'the kubeconfig names no current cluster',
    );
    expect(failing).toEqual(['Error']);
    expect(clock.nextTimerIn()).toBe(500);

    kc.setCurrentContext(context);
    clock.advance(500);
    await waitFor('the restarted informer to recover', () => (failing.at(-1) === undefined ? true : undefined));
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'after-restart' } } });
    await waitFor('the change to be delivered', () => (seen.includes('add after-restart') ? true : undefined));
  });
});

describe("an informer's index by a second key", () => {
  it('finds the requests for one target without the others, follows creates and deletes, and indexes its first list', async () => {
    const custom = admin.makeApiClient(k8s.CustomObjectsApi);
    const { log } = capturingLogger();
    /** An informer on the namespace's requests, indexed by target name, once synced. */
    const indexedInformer = async (): Promise<InformerHandle<KubeObject>> => {
      const started = startInformer<KubeObject>({
        kc: admin,
        path: `/apis/${Group}/${Version}/namespaces/${ns}/${Plural}`,
        list: listRequests(custom),
        onChange: () => undefined,
        log,
        clock: new FakeClock(),
        resource,
        namespace: ns,
        indexKey: requestTargetName,
      });
      informers.push(started);
      await started.whenSynced();
      return started;
    };
    const informer = await indexedInformer();
    const names = (objs: readonly KubeObject[]): string[] => objs.map((o) => o.metadata?.name ?? '').sort();
    const created: [string, string][] = [
      ['a-1', 'app-a'],
      ['a-2', 'app-a'],
      ['b-1', 'app-b'],
    ];
    for (const [name, target] of created)
      await createRequest(admin, ns, name, { action: 'Reconcile', target: { kind: 'Kustomization', name: target } });
    await waitFor('the three requests in the cache', () =>
      informer.indexed('app-a').length === 2 && informer.indexed('app-b').length === 1 ? true : undefined,
    );
    expect(names(informer.indexed('app-a'))).toEqual(['a-1', 'a-2']);
    expect(names(informer.indexed('app-b'))).toEqual(['b-1']);
    expect(informer.indexed('app-c')).toEqual([]);

    await custom.deleteNamespacedCustomObject({ group: Group, version: Version, namespace: ns, plural: Plural, name: 'a-1' });
    await waitFor('a-1 gone from the index', () => (names(informer.indexed('app-a')).join() === 'a-2' ? true : undefined));

    // Started again (as by a restarted operator), it indexes what its list finds.
    await informer.stop();
    await custom.deleteNamespacedCustomObject({ group: Group, version: Version, namespace: ns, plural: Plural, name: 'b-1' });
    await createRequest(admin, ns, 'b-2', { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app-b' } });
    const again = await indexedInformer();
    expect(names(again.indexed('app-a'))).toEqual(['a-2']);
    expect(names(again.indexed('app-b'))).toEqual(['b-2']);
  });
});
