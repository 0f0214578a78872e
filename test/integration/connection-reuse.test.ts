// API calls share keep-alive connections instead of a TLS handshake each (client-node builds a new
// agent per call unless told otherwise).
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { loadKubeConfig } from '../../src/runtime/kubeconfig.js';
import { connectionsOpenedBy, testKubeconfigPath } from '../support/kube.js';

/** How many new connections `calls` sequential API calls open. */
function connectionsFor(kc: k8s.KubeConfig, calls: number): Promise<number> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return connectionsOpenedBy(async () => {
    for (let i = 0; i < calls; i++) await core.listNamespace({ limit: 1 });
  });
}

describe('connection reuse', () => {
  it('makes 20 API calls over one or two connections', async () => {
    const kc = loadKubeConfig({ kubeconfig: testKubeconfigPath() });
    expect(await connectionsFor(kc, 20)).toBeLessThanOrEqual(2);
  });

  it('is needed: client-node alone opens a connection per call', async () => {
    const plain = new k8s.KubeConfig();
    plain.loadFromFile(testKubeconfigPath());
    expect(await connectionsFor(plain, 20)).toBeGreaterThanOrEqual(20);
  });
});
