// Identity over HTTP. With --auth passthrough the caller's bearer token is the Kubernetes
// credential: the API server authenticates it (SelfSubjectReview), and each session's calls go out
// with it, so RBAC, admission policies and a request's requested-by see the person, not the
// adapter. The OAuth 2.1 protected-resource metadata (RFC 9728) tells clients where to get a token.
import { createHash } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { RequestService, type Identity } from '../client/requests.js';
import { statusCode } from '../kube/errors.js';

/** How HTTP clients authenticate: not at all (loopback only), a shared token, or their own Kubernetes token. */
export type AuthMode = 'none' | 'token' | 'passthrough';

/** A KubeConfig for the base's cluster (server, CA) that authenticates with `token` and nothing else. */
export function callerKubeConfig(base: k8s.KubeConfig, token: string): k8s.KubeConfig {
  const cluster = base.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'mcp-caller', token }],
    contexts: [{ name: 'mcp-caller', cluster: cluster.name, user: 'mcp-caller' }],
    currentContext: 'mcp-caller',
  });
  return kc;
}

/** A token the API server did not accept (401): the client must get a new one. */
export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

/** The SHA-256 of a token: what a session and the cache keep instead of the token itself. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Who a bearer token is to the API server, asked with a SelfSubjectReview made with that token;
 * answers are kept for ttlMs (a revoked token stops working within that time), at most maxEntries.
 */
export class TokenReviewer {
  private readonly cache = new Map<string, { identity: Identity; until: number }>();

  constructor(
    private readonly base: k8s.KubeConfig,
    private readonly ttlMs = 60_000,
    private readonly maxEntries = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The token's identity; rejects with InvalidTokenError when the API server refuses the token. */
  async review(token: string): Promise<Identity> {
    const key = tokenHash(token);
    const cached = this.cache.get(key);
    if (cached && cached.until > this.now()) return cached.identity;
    let identity: Identity;
    try {
      identity = await new RequestService({ kc: callerKubeConfig(this.base, token) }).whoAmI();
    } catch (err) {
      if (statusCode(err) === 401) throw new InvalidTokenError('the Kubernetes API server did not accept the bearer token');
      throw err;
    }
    if (this.cache.size >= this.maxEntries) {
      for (const [k, v] of this.cache) if (v.until <= this.now()) this.cache.delete(k);
      if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value ?? '');
    }
    this.cache.set(key, { identity, until: this.now() + this.ttlMs });
    return identity;
  }
}

/** The well-known path of the protected-resource metadata of a resource at `resource` (RFC 9728 §3.1). */
export function metadataPath(resource: URL): string {
  const path = resource.pathname === '/' ? '' : resource.pathname.replace(/\/$/, '');
  return `/.well-known/oauth-protected-resource${path}`;
}

/** The RFC 9728 protected-resource metadata document of the MCP endpoint. */
export function protectedResourceMetadata(resource: URL, authorizationServers: readonly string[]): Record<string, unknown> {
  return {
    resource: resource.href,
    ...(authorizationServers.length ? { authorization_servers: authorizationServers } : {}),
    bearer_methods_supported: ['header'],
    resource_name: 'flux-action-operator MCP server',
  };
}

/** The WWW-Authenticate value of a 401: Bearer, where the metadata is, and the error if a token was sent. */
export function wwwAuthenticate(metadataUrl: string | undefined, error?: { code: string; description: string }): string {
  const parts = [
    ...(error ? [`error="${error.code}"`, `error_description="${error.description.replace(/"/g, "'")}"`] : []),
    ...(metadataUrl ? [`resource_metadata="${metadataUrl}"`] : []),
  ];
  return parts.length ? `Bearer ${parts.join(', ')}` : 'Bearer';
}
