// --without-admission: the run on an install without the project's admission policies, as Helm's
// admission.enabled=false leaves it. The policies stay; their bindings, which make the API server
// enforce them, are deleted for the run and created again after it.
import * as k8s from '@kubernetes/client-node';
import { statusCode } from '../../src/kube/errors.js';
import { projectManifests, servedMutatingPolicyVersions, waitForAdmissionPolicies } from '../support/install.js';

const BindingKinds = new Set(['ValidatingAdmissionPolicyBinding', 'MutatingAdmissionPolicyBinding']);

/** The project's admission policy bindings, as installed (the MutatingAdmissionPolicy's in the version served). */
export async function admissionBindings(kc: k8s.KubeConfig): Promise<k8s.KubernetesObject[]> {
  return projectManifests(await servedMutatingPolicyVersions(kc)).filter((o) => BindingKinds.has(o.kind ?? ''));
}

/** Deletes the admission policies' bindings and waits until the API server no longer enforces them. */
export async function withoutAdmission(kc: k8s.KubeConfig, namespace: string, bindings: readonly k8s.KubernetesObject[]): Promise<void> {
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  for (const binding of bindings)
    await objects.delete(binding).catch((err: unknown) => {
      if (statusCode(err) !== 404) throw err;
    });
  await waitForAdmissionPolicies(kc, false, namespace);
}

/** Creates the bindings again (one that exists already is left as it is) and waits until the API server enforces them. */
export async function restoreAdmission(kc: k8s.KubeConfig, namespace: string, bindings: readonly k8s.KubernetesObject[]): Promise<void> {
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  for (const binding of bindings)
    await objects.create(binding).catch((err: unknown) => {
      if (statusCode(err) !== 409) throw err;
    });
  await waitForAdmissionPolicies(kc, true, namespace);
}
