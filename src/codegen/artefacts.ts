// What the kinds table says in YAML: the CRD's kind enum and kind-dependent CEL rules, the Flux
// rules of the ClusterRoles, and the admission policy's kind → resource map. Pure functions of a
// table, so a test can run them on a copy with another row.
import { parse } from 'yaml';
import type { FluxKind, FluxReadOnlyKind } from '../flux/kinds.js';
import { fluxKinds, fluxReadOnlyKinds } from '../flux/kinds.js';

/** The rows the artefacts are generated from. */
export interface KindTable {
  /** The kinds the operator acts on. */
  kinds: readonly FluxKind[];
  /** Flux kinds that are only read (by the MCP adapter). */
  readOnly: readonly FluxReadOnlyKind[];
}

/** The project's table (src/flux/kinds.ts). */
export const projectTable: KindTable = { kinds: fluxKinds, readOnly: fluxReadOnlyKinds };

/** A YAML fragment: a value to write in place of a generated section. */
export interface Fragment {
  value: unknown;
  /** Write sequences inside a sequence in flow style (`[a, b]`): RBAC rules read best so. */
  nestedFlow?: boolean;
  /** Fold long strings at this width (they read back the same); default: never fold. */
  lineWidth?: number;
}

/** An entry of a CRD's x-kubernetes-validations. */
export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: string;
}

/** A ClusterRole rule. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** A Kubernetes resource: what the admission policy's `authorizer` checks a verb on. */
export interface GroupResource {
  group: string;
  resource: string;
}

/** The request options that only some kinds support, with the column that says which. */
const options = [
  {
    field: 'withSource',
    supports: (k: FluxKind) => k.withSource,
    description: (kinds: string) => `Reconcile the target's source first (${kinds}), as \`flux reconcile --with-source\` does.`,
  },
  {
    field: 'withDependencies',
    supports: (k: FluxKind) => k.dependsOn,
    description: (kinds: string) =>
      `Reconcile the objects the target depends on (spec.dependsOn, transitively) first, upstream first, each waited for and judged (${kinds}).`,
  },
  {
    field: 'withDependents',
    supports: (k: FluxKind) => k.dependsOn,
    description: (kinds: string) =>
      `After the target, reconcile the objects of its kind that depend on it (transitively), in dependsOn order, each waited for and judged (${kinds}).`,
  },
  {
    field: 'force',
    supports: (k: FluxKind) => k.force,
    description: (kinds: string) => `Also set reconcile.fluxcd.io/forceAt (${kinds}).`,
  },
  {
    field: 'reset',
    supports: (k: FluxKind) => k.reset,
    description: (kinds: string) => `Also set reconcile.fluxcd.io/resetAt, which resets the failure counts (${kinds}).`,
  },
] as const;

/** 'a Kustomization', 'an OCIRepository'. */
function article(kind: string): string {
  return /^[AEIOU]/.test(kind) ? `an ${kind}` : `a ${kind}`;
}

/** 'a HelmRelease'; 'a Kustomization or a HelmRelease'; 'a HelmRelease, FluxInstance or ResourceSetInputProvider'. */
export function kindsInProse(kinds: readonly string[]): string {
  const [first, ...rest] = kinds;
  const last = rest.pop();
  if (first === undefined || last === undefined) return kinds.map(article).join(' or ');
  if (rest.length === 0) return `${article(first)} or ${article(last)}`;
  return `${article(first)}, ${rest.join(', ')} or ${last}`;
}

function celString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** spec.target.kind: the kinds the operator acts on. */
export function targetKindProperty(table: KindTable): Record<string, unknown> {
  return { kind: { description: 'The Flux kind of the target.', type: 'string', enum: table.kinds.map((k) => k.kind) } };
}

/** spec.target's rules: an apiVersion, when given, is one of the kind's group. */
export function targetRules(table: KindTable): ValidationRule[] {
  const entries = table.kinds.map((k) => `${celString(k.kind)}: ${celString(`${k.group}/`)}`);
  return [
    {
      // One line: the API server refuses a rule with line breaks that has no static message.
      rule: `!has(self.apiVersion) || self.apiVersion.startsWith({${entries.join(', ')}}[self.kind])`,
      messageExpression:
        "'target.apiVersion ' + self.apiVersion + ' is not an API version of ' + self.kind + '; leave it out to use the version the cluster serves'",
    },
  ];
}

/** spec.withSource, spec.withDependencies, spec.withDependents, spec.force, spec.reset, each described with the kinds that support it. */
export function optionProperties(table: KindTable): Record<string, unknown> {
  return Object.fromEntries(
    options.map((o) => {
      const kinds = table.kinds.filter(o.supports).map((k) => k.kind);
      const description = kinds.length > 0 ? o.description(kinds.join(', ')) : `Not supported by any kind.`;
      return [o.field, { description, type: 'boolean' }];
    }),
  );
}

/** spec's rules: withSource, withDependencies, withDependents, force and reset only with Reconcile, on the kinds that support them. */
export function optionRules(table: KindTable): ValidationRule[] {
  return options.map((o) => {
    const kinds = table.kinds.filter(o.supports).map((k) => k.kind);
    const unset = `!has(self.${o.field}) || !self.${o.field}`;
    const common = { fieldPath: `.${o.field}`, reason: 'FieldValueForbidden' };
    if (kinds.length === 0)
      return { rule: unset, message: `${o.field} is not supported by any kind; remove it or set it to false`, ...common };
    const [only] = kinds;
    const kindTest =
      kinds.length === 1 && only !== undefined
        ? `self.target.kind == ${celString(only)}`
        : `self.target.kind in [${kinds.map(celString).join(', ')}]`;
    return {
      rule: `${unset} || (self.action == 'Reconcile' && ${kindTest})`,
      message: `${o.field} is only for the Reconcile action on ${kindsInProse(kinds)}; remove it or set it to false`,
      ...common,
    };
  });
}

/** One rule per API group, its resources in table order, groups in order of first appearance. */
function rulesByGroup(kinds: readonly { group: string; plural: string }[], verbs: readonly string[]): PolicyRule[] {
  const byGroup = new Map<string, string[]>();
  for (const k of kinds) byGroup.set(k.group, [...(byGroup.get(k.group) ?? []), k.plural]);
  return [...byGroup].map(([group, resources]) => ({ apiGroups: [group], resources, verbs: [...verbs] }));
}

/** The operator's ClusterRole: read and patch (annotations, spec.suspend) every kind it acts on. */
export function operatorRules(table: KindTable): PolicyRule[] {
  return rulesByGroup(table.kinds, ['get', 'list', 'watch', 'patch']);
}

/** The MCP adapter's ClusterRole: read every Flux kind, never write one. */
export function mcpRules(table: KindTable): PolicyRule[] {
  return rulesByGroup([...table.kinds, ...table.readOnly], ['get', 'list', 'watch']);
}

/**
 * The custom verbs config/admission checks on a request's target (DESIGN §7.1), for those who
 * create requests as themselves: the MCP adapter, and the operator for schedules. They let one ask
 * for an action, never touch a Flux object.
 */
export function actionRules(table: KindTable): PolicyRule[] {
  return rulesByGroup(table.kinds, ['reconcile', 'suspend', 'resume']);
}

/** The MCP adapter's action verbs (actionRules). */
export const mcpActionRules = actionRules;

/**
 * The ValidatingAdmissionPolicy's kind → resource map (DESIGN §7.1): the resource whose custom
 * verb (reconcile, suspend, resume) the requester must hold for a request on that kind.
 */
export function admissionResources(table: KindTable): Record<string, GroupResource> {
  return Object.fromEntries(table.kinds.map((k) => [k.kind, { group: k.group, resource: k.plural }]));
}

/** A ValidatingAdmissionPolicy variable. */
export interface PolicyVariable {
  name: string;
  expression: string;
}

/**
 * The permission policy's `resources` variable: admissionResources as a CEL map literal, a kind a
 * line, so a new row is a one-line diff of the policy.
 */
export function admissionResourcesVariable(table: KindTable): PolicyVariable {
  const entries = Object.entries(admissionResources(table)).map(
    ([kind, r]) => `${celString(kind)}: {'group': ${celString(r.group)}, 'resource': ${celString(r.resource)}}`,
  );
  return { name: 'resources', expression: `{\n${entries.join(',\n')}\n}` };
}

/** The permission policy's kind-dependent section (config/admission/action-permission.yaml). */
export function admissionPolicySections(table: KindTable): Sections {
  return { 'kind-resources': { value: [admissionResourcesVariable(table)] } };
}

/**
 * The Flux rules of the shipped requester roles (config/admission/roles.yaml): fluxact-requester
 * holds the three action verbs on every kind, fluxact-reconciler only reconcile, on the kinds that
 * have something to reconcile.
 */
export function requesterRoleSections(table: KindTable): Sections {
  return {
    'requester-verbs': { value: mcpActionRules(table), nestedFlow: true },
    'reconciler-verbs': {
      value: rulesByGroup(
        table.kinds.filter((k) => k.reconcilable),
        ['reconcile'],
      ),
      nestedFlow: true,
    },
  };
}

/** A generated section of a file: its marker name and what it holds. */
export type Sections = Record<string, Fragment>;

/** The CRD's kind-dependent sections. */
export function crdSections(table: KindTable): Sections {
  return {
    'option-rules': { value: optionRules(table) },
    'option-properties': { value: optionProperties(table) },
    'target-rules': { value: targetRules(table), lineWidth: 100 },
    'target-kind': { value: targetKindProperty(table) },
  };
}

/** A policy rule's match.kinds (FluxActionPolicy and ClusterFluxActionPolicy): any of the kinds the operator acts on. */
export function policyMatchKindsProperty(table: KindTable): Record<string, unknown> {
  return {
    kinds: {
      description: "The target's kinds; any kind when absent or empty.",
      type: 'array',
      maxItems: table.kinds.length,
      items: { type: 'string', enum: table.kinds.map((k) => k.kind) },
    },
  };
}

/** The policy CRDs' kind-dependent section. */
export function policyCrdSections(table: KindTable): Sections {
  return { 'match-kinds': { value: policyMatchKindsProperty(table) } };
}

/** The operator's ClusterRole's Flux rules, and the action verbs it needs to create the requests of schedules. */
export function operatorRoleSections(table: KindTable): Sections {
  return {
    'flux-kinds': { value: operatorRules(table), nestedFlow: true },
    'action-verbs': { value: actionRules(table), nestedFlow: true },
  };
}

/** The MCP adapter's ClusterRole's Flux rules. */
export function mcpRoleSections(table: KindTable): Sections {
  return {
    'flux-kinds': { value: mcpRules(table), nestedFlow: true },
    'action-verbs': { value: mcpActionRules(table), nestedFlow: true },
  };
}

/** The rule that makes a request's spec immutable: a schedule's template may change. */
const ImmutableSpecRule = 'self == oldSelf';

/**
 * A FluxActionSchedule's requestTemplate.spec: the FluxActionRequest CRD's spec schema, so a
 * template is refused at admission by the same rules as a request, without the rule that makes a
 * request's spec immutable.
 */
export function requestTemplateSpecProperty(requestCrd: string): Record<string, unknown> {
  const crd = parse(requestCrd) as {
    spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: Record<string, unknown> } } } }[] };
  };
  const version = crd.spec.versions[0];
  if (!version) throw new Error('the FluxActionRequest CRD has no version');
  const spec: Record<string, unknown> = {
    ...version.schema.openAPIV3Schema.properties.spec,
    description: 'The spec of each request the schedule creates: a FluxActionRequest spec, checked by the same rules.',
  };
  const rules = (spec['x-kubernetes-validations'] ?? []) as ValidationRule[];
  const kept = rules.filter((r) => r.rule !== ImmutableSpecRule);
  if (kept.length > 0) spec['x-kubernetes-validations'] = kept;
  else delete spec['x-kubernetes-validations'];
  return spec;
}

/** The FluxActionSchedule CRD's generated section: its request template, from the request CRD's text. */
export function scheduleCrdSections(requestCrd: string): Sections {
  return { 'request-spec': { value: requestTemplateSpecProperty(requestCrd) } };
}
