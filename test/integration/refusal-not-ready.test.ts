// A 403 is the API server's verdict only once it is ready to judge. Right after kube-apiserver
// starts it refuses what RBAC allows until its authorizer has loaded the bindings, and /readyz says
// it is not ready until then. The operator talks through a proxy that plays that: lists of a source
// kind refused with a plain 403 while /readyz answers 500, then everything passed through. The
// request waits it out and succeeds; a 403 while /readyz answers 200 fails the request with Forbidden.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { FailureReason } from '../../src/api/conditions.js';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import type { Fault } from '../support/fault-proxy.js';
import {
  createFluxObject,
  createRequest,
  readyReason,
  startProxiedEnvironment,
  waitForPhase,
  type ProxiedEnvironment,
} from '../support/harness.js';
import { waitFor } from '../support/kube.js';

let env: ProxiedEnvironment;
let admin: k8s.KubeConfig;
let ns: string;

/** Which lists the proxy refuses, and whether /readyz says the API server is not ready. */
let refused: RegExp | undefined;
let notReady = false;
const seen = { refusals: 0, readyz: 0 };

const forbidden = (path: string): Fault => ({
  code: 403,
  reason: 'Forbidden',
  message: `forbidden: User "system:serviceaccount:fluxact-system:fluxact-operator" cannot list resource at ${path.split('?')[0]}`,
});

beforeAll(async () => {
  env = await startProxiedEnvironment('refusal-not-ready', ({ method, path }) => {
    if (path.startsWith('/readyz')) {
      seen.readyz += 1;
      return notReady ? { code: 500, reason: 'InternalError', message: 'readyz check failed' } : false;
    }
    if (method !== 'GET' || !refused?.test(path)) return false;
    seen.refusals += 1;
    return forbidden(path);
  });
  ({ kc: admin, ns } = env);
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed
  await env?.stop();
});

describe('a 403 from the API server', () => {
  it('is waited through while /readyz says the API server is not ready, and the request then succeeds', async () => {
    refused = /\/gitrepositories(\?|$)/;
    notReady = true;
    await createFluxObject(admin, 'GitRepository', ns, 'repo', { annotations: { [SimAnnotation.revision]: 'main@sha1:feed' } });
    await createFluxObject(admin, 'Kustomization', ns, 'app', { annotations: { [SimAnnotation.revision]: 'main@sha1:feed' } });
    await createRequest(admin, ns, 'while-starting', {
      action: 'Reconcile',
      target: { kind: 'Kustomization', name: 'app' },
      withSource: true,
    });

    // The operator met the refusal and asked whether the API server was ready.
    await waitFor('the operator to be refused and to ask /readyz', () => (seen.refusals > 0 && seen.readyz > 0 ? true : undefined));
    refused = undefined;
    notReady = false;

    const done = await waitForPhase(admin, ns, 'while-starting', 'Succeeded', 60_000);
    expect(done.status?.source).toMatchObject({ kind: 'GitRepository', name: 'repo', revision: 'main@sha1:feed' });
  });

  it('fails the request with Forbidden when the API server is ready', async () => {
    refused = /\/ocirepositories(\?|$)/;
    await createFluxObject(admin, 'OCIRepository', ns, 'chart', { annotations: { [SimAnnotation.revision]: '6.5.0@sha256:abcd' } });
    await createFluxObject(admin, 'HelmRelease', ns, 'web', { spec: { chartRef: { kind: 'OCIRepository', name: 'chart' } } });
    const readyzBefore = seen.readyz;
    await createRequest(admin, ns, 'refused', { action: 'Reconcile', target: { kind: 'HelmRelease', name: 'web' }, withSource: true });
    const done = await waitForPhase(admin, ns, 'refused', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.Forbidden);
    expect(done.status?.message).toContain('the operator may not read ocirepositories.source.toolkit.fluxcd.io');
    expect(seen.readyz).toBeGreaterThan(readyzBefore);
  });
});
