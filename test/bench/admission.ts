// --without-admission: the run on an install without the project's admission policies, as Helm's
// admission.enabled=false leaves it. The policies stay; their bindings, which make the API server
// enforce them, are deleted for the run and created again after it.
// --admission-cost: what the policies cost the API server per create of a request, measured by
// dry-run creates with the policies enforced and with them lifted, in alternating segments.
import * as k8s from '@kubernetes/client-node';
import { Group, Plural, Version } from '../../src/api/types.js';
import { statusCode } from '../../src/kube/errors.js';
import { projectManifests, servedMutatingPolicyVersions, waitForAdmissionPolicies } from '../support/install.js';
import { startCpuMeasure } from './host.js';
import { median, round, runBounded } from './stats.js';

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

/** One segment of --admission-cost: `creates` dry-run creates, the policies enforced or lifted. */
export interface AdmissionCostSegment {
  enforced: boolean;
  creates: number;
  /** Creates the API server refused, and the first one's message. */
  errors: number;
  firstError?: string;
  seconds: number;
  /** kube-apiserver CPU per create, ms (undefined when the cluster is not this clone's local control plane). */
  msPerCreate: number | undefined;
  /** Bytes of a created request as the API server returned it (undefined when every create failed). */
  bytes: number | undefined;
}

export interface AdmissionCostFigures {
  segments: AdmissionCostSegment[];
  /** Median over the segments of each kind, ms of kube-apiserver CPU per create. */
  enforcedMsPerCreate: number | undefined;
  liftedMsPerCreate: number | undefined;
  /** What the policies add to a create, ms of kube-apiserver CPU. */
  policiesMsPerCreate: number | undefined;
  /** Bytes of a created request as the API server returns it, with the policies enforced and lifted (medians). */
  enforcedBytes: number | undefined;
  liftedBytes: number | undefined;
}

/**
 * The segments' order: enforced and lifted alternate as ABBA BAAB, so that a machine growing
 * slower or faster over the measurement weighs on both sides alike.
 */
export const AdmissionCostOrder: readonly boolean[] = [true, false, false, true, false, true, true, false];

/** The figures from measured segments (exported for its unit test). */
export function admissionCostFigures(segments: AdmissionCostSegment[]): AdmissionCostFigures {
  const of = (enforced: boolean, field: 'msPerCreate' | 'bytes'): number[] =>
    segments.flatMap((s) => (s.enforced === enforced && s[field] !== undefined ? [s[field]] : []));
  const enforcedMsPerCreate = median(of(true, 'msPerCreate'));
  const liftedMsPerCreate = median(of(false, 'msPerCreate'));
  return {
    segments,
    enforcedMsPerCreate: round(enforcedMsPerCreate, 2),
    liftedMsPerCreate: round(liftedMsPerCreate, 2),
    policiesMsPerCreate:
      enforcedMsPerCreate !== undefined && liftedMsPerCreate !== undefined ? round(enforcedMsPerCreate - liftedMsPerCreate, 2) : undefined,
    enforcedBytes: median(of(true, 'bytes')),
    liftedBytes: median(of(false, 'bytes')),
  };
}

/**
 * Measures what the admission policies cost the API server per create: `creates` dry-run creates
 * of a Reconcile request (`inFlight` at once, as `load`, on `targets` in turn) in each segment of
 * AdmissionCostOrder, the bindings deleted for the lifted ones. A dry run goes through admission
 * and validation as a create does, and is stored nowhere, so nothing else (storage, watches)
 * weighs on the figure. The policies (`bindings`, from admissionBindings) are enforced again when
 * it returns, whatever happened.
 */
export async function measureAdmissionCost(
  admin: k8s.KubeConfig,
  load: k8s.KubeConfig,
  namespace: string,
  bindings: readonly k8s.KubernetesObject[],
  targets: readonly string[],
  creates: number,
  inFlight: number,
): Promise<AdmissionCostFigures> {
  const custom = load.makeApiClient(k8s.CustomObjectsApi);
  const segments: AdmissionCostSegment[] = [];
  let enforced = true;
  try {
    for (const wanted of AdmissionCostOrder) {
      if (wanted !== enforced) {
        if (wanted) await restoreAdmission(admin, namespace, bindings);
        else await withoutAdmission(admin, namespace, bindings);
        enforced = wanted;
      }
      let errors = 0;
      let firstError: string | undefined;
      let bytes: number | undefined;
      const cpu = startCpuMeasure();
      const started = performance.now();
      await runBounded(creates, inFlight, async (i) => {
        try {
          const created: unknown = await custom.createNamespacedCustomObject({
            group: Group,
            version: Version,
            plural: Plural,
            namespace,
            dryRun: 'All',
            body: {
              apiVersion: `${Group}/${Version}`,
              kind: 'FluxActionRequest',
              metadata: { generateName: 'admission-cost-', namespace },
              spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: targets[i % targets.length]! } },
            },
          });
          bytes ??= JSON.stringify(created).length;
        } catch (err) {
          errors += 1;
          firstError ??= err instanceof Error ? err.message.split('\n')[0] : String(err);
        }
      });
      const seconds = (performance.now() - started) / 1000;
      const apiServer = cpu().processSeconds['kube-apiserver'];
      segments.push({
        enforced: wanted,
        creates,
        errors,
        ...(firstError !== undefined && { firstError }),
        seconds: round(seconds, 2)!,
        msPerCreate: apiServer !== undefined && creates > 0 ? round((apiServer * 1000) / creates, 2) : undefined,
        bytes,
      });
    }
  } finally {
    if (!enforced) await restoreAdmission(admin, namespace, bindings);
  }
  return admissionCostFigures(segments);
}
