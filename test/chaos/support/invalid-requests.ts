// Invalid FluxActionRequest specs, generated from the CRD's own schema (crds/): for every field, a
// value of the wrong type, a value outside its enum, past its maxLength or below its minimum, the
// field left out when required, and a value breaking each of its CEL rules (the regexes, durations,
// kind-to-apiVersion map and action/kind restrictions are read from the rules' text). Each comes with
// what the API server's message must contain: the field path, or the rule's message.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { parse } from 'yaml';
import { repoRoot } from '../../support/kube.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Spec = Record<string, Json>;

interface Schema {
  type?: string;
  enum?: string[];
  required?: string[];
  maxLength?: number;
  minimum?: number;
  properties?: Record<string, Schema>;
  'x-kubernetes-validations'?: { rule: string; message?: string; messageExpression?: string; fieldPath?: string }[];
}

export interface InvalidRequest {
  /** Which constraint it breaks, e.g. "spec.target.name: rule". */
  constraint: string;
  spec: Spec;
  /** What the refusal's message must contain. */
  expect: string;
}

/** The spec schema of the CRD's served version. */
export function specSchema(): Schema {
  const crd = parse(readFileSync(path.join(repoRoot, 'crds', 'fluxaction.io_fluxactionrequests.yaml'), 'utf8')) as {
    spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: Schema } } } }[] };
  };
  return crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec;
}

/** A valid spec every mutation starts from. */
function base(): Spec {
  return { action: 'Reconcile', target: { kind: 'Kustomization', name: 'podinfo', namespace: 'apps' }, timeout: '5m' };
}

function setAt(spec: Spec, at: string[], value: Json | undefined): Spec {
  const copy = structuredClone(spec);
  let node: Record<string, Json> = copy;
  for (const key of at.slice(0, -1)) {
    const child = node[key];
    node[key] = child && typeof child === 'object' && !Array.isArray(child) ? child : {};
    node = node[key];
  }
  const last = at.at(-1)!;
  if (value === undefined) Reflect.deleteProperty(node, last);
  else node[last] = value;
  return copy;
}

/** Values that are not of `type`. */
function wrongType(type: string): fc.Arbitrary<Json> {
  const others: Record<string, fc.Arbitrary<Json>[]> = {
    string: [fc.integer(), fc.boolean(), fc.constant({ a: 'b' }), fc.constant(['x'])],
    boolean: [fc.constantFrom('true', 'yes', 'false'), fc.integer({ min: 0, max: 1 }), fc.constant({})],
    integer: [fc.string(), fc.boolean(), fc.double({ min: 0.1, max: 1e6, noNaN: true }).filter((d) => !Number.isInteger(d))],
    object: [fc.string(), fc.integer(), fc.constant(['a'])],
  };
  return fc.oneof(...(others[type] ?? [fc.constant(null)]));
}

/** The arbitraries of invalid specs for one field (and its children). */
function fieldMutations(schema: Schema, at: string[], required: boolean, out: fc.Arbitrary<InvalidRequest>[]): void {
  const field = `spec.${at.join('.')}`;
  const make = (constraint: string, values: fc.Arbitrary<Json | undefined>, expect: string): void =>
    void out.push(values.map((v) => ({ constraint: `${field}: ${constraint}`, spec: setAt(base(), at, v), expect })));
  if (schema.type) make('type', wrongType(schema.type), field);
  if (required) make('required', fc.constant(undefined), `${field}: Required value`);
  if (schema.enum) {
    const allowed = schema.enum;
    make(
      'enum',
      fc.string({ maxLength: 20 }).filter((s) => !allowed.includes(s)),
      `${field}: Unsupported value`,
    );
  }
  if (schema.maxLength !== undefined) {
    const max = schema.maxLength;
    make(
      'maxLength',
      fc.integer({ min: max + 1, max: max + 20 }).map((n) => 'a'.repeat(n)),
      field,
    );
  }
  if (schema.minimum !== undefined) make('minimum', fc.integer({ min: -1e6, max: schema.minimum - 1 }), field);
  for (const rule of schema['x-kubernetes-validations'] ?? []) {
    const pattern = /^self\.matches\('(.*)'\)$/.exec(rule.rule)?.[1];
    if (pattern) {
      const re = new RegExp(pattern);
      const limit = schema.maxLength ?? 64;
      make(
        `rule ${pattern}`,
        fc.string({ maxLength: Math.min(limit, 40) }).filter((s) => !re.test(s)),
        rule.message ?? field,
      );
    }
    if (/duration\(self\) > duration\('0s'\)/.test(rule.rule))
      make('rule > 0s', fc.constantFrom('0s', '0m', '0h', '0ms', '0.0s'), rule.message ?? field);
    const most = /duration\(self\) <= duration\('(\d+)h'\)/.exec(rule.rule)?.[1];
    if (most)
      make(
        `rule <= ${most}h`,
        fc.integer({ min: Number(most) * 60 + 1, max: 100_000 }).map((m) => `${m}m`),
        rule.message ?? field,
      );
  }
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    fieldMutations(child, [...at, name], (schema.required ?? []).includes(name), out);
  }
}

/** Rules over a whole object: the target's kind-to-apiVersion map, and the flags allowed per action and kind. */
function objectRuleMutations(spec: Schema, out: fc.Arbitrary<InvalidRequest>[]): void {
  const kinds = spec.properties?.target?.properties?.kind?.enum ?? [];
  for (const rule of spec.properties?.target?.['x-kubernetes-validations'] ?? []) {
    const prefixes = new Map([...rule.rule.matchAll(/'(\w+)': '([^']+)'/g)].map((m) => [m[1]!, m[2]!]));
    if (prefixes.size === 0) continue;
    out.push(
      fc
        .tuple(fc.constantFrom(...kinds), fc.constantFrom(...new Set(prefixes.values())), fc.constantFrom('v1', 'v1beta2', 'v2'))
        .filter(([kind, prefix]) => prefixes.get(kind) !== prefix)
        .map(([kind, prefix, version]) => ({
          constraint: 'spec.target: apiVersion of another group',
          spec: { action: 'Reconcile', target: { kind, name: 'podinfo', apiVersion: `${prefix}${version}` } },
          expect: 'is not an API version of',
        })),
    );
  }
  const actions = spec.properties?.action?.enum ?? [];
  for (const rule of spec['x-kubernetes-validations'] ?? []) {
    // !has(self.F) || !self.F || (self.action == 'A' && self.target.kind in [...] / == 'K')
    const flag = /^!has\(self\.(\w+)\)/.exec(rule.rule)?.[1];
    const action = /self\.action == '(\w+)'/.exec(rule.rule)?.[1];
    const list = /self\.target\.kind in \[([^\]]*)\]/.exec(rule.rule)?.[1] ?? /self\.target\.kind == ('\w+')/.exec(rule.rule)?.[1];
    if (!flag || !action || !list) continue;
    const allowed = [...list.matchAll(/'(\w+)'/g)].map((m) => m[1]!);
    out.push(
      fc
        .tuple(fc.constantFrom(...actions), fc.constantFrom(...kinds))
        .filter(([a, k]) => a !== action || !allowed.includes(k))
        .map(([a, k]) => ({
          constraint: `spec.${flag}: rule`,
          spec: { action: a, target: { kind: k, name: 'podinfo' }, [flag]: true },
          expect: rule.message ?? flag,
        })),
    );
  }
}

/** One arbitrary per constraint of the CRD, each of invalid specs breaking that constraint. */
export function invalidRequests(): fc.Arbitrary<InvalidRequest>[] {
  const spec = specSchema();
  const out: fc.Arbitrary<InvalidRequest>[] = [];
  for (const [name, child] of Object.entries(spec.properties ?? {}))
    fieldMutations(child, [name], (spec.required ?? []).includes(name), out);
  objectRuleMutations(spec, out);
  return out;
}
