// Who asked (config/admission/requested-by.yaml, config/admission/mutating/): annotation
// fluxaction.io/requested-by is filled in with the creator's username when left out, may only be
// the creator's own username, and never changes after. Namespaces labelled
// fluxaction.io/requested-by=client are left out of the filling-in policy: there the client sets it,
// as on a cluster without MutatingAdmissionPolicy. Users are played by impersonation. No operator runs.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { RequestedByAnnotation } from '../../src/admission/kind-resources.js';
import { RequestedByGroupsAnnotation } from '../../src/api/types.js';
import { ApiVersion, Group, Kind, Plural, Version } from '../../src/api/types.js';
import { ensureInstalled } from '../support/harness.js';
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
let ns: string;
let clientNs: string;
const run = randomSuffix();
const aliceName = `alice-${run}`;
const spec = { action: 'Reconcile' as const, target: { kind: 'Kustomization', name: 'app' } };

function forged(name: string, user: string, value: string): string {
  return (
    `fluxactionrequests.fluxaction.io "${name}" is forbidden: ValidatingAdmissionPolicy 'fluxact-requested-by' ` +
    `with binding 'fluxact-requested-by' denied request: annotation fluxaction.io/requested-by must be the username ` +
    `of the request's creator: ${user}, not ${value}; set it to that or leave it out`
  );
}

function immutable(name: string, was: string, change: string): string {
  return (
    `fluxactionrequests.fluxaction.io "${name}" is forbidden: ValidatingAdmissionPolicy 'fluxact-requested-by' ` +
    `with binding 'fluxact-requested-by' denied request: annotation fluxaction.io/requested-by is immutable: ` +
    `it records who created the request (${was}); ${change}`
  );
}

async function requestedBy(namespace: string, name: string): Promise<string | undefined> {
  const request = (await admin.makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({
    group: Group,
    version: Version,
    plural: Plural,
    namespace,
    name,
  })) as { metadata: { annotations?: Record<string, string> } };
  return request.metadata.annotations?.[RequestedByAnnotation];
}

beforeAll(async () => {
  admin = adminKubeConfig();
  await ensureInstalled();
  alice = impersonatedKubeConfig(admin, aliceName);
  ns = await createNamespace(admin, 'requested-by');
  clientNs = await createNamespace(admin, 'requested-by-client');
  for (const namespace of [ns, clientNs]) {
    await bindRole(admin, namespace, aliceName, { kind: 'ClusterRole', name: 'fluxact-requester' });
    // Changing a request's metadata (the spec is immutable) needs update/patch besides.
    await createRole(admin, namespace, 'edit-requests', [
      { apiGroups: ['fluxaction.io'], resources: ['fluxactionrequests'], verbs: ['update', 'patch'] },
    ]);
    await bindRole(admin, namespace, aliceName, { kind: 'Role', name: 'edit-requests' });
  }
  await leaveOutOfFillingIn(admin, clientNs, alice);
});

afterAll(async () => {
  await deleteNamespace(admin, ns);
  await deleteNamespace(admin, clientNs);
});

describe('annotation fluxaction.io/requested-by', () => {
  describe('where MutatingAdmissionPolicy fills it in', () => {
    it("is set to the creator's username when left out", async () => {
      const created = await createRequestAs(alice, ns, 'left-out', { spec });
      expect(created.metadata.annotations?.[RequestedByAnnotation]).toBe(aliceName);
      expect(await requestedBy(ns, 'left-out')).toBe(aliceName);
    });

    it('is kept when the creator sets it to its own username', async () => {
      await createRequestAs(alice, ns, 'own-name', { spec, annotations: { [RequestedByAnnotation]: aliceName } });
      expect(await requestedBy(ns, 'own-name')).toBe(aliceName);
    });

    it('refuses a value that is not the creator, saying who the creator is', async () => {
      const { code, message } = await refusal(
        createRequestAs(alice, ns, 'forged', { spec, annotations: { [RequestedByAnnotation]: 'bob' } }),
      );
      expect({ code, message }).toEqual({ code: 403, message: forged('forged', aliceName, 'bob') });
    });

    it('refuses a change on update, even by a cluster admin', async () => {
      await createRequestAs(alice, ns, 'changed', { spec });
      for (const kc of [alice, admin]) {
        const { code, message } = await refusal(patchAnnotations(kc, ns, 'changed', { [RequestedByAnnotation]: 'bob' }));
        expect({ code, message }).toEqual({ code: 403, message: immutable('changed', aliceName, 'it may not become bob') });
      }
      expect(await requestedBy(ns, 'changed')).toBe(aliceName);
    });

    it('refuses its removal on update', async () => {
      await createRequestAs(alice, ns, 'removed', { spec });
      const { code, message } = await refusal(patchAnnotations(alice, ns, 'removed', { [RequestedByAnnotation]: null }));
      expect({ code, message }).toEqual({ code: 403, message: immutable('removed', aliceName, 'it may not be removed') });
    });

    it('lets other metadata change', async () => {
      await createRequestAs(alice, ns, 'other-metadata', { spec });
      await patchAnnotations(alice, ns, 'other-metadata', { 'example.com/note': 'checked' });
      expect(await requestedBy(ns, 'other-metadata')).toBe(aliceName);
    });

    it('survives a server-side apply of the same manifest, which does not own it (GitOps re-applies)', async () => {
      const objects = k8s.KubernetesObjectApi.makeApiClient(alice);
      const manifest: k8s.KubernetesObject & { spec: typeof spec } = {
        apiVersion: ApiVersion,
        kind: Kind,
        metadata: { name: 'applied', namespace: ns },
        spec,
      };
      await objects.patch(manifest, undefined, undefined, 'gitops', true, k8s.PatchStrategy.ServerSideApply);
      const reapplied: k8s.KubernetesObject = await objects.patch(
        { ...manifest, metadata: { name: 'applied', namespace: ns, labels: { 'example.com/revision': '2' } } },
        undefined,
        undefined,
        'gitops',
        true,
        k8s.PatchStrategy.ServerSideApply,
      );
      expect(reapplied.metadata?.labels?.['example.com/revision']).toBe('2');
      expect(reapplied.metadata?.annotations?.[RequestedByAnnotation]).toBe(aliceName);
    });
  });

  describe('where it is left to the client (namespace labelled fluxaction.io/requested-by=client)', () => {
    it('stays absent when the client leaves it out', async () => {
      const created = await createRequestAs(alice, clientNs, 'left-out', { spec });
      expect(created.metadata.annotations?.[RequestedByAnnotation]).toBeUndefined();
    });

    it('is accepted when the client sets its own username', async () => {
      await createRequestAs(alice, clientNs, 'own-name', { spec, annotations: { [RequestedByAnnotation]: aliceName } });
      expect(await requestedBy(clientNs, 'own-name')).toBe(aliceName);
    });

    it('refuses a value that is not the creator', async () => {
      const { code, message } = await refusal(
        createRequestAs(alice, clientNs, 'forged', { spec, annotations: { [RequestedByAnnotation]: 'bob' } }),
      );
      expect({ code, message }).toEqual({ code: 403, message: forged('forged', aliceName, 'bob') });
    });

    it('refuses adding it after creation', async () => {
      await createRequestAs(alice, clientNs, 'added-later', { spec });
      const { code, message } = await refusal(patchAnnotations(alice, clientNs, 'added-later', { [RequestedByAnnotation]: aliceName }));
      expect({ code, message }).toEqual({ code: 403, message: immutable('added-later', 'not set', `it may not become ${aliceName}`) });
    });
  });
});

describe('annotation fluxaction.io/requested-by-groups', () => {
  // An impersonated user belongs to system:authenticated, as every authenticated caller does.
  const groups = 'system:authenticated';

  it("is set to the creator's groups when left out", async () => {
    const created = await createRequestAs(alice, ns, 'groups-left-out', { spec });
    expect(created.metadata.annotations?.[RequestedByGroupsAnnotation]).toBe(groups);
  });

  it('is filled in even when the client set requested-by itself', async () => {
    const created = await createRequestAs(alice, ns, 'groups-own-name', { spec, annotations: { [RequestedByAnnotation]: aliceName } });
    expect(created.metadata.annotations?.[RequestedByGroupsAnnotation]).toBe(groups);
  });

  it('refuses groups the creator is not in', async () => {
    const { code, message } = await refusal(
      createRequestAs(alice, clientNs, 'groups-forged', { spec, annotations: { [RequestedByGroupsAnnotation]: 'system:masters' } }),
    );
    expect({ code, message }).toEqual({
      code: 403,
      message:
        `fluxactionrequests.fluxaction.io "groups-forged" is forbidden: ValidatingAdmissionPolicy 'fluxact-requested-by' ` +
        `with binding 'fluxact-requested-by' denied request: annotation fluxaction.io/requested-by-groups must be the groups ` +
        `of the request's creator: ${groups}, not system:masters; set it to that or leave it out`,
    });
  });

  it('refuses a change on update', async () => {
    await createRequestAs(alice, ns, 'groups-changed', { spec });
    const { code, message } = await refusal(patchAnnotations(admin, ns, 'groups-changed', { [RequestedByGroupsAnnotation]: 'sre' }));
    expect({ code, message }).toEqual({
      code: 403,
      message:
        `fluxactionrequests.fluxaction.io "groups-changed" is forbidden: ValidatingAdmissionPolicy 'fluxact-requested-by' ` +
        `with binding 'fluxact-requested-by' denied request: annotation fluxaction.io/requested-by-groups is immutable: ` +
        `it records the groups of who created the request (${groups}); it may not become sre`,
    });
  });
});
