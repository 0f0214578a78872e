// A FluxActionRequest committed to Git and applied by Flux itself: the operator carries it out
// once, and Flux applying it again (a later reconcile of the same Kustomization) changes nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { ApiVersion, Kind } from '../../src/api/types.js';
import {
  act,
  apply,
  clusterSources,
  configMapData,
  type E2eEnvironment,
  fluxObject,
  readRequest,
  startE2eEnvironment,
  waitForFlux,
} from '../support/e2e.js';
import { getFluxObject, requestEvents } from '../support/harness.js';
import type { GitRepo } from '../support/sources.js';

const configMap = (name: string, value: string): string =>
  stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { value } });

const committedRequest = stringify({
  apiVersion: ApiVersion,
  kind: Kind,
  metadata: { name: 'reconcile-app-from-git' },
  spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } },
});

describe('A request committed to Git', () => {
  let env: E2eEnvironment;
  let repo: GitRepo;

  beforeAll(async () => {
    env = await startE2eEnvironment('e2e-git-request');
    repo = clusterSources().gitRepo(env.ns);
    await repo.commit(
      { 'app/greeting.yaml': configMap('greeting', 'one'), 'requests/marker.yaml': configMap('marker', '1') },
      'app and an empty requests folder',
    );
    await apply(env.kc, fluxObject('GitRepository', env.ns, 'repo', { interval: '1h', url: repo.url, ref: { branch: repo.branch } }));
    const kustomization = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
      fluxObject('Kustomization', env.ns, name, {
        interval: '1h',
        path: `./${name}`,
        prune: true,
        targetNamespace: env.ns,
        sourceRef: { kind: 'GitRepository', name: 'repo' },
        ...extra,
      });
    await apply(env.kc, kustomization('app'));
    // wait: true makes kustomize-controller health-check what it applies, the request included.
    await apply(env.kc, kustomization('requests', { wait: true, timeout: '2m' }));
    await waitForFlux(env.kc, 'Kustomization', env.ns, 'app');
    await waitForFlux(env.kc, 'Kustomization', env.ns, 'requests');
  });

  afterAll(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
    await env?.stop();
  });

  it('is applied by Flux, carried out once, and Flux waits for its outcome', async () => {
    const sha = await repo.commit(
      { 'app/greeting.yaml': configMap('greeting', 'two'), 'requests/reconcile-app.yaml': committedRequest },
      'ask for a reconcile of app',
    );
    // Reconciling the requests Kustomization (with its source) applies the committed request;
    // with wait: true it is Ready only once the request is.
    const applied = await act(
      env,
      'kubectl',
      { action: 'Reconcile', target: { kind: 'Kustomization', name: 'requests' }, withSource: true },
      { expect: 'Succeeded' },
    );
    expect(applied.revision).toBe(`${repo.branch}@sha1:${sha}`);

    const request = await readRequest(env.kc, `${env.ns}/reconcile-app-from-git`);
    expect(request.status?.phase).toBe('Succeeded');
    expect(request.metadata.labels?.['kustomize.toolkit.fluxcd.io/name']).toBe('requests');
    const app = await getFluxObject(env.kc, 'Kustomization', env.ns, 'app');
    expect(app.metadata.annotations?.['reconcile.fluxcd.io/requestedAt']).toBe(request.status?.token);
    expect(app.status?.lastHandledReconcileAt).toBe(request.status?.token);
    // The source was fetched by the first reconcile, so app applied the new commit.
    expect(app.status?.['lastAppliedRevision']).toBe(`${repo.branch}@sha1:${sha}`);
    expect(await configMapData(env.kc, env.ns, 'greeting')).toEqual({ value: 'two' });
  });

  it('does nothing more when Flux applies it again', async () => {
    const before = await readRequest(env.kc, `${env.ns}/reconcile-app-from-git`);
    const appBefore = await getFluxObject(env.kc, 'Kustomization', env.ns, 'app');
    const sha = await repo.commit({ 'requests/marker.yaml': configMap('marker', '2') }, 'touch the requests folder');
    const reapplied = await act(
      env,
      'kubectl',
      { action: 'Reconcile', target: { kind: 'Kustomization', name: 'requests' }, withSource: true },
      { expect: 'Succeeded' },
    );
    expect(reapplied.revision).toBe(`${repo.branch}@sha1:${sha}`);
    expect(await configMapData(env.kc, env.ns, 'marker')).toEqual({ value: '2' });

    const after = await readRequest(env.kc, `${env.ns}/reconcile-app-from-git`);
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(after.status).toEqual(before.status);
    const app = await getFluxObject(env.kc, 'Kustomization', env.ns, 'app');
    expect(app.metadata.annotations?.['reconcile.fluxcd.io/requestedAt']).toBe(
      appBefore.metadata.annotations?.['reconcile.fluxcd.io/requestedAt'],
    );
    expect(app.status?.lastHandledReconcileAt).toBe(appBefore.status?.lastHandledReconcileAt);
    const requested = (await requestEvents(env.kc, env.ns, 'reconcile-app-from-git')).filter((e) => e.reason === 'Requested');
    expect(requested).toHaveLength(1);
  });
});
