// --without-admission: the run on an install without the project's admission policies, as Helm's
// admission.enabled=false leaves it. The policies stay; their bindings, which make the API server
// enforce them, are deleted for the run and created again after it.
import * as k8s from '@kubernetes/client-node';
import { statusCode } from '../../src/kube/errors.js';
import { dryRunRequest, projectManifests, servedMutatingPolicyVersions } from '../support/install.js';
import { waitFor } from '../support/kube.js';

const BindingKinds = new Set(['ValidatingAdmissionPolicyBinding', 'MutatingAdmissionPolicyBinding']);

/** The project's admission policy bindings, as installed (the MutatingAdmissionPolicy's in the version served). */
export async function admissionBindings(kc: k8s.KubeConfig): Promise<k8s.KubernetesObject[]> {
  return projectManifests(await servedMutatingPolicyVersions(kc)).filter((o) => BindingKinds.has(o.kind ?? ''));
}

/**
 * Deletes the admission policies' bindings and waits until the API server no longer enforces them:
 * a dry-run create in `namespace` with a requested-by that is not the caller's is let through, and
 * one without gets none filled in.
 */
export async function withoutAdmission(kc: k8s.KubeConfig, namespace: string, bindings: readonly k8s.KubernetesObject[]): Promise<void> {
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  for (const binding of bindings)
    await objects.delete(binding).catch((err: unknown) => {
      if (statusCode(err) !== 404) throw err;
    });
  type Probe = { metadata?: { annotations?: Record<string, string> } };
  const dryRun = async (annotations?: Record<string, string>): Promise<Probe> =>
    (await dryRunRequest(kc, 'admission-probe', annotations, namespace)) as Probe;
  await waitFor('the admission policies to be no longer enforced', async () => {
    const forged = await dryRun({ 'fluxaction.io/requested-by': 'someone-else' }).catch(() => undefined);
    if (!forged) return undefined;
    const plain = await dryRun();
    return plain.metadata?.annotations?.['fluxaction.io/requested-by'] === undefined ? true : undefined;
  });
}

/** Creates the bindings again (one that exists already is left as it is). */
export async function restoreAdmission(kc: k8s.KubeConfig, bindings: readonly k8s.KubernetesObject[]): Promise<void> {
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  for (const binding of bindings)
    await objects.create(binding).catch((err: unknown) => {
      if (statusCode(err) !== 409) throw err;
    });
}
