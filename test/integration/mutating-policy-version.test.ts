// The requested-by MutatingAdmissionPolicy ships in admissionregistration.k8s.io/v1
// (config/admission/mutating, Kubernetes 1.36+) and in v1beta1 (config/admission/mutating-v1beta1,
// 1.34 and 1.35). What gets installed — by the tests' install, by the chart with the cluster's
// capabilities — is the version this API server serves, and the other is refused; the local control
// plane serves the version its Kubernetes release has (test/cluster/cluster.sh).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { chartDir, helm, parseObjects, type Rendered } from '../support/helm.js';
import { ensureInstalled } from '../support/harness.js';
import { mutatingPolicyDir, servedMutatingPolicyVersions, type MutatingPolicyVersion } from '../support/install.js';
import { adminKubeConfig, repoRoot, testKubeconfigPath } from '../support/kube.js';

const run = promisify(execFile);
const cluster = path.join(repoRoot, 'test', 'cluster', 'cluster.sh');
const group = 'admissionregistration.k8s.io';

async function kubectl(args: string[], input?: string): Promise<string> {
  const child = run('bash', [cluster, 'kubectl', '--kubeconfig', testKubeconfigPath(), ...args], { maxBuffer: 16 << 20 });
  if (input !== undefined) child.child.stdin?.end(input);
  return (await child).stdout;
}

/** kubectl's output for a server-side dry run of the objects, or its error output when refused. */
async function dryRun(objects: Rendered[]): Promise<{ ok: boolean; out: string }> {
  const input = objects.map((o) => `---\n${stringify(o)}`).join('');
  try {
    return {
      ok: true,
      out: await kubectl(
        ['apply', '--dry-run=server', '--server-side', '--force-conflicts', '--field-manager=fluxact-version-test', '-f', '-'],
        input,
      ),
    };
  } catch (err) {
    return { ok: false, out: (err as { stderr?: string }).stderr ?? String(err) };
  }
}

const mutatingObjects = (objects: Rendered[]): Rendered[] => objects.filter((o) => o.kind.startsWith('MutatingAdmissionPolicy'));

let kc: k8s.KubeConfig;
let served: MutatingPolicyVersion[];
let minor: number;

beforeAll(async () => {
  await ensureInstalled();
  kc = adminKubeConfig();
  served = await servedMutatingPolicyVersions(kc);
  const version = await kc.makeApiClient(k8s.VersionApi).getCode();
  minor = Number.parseInt(version.minor, 10);
});

describe('the local control plane', () => {
  it('serves MutatingAdmissionPolicy in v1 from Kubernetes 1.36 on, and in v1beta1 (turned on by cluster.sh) only before', () => {
    expect(served).toEqual(minor >= 36 ? ['v1'] : ['v1beta1']);
  });
});

describe('config/admission', () => {
  it.each([
    ['v1', 'mutating'],
    ['v1beta1', 'mutating-v1beta1'],
  ] as const)('the %s policy (config/admission/%s) is accepted exactly where the API server serves that version', async (version, dir) => {
    const objects = parseObjects(await kubectl(['kustomize', path.join(repoRoot, 'config', 'admission', dir)]));
    expect(objects.map((o) => `${o.apiVersion} ${o.kind}`)).toEqual([
      `${group}/${version} MutatingAdmissionPolicy`,
      `${group}/${version} MutatingAdmissionPolicyBinding`,
    ]);
    const result = await dryRun(objects);
    if (served.includes(version)) {
      expect(result.out).toContain(
        'mutatingadmissionpolicy.admissionregistration.k8s.io/fluxact-requested-by serverside-applied (server dry run)',
      );
    } else {
      expect(result.ok).toBe(false);
      // A group version served without the kind, or not served at all.
      expect(result.out).toMatch(
        new RegExp(
          `no matches for kind "MutatingAdmissionPolicy" in version "${group}/${version}"|the server could not find the requested resource`,
        ),
      );
    }
  });

  it('the installed policy is the served version’s file, applied in that version', async () => {
    const [version] = served;
    expect(mutatingPolicyDir(served)).toEqual(['admission', version === 'v1' ? 'mutating' : 'mutating-v1beta1']);
    const policy = (await kc
      .makeApiClient(k8s.CustomObjectsApi)
      .getClusterCustomObject({ group, version: version!, plural: 'mutatingadmissionpolicies', name: 'fluxact-requested-by' })) as {
      metadata: { managedFields: { manager: string; apiVersion: string }[] };
    };
    const applied = policy.metadata.managedFields.filter((f) => f.manager === 'fluxact-tests').map((f) => f.apiVersion);
    expect(applied).toEqual([`${group}/${version}`]);
  });
});

describe('the chart with admission.mutating.enabled', () => {
  const values = ['--set', 'admission.mutating.enabled=true'];

  it('renders the policy in the version the API server serves when it asks the cluster (helm template --dry-run=server), and the API server accepts it', async () => {
    // --take-ownership: the tests installed config/'s objects of the same names; a template takes nothing.
    const rendered = mutatingObjects(
      parseObjects(
        await helm(['template', 'fluxact', chartDir, '--namespace', 'fluxact-system', '--dry-run=server', '--take-ownership', ...values], {
          KUBECONFIG: testKubeconfigPath(),
        }),
      ),
    );
    expect(rendered.map((o) => o.apiVersion)).toEqual([`${group}/${served[0]}`, `${group}/${served[0]}`]);
    const result = await dryRun(rendered);
    expect(result.out).toContain(
      'mutatingadmissionpolicybinding.admissionregistration.k8s.io/fluxact-requested-by serverside-applied (server dry run)',
    );
  });

  it.each([
    ['only v1beta1 (Kubernetes 1.34, 1.35)', [`${group}/v1beta1/MutatingAdmissionPolicy`], 'mutating-v1beta1'],
    ['v1 and v1beta1', [`${group}/v1beta1/MutatingAdmissionPolicy`, `${group}/v1/MutatingAdmissionPolicy`], 'mutating'],
    ['neither (helm template without a cluster)', [], 'mutating'],
  ])("renders config/admission's copy for a cluster serving %s", async (_name, apiVersions, dir) => {
    const args = ['template', 'fluxact', chartDir, '--namespace', 'fluxact-system', ...values];
    for (const v of apiVersions) args.push('--api-versions', v);
    const strip = (o: Rendered): Rendered => ({ ...o, metadata: { name: o.metadata.name } });
    const fromChart = mutatingObjects(parseObjects(await helm(args))).map(strip);
    const fromConfig = parseObjects(await kubectl(['kustomize', path.join(repoRoot, 'config', 'admission', dir)])).map(strip);
    expect(fromChart).toEqual(fromConfig);
  });
});
