// The one type for a Kubernetes object as this code base reads it off the wire: client-node's
// envelope (apiVersion, kind, metadata), every other field (spec, status, data…) passed through
// as unknown, to be read through a schema or a reader (src/flux/objects.ts for Flux objects).
import type * as k8s from '@kubernetes/client-node';

/**
 * A Kubernetes object as the API server sent it. The reads here are plain JSON (informers, raw GETs),
 * so timestamps in metadata arrive as RFC 3339 strings although client-node types them as Date.
 */
export interface KubeObject extends k8s.KubernetesObject {
  [field: string]: unknown;
}

/** Whether a value read off the wire is a JSON object: not null, not an array. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
