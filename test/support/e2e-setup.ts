// The end-to-end suite needs a real API server with the Flux controllers and the local sources
// server beside it: fail at once, with the fix, when any is missing. (Jest loads this file outside
// its module mapping, so it imports packages only.)
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';

export default async function e2eSetup(): Promise<void> {
  const dir = process.env.FLUXACT_CLUSTER_DIR ?? path.resolve('.cache', 'cluster');
  const env = existsSync(path.join(dir, 'env')) ? readFileSync(path.join(dir, 'env'), 'utf8') : '';
  if (!/^FLUX=1$/m.test(env) || !/^SOURCES_URL=/m.test(env)) {
    throw new Error(`no local cluster with the Flux controllers in ${dir}: start one with 'make cluster-flux'`);
  }
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path.join(dir, 'kubeconfig'));
  try {
    await kc.makeApiClient(k8s.VersionApi).getCode();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`the API server at ${kc.getCurrentCluster()?.server} does not answer (${message}); start it with 'make cluster-flux'`, {
      cause: err,
    });
  }
}
