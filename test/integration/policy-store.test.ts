// FluxActionPolicy and ClusterFluxActionPolicy against the real API server: what CEL refuses at
// admission (with its message), and the policy store running as the operator's ServiceAccount —
// Ready conditions written to status, invalid-but-admitted policies loaded as invalid, cluster
// policies following namespace labels, and the documented examples accepted by the CRDs.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import pino from 'pino';
import { loadAllYaml } from '@kubernetes/client-node';
import { loadPolicy, type LoadedPolicy } from '../../src/policy/evaluate.js';
import { PolicyStore } from '../../src/policy/store.js';
import { ClusterPolicyPlural, PolicyPlural, PolicyStatusSchema, type PolicyStatus } from '../../src/policy/types.js';
import { OperatorNamespace, OperatorServiceAccount, ensureInstalled, serviceAccountKubeConfig } from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, randomSuffix, repoRoot, testKubeconfigPath, waitFor } from '../support/kube.js';
import { refusal } from '../support/users.js';

const group = 'fluxaction.io';
const version = 'v1alpha1';

let kc: k8s.KubeConfig;
let custom: k8s.CustomObjectsApi;
let ns: string;
let store: PolicyStore;
const clusterPolicies: string[] = [];
let cacheDir: string;

/** The pinned kubectl against the test cluster, with a discovery cache of this file's own (the CRDs as installed now). */
async function kubectl(...args: string[]): Promise<string> {
  const flags = ['--kubeconfig', testKubeconfigPath(), '--cache-dir', cacheDir];
  const { stdout } = await promisify(execFile)('bash', ['test/cluster/cluster.sh', 'kubectl', ...flags, ...args], {
    cwd: repoRoot,
    timeout: 30_000,
  });
  return stdout;
}

function policy(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: `${group}/${version}`, kind: 'FluxActionPolicy', metadata: { name }, spec };
}

function createPolicy(body: Record<string, unknown>, dryRun = false): Promise<Record<string, unknown>> {
  return custom.createNamespacedCustomObject({
    group,
    version,
    plural: PolicyPlural,
    namespace: ns,
    body,
    ...(dryRun ? { dryRun: 'All' } : {}),
  }) as Promise<Record<string, unknown>>;
}

async function createClusterPolicy(name: string, spec: Record<string, unknown>): Promise<void> {
  clusterPolicies.push(name);
  await custom.createClusterCustomObject({
    group,
    version,
    plural: ClusterPolicyPlural,
    body: { apiVersion: `${group}/${version}`, kind: 'ClusterFluxActionPolicy', metadata: { name }, spec },
  });
}

async function statusOf(name: string): Promise<{ generation: number; status: PolicyStatus }> {
  const obj = (await custom.getNamespacedCustomObject({ group, version, plural: PolicyPlural, namespace: ns, name })) as {
    metadata: { generation: number };
    status?: unknown;
  };
  return { generation: obj.metadata.generation, status: PolicyStatusSchema.parse(obj.status ?? {}) };
}

/** Waits until the policy's Ready condition has the status and reason, for its current generation. */
async function waitForReady(name: string, status: 'True' | 'False', reason: string): Promise<{ message?: string }> {
  return waitFor(`FluxActionPolicy ${ns}/${name} Ready=${status} (${reason})`, async () => {
    const current = await statusOf(name);
    const ready = current.status.conditions?.find((c) => c.type === 'Ready');
    const fresh = current.status.observedGeneration === current.generation && ready?.observedGeneration === current.generation;
    return fresh && ready.status === status && ready.reason === reason ? ready : undefined;
  });
}

function named(policies: readonly LoadedPolicy[], name: string): LoadedPolicy | undefined {
  return policies.find((p) => p.name === name);
}

beforeAll(async () => {
  kc = adminKubeConfig();
  custom = kc.makeApiClient(k8s.CustomObjectsApi);
  cacheDir = mkdtempSync(path.join(tmpdir(), 'fluxact-kubectl-cache-'));
  await ensureInstalled();
  ns = await createNamespace(kc, 'policy-store');
  // The store runs with the operator's own RBAC (config/rbac/role.yaml), so a missing grant fails here.
  const operatorKc = await serviceAccountKubeConfig(kc, OperatorNamespace, OperatorServiceAccount);
  store = new PolicyStore({ kc: operatorKc, log: pino({ level: process.env.FLUXACT_TEST_LOG_LEVEL ?? 'silent' }) });
  store.start();
  await store.whenSynced(AbortSignal.timeout(30_000));
});

afterAll(async () => {
  await store.stop();
  for (const name of clusterPolicies)
    await custom.deleteClusterCustomObject({ group, version, plural: ClusterPolicyPlural, name }).catch(() => undefined);
  await deleteNamespace(kc, ns);
  rmSync(cacheDir, { recursive: true, force: true });
});

describe('admission refuses a bad policy with a message that says what to fix', () => {
  const rule = (r: Record<string, unknown>): Record<string, unknown> => ({ rules: [{ name: 'r', ...r }] });

  it.each([
    ['no rules', { rules: [] }, 'spec.rules: Invalid value: 0: spec.rules in body should have at least 1 items'],
    ['rule names used twice', { rules: [{ name: 'a' }, { name: 'a' }] }, 'rule names must be unique within a policy'],
    ['a rule name that is not a DNS label', { rules: [{ name: 'No Spaces' }] }, "rule name must be lowercase letters, digits and '-'"],
    ['an unknown effect', rule({ effect: 'Maybe' }), 'Unsupported value: "Maybe": supported values: "Allow", "Deny", "RequireApproval"'],
    ['approvalTimeout without RequireApproval', rule({ approvalTimeout: '5m' }), 'approvalTimeout is only for effect RequireApproval'],
    ['a bad approvalTimeout', rule({ effect: 'RequireApproval', approvalTimeout: '1 hour' }), 'approvalTimeout must be a Go duration'],
    ['an unknown action', rule({ match: { actions: ['Delete'] } }), 'Unsupported value: "Delete"'],
    ['a kind the operator does not act on', rule({ match: { kinds: ['Deployment'] } }), 'Unsupported value: "Deployment"'],
    [
      'a schedule without 5 fields',
      rule({ windows: [{ schedule: '0 0 16 * * 5', duration: '1h' }] }),
      'schedule must be a cron schedule of 5 fields',
    ],
    ['a window duration in days', rule({ windows: [{ schedule: '0 16 * * 5', duration: '3d' }] }), 'duration must be a Go duration'],
    ['a zero window duration', rule({ windows: [{ schedule: '0 16 * * 5', duration: '0s' }] }), 'duration must be more than 0s'],
    ['a rate limit of 0', rule({ rateLimit: { count: 0, per: '1h' } }), 'should be greater than or equal to 1'],
    ['a rate limit without per', rule({ rateLimit: { count: 5 } }), 'spec.rules[0].rateLimit.per: Required value'],
    ['a bad rate limit per', rule({ rateLimit: { count: 5, per: 'hourly' } }), 'rateLimit.per must be a Go duration'],
  ])('%s', async (_what, spec, message) => {
    const refused = await refusal(createPolicy(policy('bad', spec), true));
    expect(refused.code).toBe(422);
    expect(refused.message).toContain(message);
  });

  it('a cluster policy selector expression In without values', async () => {
    const refused = await refusal(
      custom.createClusterCustomObject({
        group,
        version,
        plural: ClusterPolicyPlural,
        dryRun: 'All',
        body: {
          apiVersion: `${group}/${version}`,
          kind: 'ClusterFluxActionPolicy',
          metadata: { name: `bad-${randomSuffix()}` },
          spec: { namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'In' }] }, rules: [{ name: 'r' }] },
        },
      }),
    );
    expect(refused.message).toContain('values must be non-empty for operators In and NotIn');
  });

  it('fills in effect Deny for a rule that names none', async () => {
    const stored = (await createPolicy(policy('defaults', { rules: [{ name: 'r' }] }), true)) as { spec: { rules: { effect?: string }[] } };
    expect(stored.spec.rules[0]!.effect).toBe('Deny');
  });
});

describe('the policy store', () => {
  it('loads a valid policy and marks it Ready', async () => {
    await createPolicy(policy('valid', { rules: [{ name: 'a', effect: 'Allow' }, { name: 'b' }] }));
    const ready = await waitForReady('valid', 'True', 'Valid');
    expect(ready.message).toBe('2 rules in force');
    const loaded = named(store.policiesFor(ns), 'valid');
    expect(loaded).toMatchObject({ kind: 'FluxActionPolicy', namespace: ns, name: 'valid' });
    expect(loaded?.invalid).toBeFalsy();
    expect(named(store.policiesFor('default'), 'valid')).toBeUndefined();
    expect((await statusOf('valid')).status.rules).toBe(2);
  });

  it('shows the rule count and readiness in kubectl get fap', async () => {
    await createPolicy(policy('shown', { rules: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] }));
    await waitForReady('shown', 'True', 'Valid');
    const [header, row] = (await kubectl('get', 'fap', '-n', ns, 'shown')).trim().split('\n');
    expect(header?.split(/\s+/)).toEqual(['NAME', 'RULES', 'READY', 'REASON', 'AGE']);
    expect(row?.split(/\s+/).slice(0, 4)).toEqual(['shown', '3', 'True', 'Valid']);
  });

  it('marks a policy with an unknown time zone Ready=False (Invalid) with why, and loads it as invalid', async () => {
    await createPolicy(
      policy('bad-zone', { rules: [{ name: 'freeze', windows: [{ schedule: '0 16 * * 5', duration: '64h', timeZone: 'Europe/Berln' }] }] }),
    );
    const ready = await waitForReady('bad-zone', 'False', 'Invalid');
    expect(ready.message).toBe(
      'rule freeze: window 1: unknown time zone "Europe/Berln" (use an IANA name such as Europe/Berlin); until this is fixed the policy denies every request it governs',
    );
    expect(named(store.policiesFor(ns), 'bad-zone')).toMatchObject({
      invalid: true,
      reason: expect.stringContaining('Europe/Berln') as unknown,
    });
  });

  it('marks a policy with a cron field out of range Ready=False, and Ready again once fixed', async () => {
    const spec = (schedule: string): Record<string, unknown> => ({ rules: [{ name: 'nightly', windows: [{ schedule, duration: '8h' }] }] });
    await createPolicy(policy('bad-cron', spec('0 25 * * *')));
    const ready = await waitForReady('bad-cron', 'False', 'Invalid');
    expect(ready.message).toContain('rule nightly: window 1: schedule "0 25 * * *" is not a cron schedule');
    await custom.patchNamespacedCustomObject(
      { group, version, plural: PolicyPlural, namespace: ns, name: 'bad-cron', body: { spec: spec('0 22 * * *') } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await waitForReady('bad-cron', 'True', 'Valid');
    await waitFor('the store to load the fixed policy', () => {
      const loaded = named(store.policiesFor(ns), 'bad-cron');
      return loaded && !loaded.invalid ? true : undefined;
    });
  });

  it('forgets a deleted policy', async () => {
    await createPolicy(policy('short-lived', { rules: [{ name: 'r' }] }));
    await waitFor('the store to load it', () => named(store.policiesFor(ns), 'short-lived'));
    await custom.deleteNamespacedCustomObject({ group, version, plural: PolicyPlural, namespace: ns, name: 'short-lived' });
    await waitFor('the store to forget it', () => (named(store.policiesFor(ns), 'short-lived') ? undefined : true));
  });

  it("of an operator that watches one namespace loads that namespace's policies and the cluster's, not another's", async () => {
    const other = await createNamespace(kc, 'policy-store-other');
    const scoped = new PolicyStore({
      kc: await serviceAccountKubeConfig(kc, OperatorNamespace, OperatorServiceAccount),
      log: pino({ level: process.env.FLUXACT_TEST_LOG_LEVEL ?? 'silent' }),
      namespace: other,
    });
    try {
      const cluster = `everywhere-${randomSuffix()}`;
      // Selecting the other namespace only: the tests running beside this one are not governed by it.
      await createClusterPolicy(cluster, {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': other } },
        rules: [{ name: 'all' }],
      });
      await createPolicy(policy('elsewhere', { rules: [{ name: 'r' }] }));
      await custom.createNamespacedCustomObject({
        group,
        version,
        plural: PolicyPlural,
        namespace: other,
        body: policy('own', { rules: [{ name: 'r' }] }),
      });
      scoped.start();
      await scoped.whenSynced(AbortSignal.timeout(30_000));
      await waitFor("the scoped store to load its namespace's policy and the cluster policy", () => {
        const names = scoped.policiesFor(other).map((p) => p.name);
        return names.includes('own') && names.includes(cluster) ? true : undefined;
      });
      // The unscoped store sees the other namespace's policy; the scoped one does not load it.
      await waitFor('the unscoped store to load the policy elsewhere', () => named(store.policiesFor(ns), 'elsewhere'));
      expect(scoped.policiesFor(ns).filter((p) => p.kind === 'FluxActionPolicy')).toEqual([]);
    } finally {
      await scoped.stop();
      await custom
        .deleteNamespacedCustomObject({ group, version, plural: PolicyPlural, namespace: ns, name: 'elsewhere' })
        .catch(() => undefined);
      await deleteNamespace(kc, other);
    }
  });

  it('applies a ClusterFluxActionPolicy to a namespace while its labels match the selector', async () => {
    const label = `policy-test-${randomSuffix()}`;
    const name = `frozen-${randomSuffix()}`;
    await createClusterPolicy(name, { namespaceSelector: { matchLabels: { [label]: 'frozen' } }, rules: [{ name: 'all' }] });
    await waitFor('the store to load the cluster policy', () => (store.knowsNamespace(ns) && store.synced ? true : undefined));
    await waitFor('the cluster policy to be Ready', async () => {
      const obj = (await custom.getClusterCustomObject({ group, version, plural: ClusterPolicyPlural, name })) as { status?: unknown };
      return PolicyStatusSchema.parse(obj.status ?? {}).conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
    });
    expect(named(store.policiesFor(ns), name)).toBeUndefined();

    const core = kc.makeApiClient(k8s.CoreV1Api);
    const setLabel = (value: string | null): Promise<unknown> =>
      core.patchNamespace(
        { name: ns, body: { metadata: { labels: { [label]: value } } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    await setLabel('frozen');
    await waitFor('the labelled namespace to be governed', () => named(store.policiesFor(ns), name));
    expect(store.policiesFor(ns)[0]).toMatchObject({ kind: 'ClusterFluxActionPolicy', name });
    await setLabel('thawed');
    await waitFor('the relabelled namespace to be governed no more', () => (named(store.policiesFor(ns), name) ? undefined : true));
    await setLabel('frozen');
    await waitFor('the labelled namespace to be governed again', () => named(store.policiesFor(ns), name));
    await setLabel(null);
    await waitFor('the unlabelled namespace to be governed no more', () => (named(store.policiesFor(ns), name) ? undefined : true));
  });
});

describe('the documented policies', () => {
  /** The policies of README.md's yaml blocks and config/samples/policies, in the test namespace. */
  function documented(): { from: string; body: k8s.KubernetesObject }[] {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    const fromReadme = blocks.flatMap((b) => loadAllYaml(b) as k8s.KubernetesObject[]).map((body) => ({ from: 'README.md', body }));
    const dir = path.join(repoRoot, 'config', 'samples', 'policies');
    const fromSamples = readdirSync(dir)
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
      .flatMap((f) => (loadAllYaml(readFileSync(path.join(dir, f), 'utf8')) as k8s.KubernetesObject[]).map((body) => ({ from: f, body })));
    return [...fromReadme, ...fromSamples].filter((d) => d.body.kind === 'FluxActionPolicy' || d.body.kind === 'ClusterFluxActionPolicy');
  }

  it('are there: the DESIGN example in README.md and both kinds in the samples', () => {
    const docs = documented();
    expect(docs.filter((d) => d.from === 'README.md').map((d) => d.body.metadata?.name)).toContain('guardrails');
    expect(new Set(docs.map((d) => d.body.kind))).toEqual(new Set(['FluxActionPolicy', 'ClusterFluxActionPolicy']));
  });

  it('are accepted by the CRDs (server-side dry run) and load as valid policies', async () => {
    const api = k8s.KubernetesObjectApi.makeApiClient(kc);
    for (const { from, body } of documented()) {
      const obj = JSON.parse(JSON.stringify(body)) as k8s.KubernetesObject;
      if (obj.kind === 'FluxActionPolicy' && obj.metadata) obj.metadata.namespace = ns;
      const applied = await api
        .patch(obj, undefined, 'All', 'fluxact-tests', true, k8s.PatchStrategy.ServerSideApply)
        .catch((err: unknown) => {
          throw new Error(`${from}: ${body.kind} ${body.metadata?.name}: ${String(err)}`);
        });
      const loaded = loadPolicy(applied);
      expect({ from, name: loaded.name, reason: loaded.invalid ? loaded.reason : undefined }).toEqual({
        from,
        name: body.metadata?.name,
        reason: undefined,
      });
    }
  });
});
