// search_flux_docs: full-text search over the Flux API reference of the Flux version actually
// installed (the OpenAPI schemas of the cluster's Flux CRDs) and the markdown of --docs-dir.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { crdDocuments, DocsIndex, markdownDocuments, type DocsHit, type DocsSource, type NewDocument } from '../docs-index.js';
import { fluxCrdFingerprint, listFluxCrds } from '../flux-crds.js';
import { KubeReader } from '../kube-reader.js';
import { registerTool, type ToolContext } from '../tool.js';

export interface DocsOptions {
  kc: k8s.KubeConfig;
  /** Markdown files to index besides the CRD schemas. */
  docsDir?: string | undefined;
}

/** Markdown files indexed from the docs directory, at most. */
const MaxMarkdownFiles = 2_000;
const MaxMarkdownBytes = 1_000_000;
/** A description or section is shown up to this many characters. */
const MaxShown = 2_000;

/** The markdown files under a directory (recursively, skipping hidden directories), relative paths sorted. */
async function markdownFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const visit = async (relative: string): Promise<void> => {
    const entries = await readdir(path.join(dir, relative), { withFileTypes: true });
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (found.length >= MaxMarkdownFiles || entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const child = path.join(relative, entry.name);
      if (entry.isDirectory()) await visit(child);
      else if (entry.isFile() && /\.(md|markdown)$/i.test(entry.name)) found.push(child);
    }
  };
  await visit('');
  return found;
}

/** The cluster's Flux CRDs and the docs directory's markdown, fingerprinted by CRD resourceVersions and file times. */
export class ClusterDocsSource implements DocsSource {
  private readonly reader: KubeReader;

  constructor(
    kc: k8s.KubeConfig,
    private readonly docsDir: string | undefined,
  ) {
    this.reader = new KubeReader(kc);
  }

  async fingerprint(): Promise<string> {
    const crds = await fluxCrdFingerprint(this.reader);
    const docsDir = this.docsDir;
    if (!docsDir) return crds;
    const files = await markdownFiles(docsDir);
    const stamps = await Promise.all(
      files.map(async (f) => {
        const s = await stat(path.join(docsDir, f));
        return `${f}@${s.mtimeMs}:${s.size}`;
      }),
    );
    return `${crds}|${stamps.join(',')}`;
  }

  async documents(): Promise<NewDocument[]> {
    const docs = (await listFluxCrds(this.reader)).flatMap(crdDocuments);
    if (this.docsDir) {
      for (const file of await markdownFiles(this.docsDir)) {
        const full = path.join(this.docsDir, file);
        if ((await stat(full)).size > MaxMarkdownBytes) continue;
        docs.push(...markdownDocuments(file.split(path.sep).join('/'), await readFile(full, 'utf8')));
      }
    }
    return docs;
  }
}

/** One index per cluster and docs directory, shared by the sessions of an HTTP server. */
const shared = new WeakMap<k8s.KubeConfig, Map<string, DocsIndex>>();

function indexFor(options: DocsOptions): DocsIndex {
  const byDir = shared.get(options.kc) ?? new Map<string, DocsIndex>();
  shared.set(options.kc, byDir);
  const key = options.docsDir ?? '';
  let index = byDir.get(key);
  if (!index) {
    index = new DocsIndex(new ClusterDocsSource(options.kc, options.docsDir));
    byDir.set(key, index);
  }
  return index;
}

/** A description for display: its line breaks inside paragraphs joined (CRD comments wrap at ~80 columns), cut to MaxShown. */
function shorten(text: string): string {
  const flowed = text.replace(/([^\n])\n(?=[^\n\s*-])/g, '$1 ');
  return flowed.length > MaxShown ? `${flowed.slice(0, MaxShown - 1)}…` : flowed;
}

/** A hit as the model reads it: what, where, its type, the description, and the reference page. */
export function formatHit(hit: DocsHit, n: number): string {
  const indent = (text: string): string => text.replace(/\n/g, '\n   ');
  if (hit.source === 'markdown') return `${n}. ${hit.path} (docs directory: ${hit.link})\n   ${indent(shorten(hit.description))}`;
  const versions = `${hit.group}/${hit.version}${hit.otherVersions.length > 0 ? `; also in ${hit.otherVersions.join(', ')}` : ''}`;
  const lines = [
    `${n}. ${hit.kind} ${hit.path || '(the kind)'} (${versions})${hit.type ? ` — ${hit.type}` : ''}${hit.facts ? `; ${hit.facts}` : ''}`,
  ];
  if (hit.description) lines.push(`   ${indent(shorten(hit.description))}`);
  if (hit.fields && hit.fields.length > 0) {
    lines.push(`   FIELDS of ${hit.kind} spec (read_flux_doc kind ${hit.kind} for the whole page):`);
    for (const f of hit.fields)
      lines.push(`     ${f.path.slice('spec.'.length)}  <${f.type}>${f.facts ? `  ${f.facts}` : ''}${f.summary ? ` — ${f.summary}` : ''}`);
  }
  if (hit.link) lines.push(`   Reference: ${hit.link}`);
  return lines.join('\n');
}

/** Registers search_flux_docs. */
export function registerDocsTools(server: McpServer, ctx: ToolContext, options: DocsOptions): void {
  const index = indexFor(options);
  registerTool(server, ctx, {
    name: 'search_flux_docs',
    title: 'Search the Flux API reference',
    description:
      "Full-text search over the Flux API reference of the Flux version installed in this cluster: every field of every Flux kind (from the CRDs' OpenAPI schemas) with its type, " +
      "allowed values and description, plus the markdown of the server's docs directory if one is configured. Each hit names the kind, version and field path and links the kind's reference page. " +
      'Use it to check a field name or its meaning before writing or explaining a Flux manifest. Returns the best hit by default; ask for up to 10.',
    input: {
      query: z
        .string()
        .min(1)
        .max(500)
        .describe('What to look for, in words or as a field path, e.g. "prune garbage collection" or "helmrelease chart version"'),
      limit: z.number().int().min(1).max(10).optional().describe('How many hits to return (default 1, at most 10)'),
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    handler: async (a) => {
      const { hits, documents } = await index.search(a.query, a.limit ?? 1);
      if (documents === 0) {
        return {
          text: `Nothing to search: no Flux CRDs are installed in this cluster${options.docsDir ? ` and ${options.docsDir} has no markdown` : ''}.`,
        };
      }
      if (hits.length === 0)
        return {
          text: `No match for "${a.query}" among ${documents} indexed fields and sections; try other words or a field name.`,
          structured: { hits: [] },
        };
      return {
        text: hits.map((h, i) => formatHit(h, i + 1)).join('\n\n'),
        structured: { hits: hits.map(({ score: _score, preferred: _preferred, ...rest }) => rest) },
      };
    },
  });
}
