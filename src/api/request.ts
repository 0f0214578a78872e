// Building FluxActionRequests, for every client of the API (the MCP adapter, tests, tools).
import { randomBytes } from 'node:crypto';
import { ApiVersion, ClientAnnotation, Kind, OriginLabel, type RequestSpec } from './types.js';

export interface RequestOrigin {
  /** Where the request came from, e.g. "mcp". */
  origin: string;
  /** The client's name and version, e.g. "claude-code/1.2.0". */
  client?: string;
}

/** A request name that says what it does: `<origin>-<action>-<kind>-<target>-<random>`, within 63 characters. */
export function requestName(origin: string, spec: Pick<RequestSpec, 'action' | 'target'>): string {
  const base = `${origin}-${spec.action}-${spec.target.kind}-${spec.target.name}`.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  return `${base.slice(0, 56).replace(/-+$/, '')}-${randomBytes(3).toString('hex')}`;
}

/** A FluxActionRequest manifest, labelled and annotated with its origin. */
export function buildRequest(
  namespace: string,
  spec: RequestSpec,
  origin: RequestOrigin,
): {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: RequestSpec;
} {
  return {
    apiVersion: ApiVersion,
    kind: Kind,
    metadata: {
      name: requestName(origin.origin, spec),
      namespace,
      labels: { [OriginLabel]: origin.origin },
      annotations: origin.client ? { [ClientAnnotation]: origin.client } : {},
    },
    spec,
  };
}
