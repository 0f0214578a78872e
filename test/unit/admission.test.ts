// config/admission agrees with the kinds table: the policy's kind → resource map and the Flux rules of
// the shipped roles are the table's, so a new kind cannot be accepted by the CRD and missed here.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { kindResources, RequestedByAnnotation, resourcesByGroup } from '../../src/admission/kind-resources.js';
import { admissionResourcesVariable, projectTable } from '../../src/codegen/artefacts.js';
import { fluxKinds } from '../../src/flux/kinds.js';
import { repoRoot } from '../support/kube.js';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}
interface Doc {
  kind: string;
  metadata: { name: string };
  rules?: Rule[];
  spec?: { variables?: { name: string; expression: string }[] };
}

function docs(...file: string[]): Doc[] {
  return parseAllDocuments(readFileSync(path.join(repoRoot, 'config', ...file), 'utf8')).map((d) => d.toJSON() as Doc);
}

function find(list: Doc[], kind: string, name: string): Doc {
  const doc = list.find((d) => d.kind === kind && d.metadata.name === name);
  if (!doc) throw new Error(`no ${kind} ${name}`);
  return doc;
}

const fluxGroups = new Set(fluxKinds.map((k) => k.group));
/** A role's rules on the Flux kinds (not on fluxactionrequests or anything else it reads). */
function fluxRules(role: Doc, verbs: string[]): Rule[] {
  return (role.rules ?? []).filter((r) => r.apiGroups.every((g) => fluxGroups.has(g)) && r.verbs.every((v) => verbs.includes(v)));
}

describe('config/admission and the kinds table', () => {
  it('the permission policy maps exactly the table kinds to their group and resource', () => {
    const policy = find(docs('admission', 'action-permission.yaml'), 'ValidatingAdmissionPolicy', 'fluxact-action-permission');
    const resources = policy.spec!.variables!.find((v) => v.name === 'resources')!;
    expect(resources).toEqual(admissionResourcesVariable(projectTable));
    for (const k of fluxKinds) expect(resources.expression).toContain(`'${k.kind}': {'group': '${k.group}', 'resource': '${k.plural}'}`);
  });

  it('the exported map has a row per kind, with the plural RBAC names', () => {
    expect(Object.keys(kindResources)).toEqual(fluxKinds.map((k) => k.kind));
    expect(kindResources['Kustomization']).toEqual({ group: 'kustomize.toolkit.fluxcd.io', resource: 'kustomizations' });
    expect(kindResources['ImagePolicy']).toEqual({ group: 'image.toolkit.fluxcd.io', resource: 'imagepolicies' });
  });

  it('fluxact-requester holds all three action verbs on every kind', () => {
    const role = find(docs('admission', 'roles.yaml'), 'ClusterRole', 'fluxact-requester');
    const expected = resourcesByGroup().map((r) => ({ ...r, verbs: ['reconcile', 'suspend', 'resume'] }));
    expect(fluxRules(role, ['reconcile', 'suspend', 'resume'])).toEqual(expected);
  });

  it('fluxact-reconciler holds reconcile only, on every kind that can be reconciled', () => {
    const role = find(docs('admission', 'roles.yaml'), 'ClusterRole', 'fluxact-reconciler');
    const expected = resourcesByGroup(true).map((r) => ({ ...r, verbs: ['reconcile'] }));
    expect(fluxRules(role, ['reconcile', 'suspend', 'resume'])).toEqual(expected);
  });

  it('the MCP adapter holds all three action verbs on every kind (it creates requests as itself)', () => {
    const role = find(docs('rbac', 'mcp_role.yaml'), 'ClusterRole', 'fluxact-mcp');
    const expected = resourcesByGroup().map((r) => ({ ...r, verbs: ['reconcile', 'suspend', 'resume'] }));
    expect(fluxRules(role, ['reconcile', 'suspend', 'resume'])).toEqual(expected);
  });

  it('the requested-by policies guard the annotation the code names', () => {
    for (const file of [
      ['admission', 'requested-by.yaml'],
      ['admission', 'mutating', 'requested-by.yaml'],
    ]) {
      expect(readFileSync(path.join(repoRoot, 'config', ...file), 'utf8')).toContain(`'${RequestedByAnnotation}'`);
    }
  });
});
