// API calls share keep-alive connections instead of a TLS handshake each (client-node builds a new
// agent per call unless told otherwise).
import https from 'node:https';
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { loadKubeConfig } from '../../src/runtime/kubeconfig.js';
import { testKubeconfigPath } from '../support/kube.js';

/** How many new connections `calls` sequential API calls open. */
async function connectionsFor(kc: k8s.KubeConfig, calls: number): Promise<number> {
  const proto = https.Agent.prototype as unknown as { createConnection: (...args: unknown[]) => unknown };
  const original = proto.createConnection;
  let opened = 0;
  proto.createConnection = function (this: unknown, ...args: unknown[]) {
    opened++;
    return original.apply(this, args);
  };
  try {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    for (let i = 0; i < calls; i++) await core.listNamespace({ limit: 1 });
  } finally {
    proto.createConnection = original;
  }
  return opened;
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
