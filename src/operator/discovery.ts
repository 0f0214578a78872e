// API discovery for Flux kinds: which versions of a kind the cluster serves, preferred first, so
// requests work on clusters with older Flux releases.
import type { FluxKind } from '../flux/kinds.js';
import { fluxKinds } from '../flux/kinds.js';
import type { ClusterAccess } from '../kube/access.js';
import { kubeClient } from '../kube/client.js';

interface ServedKind {
  /** Served versions of the kind, the group's preferred version first. */
  versions: string[];
}

export type Resolution = { apiVersion: string } | { error: string };

/** The discovery documents read, as far as they are. */
interface ApiGroupList {
  groups?: { name: string; versions?: { version: string }[]; preferredVersion?: { version: string } }[];
}
interface ApiResourceList {
  resources?: { name: string; kind: string }[];
}

/** Reads the served versions of the Flux API groups; refreshed when a lookup misses (a CRD installed later). */
export class FluxDiscovery {
  private served = new Map<string, ServedKind>();
  private loadedAt = 0;
  /** The discovery under way; concurrent lookups wait for it rather than start their own. */
  private refreshing: Promise<void> | undefined;

  /**
   * @param kc the cluster
   * @param minRefreshMs how soon a miss may trigger a new discovery (default 10s)
   * @param now the clock
   */
  constructor(
    private readonly kc: ClusterAccess,
    private readonly minRefreshMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The apiVersion to use for a kind: the requested one if served, else the cluster's preferred. */
  async resolve(kind: FluxKind, requested: string | undefined): Promise<Resolution> {
    if (this.refreshing) await this.refreshing;
    let served = this.served.get(kind.kind);
    const miss = !served || (requested !== undefined && !served.versions.includes(versionOf(requested)));
    if (miss && (this.loadedAt === 0 || this.now() - this.loadedAt >= this.minRefreshMs)) {
      await this.refresh();
      served = this.served.get(kind.kind);
    }
    if (!served || served.versions.length === 0) {
      return { error: `the cluster serves no ${kind.kind} API (${kind.group}): is the Flux controller for it installed?` };
    }
    if (requested) {
      const version = versionOf(requested);
      if (!served.versions.includes(version)) {
        return {
          error: `${requested} is not served for ${kind.kind}; served: ${served.versions.map((v) => `${kind.group}/${v}`).join(', ')}`,
        };
      }
      return { apiVersion: requested };
    }
    return { apiVersion: `${kind.group}/${served.versions[0]}` };
  }

  /** Re-reads discovery for every Flux group (one discovery at a time). */
  refresh(): Promise<void> {
    this.refreshing ??= this.discover().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async discover(): Promise<void> {
    const client = kubeClient(this.kc);
    const groups = await client.get<ApiGroupList>('/apis');
    const wanted = new Set(fluxKinds.map((k) => k.group));
    const served = new Map<string, ServedKind>();
    // Every group version at once: one round trip instead of one per version in a row, so a slow API
    // server (or one that cuts long-lived connections) is far less likely to interrupt the sweep.

    const fluxGroups = (groups.groups ?? []).filter((group) => wanted.has(group.name));
    const lists = await Promise.all(
      fluxGroups.flatMap((group) => {
        const preferred = group.preferredVersion?.version;

        const versions = (group.versions ?? []).map((v) => v.version).sort((a, b) => (a === preferred ? -1 : b === preferred ? 1 : 0));
        return versions.map(async (version) => ({
          group: group.name,
          version,
          list: await client.get<ApiResourceList>(`/apis/${group.name}/${version}`),
        }));
      }),
    );
    // In the order asked for: each kind's preferred version first.
    for (const { group, version, list } of lists) {
      for (const resource of list.resources ?? []) {
        if (resource.name.includes('/')) continue;
        const kind = fluxKinds.find((k) => k.group === group && k.kind === resource.kind);
        if (!kind) continue;
        const entry = served.get(kind.kind) ?? { versions: [] };
        entry.versions.push(version);
        served.set(kind.kind, entry);
      }
    }
    this.served = served;
    this.loadedAt = this.now();
  }
}

function versionOf(apiVersion: string): string {
  return apiVersion.slice(apiVersion.indexOf('/') + 1);
}
