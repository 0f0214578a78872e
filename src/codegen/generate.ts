// Writes the kinds table's artefacts into the YAML files that hold them. Only the sections between
// `# BEGIN GENERATED <name>` and `# END GENERATED <name>` are generated; the rest of each file is
// written by hand. The output is committed, and a unit test fails when it drifts from the table.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Document, isSeq, visit } from 'yaml';
import type { Fragment, KindTable, Sections } from './artefacts.js';
import {
  admissionPolicySections,
  crdSections,
  mcpRoleSections,
  operatorRoleSections,
  policyCrdSections,
  requesterRoleSections,
  scheduleCrdSections,
} from './artefacts.js';

/**
 * A file with generated sections, by its path from the repository root. Its sections may be made
 * from a file listed before it, as that file is once generated (`generated(path)`).
 */
export interface GeneratedFile {
  path: string;
  sections: (table: KindTable, generated: (path: string) => string) => Sections;
}

/** Every file `make generate` writes. A new artefact is a function of the table in artefacts.ts, an entry here and markers in its file. */
export const generatedFiles: readonly GeneratedFile[] = [
  { path: 'crds/fluxaction.io_fluxactionrequests.yaml', sections: crdSections },
  { path: 'crds/fluxaction.io_fluxactionpolicies.yaml', sections: policyCrdSections },
  { path: 'crds/fluxaction.io_clusterfluxactionpolicies.yaml', sections: policyCrdSections },
  {
    path: 'crds/fluxaction.io_fluxactionschedules.yaml',
    sections: (_table, generated) => scheduleCrdSections(generated('crds/fluxaction.io_fluxactionrequests.yaml')),
  },
  { path: 'config/rbac/role.yaml', sections: operatorRoleSections },
  { path: 'config/rbac/mcp_role.yaml', sections: mcpRoleSections },
  { path: 'config/admission/action-permission.yaml', sections: admissionPolicySections },
  { path: 'config/admission/roles.yaml', sections: requesterRoleSections },
  { path: 'charts/flux-action-operator/templates/operator-rbac.yaml', sections: operatorRoleSections },
  { path: 'charts/flux-action-operator/templates/mcp-rbac.yaml', sections: mcpRoleSections },
];

/** A file that is a whole copy of another, between lines of its own (a chart template's condition). */
export interface CopiedFile {
  path: string;
  /** The original, from the repository root; when it is a generated file, its generated text is copied. */
  from: string;
  /** Lines written before the copy (after the header) and after it. */
  before: readonly string[];
  after: readonly string[];
  /** The header saying where the copy comes from, in the file's comment syntax. */
  header: (from: string) => string;
  /** A change made to the original on the way (another API version); none when absent. */
  rewrite?: (original: string) => string;
}

const Chart = 'charts/flux-action-operator';
const yamlHeader = (from: string): string => `# Copied by make generate from ${from}: edit that file, not this copy.`;
const templateHeader = (from: string): string => `{{- /* Copied by make generate from ${from}: edit that file, not this copy. */}}`;
const ifAdmission = ['{{- if .Values.admission.enabled }}'];
const end = ['{{- end }}'];
/** The chart installs the MutatingAdmissionPolicy of the version the cluster serves (_helpers.tpl). */
const ifMutating = (version: string): string[] => [
  `{{- if and .Values.admission.enabled .Values.admission.mutating.enabled (eq (include "fluxact.mutatingAdmissionPolicyVersion" .) "${version}") }}`,
];

const inV1beta1 = '# In admissionregistration.k8s.io/v1beta1, for Kubernetes 1.34 and 1.35.';

/**
 * config/admission/mutating's policy in admissionregistration.k8s.io/v1beta1, for Kubernetes 1.34
 * and 1.35 (the v1 and v1beta1 MutatingAdmissionPolicy have the same fields).
 */
export function toV1beta1(text: string): string {
  // Only the MutatingAdmissionPolicy and its binding are in the file.
  return text.replace(/^apiVersion: admissionregistration\.k8s\.io\/v1$/gm, 'apiVersion: admissionregistration.k8s.io/v1beta1');
}

/**
 * The chart's copies of the CRDs (Helm installs crds/ as it is) and of config/admission (its templates,
 * behind admission.enabled), and config/admission/mutating in v1beta1.
 */
export const copiedFiles: readonly CopiedFile[] = [
  {
    path: `${Chart}/crds/fluxaction.io_fluxactionrequests.yaml`,
    from: 'crds/fluxaction.io_fluxactionrequests.yaml',
    before: [],
    after: [],
    header: yamlHeader,
  },
  {
    path: `${Chart}/crds/fluxaction.io_fluxactionpolicies.yaml`,
    from: 'crds/fluxaction.io_fluxactionpolicies.yaml',
    before: [],
    after: [],
    header: yamlHeader,
  },
  {
    path: `${Chart}/crds/fluxaction.io_clusterfluxactionpolicies.yaml`,
    from: 'crds/fluxaction.io_clusterfluxactionpolicies.yaml',
    before: [],
    after: [],
    header: yamlHeader,
  },
  {
    path: `${Chart}/crds/fluxaction.io_fluxactionschedules.yaml`,
    from: 'crds/fluxaction.io_fluxactionschedules.yaml',
    before: [],
    after: [],
    header: yamlHeader,
  },
  {
    path: `${Chart}/templates/admission-approval.yaml`,
    from: 'config/admission/approval.yaml',
    before: ifAdmission,
    after: end,
    header: templateHeader,
  },
  {
    path: `${Chart}/templates/admission-action-permission.yaml`,
    from: 'config/admission/action-permission.yaml',
    before: ifAdmission,
    after: end,
    header: templateHeader,
  },
  {
    path: `${Chart}/templates/admission-requested-by.yaml`,
    from: 'config/admission/requested-by.yaml',
    before: ifAdmission,
    after: end,
    header: templateHeader,
  },
  {
    path: `${Chart}/templates/admission-roles.yaml`,
    from: 'config/admission/roles.yaml',
    before: ifAdmission,
    after: end,
    header: templateHeader,
  },
  {
    path: 'config/admission/mutating-v1beta1/requested-by.yaml',
    from: 'config/admission/mutating/requested-by.yaml',
    before: [inV1beta1],
    after: [],
    header: yamlHeader,
    rewrite: toV1beta1,
  },
  {
    path: `${Chart}/templates/admission-mutating-requested-by.yaml`,
    from: 'config/admission/mutating/requested-by.yaml',
    before: ifMutating('v1'),
    after: end,
    header: templateHeader,
  },
  {
    path: `${Chart}/templates/admission-mutating-requested-by-v1beta1.yaml`,
    from: 'config/admission/mutating/requested-by.yaml',
    before: [...ifMutating('v1beta1'), inV1beta1],
    after: end,
    header: templateHeader,
    rewrite: toV1beta1,
  },
];

const Source = 'src/flux/kinds.ts';

/** A fragment as YAML lines (no trailing newline), for a block at column 0. */
export function fragmentYaml(fragment: Fragment): string {
  const doc = new Document(fragment.value);
  if (fragment.nestedFlow) {
    visit(doc, {
      Seq(_key, node, ancestors) {
        if (ancestors.some(isSeq)) node.flow = true;
      },
    });
  }
  return doc.toString({ lineWidth: fragment.lineWidth ?? 0, minContentWidth: 0, flowCollectionPadding: false }).trimEnd();
}

/** Error for a file whose markers are missing or unbalanced: a hand edit went wrong. */
export class GenerateError extends Error {}

/**
 * The file's text with every generated section rewritten. Each BEGIN marker's indentation is the
 * section's; a section the file lacks, or a marker with no section, is an error.
 */
export function renderSections(file: string, text: string, sections: Sections): string {
  const lines = text.split('\n');
  const out: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const begin = /^(\s*)# BEGIN GENERATED ([\w-]+)/.exec(line);
    out.push(line);
    if (!begin) continue;
    const [, indent = '', name = ''] = begin;
    const fragment = sections[name];
    if (!fragment) throw new GenerateError(`${file}:${i + 1}: no generated section is called ${name}`);
    const end = lines.findIndex((l, j) => j > i && l.trim() === `# END GENERATED ${name}`);
    if (end < 0) throw new GenerateError(`${file}:${i + 1}: section ${name} has no '# END GENERATED ${name}' line`);
    for (const generated of fragmentYaml(fragment).split('\n')) out.push(indent + generated);
    out.push(lines[end] ?? '');
    seen.add(name);
    i = end;
  }
  const missing = Object.keys(sections).filter((name) => !seen.has(name));
  if (missing.length > 0) throw new GenerateError(`${file}: no '# BEGIN GENERATED' marker for ${missing.join(', ')}`);
  return out.join('\n');
}

/** The marker line that opens a generated section (for a file that gains one). */
export function beginMarker(name: string): string {
  return `# BEGIN GENERATED ${name}: written by make generate from ${Source}; edit the table, not this section`;
}

/** The text of a copy of `original`: header, the lines before, the original (rewritten), the lines after. */
export function renderCopy(copy: CopiedFile, original: string): string {
  const rewritten = copy.rewrite ? copy.rewrite(original) : original;
  const body = rewritten.endsWith('\n') ? rewritten : `${rewritten}\n`;
  return [copy.header(copy.from), ...copy.before, body + copy.after.join('\n')].join('\n') + (copy.after.length > 0 ? '\n' : '');
}

/** A file make generate writes: what it holds now (undefined: missing) and what it should hold. */
export interface GeneratedText {
  path: string;
  current: string | undefined;
  next: string;
}

/** What each generated or copied file holds now and what the table says it should hold. */
export function generate(root: string, table: KindTable): GeneratedText[] {
  const read = (file: string): string | undefined => {
    try {
      return readFileSync(path.join(root, file), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };
  const generated: { path: string; current: string; next: string }[] = [];
  const generatedText = (file: string): string => {
    const text = generated.find((g) => g.path === file)?.next;
    if (text === undefined) throw new GenerateError(`${file} must be generated before the files made from it`);
    return text;
  };
  for (const f of generatedFiles) {
    const current = read(f.path);
    if (current === undefined) throw new GenerateError(`${f.path}: no such file`);
    generated.push({ path: f.path, current, next: renderSections(f.path, current, f.sections(table, generatedText)) });
  }
  // A copy may be of a generated file or of an earlier copy: it gets their new text.
  const written: GeneratedText[] = [...generated];
  for (const c of copiedFiles) {
    const original = written.find((g) => g.path === c.from)?.next ?? read(c.from);
    if (original === undefined) throw new GenerateError(`${c.path}: its original ${c.from} does not exist`);
    written.push({ path: c.path, current: read(c.path), next: renderCopy(c, original) });
  }
  return written;
}
