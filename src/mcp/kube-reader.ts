// Reads any Kubernetes object as the API server sends it (plain JSON: no model classes, no Date
// objects, no renamed fields), and resolves an apiVersion and kind to its REST resource through
// discovery, the way kubectl does. The read tools build on it.
import * as k8s from '@kubernetes/client-node';
import { fluxKinds } from '../flux/kinds.js';
import { statusCode } from '../kube/errors.js';
import type { KubeObject } from '../kube/object.js';
import { ToolError } from './tool.js';

/** Marks our own requests, whose responses processResponse leaves as plain JSON. */
const Raw = 'raw-json';

/** Query parameters of a GET; undefined ones are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

/**
 * client-node's generic object API with one addition: a GET of any path that answers the parsed
 * JSON as it came, and throws client-node's ApiException (code, body) on an error status, so
 * describeFailure reads it like any other API error. Authentication and TLS are client-node's.
 */
class RawObjectApi extends k8s.KubernetesObjectApi {
  async getJson(path: string, query: Query = {}, accept = 'application/json'): Promise<unknown> {
    const context = this.configuration.baseServer.makeRequestContext(path, k8s.HttpMethod.GET);
    context.setHeaderParam('Accept', accept);
    for (const [key, value] of Object.entries(query)) if (value !== undefined) context.setQueryParam(key, String(value));
    return this.requestPromise(context, Raw);
  }

  protected override async processResponse<T extends k8s.KubernetesObject>(response: k8s.ResponseContext, type?: string): Promise<T> {
    if (type !== Raw) return super.processResponse<T>(response, type);
    const text = await response.body.text();
    if (response.httpStatusCode < 200 || response.httpStatusCode > 299) {
      throw new k8s.ApiException<string>(response.httpStatusCode, 'Unsuccessful HTTP Request', text, response.headers);
    }
    return JSON.parse(text) as T;
  }
}

/** A REST resource found through discovery. */
export interface ResolvedResource {
  apiVersion: string;
  kind: string;
  /** Plural resource name, as in the REST path. */
  plural: string;
  namespaced: boolean;
}

interface DiscoveredResource {
  name: string;
  kind: string;
  namespaced: boolean;
  singularName?: string;
  shortNames?: string[];
}

interface ApiResourceList {
  resources?: DiscoveredResource[];
}

export interface KubeList {
  items: KubeObject[];
  metadata?: { continue?: string; remainingItemCount?: number; resourceVersion?: string };
}

/** The REST path of a resource's collection or of one object. */
export function resourcePath(resource: ResolvedResource, namespace?: string, name?: string): string {
  const base = resource.apiVersion.includes('/') ? `/apis/${resource.apiVersion}` : `/api/${resource.apiVersion}`;
  const ns = resource.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${resource.plural}${name ? `/${encodeURIComponent(name)}` : ''}`;
}

/** Discovery answers are kept this long before they are read again. */
const DiscoveryTtlMs = 60_000;
/** A lookup that misses reads discovery again, at most this often. */
const MissRefreshMs = 5_000;

export class KubeReader {
  private readonly api: RawObjectApi;
  private readonly discovered = new Map<string, { at: number; resources: DiscoveredResource[] | undefined }>();

  /**
   * @param kc the cluster and credentials
   * @param now the clock, for the discovery cache
   */
  constructor(
    readonly kc: k8s.KubeConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.api = kc.makeApiClient(RawObjectApi);
  }

  /** GET of an API path, as plain JSON. */
  get(path: string, query: Query = {}, accept?: string): Promise<unknown> {
    return this.api.getJson(path, query, accept);
  }

  /** GET of a collection, as plain JSON with items. */
  async list(path: string, query: Query = {}): Promise<KubeList> {
    const list = (await this.get(path, query)) as Partial<KubeList>;
    return { items: list.items ?? [], ...(list.metadata ? { metadata: list.metadata } : {}) };
  }

  /**
   * Resolves apiVersion and kind to a resource. The kind may also be given in any case, or as the
   * resource's plural, singular or short name. Throws a ToolError saying what is served instead.
   */
  async resolve(apiVersion: string, kind: string): Promise<ResolvedResource> {
    let resources = await this.resources(apiVersion, false);
    let found = resources && match(resources, kind);
    if (!found) {
      resources = await this.resources(apiVersion, true);
      found = resources && match(resources, kind);
    }
    if (found) return { apiVersion, kind: found.kind, plural: found.name, namespaced: found.namespaced };
    const servedAs = await this.whereServed(kind);
    const hint =
      servedAs.length > 0
        ? `${kind} is served as ${servedAs.join(', ')}`
        : 'check the apiVersion and kind (kubectl api-resources lists them)';
    if (!resources) throw new ToolError(`no kind ${kind} in apiVersion ${apiVersion}: the cluster does not serve ${apiVersion}; ${hint}`);
    throw new ToolError(`no kind ${kind} in apiVersion ${apiVersion}; ${hint}`);
  }

  /** The resources of an apiVersion (undefined when it is not served), cached. */
  private async resources(apiVersion: string, missed: boolean): Promise<DiscoveredResource[] | undefined> {
    const cached = this.discovered.get(apiVersion);
    const age = cached ? this.now() - cached.at : Infinity;
    if (cached && age < (missed ? MissRefreshMs : DiscoveryTtlMs)) return cached.resources;
    let resources: DiscoveredResource[] | undefined;
    try {
      const list = (await this.get(apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`)) as ApiResourceList;
      // Subresources (pods/log, .../status) are not kinds one lists.
      resources = (list.resources ?? []).filter((r) => !r.name.includes('/'));
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    this.discovered.set(apiVersion, { at: this.now(), resources });
    return resources;
  }

  /** The apiVersions serving a kind, for a hint: aggregated discovery, else the Flux kinds table. */
  private async whereServed(kind: string): Promise<string[]> {
    const lower = kind.toLowerCase();
    try {
      const found: string[] = [];
      for (const root of ['/api', '/apis']) {
        const list = (await this.get(
          root,
          {},
          'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
        )) as AggregatedDiscovery;
        if (list.kind !== 'APIGroupDiscoveryList') throw new Error('no aggregated discovery');
        for (const group of list.items ?? []) {
          for (const version of group.versions ?? []) {
            if ((version.resources ?? []).some((r) => r.responseKind?.kind?.toLowerCase() === lower || r.resource === lower)) {
              found.push(group.metadata?.name ? `${group.metadata.name}/${version.version}` : String(version.version));
            }
          }
        }
      }
      return found;
    } catch {
      return fluxKinds.filter((k) => k.kind.toLowerCase() === lower).flatMap((k) => k.versions.map((v) => `${k.group}/${v}`));
    }
  }
}

interface AggregatedDiscovery {
  kind?: string;
  items?: {
    metadata?: { name?: string };
    versions?: { version?: string; resources?: { resource?: string; responseKind?: { kind?: string } }[] }[];
  }[];
}

function match(resources: DiscoveredResource[], kind: string): DiscoveredResource | undefined {
  const lower = kind.toLowerCase();
  return (
    resources.find((r) => r.kind === kind) ??
    resources.find(
      (r) => r.kind.toLowerCase() === lower || r.name === lower || r.singularName === lower || (r.shortNames ?? []).includes(lower),
    )
  );
}
