// What an API client needs to reach a cluster: its server, and the TLS material and headers of the
// identity that calls it. The operator's own kubeconfig loader (src/kube/kubeconfig.ts) gives one;
// so does @kubernetes/client-node's KubeConfig, whose shape this is, so the MCP server, the CLI
// and the tests can hand theirs to the operator's client (src/kube/client.ts) as they are.
import type https from 'node:https';

/** The cluster a ClusterAccess reaches. */
export interface AccessCluster {
  readonly name: string;
  /** The API server's URL, e.g. https://10.0.0.1:443. */
  readonly server: string;
}

export interface ClusterAccess {
  /** The current context's cluster; null when there is none. */
  getCurrentCluster(): AccessCluster | null;
  /**
   * Fills opts for one call: the TLS material (ca, cert, key, rejectUnauthorized, servername) and
   * the headers of the identity (Authorization, Impersonate-User, Impersonate-Group), read afresh
   * each time, since a token file is rotated and an exec plugin's credential expires.
   */
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
}
