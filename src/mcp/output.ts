// How the MCP adapter shows Kubernetes objects to a model: YAML, without managedFields or the
// last-applied annotation, with Secret values masked, and capped in size with a note saying so.
import { stringify } from 'yaml';
import { isRecord } from '../kube/object.js';

/** The annotation kubectl apply leaves behind: noise to a model, and it may repeat a Secret's data. */
const LastApplied = 'kubectl.kubernetes.io/last-applied-configuration';
export const Masked = '***';

/** Default cap on a tool's text output, in characters. */
export const DefaultMaxOutput = 50_000;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * A copy of an object as the adapter shows it: metadata.managedFields and the last-applied
 * annotation removed; for a Secret, every value of data and stringData replaced by ***.
 */
export function clean(obj: unknown): unknown {
  if (!isRecord(obj)) return obj;
  const copy = structuredClone<Record<string, unknown>>(obj);
  const metadata = copy['metadata'];
  if (isRecord(metadata)) {
    delete metadata['managedFields'];
    const annotations = metadata['annotations'];
    if (isRecord(annotations)) {
      Reflect.deleteProperty(annotations, LastApplied);
      if (Object.keys(annotations).length === 0) delete metadata['annotations'];
    }
  }
  if (copy['kind'] === 'Secret') {
    for (const field of ['data', 'stringData']) {
      const values = copy[field];
      if (isRecord(values)) for (const key of Object.keys(values)) values[key] = Masked;
    }
  }
  return copy;
}

/** YAML documents for objects, separated by ---. */
export function toYaml(objects: readonly unknown[]): string {
  return objects.map((o) => stringify(clean(o) as Json, { lineWidth: 0 }).trimEnd()).join('\n---\n');
}

/** Cuts text to max characters at a line boundary, saying what was cut and how to see the rest. */
export function cap(text: string, max = DefaultMaxOutput, hint = 'narrow the query (name, namespace, selector, limit)'): string {
  if (text.length <= max) return text;
  const cut = text.lastIndexOf('\n', max);
  const kept = text.slice(0, cut > 0 ? cut : max);
  return `${kept}\n# output cut at ${kept.length} of ${text.length} characters; ${hint} to see the rest`;
}
