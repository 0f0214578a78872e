// Connection reuse for @kubernetes/client-node. Its KubeConfig builds a new https.Agent for every
// API call (kubernetes-client/javascript 1.x), so every call pays a new TCP connection and TLS
// handshake — on both ends. One keep-alive agent per cluster and client identity fixes that.
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type * as k8s from '@kubernetes/client-node';

type AgentFactory = (cluster: k8s.Cluster | null, options: https.AgentOptions) => http.Agent;

function fingerprint(cluster: k8s.Cluster | null, options: https.AgentOptions): string {
  const hash = createHash('sha256');
  hash.update(cluster?.server ?? '');
  hash.update(cluster?.proxyUrl ?? '');
  for (const value of [
    options.ca,
    options.cert,
    options.key,
    options.pfx,
    options.passphrase,
    options.servername,
    options.rejectUnauthorized,
  ]) {
    hash.update('\0');
    if (value !== undefined) hash.update(typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value));
  }
  return hash.digest('hex');
}

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
    const key = fingerprint(cluster, options);
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
