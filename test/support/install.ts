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

/** The manifests of a config/ directory, without its kustomization.yaml. */
function configFiles(...dir: string[]): string[] {
  const full = path.join(repoRoot, 'config', ...dir);
  return readdirSync(full)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .map((f) => path.join(full, f));
}

/**
 * The operator's CRD, namespace and RBAC, and the admission policies and roles, from crds/ and
 * config/ (config/admission/mutating included: the local control plane serves MutatingAdmissionPolicy).
 */
export function projectManifests(): k8s.KubernetesObject[] {
  const files = [
    path.join(repoRoot, 'crds', 'fluxaction.io_fluxactionrequests.yaml'),
    path.join(repoRoot, 'config', 'manager', 'namespace.yaml'),
    ...configFiles('rbac'),
    ...configFiles('admission'),
    ...configFiles('admission', 'mutating'),
  ];
  return files.flatMap(readManifests);
}

/** Applies the project's manifests and waits until the API server serves the CRD's schema. */
export async function installProject(kc: k8s.KubeConfig): Promise<void> {
  await apply(kc, projectManifests()).catch((err: unknown) => {
    // A control plane started before the MutatingAdmissionPolicy flags were added does not serve it.
    if (String(err).includes('MutatingAdmissionPolicy'))
      throw new Error(
        `the cluster does not serve MutatingAdmissionPolicy (${String(err)}): restart it with 'make cluster-down cluster-up'`,
      );
    throw err;
  });
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  await waitFor('the FluxActionRequest CRD to be established', async () => {
    const crd = await ext.readCustomResourceDefinition({ name: 'fluxactionrequests.fluxaction.io' });
    return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
  });
  // An updated schema is served shortly after the update, not with it: wait until a dry run gets the defaults.
  await waitFor('the FluxActionRequest schema to be served', async () => {
    const probe = (await dryRunRequest(kc, 'schema-probe')) as { spec?: { wait?: boolean; timeout?: string } };
    return probe.spec?.wait === true && probe.spec.timeout === '5m' ? true : undefined;
  });
  await waitForAdmissionPolicies(kc);
}

/**
 * Waits until the API server enforces the requested-by policies (it loads policies shortly after
 * they are written): a dry run without the annotation gets it filled in, one with a forged value is
 * refused.
 */
async function waitForAdmissionPolicies(kc: k8s.KubeConfig): Promise<void> {
  const review = await kc.makeApiClient(k8s.AuthenticationV1Api).createSelfSubjectReview({ body: {} });
  const me = review.status?.userInfo?.username;
  const probe = (annotations?: Record<string, string>): Promise<unknown> => dryRunRequest(kc, 'policy-probe', annotations);
  await waitFor('the requested-by policies to be enforced', async () => {
    const filled = (await probe()) as { metadata?: { annotations?: Record<string, string> } };
    if (filled.metadata?.annotations?.['fluxaction.io/requested-by'] !== me) return undefined;
    const forged = await probe({ 'fluxaction.io/requested-by': `not-${me}` }).then(
      () => undefined,
      (err: unknown) => ((err as { code?: number }).code === 403 ? true : undefined),
    );
    return forged;
  });
}

/** Creates a Suspend request in namespace default as a dry run: what admission makes of it, stored nowhere. */
function dryRunRequest(kc: k8s.KubeConfig, name: string, annotations?: Record<string, string>): Promise<unknown> {
  return kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
    group: 'fluxaction.io',
    version: 'v1alpha1',
    plural: 'fluxactionrequests',
    namespace: 'default',
    dryRun: 'All',
    body: {
      apiVersion: 'fluxaction.io/v1alpha1',
      kind: 'FluxActionRequest',
      metadata: { name, ...(annotations ? { annotations } : {}) },
      spec: { action: 'Suspend', target: { kind: 'Kustomization', name: 'probe' } },
    },
  });
}
