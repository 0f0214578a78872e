// Integration tests need a real API server: fail at once, with the fix, when none answers.
// (Jest loads this file outside its module mapping, so it imports packages only.)
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';

export default async function globalSetup(): Promise<void> {
  const local = path.join(process.env.FLUXACT_CLUSTER_DIR ?? path.resolve('.cache', 'cluster'), 'kubeconfig');
  const file = process.env.KUBECONFIG ?? local;
  if (!existsSync(file))
    throw new Error(`no kubeconfig at ${file}: start the local control plane with 'make cluster-up' or set KUBECONFIG`);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(file);
  try {
    await kc.makeApiClient(k8s.VersionApi).getCode();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`the API server at ${kc.getCurrentCluster()?.server} does not answer (${message}); start it with 'make cluster-up'`, {
      cause: err,
    });
  }
}
