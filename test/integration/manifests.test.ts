// config/ as users apply it: every kustomization builds, the API server accepts the objects
// (server-side dry run), and RBAC stays least-privilege.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { repoRoot, testKubeconfigPath } from '../support/kube.js';

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
interface Manifest {
  kind: string;
  metadata: { name: string };
  rules?: Rule[];
}

describe('config/', () => {
  it.each(['crd', 'rbac', 'manager', 'default', 'samples', 'admission', 'admission/mutating'])(
    'config/%s builds with kustomize',
    async (dir) => {
      const out = await kubectl('kustomize', path.join(repoRoot, 'config', dir));
      expect(out.length).toBeGreaterThan(0);
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

  it('ships roles for requesters, reconcilers, approvers and viewers that write nothing but requests', async () => {
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
      if (rule.verbs!.some((v) => ['create', 'update', 'patch', 'delete'].includes(v)))
        expect(rule).toEqual({
          apiGroups: ['fluxaction.io'],
          resources: ['fluxactionrequests'],
          verbs: ['create', 'get', 'list', 'watch'],
        });
    }
  });
});
