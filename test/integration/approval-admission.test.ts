// Who may approve (config/admission/approval.yaml), on the API server that enforces it: annotation
// fluxaction.io/approved-by (or rejected-by) is accepted only as the caller's own username, from a
// holder of verb approve on fluxactionrequests in the namespace, who is not the requester, on a
// request that says who asked and has not finished; never at creation; and a decision is final.
// Users are played by impersonation. No operator runs.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { Phase } from '../../src/api/conditions.js';
import { ApprovedByAnnotation, RejectedByAnnotation } from '../../src/api/types.js';
import { ensureInstalled, getRequest, writeRequestStatus } from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, randomSuffix } from '../support/kube.js';
import {
  bindRole,
  createRequestAs,
  createRole,
  impersonatedKubeConfig,
  leaveOutOfFillingIn,
  patchAnnotations,
  refusal,
} from '../support/users.js';

let admin: k8s.KubeConfig;
let alice: k8s.KubeConfig;
let bob: k8s.KubeConfig;
let carol: k8s.KubeConfig;
let ns: string;
let clientNs: string;
const run = randomSuffix();
const aliceName = `alice-${run}`;
const bobName = `bob-${run}`;
const carolName = `carol-${run}`;
const spec = { action: 'Reconcile' as const, target: { kind: 'HelmRelease', name: 'web' } };

function denied(name: string, why: string): string {
  return (
    `fluxactionrequests.fluxaction.io "${name}" is forbidden: ValidatingAdmissionPolicy 'fluxact-approval' ` +
    `with binding 'fluxact-approval' denied request: ${why}`
  );
}

async function annotations(namespace: string, name: string): Promise<Record<string, string>> {
  return (await getRequest(admin, namespace, name)).metadata.annotations ?? {};
}

beforeAll(async () => {
  admin = adminKubeConfig();
  await ensureInstalled();
  alice = impersonatedKubeConfig(admin, aliceName);
  bob = impersonatedKubeConfig(admin, bobName);
  carol = impersonatedKubeConfig(admin, carolName);
  ns = await createNamespace(admin, 'approval');
  clientNs = await createNamespace(admin, 'approval-client');
  for (const namespace of [ns, clientNs]) {
    // alice asks (and may approve nothing); bob approves; carol may edit requests but not approve.
    await bindRole(admin, namespace, aliceName, { kind: 'ClusterRole', name: 'fluxact-requester' });
    await bindRole(admin, namespace, aliceName, { kind: 'ClusterRole', name: 'fluxact-approver' });
    await bindRole(admin, namespace, bobName, { kind: 'ClusterRole', name: 'fluxact-approver' });
    await createRole(admin, namespace, 'edit-requests', [
      { apiGroups: ['fluxaction.io'], resources: ['fluxactionrequests'], verbs: ['get', 'update', 'patch'] },
    ]);
    await bindRole(admin, namespace, carolName, { kind: 'Role', name: 'edit-requests' });
  }
  await leaveOutOfFillingIn(admin, clientNs, alice);
});

afterAll(async () => {
  await deleteNamespace(admin, ns);
  await deleteNamespace(admin, clientNs);
});

describe('approving a request', () => {
  it('is accepted from an approver who is not the requester, as their own username', async () => {
    await createRequestAs(alice, ns, 'approved', { spec });
    await patchAnnotations(bob, ns, 'approved', { [ApprovedByAnnotation]: bobName });
    expect((await annotations(ns, 'approved'))[ApprovedByAnnotation]).toBe(bobName);
  });

  it('rejecting is accepted the same way', async () => {
    await createRequestAs(alice, ns, 'rejected', { spec });
    await patchAnnotations(bob, ns, 'rejected', { [RejectedByAnnotation]: bobName });
    expect((await annotations(ns, 'rejected'))[RejectedByAnnotation]).toBe(bobName);
  });

  it('is refused to the requester, even holding verb approve (no self-approval)', async () => {
    await createRequestAs(alice, ns, 'self', { spec });
    const { code, message } = await refusal(patchAnnotations(alice, ns, 'self', { [ApprovedByAnnotation]: aliceName }));
    expect({ code, message }).toEqual({
      code: 403,
      message: denied(
        'self',
        `${aliceName} asked for this action and may not approve or reject it: someone else with verb approve on ` +
          `fluxactionrequests in namespace ${ns} must decide`,
      ),
    });
  });

  it('is refused to a caller without verb approve, naming the role that grants it', async () => {
    await createRequestAs(alice, ns, 'no-verb', { spec });
    const { code, message } = await refusal(patchAnnotations(carol, ns, 'no-verb', { [ApprovedByAnnotation]: carolName }));
    expect({ code, message }).toEqual({
      code: 403,
      message: denied(
        'no-verb',
        `${carolName} may not approve or reject requests in namespace ${ns}: that needs verb approve on ` +
          'fluxactionrequests.fluxaction.io (ClusterRole fluxact-approver)',
      ),
    });
  });

  it("is refused in someone else's name", async () => {
    await createRequestAs(alice, ns, 'other-name', { spec });
    const { code, message } = await refusal(patchAnnotations(carol, ns, 'other-name', { [ApprovedByAnnotation]: bobName }));
    expect({ code, message }).toEqual({
      code: 403,
      message: denied('other-name', `annotation fluxaction.io/approved-by must be your own username (${carolName}), not ${bobName}`),
    });
  });

  it('is refused at creation', async () => {
    const { code, message } = await refusal(
      createRequestAs(alice, ns, 'born-approved', { spec, annotations: { [ApprovedByAnnotation]: bobName } }),
    );
    expect({ code, message }).toEqual({
      code: 403,
      message: denied(
        'born-approved',
        'a request cannot be created approved or rejected: create it without annotations fluxaction.io/approved-by and ' +
          'fluxaction.io/rejected-by, and an approver sets one later',
      ),
    });
  });

  it('is final: neither changed, turned into a rejection, nor removed, even by a cluster admin', async () => {
    await createRequestAs(alice, ns, 'final', { spec });
    await patchAnnotations(bob, ns, 'final', { [ApprovedByAnnotation]: bobName });
    const final = denied(
      'final',
      `the decision on this request is final: it was approved by ${bobName}, and annotations fluxaction.io/approved-by and ` +
        'fluxaction.io/rejected-by may not change or be removed',
    );
    for (const change of [{ [ApprovedByAnnotation]: 'someone-else' }, { [ApprovedByAnnotation]: null }]) {
      const { code, message } = await refusal(patchAnnotations(admin, ns, 'final', change));
      expect({ code, message }).toEqual({ code: 403, message: final });
    }
    const both = await refusal(patchAnnotations(bob, ns, 'final', { [RejectedByAnnotation]: bobName }));
    expect(both).toEqual({
      code: 422,
      message: denied(
        'final',
        'a request is approved or rejected, not both: set only one of fluxaction.io/approved-by and fluxaction.io/rejected-by',
      ),
    });
    expect((await annotations(ns, 'final'))[ApprovedByAnnotation]).toBe(bobName);
  });

  it('is refused on a request that already finished', async () => {
    await createRequestAs(alice, ns, 'finished', { spec });
    await writeRequestStatus(admin, ns, 'finished', { phase: Phase.Failed, message: 'TargetNotFound' });
    const { code, message } = await refusal(patchAnnotations(bob, ns, 'finished', { [ApprovedByAnnotation]: bobName }));
    expect({ code, message }).toEqual({
      code: 403,
      message: denied('finished', 'this request already finished (Failed): there is nothing to approve or reject'),
    });
  });

  it('is refused on a request that does not say who asked (self-approval could not be ruled out)', async () => {
    await createRequestAs(alice, clientNs, 'anonymous', { spec });
    const { code, message } = await refusal(patchAnnotations(bob, clientNs, 'anonymous', { [ApprovedByAnnotation]: bobName }));
    expect({ code, message }).toEqual({
      code: 403,
      message: denied(
        'anonymous',
        'this request does not say who asked (no annotation fluxaction.io/requested-by), so approving it could be ' +
          'self-approval: it cannot be approved or rejected; have it created again with the annotation',
      ),
    });
  });

  it('leaves other annotations to anyone who may edit the request', async () => {
    await createRequestAs(alice, ns, 'other-annotation', { spec });
    await patchAnnotations(carol, ns, 'other-annotation', { 'example.com/ticket': 'OPS-1' });
    expect((await annotations(ns, 'other-annotation'))['example.com/ticket']).toBe('OPS-1');
  });
});
