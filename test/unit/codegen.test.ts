// The generated sections of the CRD and the ClusterRoles (config/ and the chart's), and the chart's
// copies of the CRD and of config/admission: committed output equals what the kinds table generates
// (run `make generate` when this fails), and a new row reaches every artefact.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse, parseAllDocuments } from 'yaml';
import {
  admissionResources,
  kindsInProse,
  requestTemplateSpecProperty,
  optionRules,
  projectTable,
  type KindTable,
  type PolicyRule,
  type ValidationRule,
} from '../../src/codegen/artefacts.js';
import {
  GenerateError,
  beginMarker,
  copiedFiles,
  generate,
  generatedFiles,
  renderCopy,
  renderSections,
  toV1beta1,
} from '../../src/codegen/generate.js';
import { repoRoot } from '../support/kube.js';
import { withWidget } from '../support/widget-kinds.js';

interface Schema {
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  maxItems?: number;
  enum?: string[];
  'x-kubernetes-validations'?: ValidationRule[];
}
interface Crd {
  spec: { versions: { schema: { openAPIV3Schema: Schema } }[] };
}
interface Role {
  rules: PolicyRule[];
}

function files(table: KindTable): Record<string, { current: string | undefined; next: string }> {
  return Object.fromEntries(generate(repoRoot, table).map((f) => [f.path, f]));
}

const crdPath = 'crds/fluxaction.io_fluxactionrequests.yaml';
const chartCrdPath = 'charts/flux-action-operator/crds/fluxaction.io_fluxactionrequests.yaml';

const policyCrdPaths = ['crds/fluxaction.io_fluxactionpolicies.yaml', 'crds/fluxaction.io_clusterfluxactionpolicies.yaml'] as const;

/** The schema of one rule of a policy CRD. */
function ruleSchema(text: string): Schema {
  return specSchema(text).properties!['rules']!.items!;
}

function specSchema(text: string): Schema {
  return (parse(text) as Crd).spec.versions[0]!.schema.openAPIV3Schema.properties!['spec']!;
}

/** The rules of the file's ClusterRole (a file may also hold its binding). */
function roleRules(text: string): PolicyRule[] {
  const docs = parseAllDocuments(text).map((d) => d.toJSON() as Role & { kind: string });
  return docs.find((d) => d.kind === 'ClusterRole')!.rules;
}

const permissionPath = 'config/admission/action-permission.yaml';
interface PermissionPolicy {
  spec: { variables: { name: string; expression: string }[]; validations: unknown[] };
}
/** The kind → resource map of the permission policy in the file (the chart's copy is a template: its first and last lines are Helm's). */
function resourcesVariable(text: string): string {
  const yaml = text
    .split('\n')
    .filter((l) => !l.startsWith('{{'))
    .join('\n');
  const policy = parseAllDocuments(yaml)[0]!.toJSON() as PermissionPolicy;
  return policy.spec.variables.find((v) => v.name === 'resources')!.expression;
}

const isFlux = (r: PolicyRule): boolean => r.apiGroups.some((g) => g.endsWith('.fluxcd.io') || g === 'fluxcd.controlplane.io');

describe('make generate', () => {
  it.each(generatedFiles.map((f) => f.path))('%s is what the kinds table generates (run make generate)', (path) => {
    const file = files(projectTable)[path]!;
    expect(file.current).toBe(file.next);
  });

  it.each(copiedFiles.map((f) => [f.path, f.from]))('%s is a copy of %s (run make generate)', (path) => {
    const file = files(projectTable)[path]!;
    expect(file.current).toBe(file.next);
  });

  it("writes config/admission/mutating's policy in v1beta1 for Kubernetes 1.34 and 1.35, changing only its objects' apiVersion", () => {
    const current = files(projectTable);
    const v1 = parseAllDocuments(readFileSync(path.join(repoRoot, 'config/admission/mutating/requested-by.yaml'), 'utf8')).map(
      (d) => d.toJSON() as { apiVersion: string },
    );
    const beta = parseAllDocuments(current['config/admission/mutating-v1beta1/requested-by.yaml']!.next).map(
      (d) => d.toJSON() as { apiVersion: string },
    );
    expect(v1.map((o) => o.apiVersion)).toEqual(['admissionregistration.k8s.io/v1', 'admissionregistration.k8s.io/v1']);
    expect(beta).toEqual(v1.map((o) => ({ ...o, apiVersion: 'admissionregistration.k8s.io/v1beta1' })));
    expect(toV1beta1('apiVersion: admissionregistration.k8s.io/v1\n  apiVersions: ["*"]\napiVersion: v1\n')).toBe(
      'apiVersion: admissionregistration.k8s.io/v1beta1\n  apiVersions: ["*"]\napiVersion: v1\n',
    );
  });

  it('writes a copy as its header, the lines before, the original and the lines after', () => {
    const copy = { path: 't.yaml', from: 'o.yaml', before: ['{{- if .x }}'], after: ['{{- end }}'], header: (f: string) => `# from ${f}` };
    expect(renderCopy(copy, 'a: 1\n')).toBe('# from o.yaml\n{{- if .x }}\na: 1\n{{- end }}\n');
    expect(renderCopy({ ...copy, before: [], after: [] }, 'a: 1')).toBe('# from o.yaml\na: 1\n');
  });

  it('writes every generated section between its markers, leaving the hand-written rest alone', () => {
    const text = ['a: 1', '  ' + beginMarker('list'), '  - stale', '  # END GENERATED list', 'b: 2', ''].join('\n');
    const out = renderSections('x.yaml', text, {
      list: { value: [{ apiGroups: ['g'], resources: ['r'], verbs: ['get'] }], nestedFlow: true },
    });
    expect(out).toBe(
      [
        'a: 1',
        '  ' + beginMarker('list'),
        '  - apiGroups: [g]',
        '    resources: [r]',
        '    verbs: [get]',
        '  # END GENERATED list',
        'b: 2',
        '',
      ].join('\n'),
    );
  });

  it('refuses a file whose markers were lost or renamed, naming the file and section', () => {
    const unterminated = `x:\n  ${beginMarker('list')}\n  - a\n`;
    expect(() => renderSections('x.yaml', unterminated, { list: { value: [] } })).toThrow(
      new GenerateError("x.yaml:2: section list has no '# END GENERATED list' line"),
    );
    expect(() => renderSections('x.yaml', 'x: 1\n', { list: { value: [] } })).toThrow(
      new GenerateError("x.yaml: no '# BEGIN GENERATED' marker for list"),
    );
    expect(() => renderSections('x.yaml', `# BEGIN GENERATED other\n# END GENERATED other\n`, {})).toThrow(
      new GenerateError('x.yaml:1: no generated section is called other'),
    );
  });
});

describe('a new row in the kinds table', () => {
  const before = files(projectTable);
  const after = files(withWidget);

  it("changes every generated file, and the chart's copy of the CRD", () => {
    for (const f of generatedFiles) expect(after[f.path]!.next).not.toBe(before[f.path]!.next);
    expect(after[chartCrdPath]!.next).toContain(after[crdPath]!.next);
    expect(after[chartCrdPath]!.next).not.toBe(before[chartCrdPath]!.next);
  });

  it('is a kind the CRD accepts, with its group checked against target.apiVersion', () => {
    const spec = specSchema(after[crdPath]!.next);
    const target = spec.properties!['target']!;
    expect(target.properties!['kind']!.enum).toEqual([...projectTable.kinds.map((k) => k.kind), 'Widget']);
    expect(target['x-kubernetes-validations']![0]!.rule).toContain(`'Widget': 'widgets.example.fluxcd.io/'`);
  });

  it('allows withSource, force and reset on it, in the CEL rules and their messages', () => {
    const spec = specSchema(after[crdPath]!.next);
    const rules = spec['x-kubernetes-validations']!;
    const forField = (field: string): ValidationRule => rules.find((r) => r.fieldPath === `.${field}`)!;
    expect(forField('withSource').rule).toContain("self.target.kind in ['Kustomization', 'HelmRelease', 'Widget']");
    expect(forField('withSource').message).toBe(
      'withSource is only for the Reconcile action on a Kustomization, HelmRelease or Widget; remove it or set it to false',
    );
    expect(forField('force').rule).toContain("'FluxInstance', 'Widget']");
    expect(forField('reset').rule).toContain("self.target.kind in ['HelmRelease', 'Widget']");
    expect(forField('reset').message).toBe(
      'reset is only for the Reconcile action on a HelmRelease or a Widget; remove it or set it to false',
    );
    expect(spec.properties!['withSource']!.description).toContain('(Kustomization, HelmRelease, Widget)');
    // The hand-written rule before the generated ones is kept.
    expect(rules[0]!.rule).toBe('self == oldSelf');
  });

  it('is patched by the operator and only read by the MCP adapter, the read-only row too', () => {
    const widgets = (rules: PolicyRule[]): PolicyRule | undefined => rules.find((r) => r.apiGroups.includes('widgets.example.fluxcd.io'));
    expect(widgets(roleRules(after['config/rbac/role.yaml']!.next))).toEqual({
      apiGroups: ['widgets.example.fluxcd.io'],
      resources: ['widgets'],
      verbs: ['get', 'list', 'watch', 'patch'],
    });
    expect(widgets(roleRules(after['config/rbac/mcp_role.yaml']!.next))).toEqual({
      apiGroups: ['widgets.example.fluxcd.io'],
      resources: ['widgets', 'gadgets'],
      verbs: ['get', 'list', 'watch'],
    });
    // The chart's ClusterRoles get the same rules as config/'s.
    for (const [chart, config] of [
      ['operator-rbac.yaml', 'role.yaml'],
      ['mcp-rbac.yaml', 'mcp_role.yaml'],
    ] as const) {
      const chartRules = after[`charts/flux-action-operator/templates/${chart}`]!.next;
      expect(chartRules).toContain(after[`config/rbac/${config}`]!.next.split('# BEGIN GENERATED flux-kinds')[1]!.split('# END')[0]!);
    }
    // The hand-written rules around the generated ones are kept.
    expect(roleRules(after['config/rbac/role.yaml']!.next)[0]!.resources).toEqual(['fluxactionrequests']);
    expect(roleRules(after['config/rbac/mcp_role.yaml']!.next).at(-1)!.resources).toEqual(['customresourcedefinitions']);
  });

  it('is a kind the policy CRDs accept in a rule’s match.kinds', () => {
    for (const path of policyCrdPaths) {
      const kinds = ruleSchema(after[path]!.next).properties!['match']!.properties!['kinds']!;
      expect(kinds.items!.enum).toEqual([...projectTable.kinds.map((k) => k.kind), 'Widget']);
      expect(kinds.maxItems).toBe(projectTable.kinds.length + 1);
    }
  });

  it('is in the admission policy kind → resource map', () => {
    expect(admissionResources(withWidget)['Widget']).toEqual({ group: 'widgets.example.fluxcd.io', resource: 'widgets' });
    expect(admissionResources(projectTable)['Widget']).toBeUndefined();
    const widget = "'Widget': {'group': 'widgets.example.fluxcd.io', 'resource': 'widgets'}";
    for (const file of [permissionPath, `charts/flux-action-operator/templates/admission-action-permission.yaml`]) {
      expect(resourcesVariable(after[file]!.next)).toContain(widget);
      expect(resourcesVariable(before[file]!.next)).not.toContain('Widget');
    }
    // The rest of the policy is kept: the variables that read the map, and both validations.
    const policy = parseAllDocuments(after[permissionPath]!.next)[0]!.toJSON() as PermissionPolicy;
    expect(policy.spec.variables.map((v) => v.name)).toEqual([
      'resources',
      'schedule',
      'spec',
      'unchanged',
      'kind',
      'known',
      'verb',
      'targetNamespace',
      'targetName',
      'asking',
    ]);
    expect(policy.spec.validations).toHaveLength(2);
  });

  it('gets the action verbs in the requester roles, and reconcile in fluxact-reconciler', () => {
    const roles = parseAllDocuments(after['config/admission/roles.yaml']!.next).map(
      (d) => d.toJSON() as Role & { metadata: { name: string } },
    );
    const widgets = (name: string): PolicyRule | undefined =>
      roles.find((r) => r.metadata.name === name)!.rules.find((r) => r.apiGroups.includes('widgets.example.fluxcd.io'));
    expect(widgets('fluxact-requester')).toEqual({
      apiGroups: ['widgets.example.fluxcd.io'],
      resources: ['widgets'],
      verbs: ['reconcile', 'suspend', 'resume'],
    });
    expect(widgets('fluxact-reconciler')).toEqual({
      apiGroups: ['widgets.example.fluxcd.io'],
      resources: ['widgets'],
      verbs: ['reconcile'],
    });
    // The hand-written rules are kept: the request verbs, the approver's and viewer's roles.
    expect(roles.map((r) => r.metadata.name)).toEqual(['fluxact-requester', 'fluxact-reconciler', 'fluxact-approver', 'fluxact-viewer']);
    expect(roles[0]!.rules[0]!.resources).toEqual(['fluxactionrequests']);
  });
});

describe('the committed artefacts', () => {
  const current = files(projectTable);

  it('give the operator get, list, watch and patch on exactly the kinds it acts on, and the action verbs its schedules need', () => {
    const flux = roleRules(current['config/rbac/role.yaml']!.current!).filter(isFlux);
    const granted = flux.flatMap((r) => r.resources.map((res) => `${res}.${r.apiGroups[0]} ${r.verbs.join(',')}`)).sort();
    expect(granted).toEqual(
      [
        ...projectTable.kinds.map((k) => `${k.plural}.${k.group} get,list,watch,patch`),
        ...projectTable.kinds.map((k) => `${k.plural}.${k.group} reconcile,suspend,resume`),
      ].sort(),
    );
  });

  it('give the MCP adapter read access to every Flux kind in the table, the action verbs on those it acts on, and nothing more', () => {
    const flux = roleRules(current['config/rbac/mcp_role.yaml']!.current!).filter(isFlux);
    const granted = flux.flatMap((r) => r.resources.map((res) => `${res}.${r.apiGroups[0]} ${r.verbs.join(',')}`)).sort();
    const kinds = [...projectTable.kinds, ...projectTable.readOnly];
    expect(granted).toEqual(
      [
        ...kinds.map((k) => `${k.plural}.${k.group} get,list,watch`),
        ...projectTable.kinds.map((k) => `${k.plural}.${k.group} reconcile,suspend,resume`),
      ].sort(),
    );
  });

  it('map every kind the operator acts on to its resource for the admission policy', () => {
    const map = admissionResources(projectTable);
    expect(Object.keys(map)).toEqual(projectTable.kinds.map((k) => k.kind));
    expect(map['Kustomization']).toEqual({ group: 'kustomize.toolkit.fluxcd.io', resource: 'kustomizations' });
  });
});

describe('the policy CRDs', () => {
  it('give FluxActionPolicy and ClusterFluxActionPolicy the same rules and status; only the cluster kind selects namespaces', () => {
    const [namespaced, clustered] = policyCrdPaths.map((p) => parse(files(projectTable)[p]!.current ?? '') as Crd);
    const version = (c: Crd): Schema => c.spec.versions[0]!.schema.openAPIV3Schema;
    expect(version(clustered!).properties!['spec']!.properties!['rules']).toEqual(
      version(namespaced!).properties!['spec']!.properties!['rules'],
    );
    expect(version(clustered!).properties!['status']).toEqual(version(namespaced!).properties!['status']);
    expect(Object.keys(version(namespaced!).properties!['spec']!.properties!)).toEqual(['rules']);
    expect(Object.keys(version(clustered!).properties!['spec']!.properties!).sort()).toEqual(['namespaceSelector', 'rules']);
  });
});

describe('CEL rules the API server accepts', () => {
  it('have no line break unless they carry a static message (the API server refuses those)', () => {
    const validations = (schema: Schema): ValidationRule[] => [
      ...(schema['x-kubernetes-validations'] ?? []),
      ...Object.values(schema.properties ?? {}).flatMap(validations),
    ];
    const rules = validations(specSchema(files(withWidget)[crdPath]!.next));
    expect(rules.length).toBeGreaterThan(4);
    for (const r of rules) if (r.message === undefined) expect(r.rule).not.toContain('\n');
  });
});

describe('option rules', () => {
  it('refuse an option no kind supports outright', () => {
    const none: KindTable = { kinds: projectTable.kinds.map((k) => ({ ...k, reset: false })), readOnly: [] };
    expect(optionRules(none).find((r) => r.fieldPath === '.reset')).toEqual({
      rule: '!has(self.reset) || !self.reset',
      message: 'reset is not supported by any kind; remove it or set it to false',
      fieldPath: '.reset',
      reason: 'FieldValueForbidden',
    });
  });

  it('name kinds in prose, with the right article', () => {
    expect(kindsInProse(['HelmRelease'])).toBe('a HelmRelease');
    expect(kindsInProse(['OCIRepository'])).toBe('an OCIRepository');
    expect(kindsInProse(['Kustomization', 'ImagePolicy'])).toBe('a Kustomization or an ImagePolicy');
    expect(kindsInProse(['HelmRelease', 'ResourceSetInputProvider', 'FluxInstance'])).toBe(
      'a HelmRelease, ResourceSetInputProvider or FluxInstance',
    );
  });
});

describe("a FluxActionSchedule's requestTemplate.spec", () => {
  const current = files(projectTable);
  const schedulePath = 'crds/fluxaction.io_fluxactionschedules.yaml';
  const template = (text: string): Schema => specSchema(text).properties!['requestTemplate']!.properties!['spec']!;

  it("is the request CRD's spec, with the same rules except the one that makes a request's spec immutable", () => {
    const request = specSchema(current[crdPath]!.next);
    const spec = template(current[schedulePath]!.next);
    expect(spec.properties).toEqual(request.properties);
    expect(request['x-kubernetes-validations']!.map((r) => r.rule)).toContain('self == oldSelf');
    expect(spec['x-kubernetes-validations']).toEqual(request['x-kubernetes-validations']!.filter((r) => r.rule !== 'self == oldSelf'));
  });

  it('follows a field added to the request CRD', () => {
    const request = parse(current[crdPath]!.next) as Crd;
    request.spec.versions[0]!.schema.openAPIV3Schema.properties!['spec']!.properties!['note'] = { description: 'new' };
    expect(requestTemplateSpecProperty(JSON.stringify(request))['properties']).toHaveProperty('note', { description: 'new' });
  });
});
