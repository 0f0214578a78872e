// An informer lists its collection in pages against the real API server: every object of every
// page reaches the cache, each page is slimmed (transform) before the next is asked for, so a large
// collection is never held whole as sent, and the watch that follows starts where the list ended.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { kubeClient } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/kube/object.js';
import { customObjects, startInformer, type InformerHandle, type ListPage } from '../../src/operator/informers.js';
import { realClock } from '../../src/runtime/clock.js';
import { createFluxObject, ensureInstalled } from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, waitFor } from '../support/kube.js';

let admin: k8s.KubeConfig;
let ns: string;
let informer: InformerHandle<KubeObject> | undefined;

beforeAll(async () => {
  admin = adminKubeConfig();
  await ensureInstalled();
  ns = await createNamespace(admin, 'informer-paging');
  for (let i = 0; i < 5; i++) await createFluxObject(admin, 'GitRepository', ns, `repo-${i}`);
});

afterAll(async () => {
  await informer?.stop();
  await deleteNamespace(admin, ns);
});

describe('an informer on a collection larger than a page', () => {
  it('lists it page by page, slimming each page before asking for the next, then watches from there', async () => {
    const steps: string[] = [];
    const pages: ListPage[] = [];
    const collection = customObjects(kubeClient(admin), 'source.toolkit.fluxcd.io', 'v1', 'gitrepositories', ns);
    informer = startInformer<KubeObject>({
      kc: admin,
      ...collection,
      list: async (page) => {
        pages.push(page);
        steps.push(`page ${pages.length}`);
        return collection.list(page);
      },
      transform: (obj) => {
        steps.push(`slim ${obj.metadata?.name ?? ''}`);
        return obj;
      },
      pageSize: 2,
      onChange: () => undefined,
      log: pino({ level: 'silent' }),
      clock: realClock,
    });
    await informer.whenSynced();

    expect(pages.map((p) => p.limit)).toEqual([2, 2, 2]);
    expect(pages[0]?.continue).toBeUndefined();
    expect(pages[1]?.continue).toEqual(expect.any(String));
    expect(steps).toEqual(['page 1', 'slim repo-0', 'slim repo-1', 'page 2', 'slim repo-2', 'slim repo-3', 'page 3', 'slim repo-4']);
    expect(informer.list().map((o) => o.metadata?.name)).toEqual(['repo-0', 'repo-1', 'repo-2', 'repo-3', 'repo-4']);

    // The watch began at the list's resourceVersion: a new object arrives, and no old one again.
    await createFluxObject(admin, 'GitRepository', ns, 'repo-5');
    await waitFor('repo-5 in the cache', () => informer?.get('repo-5', ns));
    expect(steps.slice(8)).toEqual(['slim repo-5']);
  });
});
