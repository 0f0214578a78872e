// The Flux CRDs installed in the cluster: which kinds, which versions, and their OpenAPI schemas.
// get_flux_instance reports them; search_flux_docs indexes their schemas.
import { z } from 'zod';
import type { KubeReader } from './kube-reader.js';

export const CrdPath = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';

/** Flux's API groups: the toolkit's (*.toolkit.fluxcd.io), its extensions (*.fluxcd.io) and the Flux Operator's. */
export function isFluxGroup(group: string): boolean {
  return group.endsWith('.fluxcd.io') || group === 'fluxcd.controlplane.io';
}

const CrdSchema = z.object({
  metadata: z.object({
    name: z.string(),
    resourceVersion: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
  }),
  spec: z.object({
    group: z.string(),
    scope: z.string(),
    names: z.object({ kind: z.string(), plural: z.string() }),
    versions: z.array(
      z.object({
        name: z.string(),
        served: z.boolean(),
        storage: z.boolean(),
        deprecated: z.boolean().optional(),
        schema: z.object({ openAPIV3Schema: z.unknown() }).optional(),
      }),
    ),
  }),
});

export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  deprecated: boolean;
  /** The version's openAPIV3Schema, as read (walked defensively). */
  schema: unknown;
}

export interface FluxCrd {
  name: string;
  group: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  resourceVersion: string;
  labels: Record<string, string>;
  versions: CrdVersion[];
}

/** A CRD as the adapter uses it, or undefined if it is not one (or not shaped like one). */
export function parseCrd(obj: unknown): FluxCrd | undefined {
  const parsed = CrdSchema.safeParse(obj);
  if (!parsed.success) return undefined;
  const { metadata, spec } = parsed.data;
  return {
    name: metadata.name,
    group: spec.group,
    kind: spec.names.kind,
    plural: spec.names.plural,
    namespaced: spec.scope === 'Namespaced',
    resourceVersion: metadata.resourceVersion ?? '',
    labels: metadata.labels ?? {},
    versions: spec.versions.map((v) => ({
      name: v.name,
      served: v.served,
      storage: v.storage,
      deprecated: v.deprecated ?? false,
      schema: v.schema?.openAPIV3Schema,
    })),
  };
}

/** The version to read objects with: the storage version if served, else the first served one. */
export function preferredVersion(crd: FluxCrd): string | undefined {
  return (crd.versions.find((v) => v.storage && v.served) ?? crd.versions.find((v) => v.served))?.name;
}

/** The Flux CRDs installed, sorted by group and kind. */
export async function listFluxCrds(reader: KubeReader): Promise<FluxCrd[]> {
  const list = await reader.list(CrdPath);
  return list.items
    .map(parseCrd)
    .filter((crd): crd is FluxCrd => crd !== undefined && isFluxGroup(crd.group))
    .sort((a, b) => a.group.localeCompare(b.group) || a.kind.localeCompare(b.kind));
}

/**
 * A fingerprint of the Flux CRDs (name and resourceVersion of each), read as metadata only so the
 * check is cheap: it changes whenever a Flux CRD is installed, updated or removed.
 */
export async function fluxCrdFingerprint(reader: KubeReader): Promise<string> {
  const list = (await reader.get(CrdPath, {}, 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1')) as {
    items?: { metadata?: { name?: string; resourceVersion?: string } }[];
  };
  return (list.items ?? [])
    .flatMap(({ metadata: m }) =>
      m?.name && isFluxGroup(m.name.slice(m.name.indexOf('.') + 1)) ? [`${m.name}@${m.resourceVersion ?? ''}`] : [],
    )
    .sort()
    .join(',');
}
