// Writes the kinds table's artefacts into the YAML files that hold them. Only the sections between
// `# BEGIN GENERATED <name>` and `# END GENERATED <name>` are generated; the rest of each file is
// written by hand. The output is committed, and a unit test fails when it drifts from the table.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Document, isSeq, visit } from 'yaml';
import type { Fragment, KindTable, Sections } from './artefacts.js';
import { crdSections, mcpRoleSections, operatorRoleSections } from './artefacts.js';

/** A file with generated sections, by its path from the repository root. */
export interface GeneratedFile {
  path: string;
  sections: (table: KindTable) => Sections;
}

/** Every file `make generate` writes. A new artefact is a function of the table in artefacts.ts, an entry here and markers in its file. */
export const generatedFiles: readonly GeneratedFile[] = [
  { path: 'crds/fluxaction.io_fluxactionrequests.yaml', sections: crdSections },
  { path: 'config/rbac/role.yaml', sections: operatorRoleSections },
  { path: 'config/rbac/mcp_role.yaml', sections: mcpRoleSections },
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

/** What each generated file holds now and what the table says it should hold. */
export function generate(root: string, table: KindTable): { path: string; current: string; next: string }[] {
  return generatedFiles.map((f) => {
    const current = readFileSync(path.join(root, f.path), 'utf8');
    return { path: f.path, current, next: renderSections(f.path, current, f.sections(table)) };
  });
}
