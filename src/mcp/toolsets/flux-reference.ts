// read_flux_doc: a Flux kind's whole API reference page, written from the OpenAPI schema of the
// CRD installed in the cluster (so it is the reference of the Flux version actually running):
// the kind's description, then every field with its type, allowed values, default and description,
// in the manner of `kubectl explain --recursive`.
import type * as k8s from '@kubernetes/client-node';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { crdDocuments, referenceLink, type NewDocument } from '../docs-index.js';
import { listFluxCrds, preferredVersion, type FluxCrd } from '../flux-crds.js';
import { KubeReader } from '../kube-reader.js';
import { cap } from '../output.js';
import { registerTool, ToolError, type ToolContext } from '../tool.js';

/** A CRD description with the line breaks inside its paragraphs joined (CRD comments wrap at ~80 columns). */
function flow(text: string): string {
  return text.trim().replace(/([^\n])\n(?=[^\n\s*-])/g, '$1 ');
}

/** The Flux CRD of a kind named by kind, plural or short name, in any case. */
export function findCrd(crds: readonly FluxCrd[], kind: string): FluxCrd | undefined {
  const lower = kind.toLowerCase();
  return crds.find((c) => c.kind === kind) ?? crds.find((c) => c.kind.toLowerCase() === lower || c.plural === lower);
}

export interface PageQuery {
  kind: string;
  version?: string | undefined;
  /** Only this field and those under it, e.g. spec.chart. */
  field?: string | undefined;
}

/** The reference page of a kind as text. Throws a ToolError naming the kinds, versions or fields there are. */
export function referencePage(crds: readonly FluxCrd[], q: PageQuery): string {
  const crd = findCrd(crds, q.kind);
  if (!crd)
    throw new ToolError(
      `no Flux kind ${q.kind} is installed in this cluster; the Flux kinds are: ${crds.map((c) => c.kind).join(', ') || 'none'}`,
    );
  const served = crd.versions.filter((v) => v.served);
  const version = q.version ?? preferredVersion(crd);
  const chosen = served.find((v) => v.name === version);
  if (!chosen)
    throw new ToolError(`${crd.kind} is not served in version ${version ?? '?'}; served: ${served.map((v) => v.name).join(', ')}`);
  const docs = crdDocuments({ ...crd, versions: [chosen] });
  const [root, ...fields] = docs;
  const field = q.field?.replace(/^\.+|\.+$/g, '');
  const shown = field
    ? fields.filter((d: NewDocument) => d.path === field || d.path.startsWith(`${field}.`) || d.path.startsWith(`${field}[]`))
    : fields;
  if (field && shown.length === 0) {
    const top = fields.filter((d) => !d.path.includes('.')).map((d) => d.path);
    throw new ToolError(`${crd.kind} ${crd.group}/${chosen.name} has no field ${field}; its top-level fields: ${top.join(', ')}`);
  }
  const others = served.filter((v) => v !== chosen).map((v) => `${v.name}${v.deprecated ? ' (deprecated)' : ''}`);
  const link = referenceLink(crd.group, crd.kind, crd.plural);
  const head = [
    `# ${crd.kind} (${crd.group}/${chosen.name}${chosen.deprecated ? ', deprecated' : ''}) — from the CRD installed in this cluster`,
    `Scope: ${crd.namespaced ? 'Namespaced' : 'Cluster'}${others.length > 0 ? `; also served: ${others.join(', ')}` : ''}`,
    ...(link ? [`Reference: ${link}`] : []),
    ...(root?.description && !field ? ['', flow(root.description)] : []),
    '',
    field ? `FIELDS under ${field}:` : 'FIELDS:',
  ];
  const lines = shown.map((d) => {
    const depth = d.path.split('.').length - 1;
    const indent = '  '.repeat(depth);
    const name = d.path.split('.').at(-1) ?? d.path;
    const facts = d.facts ? `  ${d.facts}` : '';
    const description = d.description ? `\n${indent}  ${flow(d.description).replace(/\n/g, `\n${indent}  `)}` : '';
    return `${indent}${name}  <${d.type}>${facts}${description}`;
  });
  return [...head, ...lines].join('\n');
}

/** Registers read_flux_doc. */
export function registerReferenceTool(server: McpServer, ctx: ToolContext, kc: k8s.KubeConfig): void {
  const reader = new KubeReader(kc);
  registerTool(server, ctx, {
    name: 'read_flux_doc',
    title: "Read a Flux kind's API reference",
    description:
      "Returns the whole API reference of a Flux kind (Kustomization, HelmRelease, GitRepository, ...) from the CRD installed in this cluster: the kind's description, then every field " +
      'with its type, required/default/allowed values and description, nested like kubectl explain --recursive. Use it after search_flux_docs found the kind, or to write a manifest. ' +
      'Large kinds are cut at the output cap: ask for one part with field (e.g. spec.chart).',
    input: {
      kind: z
        .string()
        .min(1)
        .max(100)
        .regex(/^[A-Za-z][A-Za-z0-9]*$/, 'a kind such as Kustomization')
        .describe('The Flux kind, e.g. Kustomization or HelmRelease (plural also works)'),
      version: z
        .string()
        .max(30)
        .regex(/^v[0-9]+((alpha|beta)[0-9]+)?$/, 'a version such as v1 or v1beta2')
        .optional()
        .describe('The API version (default: the storage version, what the cluster stores)'),
      field: z
        .string()
        .min(1)
        .max(300)
        .regex(/^[A-Za-z0-9_.[\]<>-]+$/, 'a field path such as spec.chart')
        .optional()
        .describe('Only this field and the fields under it, e.g. spec.chart or status.conditions'),
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    handler: async (a, c) => {
      const page = referencePage(await listFluxCrds(reader), a);
      // Room for the note, so that the server's own cap leaves this one alone.
      return { text: cap(page, c.maxOutput - 200, `read one part with field (e.g. field spec${a.field ? ` under ${a.field}` : ''})`) };
    },
  });
}
