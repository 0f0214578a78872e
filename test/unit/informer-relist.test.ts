// An informer's list-and-watch loop against a local server that plays the API server: a watch whose
// resourceVersion expired (an ERROR event with 410 Gone, then the end of the stream) re-lists, and
// the difference to the cache is delivered: the object gone is deleted, the changed one updated, the
// new one added; the unchanged resourceVersion of a re-listed object delivers nothing.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { ClusterAccess } from '../../src/kube/access.js';
import { kubeClient } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/kube/object.js';
import { pageParams, startInformer, type InformerHandle } from '../../src/operator/informers.js';
import { realClock } from '../../src/runtime/clock.js';
import { waitFor } from '../support/kube.js';

const path = '/apis/g/v1/namespaces/n/things';
const thing = (name: string, resourceVersion: string): KubeObject => ({ metadata: { name, namespace: 'n', resourceVersion } });
const lists = [
  { metadata: { resourceVersion: '10' }, items: [thing('a', '1'), thing('b', '2'), thing('c', '3')] },
  { metadata: { resourceVersion: '12' }, items: [thing('b', '2'), thing('c', '11'), thing('d', '12')] },
];
const watches: string[] = [];
let listed = 0;
let server: Server;
let access: ClusterAccess;
let informer: InformerHandle<KubeObject> | undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (url.searchParams.get('watch') === 'true') {
      watches.push(url.searchParams.get('resourceVersion') ?? '');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      // The first watch: its resourceVersion is too old. Later ones stay open, quiet.
      if (watches.length === 1) res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } })}\n`);
      return;
    }
    res.end(JSON.stringify(lists[Math.min(listed++, lists.length - 1)]));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  access = {
    getCurrentCluster: () => ({ name: 'local', server: url }),
    applyToHTTPSOptions: () => Promise.resolve(),
  };
});

afterAll(async () => {
  await informer?.stop();
  kubeClient(access).close();
  server.closeAllConnections();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
});

describe("an informer whose watch's resourceVersion expired", () => {
  it('lists again and delivers the difference: deletes, updates and adds, nothing for what did not change', async () => {
    const changes: string[] = [];
    informer = startInformer<KubeObject>({
      kc: access,
      path,
      list: (page) => kubeClient(access).list(path, pageParams(page)),
      onChange: (obj, event) => changes.push(`${event} ${obj.metadata?.name ?? ''}@${obj.metadata?.resourceVersion ?? ''}`),
      log: pino({ level: 'silent' }),
      clock: realClock,
    });
    await waitFor('the second watch', () => (watches.length >= 2 ? true : undefined), 10_000, 10);
    expect(watches).toEqual(['10', '12']);
    expect(changes).toEqual(['add a@1', 'add b@2', 'add c@3', 'delete a@1', 'update c@11', 'add d@12']);
    expect(
      informer
        .list()
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(['b', 'c', 'd']);
  });
});
