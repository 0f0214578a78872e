// What make generate writes for a table with one more row (Widget) works on the real API server:
// the CRD, installed under a group of its own, accepts the new kind and its options and checks its
// group; the ClusterRoles grant it (asked through SubjectAccessReviews). No operator runs here.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { generate } from '../../src/codegen/generate.js';
import { apply } from '../support/install.js';
import { adminKubeConfig, createNamespace, deleteNamespace, randomSuffix, repoRoot, waitFor } from '../support/kube.js';
import { WidgetGroup, withWidget } from '../support/widget-kinds.js';

/** The generated CRD goes under this group, beside the real one, so other tests are not affected. */
const group = 'generated.fluxaction.io';
const crdName = `fluxactionrequests.${group}`;

const generated = Object.fromEntries(generate(repoRoot, withWidget).map((f) => [f.path, f.next]));

let kc: k8s.KubeConfig;
let custom: k8s.CustomObjectsApi;
let ns: string;
const suffix = randomSuffix();
const cleanup: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  kc = adminKubeConfig();
  custom = kc.makeApiClient(k8s.CustomObjectsApi);
  ns = await createNamespace(kc, 'generated');
  const crd = k8s.loadYaml<k8s.V1CustomResourceDefinition>(generated['crds/fluxaction.io_fluxactionrequests.yaml']!);
  crd.metadata!.name = crdName;
  crd.spec.group = group;
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  cleanup.push(() => ext.deleteCustomResourceDefinition({ name: crdName }));
  await apply(kc, [crd]);
  // Established, and its schema served: a dry run of a Widget request gets the defaults.
  await waitFor(
    'the generated CRD to serve Widget requests',
    async () => {
      const probe = (await create({ action: 'Suspend', target: { kind: 'Widget', name: 'probe' } }, 'probe', 'All')) as {
        spec?: { wait?: boolean };
      };
      return probe.spec?.wait === true ? true : undefined;
    },
    60_000,
    200,
  );
});

afterAll(async () => {
  for (const undo of cleanup.reverse()) await undo().catch(() => undefined);
  await deleteNamespace(kc, ns);
});

function create(spec: Record<string, unknown>, name: string, dryRun?: string): Promise<unknown> {
  return custom.createNamespacedCustomObject({
    group,
    version: 'v1alpha1',
    plural: 'fluxactionrequests',
    namespace: ns,
    ...(dryRun ? { dryRun } : {}),
    body: { apiVersion: `${group}/v1alpha1`, kind: 'FluxActionRequest', metadata: { name }, spec },
  });
}

/** The API server's message for a call that must be refused as invalid (422). */
async function refusedWith(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof k8s.ApiException)) throw err;
    const body = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as { message?: string };
    expect(err.code).toBe(422);
    return body.message ?? '';
  }
  throw new Error('the API server accepted what it should have refused');
}

describe('the CRD generated with a Widget row', () => {
  it('accepts a Reconcile of a Widget with withSource, force and reset', async () => {
    const created = (await create(
      {
        action: 'Reconcile',
        target: { kind: 'Widget', name: 'w', apiVersion: `${WidgetGroup}/v1` },
        withSource: true,
        force: true,
        reset: true,
      },
      'widget',
    )) as { spec: { target: { kind: string } } };
    expect(created.spec.target.kind).toBe('Widget');
  });

  it("refuses a Widget target.apiVersion of another group, with the rule's message", async () => {
    const message = await refusedWith(
      create({ action: 'Suspend', target: { kind: 'Widget', name: 'w', apiVersion: 'helm.toolkit.fluxcd.io/v2' } }, 'wrong-group'),
    );
    expect(message).toContain('target.apiVersion helm.toolkit.fluxcd.io/v2 is not an API version of Widget');
  });

  it('names Widget among the kinds withSource is for', async () => {
    const message = await refusedWith(
      create({ action: 'Reconcile', target: { kind: 'GitRepository', name: 'r' }, withSource: true }, 'ws'),
    );
    expect(message).toContain(
      'spec.withSource: Forbidden: withSource is only for the Reconcile action on a Kustomization, HelmRelease or Widget; remove it or set it to false',
    );
  });

  it('still refuses a kind that has no row', async () => {
    const message = await refusedWith(create({ action: 'Suspend', target: { kind: 'Gizmo', name: 'g' } }, 'gizmo'));
    expect(message).toContain('spec.target.kind: Unsupported value: "Gizmo"');
  });
});

describe('the ClusterRoles generated with a Widget row', () => {
  const rbac = (): k8s.RbacAuthorizationV1Api => kc.makeApiClient(k8s.RbacAuthorizationV1Api);

  /** Installs the file's ClusterRole under a name of its own, bound to a user; returns the user. */
  async function bind(file: string): Promise<string> {
    const role = k8s.loadAllYaml(generated[file]!).find((d: k8s.KubernetesObject) => d.kind === 'ClusterRole') as k8s.V1ClusterRole;
    const name = `${role.metadata!.name}-generated-${suffix}`;
    const user = `${name}-user`;
    await rbac().createClusterRole({ body: { ...role, metadata: { name } } });
    cleanup.push(() => rbac().deleteClusterRole({ name }));
    await rbac().createClusterRoleBinding({
      body: {
        metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
      },
    });
    cleanup.push(() => rbac().deleteClusterRoleBinding({ name }));
    return user;
  }

  async function allowed(user: string, verb: string, resource: string): Promise<boolean> {
    const review = await kc.makeApiClient(k8s.AuthorizationV1Api).createSubjectAccessReview({
      body: { spec: { user, resourceAttributes: { group: WidgetGroup, resource, verb, namespace: ns } } },
    });
    return review.status?.allowed === true;
  }

  it("the operator's may read and patch Widgets", async () => {
    const user = await bind('config/rbac/role.yaml');
    await waitFor('the binding to take effect', async () => ((await allowed(user, 'patch', 'widgets')) ? true : undefined));
    expect(await allowed(user, 'watch', 'widgets')).toBe(true);
    expect(await allowed(user, 'delete', 'widgets')).toBe(false);
  });

  it("the MCP adapter's may read Widgets and the read-only Gadgets, and patch neither", async () => {
    const user = await bind('config/rbac/mcp_role.yaml');
    await waitFor('the binding to take effect', async () => ((await allowed(user, 'list', 'widgets')) ? true : undefined));
    expect(await allowed(user, 'get', 'gadgets')).toBe(true);
    expect(await allowed(user, 'patch', 'widgets')).toBe(false);
    expect(await allowed(user, 'patch', 'gadgets')).toBe(false);
  });
});
