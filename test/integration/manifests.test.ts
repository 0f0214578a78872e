// config/ as users apply it: every kustomization builds, the API server accepts the objects
// (server-side dry run), and RBAC stays least-privilege.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { parseAllDocuments, stringify } from 'yaml';
import { repoRoot, testKubeconfigPath } from '../support/kube.js';
import { ensureInstalled } from '../support/harness.js';

const run = promisify(execFile);
const cluster = path.join(repoRoot, 'test', 'cluster', 'cluster.sh');

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await run('bash', [cluster, 'kubectl', '--kubeconfig', testKubeconfigPath(), ...args], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
}
async function kubectlWithInput(input: string, ...args: string[]): Promise<string> {
  const child = run('bash', [cluster, 'kubectl', '--kubeconfig', testKubeconfigPath(), ...args], { maxBuffer: 16 * 1024 * 1024 });
  child.child.stdin?.end(input);
  return (await child).stdout;
}

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
}

// The namespace and CRD config/'s objects go into (a dry run does not create them).
beforeAll(() => ensureInstalled());

describe('config/', () => {
  it.each([
    'crd',
    'rbac',
    'manager',
    'default',
    'samples',
    'samples/policies',
    'admission',
    'admission/mutating',
    'admission/mutating-v1beta1',
  ])('config/%s builds with kustomize', async (dir) => {
    const out = await kubectl('kustomize', path.join(repoRoot, 'config', dir));
    expect(out.length).toBeGreaterThan(0);
  });

  // Every directory a user may apply on its own. The samples' objects go to a namespace of the
  // test's (a dry run does not create their namespace, so objects in it would be refused).
  it.each(['crd', 'rbac', 'manager', 'admission', 'admission/mutating', 'samples'])(
    'config/%s is accepted by the API server (server-side dry run)',
    async (dir) => {
      let docs = parseAllDocuments(await kubectl('kustomize', path.join(repoRoot, 'config', dir))).map((d) => d.toJSON() as Manifest);
      if (dir === 'samples') {
        docs = docs.filter((d) => d.kind !== 'Namespace').map((d) => ({ ...d, metadata: { ...d.metadata, namespace: 'default' } }));
      }
      const out = await kubectlWithInput(
        docs.map((d) => `---\n${stringify(d)}`).join(''),
        'apply',
        '-f',
        '-',
        '--dry-run=server',
        '--server-side',
        '--force-conflicts',
        '--field-manager=fluxact-manifests-test',
      );
      for (const d of docs) expect(out).toContain(`/${d.metadata.name} serverside-applied (server dry run)`);
      expect(out.trim().split('\n')).toHaveLength(docs.length);
    },
  );

  it('config/default is accepted by the API server (server-side dry run)', async () => {
    const out = await kubectl(
      'apply',
      '-k',
      path.join(repoRoot, 'config', 'default'),
      '--dry-run=server',
      '--server-side',
      '--force-conflicts',
    );
    expect(out).toContain('deployment.apps/fluxact-operator serverside-applied (server dry run)');
    expect(out).toContain('deployment.apps/fluxact-mcp serverside-applied (server dry run)');
  });

  it('grants no wildcard verbs, resources or groups, and never lets the adapter patch Flux objects', async () => {
    const docs = parseAllDocuments(await kubectl('kustomize', path.join(repoRoot, 'config', 'rbac'))).map((d) => d.toJSON() as Manifest);
    const roles = docs.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role');
    expect(roles.map((r) => r.metadata.name).sort()).toEqual(['fluxact-mcp', 'fluxact-operator', 'fluxact-operator-leader-election']);
    for (const role of roles) {
      for (const rule of role.rules ?? []) {
        for (const list of [rule.apiGroups, rule.resources, rule.verbs]) expect(list ?? []).not.toContain('*');
      }
    }
    const adapter = roles.find((r) => r.metadata.name === 'fluxact-mcp')!;
    const writes = adapter.rules!.filter((r) => r.verbs!.some((v) => ['create', 'update', 'patch', 'delete'].includes(v)));
    expect(writes).toEqual([
      { apiGroups: ['fluxaction.io'], resources: ['fluxactionrequests'], verbs: ['create', 'get', 'list', 'watch'] },
    ]);
  });

  it('ships roles for requesters, reconcilers, approvers and viewers that write nothing but requests and schedules', async () => {
    const docs = parseAllDocuments(await kubectl('kustomize', path.join(repoRoot, 'config', 'admission'))).map(
      (d) => d.toJSON() as Manifest,
    );
    const roles = docs.filter((d) => d.kind === 'ClusterRole');
    expect(roles.map((r) => r.metadata.name).sort()).toEqual([
      'fluxact-approver',
      'fluxact-reconciler',
      'fluxact-requester',
      'fluxact-viewer',
    ]);
    for (const rule of roles.flatMap((r) => r.rules ?? [])) {
      for (const list of [rule.apiGroups, rule.resources, rule.verbs]) expect(list ?? []).not.toContain('*');
      const schedules = rule.resources?.includes('fluxactionschedules') === true;
      if (rule.verbs!.some((v) => ['create', 'update', 'patch', 'delete'].includes(v)))
        expect(rule).toEqual({
          apiGroups: ['fluxaction.io'],
          // Requesters create requests and manage schedules (admission checks the template's verb on
          // its target); approvers patch requests to set their decision (admission checks verb approve).
          resources: [schedules ? 'fluxactionschedules' : 'fluxactionrequests'],
          verbs: expect.arrayContaining(['get', 'list', 'watch']) as unknown as string[],
        });
      // A request is the audit trail: nobody but the operator (its TTL, a schedule's history) deletes one.
      if (!schedules) expect(rule.verbs).not.toContain('delete');
    }
    const approver = roles.find((r) => r.metadata.name === 'fluxact-approver');
    expect(approver?.rules).toEqual([
      { apiGroups: ['fluxaction.io'], resources: ['fluxactionrequests'], verbs: ['approve', 'get', 'list', 'watch', 'patch', 'update'] },
      { apiGroups: ['fluxaction.io'], resources: ['fluxactionschedules'], verbs: ['get', 'list', 'watch'] },
    ]);
  });
});
