// @kubernetes/client-node's KubeConfig for the MCP server and the CLI: loaded from the kubeconfig
// the operator's own loader finds and checks (so the messages are the same), with every auth
// feature of client-node, and with connection reuse. Its KubeConfig builds a new https.Agent for
// every API call (kubernetes-client/javascript 1.x), so every call pays a new TCP connection and
// TLS handshake — on both ends. One keep-alive agent per cluster and client identity fixes that.
import http from 'node:http';
import https from 'node:https';
import * as k8s from '@kubernetes/client-node';
import { tlsFingerprint } from '../kube/client.js';
import { firstByName, firstLine, readKubeconfig } from '../kube/kubeconfig.js';
import { ConfigError } from './config.js';

type AgentFactory = (cluster: k8s.Cluster | null, options: https.AgentOptions) => http.Agent;

/**
 * Makes a KubeConfig reuse one keep-alive agent per cluster and client certificate instead of a new
 * agent per call. Proxied clusters keep client-node's own agents. Returns the same KubeConfig.
 */
export function reuseConnections<T extends k8s.KubeConfig>(kc: T): T {
  const target = kc as unknown as { createAgent: AgentFactory };
  const original = target.createAgent.bind(kc);
  const agents = new Map<string, http.Agent>();
  target.createAgent = (cluster, options) => {
    if (cluster?.proxyUrl) return original(cluster, options);
    const key = tlsFingerprint(options, cluster?.server ?? '', cluster?.proxyUrl ?? '');
    let agent = agents.get(key);
    if (!agent) {
      // No socket limit: node-fetch 2 (under client-node) misreads a chunked response as a premature
      // close when a request queued for a busy keep-alive socket (node-fetch/node-fetch#1767).
      const shared = { ...options, keepAlive: true };
      agent = cluster?.server.startsWith('http:') ? new http.Agent(shared) : new https.Agent(shared);
      agents.set(key, agent);
    }
    return agent;
  };
  return kc;
}

/**
 * Loads the kubeconfig to use, as src/kube/kubeconfig.ts finds and checks it (--kubeconfig, else
 * $KUBECONFIG, ~/.kube/config, the in-cluster ServiceAccount), into a client-node KubeConfig that
 * reuses connections. Several files merge as in kubectl: the first file that defines a name wins.
 * Throws a ConfigError saying in one line what is wrong.
 */
export function loadKubeConfig(config: { kubeconfig?: string | undefined }): k8s.KubeConfig {
  const loaded = readKubeconfig(config);
  const kc = reuseConnections(new k8s.KubeConfig());
  try {
    if (loaded.serviceAccountDir !== undefined) {
      kc.loadFromCluster();
      return kc;
    }
    const parts = loaded.files.map((file) => {
      const part = new k8s.KubeConfig();
      part.loadFromFile(file);
      return part;
    });
    kc.loadFromOptions({
      clusters: [...firstByName(parts.flatMap((part) => part.getClusters())).values()],
      users: [...firstByName(parts.flatMap((part) => part.getUsers())).values()],
      contexts: [...firstByName(parts.flatMap((part) => part.getContexts())).values()],
      currentContext: loaded.currentContext,
    });
  } catch (err) {
    // What client-node reads beyond the checks (a user's token-file, say) can still fail.
    throw new ConfigError(`${loaded.source}: ${firstLine(err)}`);
  }
  return kc;
}
