// Per-action permission (config/admission/action-permission.yaml): creating a request needs the verb
// its action names (reconcile, suspend, resume) on the target, checked by the API server's
// authorizer, and the refusal says what is missing. Users are played by impersonation and get the
// shipped ClusterRoles through RoleBindings in the test's namespace. No operator runs here.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import type { Action } from '../../src/api/types.js';
import { kindResources } from '../../src/admission/kind-resources.js';
import { fluxKinds } from '../../src/flux/kinds.js';
import { ensureInstalled } from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, randomSuffix, waitFor } from '../support/kube.js';
import { bindRole, createRequestAs, createRole, impersonatedKubeConfig, refusal } from '../support/users.js';

let admin: k8s.KubeConfig;
let ns: string;
let other: string;
// Users of this file, unique per run (RBAC subjects are names, not objects).
const run = randomSuffix();
const requester = `requester-${run}`;
const reconciler = `reconciler-${run}`;
const creatorOnly = `creator-${run}`;
const oneName = `one-name-${run}`;

const actions: Action[] = ['Reconcile', 'Suspend', 'Resume'];

function as(user: string): k8s.KubeConfig {
  return impersonatedKubeConfig(admin, user);
}

/** The denial the API server returns for a missing action verb. */
function denied(name: string, user: string, action: Action, kind: string, namespace: string, target: string): string {
  const verb = action.toLowerCase();
  const r = kindResources[kind]!;
  return (
    `fluxactionrequests.fluxaction.io "${name}" is forbidden: ValidatingAdmissionPolicy 'fluxact-action-permission' ` +
    `with binding 'fluxact-action-permission' denied request: user ${user} may not ${verb} ${r.resource}.${r.group} ` +
    `${namespace}/${target}: a ${action} request needs verb ${verb} on its target ` +
    `(ClusterRole fluxact-requester grants all three actions, fluxact-reconciler only reconcile)`
  );
}

beforeAll(async () => {
  admin = adminKubeConfig();
  await ensureInstalled();
  ns = await createNamespace(admin, 'permissions');
  other = await createNamespace(admin, 'permissions-other');
  await bindRole(admin, ns, requester, { kind: 'ClusterRole', name: 'fluxact-requester' });
  await bindRole(admin, ns, reconciler, { kind: 'ClusterRole', name: 'fluxact-reconciler' });
  // May create requests, and nothing else: every action is refused at admission, not by RBAC.
  await createRole(admin, ns, 'create-requests', [{ apiGroups: ['fluxaction.io'], resources: ['fluxactionrequests'], verbs: ['create'] }]);
  await bindRole(admin, ns, creatorOnly, { kind: 'Role', name: 'create-requests' });
  // May reconcile the Kustomization named app, and no other.
  await createRole(admin, ns, 'reconcile-app', [
    { apiGroups: ['fluxaction.io'], resources: ['fluxactionrequests'], verbs: ['create'] },
    { apiGroups: ['kustomize.toolkit.fluxcd.io'], resources: ['kustomizations'], resourceNames: ['app'], verbs: ['reconcile'] },
  ]);
  await bindRole(admin, ns, oneName, { kind: 'Role', name: 'reconcile-app' });
  // The API server loads a new policy shortly after it is written: wait until it refuses.
  await waitFor('fluxact-action-permission to be enforced', () =>
    refusal(
      createRequestAs(as(creatorOnly), ns, 'probe', {
        spec: { action: 'Suspend', target: { kind: 'Kustomization', name: 'app' } },
        dryRun: true,
      }),
    ).then((r) => (r.code === 403 && r.message.includes('fluxact-action-permission') ? true : undefined)),
  );
});

afterAll(async () => {
  await deleteNamespace(admin, ns);
  await deleteNamespace(admin, other);
});

describe('creating a FluxActionRequest', () => {
  describe('with ClusterRole fluxact-requester', () => {
    it.each(actions)('may ask to %s a Kustomization', async (action) => {
      const name = `requester-${action.toLowerCase()}`;
      const created = await createRequestAs(as(requester), ns, name, { spec: { action, target: { kind: 'Kustomization', name: 'app' } } });
      expect(created.metadata.name).toBe(name);
    });

    it.each(fluxKinds.map((k) => k.kind))('may ask to suspend a %s (the policy names its resource as RBAC does)', async (kind) => {
      await expect(
        createRequestAs(as(requester), ns, 'any-kind', { spec: { action: 'Suspend', target: { kind, name: 'app' } }, dryRun: true }),
      ).resolves.toBeDefined();
    });

    it('is refused a target in a namespace where it holds no verb, naming that namespace', async () => {
      const { code, message } = await refusal(
        createRequestAs(as(requester), ns, 'elsewhere', {
          spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app', namespace: other } },
        }),
      );
      expect({ code, message }).toEqual({ code: 403, message: denied('elsewhere', requester, 'Reconcile', 'Kustomization', other, 'app') });
    });
  });

  describe('with ClusterRole fluxact-reconciler', () => {
    it('may ask to reconcile', async () => {
      const created = await createRequestAs(as(reconciler), ns, 'reconciler-reconcile', {
        spec: { action: 'Reconcile', target: { kind: 'HelmRelease', name: 'app' } },
      });
      expect(created.metadata.name).toBe('reconciler-reconcile');
    });

    it.each<Action>(['Suspend', 'Resume'])('is refused %s, with the missing verb in the message', async (action) => {
      const name = `reconciler-${action.toLowerCase()}`;
      const { code, message } = await refusal(
        createRequestAs(as(reconciler), ns, name, { spec: { action, target: { kind: 'HelmRelease', name: 'app' } } }),
      );
      expect({ code, message }).toEqual({ code: 403, message: denied(name, reconciler, action, 'HelmRelease', ns, 'app') });
    });
  });

  describe('with create on fluxactionrequests only', () => {
    it.each(actions)('is refused %s, naming the verb, the target and the user', async (action) => {
      const name = `creator-${action.toLowerCase()}`;
      const { code, message } = await refusal(
        createRequestAs(as(creatorOnly), ns, name, { spec: { action, target: { kind: 'Kustomization', name: 'app' } } }),
      );
      expect({ code, message }).toEqual({ code: 403, message: denied(name, creatorOnly, action, 'Kustomization', ns, 'app') });
    });

    it.each(fluxKinds.map((k) => k.kind))('is refused a suspend of a %s, naming its resource', async (kind) => {
      const { code, message } = await refusal(
        createRequestAs(as(creatorOnly), ns, 'each-kind', { spec: { action: 'Suspend', target: { kind, name: 'app' } }, dryRun: true }),
      );
      expect({ code, message }).toEqual({ code: 403, message: denied('each-kind', creatorOnly, 'Suspend', kind, ns, 'app') });
    });
  });

  describe('with reconcile on one Kustomization by name', () => {
    it('may ask to reconcile that one', async () => {
      const created = await createRequestAs(as(oneName), ns, 'one-name-app', {
        spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } },
      });
      expect(created.metadata.name).toBe('one-name-app');
    });

    it('is refused another', async () => {
      const { code, message } = await refusal(
        createRequestAs(as(oneName), ns, 'one-name-web', { spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'web' } } }),
      );
      expect({ code, message }).toEqual({ code: 403, message: denied('one-name-web', oneName, 'Reconcile', 'Kustomization', ns, 'web') });
    });
  });

  it('as a cluster admin (system:masters) may ask for any action', async () => {
    for (const action of actions) {
      await expect(
        createRequestAs(admin, ns, 'admin', { spec: { action, target: { kind: 'Kustomization', name: 'app' } }, dryRun: true }),
      ).resolves.toBeDefined();
    }
  });
});
