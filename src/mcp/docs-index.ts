// The index behind search_flux_docs: one document per (kind, version, field path) of the Flux CRDs
// installed in the cluster — its type and description from the CRD's OpenAPI schema — plus one per
// section of the markdown files in the docs directory, searched with MiniSearch (BM25+ ranking).
// Nothing is copied into the project: the text is read from the cluster (and the directory) at run
// time, and the index is rebuilt when the CRDs change.
import MiniSearch, { type SearchResult } from 'minisearch';
import { isRecord } from '../kube/object.js';
import type { FluxCrd } from './flux-crds.js';

export interface DocsDocument {
  /** Position in the index, assigned when it is built. */
  id: number;
  source: 'crd' | 'markdown';
  /** The kind (crd), or '' (markdown). */
  kind: string;
  /** API group and version (crd), or '' (markdown). */
  group: string;
  version: string;
  /** Field path such as spec.chart.spec.version (crd; '' for the kind itself), or the heading trail (markdown). */
  path: string;
  /** Field type such as boolean, []string, map[string]string (crd), or '' (markdown). */
  type: string;
  /** The field's description, or the section's text. */
  description: string;
  /** Allowed values, default and whether the field is required (crd). */
  facts: string;
  /** The kind's reference page on the Flux website, or file#section for markdown. */
  link: string;
  /** The kind's storage version: preferred when the same field is in several versions. */
  preferred: boolean;
}

export type NewDocument = Omit<DocsDocument, 'id'>;

/** Reference pages of the Flux toolkit's groups: fluxcd.io/flux/components/<component>/<plural>/. */
const toolkitComponents: Record<string, string> = {
  'source.toolkit.fluxcd.io': 'source',
  'kustomize.toolkit.fluxcd.io': 'kustomize',
  'helm.toolkit.fluxcd.io': 'helm',
  'notification.toolkit.fluxcd.io': 'notification',
  'image.toolkit.fluxcd.io': 'image',
};
/** Groups documented on the Flux Operator's site, a page per kind: fluxoperator.dev/docs/crd/<kind>/. */
const operatorDocumented = new Set(['fluxcd.controlplane.io', 'source.extensions.fluxcd.io']);

/** The kind's reference page on the Flux website ('' when none is known). */
export function referenceLink(group: string, kind: string, plural: string): string {
  const component = toolkitComponents[group];
  if (component) return `https://fluxcd.io/flux/components/${component}/${plural}/`;
  if (operatorDocumented.has(group)) return `https://fluxoperator.dev/docs/crd/${kind.toLowerCase()}/`;
  return '';
}

/** A schema node's type as Go and kubectl explain write it: []string, map[string]string, int-or-string. */
export function schemaType(node: Record<string, unknown>): string {
  if (node['x-kubernetes-int-or-string'] === true) return 'int-or-string';
  const type = typeof node['type'] === 'string' ? node['type'] : '';
  if (type === 'array') return `[]${isRecord(node['items']) ? schemaType(node['items']) : 'any'}`;
  if (type === 'object' && isRecord(node['additionalProperties'])) return `map[string]${schemaType(node['additionalProperties'])}`;
  if (!type) return node['x-kubernetes-preserve-unknown-fields'] === true ? 'any (free-form)' : 'any';
  return typeof node['format'] === 'string' ? `${type} (${node['format']})` : type;
}

function factsOf(node: Record<string, unknown>, required: boolean): string {
  const facts: string[] = [];
  if (required) facts.push('required');
  if (Array.isArray(node['enum'])) facts.push(`one of: ${node['enum'].map((v) => JSON.stringify(v)).join(', ')}`);
  if (node['default'] !== undefined) facts.push(`default: ${JSON.stringify(node['default'])}`);
  const pattern = node['pattern'];
  if (typeof pattern === 'string') facts.push(`pattern: ${pattern}`);
  return facts.join('; ');
}

/** Top-level fields every kind has; their descriptions are Kubernetes boilerplate. */
const boilerplate = new Set(['apiVersion', 'kind', 'metadata']);

/** One document per field path of every served version of a CRD (and one for the kind itself). */
export function crdDocuments(crd: FluxCrd): NewDocument[] {
  const link = referenceLink(crd.group, crd.kind, crd.plural);
  const docs: NewDocument[] = [];
  for (const version of crd.versions) {
    if (!version.served || !isRecord(version.schema)) continue;
    const base = { source: 'crd' as const, kind: crd.kind, group: crd.group, version: version.name, link, preferred: version.storage };
    const root = version.schema;
    docs.push({
      ...base,
      path: '',
      type: 'object',
      description: typeof root['description'] === 'string' ? root['description'] : '',
      facts: version.deprecated ? 'deprecated version' : '',
    });
    const walk = (node: Record<string, unknown>, path: string, depth: number): void => {
      if (depth > 30) return;
      const properties = node['properties'];
      const required = Array.isArray(node['required']) ? (node['required'] as unknown[]) : [];
      if (isRecord(properties)) {
        for (const [key, child] of Object.entries(properties)) {
          if (!isRecord(child) || (path === '' && boilerplate.has(key))) continue;
          const childPath = path ? `${path}.${key}` : key;
          docs.push({
            ...base,
            path: childPath,
            type: schemaType(child),
            description: typeof child['description'] === 'string' ? child['description'] : '',
            facts: factsOf(child, required.includes(key)),
          });
          walk(child, childPath, depth + 1);
        }
      }
      // Fields of list elements and map values: spec.healthChecks[].name, spec.values.<key>.x
      if (isRecord(node['items'])) walk(node['items'], `${path}[]`, depth + 1);
      if (isRecord(node['additionalProperties'])) walk(node['additionalProperties'], `${path}.<key>`, depth + 1);
    };
    walk(root, '', 0);
  }
  return docs;
}

/** A heading's anchor as most markdown renderers make it. */
export function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .trim()
    .replace(/\s+/g, '-');
}

/** One document per section of a markdown file (text up to the next heading), with its heading trail. */
export function markdownDocuments(file: string, text: string): NewDocument[] {
  const docs: NewDocument[] = [];
  const trail: string[] = [];
  let heading = '';
  let body: string[] = [];
  let fence: string | undefined;
  const flush = (): void => {
    const description = body.join('\n').trim();
    if (description || heading) {
      docs.push({
        source: 'markdown',
        kind: '',
        group: '',
        version: '',
        path: trail.filter(Boolean).join(' > ') || file,
        type: '',
        description,
        facts: '',
        link: heading ? `${file}#${slug(heading)}` : file,
        preferred: true,
      });
    }
    body = [];
  };
  for (const line of text.split(/\r?\n/)) {
    const fenceMark = /^\s*(```|~~~)/.exec(line)?.[1];
    if (fenceMark && (!fence || fence === fenceMark)) fence = fence ? undefined : fenceMark;
    const match = fence || fenceMark ? null : /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (!match) {
      body.push(line);
      continue;
    }
    flush();
    const [, hashes = '', text = ''] = match;
    const level = hashes.length;
    heading = text;
    trail.length = level - 1;
    trail[level - 1] = heading;
  }
  flush();
  return docs;
}

/** Words too common in API descriptions to say anything about a field. */
const stopWords = new Set(
  'a an and are as at be by can for from has have if in into is it its of on or that the their then there these this to was when which will with'.split(
    ' ',
  ),
);

/** Terms of a token: lowercased, and a camelCase word also by its parts (healthChecks → healthchecks, health, checks). */
export function processTerm(term: string): string[] | null {
  const lower = term.toLowerCase();
  if (stopWords.has(lower)) return null;
  const parts = term
    .split(/(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/)
    .map((p) => p.toLowerCase())
    .filter((p) => p.length > 1 && !stopWords.has(p));
  return parts.length > 1 ? [lower, ...parts] : [lower];
}

const storeFields = ['source', 'kind', 'group', 'version', 'path', 'type', 'description', 'facts', 'link', 'preferred'] as const;

/** What an index was built from: its kinds with their plurals as the API names them (policy → policies), and its documents. */
const builtFrom = new WeakMap<MiniSearch<DocsDocument>, { kinds: { kind: string; plural: string }[]; documents: readonly NewDocument[] }>();
function kindsOf(index: MiniSearch<DocsDocument>): { kind: string; plural: string }[] {
  return builtFrom.get(index)?.kinds ?? [];
}

/** A MiniSearch index of documents: fields kind, path and description, the path counting most. */
export function buildIndex(documents: readonly NewDocument[]): MiniSearch<DocsDocument> {
  const index = new MiniSearch<DocsDocument>({ fields: ['kind', 'path', 'description'], storeFields: [...storeFields], processTerm });
  index.addAll(documents.map((d, id) => ({ ...d, id })));
  const kinds = new Map<string, string>();
  for (const d of documents) if (d.kind && !kinds.has(d.kind)) kinds.set(d.kind, d.kind.toLowerCase().replace(/y$/, 'ie') + 's');
  builtFrom.set(index, { kinds: [...kinds].map(([kind, plural]) => ({ kind, plural })), documents });
  return index;
}

/** A field in a kind's overview: one line, as kubectl explain lists fields. */
export interface FieldSummary {
  path: string;
  type: string;
  facts: string;
  /** The description's first sentence. */
  summary: string;
}

export interface DocsHit extends NewDocument {
  score: number;
  /** Other versions of the kind with the same field. */
  otherVersions: string[];
  /** For a hit on a kind or its spec: the spec's fields, one line each. */
  fields?: FieldSummary[];
}

function hitOf(result: SearchResult): DocsHit {
  const r = result as SearchResult & Partial<NewDocument>;
  return {
    source: r.source ?? 'crd',
    kind: r.kind ?? '',
    group: r.group ?? '',
    version: r.version ?? '',
    path: r.path ?? '',
    type: r.type ?? '',
    description: r.description ?? '',
    facts: r.facts ?? '',
    link: r.link ?? '',
    preferred: r.preferred ?? false,
    score: result.score,
    otherVersions: [],
  };
}

/**
 * How much a query names a field outright: query words (or two adjacent words run together, as in
 * "health checks" for healthChecks) that are whole segments of the field path, and the whole path
 * written in the query. BM25 alone ranks spec.chartRef.apiVersion above spec.chart.spec.version for
 * "chart version"; this puts the field the words spell first.
 */
export function pathBoost(query: string, path: string): number {
  const words = query
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  const segments = new Set(
    path
      .toLowerCase()
      .split(/[.[\]<>]+/)
      .filter(Boolean),
  );
  let named = 0;
  const hit = new Set<string>();
  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? '';
    const next = words[i + 1];
    if (segments.has(word)) {
      named++;
      hit.add(word);
    } else if (next !== undefined && segments.has(word + next)) {
      named += 2;
      hit.add(word + next);
      i++;
    }
  }
  const exact = path !== '' && query.toLowerCase().split(/\s+/).includes(path.toLowerCase()) ? 3 : 1;
  // Segments the query does not name make a field less likely the one meant, most of all below the
  // last named one: spec.valuesFrom before spec.valuesFrom[].valuesKey, spec.timeout before
  // spec.test.timeout. (spec and status say nothing.)
  const ordered = path
    .toLowerCase()
    .split(/[.[\]<>]+/)
    .filter((s) => s !== '' && s !== 'spec' && s !== 'status');
  const last = Math.max(-1, ...ordered.map((s, i) => (hit.has(s) ? i : -1)));
  const above = ordered.slice(0, Math.max(0, last)).filter((s) => !hit.has(s)).length;
  const below = last < 0 ? 0 : ordered.length - last - 1;
  return (1 + 0.5 * named) * exact * 0.9 ** above * 0.5 ** below;
}

/**
 * The kinds a query names, in any case, by kind or plural, or written as words ("git repository"
 * for GitRepository): a field of a kind the query names ranks above other kinds' fields.
 */
export function kindsNamed(query: string, kinds: readonly { kind: string; plural: string }[]): Set<string> {
  const joined = query.toLowerCase().replace(/[^a-z0-9]+/g, '');
  const named = new Set<string>();
  for (const k of kinds) {
    const kind = k.kind.toLowerCase();
    if (joined.includes(kind) || joined.includes(k.plural)) named.add(k.kind);
  }
  return named;
}

/**
 * The best hits for a query (BM25+, with prefix and light fuzzy matching); a field present in
 * several versions of a kind is one hit, in its storage version when that ranks.
 */
export function searchIndex(index: MiniSearch<DocsDocument>, query: string, limit: number): DocsHit[] {
  const boosts = new Map<string, number>();
  const boostOf = (path: string): number => {
    let boost = boosts.get(path);
    if (boost === undefined) boosts.set(path, (boost = pathBoost(query, path)));
    return boost;
  };
  const named = kindsNamed(query, kindsOf(index));
  const results = index.search(query, {
    boost: { path: 3, kind: 2, description: 1 },
    prefix: (term) => term.length >= 4,
    fuzzy: (term) => (term.length >= 6 ? 0.15 : false),
    boostDocument: (_id, _term, stored) => {
      const storedPath = stored?.['path'];
      const path = typeof storedPath === 'string' ? storedPath : '';
      const kind = stored?.['kind'];
      // The storage version first when versions tie; status fields (observed state, not settings) a little lower;
      // the fields of a kind the query names above other kinds'.
      return (
        boostOf(path) *
        (stored?.['preferred'] ? 1.1 : 1) *
        (path.startsWith('status') ? 0.75 : 1) *
        (typeof kind === 'string' && named.has(kind) ? 3 : 1)
      );
    },
  });
  const hits: DocsHit[] = [];
  const byField = new Map<string, DocsHit>();
  for (const result of results) {
    const hit = hitOf(result);
    const key = hit.source === 'crd' ? `${hit.group}/${hit.kind}/${hit.path}` : hit.link;
    const seen = byField.get(key);
    if (seen) {
      if (hit.version && !seen.otherVersions.includes(hit.version)) seen.otherVersions.push(hit.version);
      continue;
    }
    byField.set(key, hit);
    if (hits.length < limit) hits.push(hit);
  }
  // A hit on a kind itself or its spec answers "what can I set?": list the spec's fields with it.
  const documents = builtFrom.get(index)?.documents ?? [];
  for (const hit of hits) if (hit.source === 'crd' && (hit.path === '' || hit.path === 'spec')) hit.fields = specFields(documents, hit);
  return hits;
}

/** The first sentence of a description, on one line, at most 160 characters. */
export function firstSentence(text: string): string {
  const flat = text.trim().replace(/\s+/g, ' ');
  const end = flat.search(/\.(\s|$)/);
  const sentence = end >= 0 ? flat.slice(0, end + 1) : flat;
  return sentence.length > 160 ? `${sentence.slice(0, 159)}…` : sentence;
}

/** The direct fields of spec of the hit's kind and version. */
function specFields(documents: readonly NewDocument[], hit: DocsHit): FieldSummary[] {
  return documents
    .filter((d) => d.kind === hit.kind && d.group === hit.group && d.version === hit.version && /^spec\.[^.[<]+$/.test(d.path))
    .map((d) => ({ path: d.path, type: d.type, facts: d.facts, summary: firstSentence(d.description) }));
}

/** Where the documents come from, and a cheap fingerprint that changes when they do. */
export interface DocsSource {
  fingerprint(): Promise<string>;
  documents(): Promise<NewDocument[]>;
}

export interface DocsIndexOptions {
  /** How often the fingerprint is checked, at most (default 5s). */
  checkEveryMs?: number;
  now?: () => number;
}

/** The index, rebuilt when the source's fingerprint changed (checked at most every checkEveryMs). */
export class DocsIndex {
  private index: MiniSearch<DocsDocument> | undefined;
  private builtFrom: string | undefined;
  private checkedAt = -Infinity;
  private refreshing: Promise<MiniSearch<DocsDocument>> | undefined;
  private readonly checkEveryMs: number;
  private readonly now: () => number;
  /** How many times the index was built (for tests and logs). */
  builds = 0;

  constructor(
    private readonly source: DocsSource,
    options: DocsIndexOptions = {},
  ) {
    this.checkEveryMs = options.checkEveryMs ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  /** The hits for a query, and how many documents were searched. */
  async search(query: string, limit: number): Promise<{ hits: DocsHit[]; documents: number }> {
    const index = await this.current();
    return { hits: searchIndex(index, query, limit), documents: index.documentCount };
  }

  private current(): Promise<MiniSearch<DocsDocument>> {
    if (this.index && this.now() - this.checkedAt < this.checkEveryMs) return Promise.resolve(this.index);
    this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async refresh(): Promise<MiniSearch<DocsDocument>> {
    let fingerprint: string;
    try {
      fingerprint = await this.source.fingerprint();
    } catch (err) {
      // Keep answering from the index we have; without one, the caller hears why.
      if (this.index) return this.index;
      throw err;
    }
    this.checkedAt = this.now();
    if (this.index && fingerprint === this.builtFrom) return this.index;
    this.index = buildIndex(await this.source.documents());
    this.builtFrom = fingerprint;
    this.builds++;
    return this.index;
  }
}
