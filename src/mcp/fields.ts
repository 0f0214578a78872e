// The `fields` argument of the read tools: JSONPath expressions (jsonpath-plus) that pick the parts
// of an object a model asks for, e.g. status.conditions or spec.containers[*].image. The answer
// keeps the object's shape (and its apiVersion, kind, name and namespace) with only those parts.
import { JSONPath } from 'jsonpath-plus';
import { z } from 'zod';
import { ToolError } from './tool.js';

/** The `fields` argument, described for the model. */
export const fieldsArg = z
  .array(z.string().min(1).max(300))
  .min(1)
  .max(20)
  .optional()
  .describe(
    'Only these parts of each object, as JSONPath expressions relative to the object (a leading $. is optional), e.g. ["status.conditions", "spec.sourceRef.name", "spec.containers[*].image", "status.conditions[?(@.type==\'Ready\')]"]. ' +
      'apiVersion, kind, metadata.name and metadata.namespace are always kept. Default: the whole object.',
  );

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A node of the object being built: array elements are collected by index, then compacted in order. */
class Building {
  readonly children = new Map<string, Building | Json>();
  constructor(readonly isArray: boolean) {}
}

/** A JSON pointer's tokens (RFC 6901 unescaped). */
function pointerTokens(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Puts value at the pointer's place in the tree, creating the objects and arrays on the way as the source has them. */
function place(tree: Building, source: unknown, tokens: readonly string[], value: Json): void {
  let node = tree;
  let src = source;
  for (const [i, token] of tokens.entries()) {
    if (i === tokens.length - 1) {
      node.children.set(token, value);
      return;
    }
    const next = Array.isArray(src) ? (src as unknown[])[Number(token)] : (src as Record<string, unknown>)[token];
    const existing = node.children.get(token);
    // A part selected whole already holds this one.
    if (existing !== undefined && !(existing instanceof Building)) return;
    const built = existing ?? new Building(Array.isArray(next));
    node.children.set(token, built);
    node = built;
    src = next;
  }
}

function finish(node: Building | Json): Json {
  if (!(node instanceof Building)) return node;
  if (node.isArray) return [...node.children.entries()].sort(([a], [b]) => Number(a) - Number(b)).map(([, v]) => finish(v));
  return Object.fromEntries([...node.children.entries()].map(([k, v]) => [k, finish(v)]));
}

/** What is always kept, so each selected object still says what it is. */
const identity = ['apiVersion', 'kind', 'metadata.name', 'metadata.namespace'];

function normalise(expression: string): string {
  const trimmed = expression.trim();
  if (trimmed.startsWith('$')) return trimmed;
  return trimmed.startsWith('[') ? `$${trimmed}` : `$.${trimmed}`;
}

export interface Selection {
  /** The object with only the selected parts. */
  object: Json;
  /** Expressions that matched nothing in this object. */
  unmatched: string[];
}

/**
 * The parts of an object that the expressions select, in the object's shape. Throws a ToolError
 * naming the expression that does not parse.
 */
export function selectFields(obj: unknown, expressions: readonly string[]): Selection {
  const tree = new Building(false);
  const unmatched: string[] = [];
  for (const [i, expression] of [...identity, ...expressions].entries()) {
    let matches: { pointer: string; value: unknown }[];
    try {
      matches = JSONPath({ path: normalise(expression), json: obj as Json, resultType: 'all', wrap: true, eval: 'safe' }) as {
        pointer: string;
        value: unknown;
      }[];
    } catch (err) {
      throw new ToolError(
        `fields: "${expression}" is not a JSONPath expression this server reads (${err instanceof Error ? err.message : String(err)}); write it like status.conditions or spec.containers[*].image`,
      );
    }
    if (matches.length === 0 && i >= identity.length) unmatched.push(expression);
    for (const m of matches) {
      const tokens = pointerTokens(m.pointer);
      if (tokens.length === 0) return { object: obj as Json, unmatched: [] };
      place(tree, obj, tokens, m.value as Json);
    }
  }
  return { object: finish(tree), unmatched };
}

/**
 * Objects with only the selected fields (unchanged when fields is undefined), and a comment line
 * naming the expressions that matched nothing in any of them ('' when all matched).
 */
export function selectObjects<T>(objects: readonly T[], fields: readonly string[] | undefined): { objects: T[]; note: string } {
  if (!fields) return { objects: [...objects], note: '' };
  const selections = objects.map((o) => selectFields(o, fields));
  const nowhere = fields.filter((f) => selections.length > 0 && selections.every((s) => s.unmatched.includes(f)));
  return {
    objects: selections.map((s) => s.object as T),
    note: nowhere.length > 0 ? `# fields matched nothing: ${nowhere.join(', ')}\n` : '',
  };
}
