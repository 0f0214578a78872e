// Installs the project's manifests into the test cluster: the CRD, the namespace and the RBAC of
// config/, applied server-side exactly as a user would apply them.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { repoRoot, waitFor } from './kube.js';

/**
 * The YAML documents of a file, as client-node's typed objects. (Plain parsed YAML would lose
 * fields: client-node re-encodes a CRD through its own model, whose keys differ, e.g. `_enum`.)
 */
export function readManifests(file: string): k8s.KubernetesObject[] {
  return k8s.loadAllYaml(readFileSync(file, 'utf8')) as k8s.KubernetesObject[];
}

/** Server-side applies objects with the given field manager. */
export async function apply(kc: k8s.KubeConfig, objects: k8s.KubernetesObject[], fieldManager = 'fluxact-tests'): Promise<void> {
  const api = k8s.KubernetesObjectApi.makeApiClient(kc);
  for (const obj of objects) {
    await api.patch(obj, undefined, undefined, fieldManager, true, k8s.PatchStrategy.ServerSideApply);
  }
}

/** The manifests of a directory of the repository, without its kustomization.yaml. */
function configFiles(...dir: string[]): string[] {
  const full = path.join(repoRoot, ...(dir[0] === 'crds' ? dir : ['config', ...dir]));
  return readdirSync(full)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .map((f) => path.join(full, f));
}

/** The versions of admissionregistration.k8s.io in which the API server serves MutatingAdmissionPolicy. */
export async function servedMutatingPolicyVersions(kc: k8s.KubeConfig): Promise<MutatingPolicyVersion[]> {
  const discover = {
    v1: () => kc.makeApiClient(k8s.AdmissionregistrationV1Api).getAPIResources(),
    v1beta1: () => kc.makeApiClient(k8s.AdmissionregistrationV1beta1Api).getAPIResources(),
  };
  const served: MutatingPolicyVersion[] = [];
  for (const version of ['v1', 'v1beta1'] as const) {
    // A version the API server does not serve at all is a 404.
    const list = await discover[version]().catch((err: unknown) => {
      if (err instanceof k8s.ApiException && err.code === 404) return undefined;
      throw err;
    });
    if (list?.resources.some((r) => r.name === 'mutatingadmissionpolicies')) served.push(version);
  }
  return served;
}

/** An API version of MutatingAdmissionPolicy the project ships a policy in. */
export type MutatingPolicyVersion = 'v1' | 'v1beta1';

/**
 * The config/ directory of the requested-by MutatingAdmissionPolicy the cluster serves:
 * admission/mutating (v1, Kubernetes 1.36+), else admission/mutating-v1beta1 (1.34 and 1.35 with
 * the feature gate), as a user picks it.
 */
export function mutatingPolicyDir(served: readonly MutatingPolicyVersion[]): string[] {
  return served.includes('v1') ? ['admission', 'mutating'] : ['admission', 'mutating-v1beta1'];
}

/**
 * The operator's CRDs, namespace and RBAC, and the admission policies and roles, from crds/ and
 * config/, with the requested-by MutatingAdmissionPolicy of the version the cluster serves (the
 * local control plane serves one in every version set).
 */
export function projectManifests(served: readonly MutatingPolicyVersion[]): k8s.KubernetesObject[] {
  const files = [
    ...configFiles('crds'),
    path.join(repoRoot, 'config', 'manager', 'namespace.yaml'),
    ...configFiles('rbac'),
    ...configFiles('admission'),
    ...configFiles(...mutatingPolicyDir(served)),
  ];
  return files.flatMap(readManifests);
}

/** Applies the project's manifests and waits until the API server serves the CRD's schema. */
export async function installProject(kc: k8s.KubeConfig): Promise<void> {
  await apply(kc, projectManifests(await servedMutatingPolicyVersions(kc))).catch((err: unknown) => {
    // A control plane started before the MutatingAdmissionPolicy flags were added serves neither version.
    if (String(err).includes('MutatingAdmissionPolicy'))
      throw new Error(
        `the cluster does not serve MutatingAdmissionPolicy (${String(err)}): restart it with 'make cluster-down cluster-up'`,
      );
    throw err;
  });
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  for (const name of ['fluxactionrequests', 'fluxactionpolicies', 'clusterfluxactionpolicies']) {
    await waitFor(`the ${name}.fluxaction.io CRD to be established`, async () => {
      const crd = await ext.readCustomResourceDefinition({ name: `${name}.fluxaction.io` });
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
    });
  }
  // An updated schema is served shortly after the update, not with it: wait until a dry run gets the defaults.
  await waitFor('the FluxActionRequest schema to be served', async () => {
    const probe = (await dryRunRequest(kc, 'schema-probe')) as { spec?: { wait?: boolean; timeout?: string } };
    return probe.spec?.wait === true && probe.spec.timeout === '5m' ? true : undefined;
  });
  await waitForAdmissionPolicies(kc);
}

/**
 * Waits until the API server enforces the requested-by policies (it loads policies shortly after
 * they are written): a dry run in `namespace` without the annotation gets it filled in, one with a
 * forged value is refused. With `enforced` false, until it no longer does: neither is filled in
 * nor refused.
 */
export async function waitForAdmissionPolicies(kc: k8s.KubeConfig, enforced = true, namespace = 'default'): Promise<void> {
  const review = await kc.makeApiClient(k8s.AuthenticationV1Api).createSelfSubjectReview({ body: {} });
  const me = review.status?.userInfo?.username;
  const probe = (annotations?: Record<string, string>): Promise<unknown> => dryRunRequest(kc, 'policy-probe', annotations, namespace);
  await waitFor(`the requested-by policies to be ${enforced ? 'enforced' : 'no longer enforced'}`, async () => {
    const filled = (await probe()) as { metadata?: { annotations?: Record<string, string> } };
    if ((filled.metadata?.annotations?.['fluxaction.io/requested-by'] === me) !== enforced) return undefined;
    const refused = await probe({ 'fluxaction.io/requested-by': `not-${me}` }).then(
      () => false,
      (err: unknown) => ((err as { code?: number }).code === 403 ? true : undefined),
    );
    return refused === enforced ? true : undefined;
  });
}

/** Creates a Suspend request in `namespace` as a dry run: what admission makes of it, stored nowhere. */
export function dryRunRequest(
  kc: k8s.KubeConfig,
  name: string,
  annotations?: Record<string, string>,
  namespace = 'default',
): Promise<unknown> {
  return kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
    group: 'fluxaction.io',
    version: 'v1alpha1',
    plural: 'fluxactionrequests',
    namespace,
    dryRun: 'All',
    body: {
      apiVersion: 'fluxaction.io/v1alpha1',
      kind: 'FluxActionRequest',
      metadata: { name, ...(annotations ? { annotations } : {}) },
      spec: { action: 'Suspend', target: { kind: 'Kustomization', name: 'probe' } },
    },
  });
}
