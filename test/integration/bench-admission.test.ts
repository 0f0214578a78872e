// The bench's --without-admission on the API server that enforces the policies: lifted for a run,
// the requested-by policies let a forged requester through and fill in none; put back, they refuse
// it again. Its --admission-cost lifts and puts them back segment by segment. Runs in band, so no
// other test meets the cluster without its policies.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CustomObjectsApi } from '@kubernetes/client-node';
import type * as k8s from '@kubernetes/client-node';
import { Group, Plural, Version } from '../../src/api/types.js';
import { statusCode } from '../../src/kube/errors.js';
import { AdmissionCostOrder, admissionBindings, measureAdmissionCost, restoreAdmission, withoutAdmission } from '../bench/admission.js';
import { ensureInstalled } from '../support/harness.js';
import { dryRunRequest } from '../support/install.js';
import { adminKubeConfig, createNamespace, deleteNamespace } from '../support/kube.js';

let kc: k8s.KubeConfig;
let ns: string;

beforeAll(async () => {
  await ensureInstalled();
  kc = adminKubeConfig();
  ns = await createNamespace(kc);
});

afterAll(async () => {
  await deleteNamespace(kc, ns);
});

/** A dry-run create as the admin: the request as admission left it, or the refusal's HTTP status. */
async function dryRun(annotations?: Record<string, string>): Promise<{ annotations?: Record<string, string> } | number> {
  try {
    const created = (await dryRunRequest(kc, 'probe', annotations, ns)) as { metadata?: { annotations?: Record<string, string> } };
    return { annotations: created.metadata?.annotations };
  } catch (err) {
    return statusCode(err) ?? -1;
  }
}

const forged = { 'fluxaction.io/requested-by': 'someone-else' };

describe('the bench without the admission policies', () => {
  it('lifts the policies for a run and puts them back after it', async () => {
    const bindings = await admissionBindings(kc);
    expect(bindings.map((b) => `${b.kind}/${b.metadata?.name}`).sort()).toEqual([
      'MutatingAdmissionPolicyBinding/fluxact-requested-by',
      'ValidatingAdmissionPolicyBinding/fluxact-action-permission',
      'ValidatingAdmissionPolicyBinding/fluxact-approval',
      'ValidatingAdmissionPolicyBinding/fluxact-requested-by',
    ]);
    expect(await dryRun(forged)).toBe(403);
    try {
      await withoutAdmission(kc, ns, bindings);
      expect(await dryRun(forged)).toEqual({ annotations: forged });
      expect(await dryRun()).toEqual({ annotations: undefined });
    } finally {
      await restoreAdmission(kc, ns, bindings);
    }
    expect(await dryRun(forged)).toBe(403);
    const filled = await dryRun();
    expect(typeof filled === 'object' && filled.annotations?.['fluxaction.io/requested-by']).toBeTruthy();
    // Put back twice is no error: one that exists is left as it is.
    await expect(restoreAdmission(kc, ns, bindings)).resolves.toBeUndefined();
  });
});

describe("the bench's admission cost", () => {
  it('measures dry-run creates with the policies enforced and lifted, segment by segment, and leaves them enforced', async () => {
    const bindings = await admissionBindings(kc);
    const figures = await measureAdmissionCost(kc, kc, ns, bindings, ['a', 'b'], 10, 4);
    expect(figures.segments.map((s) => s.enforced)).toEqual(AdmissionCostOrder);
    expect(figures.segments.map((s) => s.errors)).toEqual(AdmissionCostOrder.map(() => 0));
    // Enforced, the MutatingAdmissionPolicy fills in who asked: every such create came back bigger
    // than every one made with the policies lifted.
    const bytes = (enforced: boolean): number[] => figures.segments.filter((s) => s.enforced === enforced).map((s) => s.bytes ?? 0);
    expect(Math.min(...bytes(true))).toBeGreaterThan(Math.max(...bytes(false)));
    expect(figures.enforcedBytes).toBeGreaterThan(figures.liftedBytes ?? Infinity);
    // Dry runs: nothing was created.
    const listed = (await kc
      .makeApiClient(CustomObjectsApi)
      .listNamespacedCustomObject({ group: Group, version: Version, plural: Plural, namespace: ns })) as { items: unknown[] };
    expect(listed.items).toEqual([]);
    expect(await dryRun(forged)).toBe(403);
  });
});
