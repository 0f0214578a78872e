// Admission of FluxActionRequests: the CRD's schema and CEL rules refuse bad requests at the API server
// (HTTP 422) with a message that says what to fix, before any operator sees them. No operator runs here.
import { afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { Phase } from '../../src/api/conditions.js';
import { ApiVersion, Group, Kind, Plural, Version } from '../../src/api/types.js';
import { fluxKinds } from '../../src/flux/kinds.js';
import { ensureInstalled, getRequest } from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace } from '../support/kube.js';
import { refusal } from '../support/users.js';

type Spec = Record<string, unknown>;

let kc: k8s.KubeConfig;
let custom: k8s.CustomObjectsApi;
let ns: string;

beforeAll(async () => {
  kc = adminKubeConfig();
  custom = kc.makeApiClient(k8s.CustomObjectsApi);
  await ensureInstalled();
});

beforeEach(async () => {
  ns = await createNamespace(kc, 'admission');
});

afterEach(async () => {
  await deleteNamespace(kc, ns);
});

function requestBody(namespace: string, name: string, spec: Spec | undefined): Record<string, unknown> {
  return { apiVersion: ApiVersion, kind: Kind, metadata: { name, namespace }, ...(spec === undefined ? {} : { spec }) };
}

/** Creates a request as the admin; the spec is passed through untyped so invalid ones reach the server. */
function create(spec: Spec | undefined, name = 'request'): Promise<unknown> {
  return custom.createNamespacedCustomObject({
    group: Group,
    version: Version,
    plural: Plural,
    namespace: ns,
    body: requestBody(ns, name, spec),
  });
}

/** A valid request spec with the given changes. */
function valid(changes: Spec = {}): Spec {
  return { action: 'Reconcile', target: { kind: 'Kustomization', name: 'podinfo' }, ...changes };
}

/** Expects the API server to refuse the call as invalid (422), saying `error` ("field: what is wrong"). */
async function expectRefusedWith(call: Promise<unknown>, error: string): Promise<void> {
  const { code, message } = await refusal(call);
  // A CEL rule's error names the value's type up to Kubernetes 1.34 (Invalid value: "string"), the value itself since 1.35.
  const cel = /^(.*Invalid value: )"(?:string|object)"(: .*)$/.exec(error);
  if (!cel) {
    expect({ code, message }).toEqual({ code: 422, message: expect.stringContaining(error) });
    return;
  }
  const [, field = '', rule = ''] = cel;
  expect({ code, field: message.includes(field), rule: message.endsWith(rule) || message.includes(`${rule}\n`) }).toEqual({
    code: 422,
    field: true,
    rule: true,
  });
}

describe('FluxActionRequest admission', () => {
  describe('refuses', () => {
    it('an unknown action, listing the supported ones', async () => {
      await expectRefusedWith(
        create(valid({ action: 'Restart' })),
        'spec.action: Unsupported value: "Restart": supported values: "Reconcile", "Suspend", "Resume"',
      );
    });

    it.each<[string, Spec, string]>([
      ['target', { action: 'Reconcile' }, 'spec.target: Required value'],
      ['target.kind', { action: 'Reconcile', target: { name: 'podinfo' } }, 'spec.target.kind: Required value'],
      ['target.name', { action: 'Reconcile', target: { kind: 'Kustomization' } }, 'spec.target.name: Required value'],
    ])('a request without %s', async (_field, spec, error) => {
      await expectRefusedWith(create(spec), error);
    });

    it('a target kind that is not a supported Flux kind, listing the supported ones', async () => {
      await expectRefusedWith(
        create(valid({ target: { kind: 'Deployment', name: 'podinfo' } })),
        'spec.target.kind: Unsupported value: "Deployment": supported values: "Kustomization", "HelmRelease", ' +
          '"GitRepository", "OCIRepository", "Bucket", "HelmChart", "HelmRepository", "ResourceSet", ' +
          '"ResourceSetInputProvider", "FluxInstance", "ImageRepository", "ImagePolicy", "ImageUpdateAutomation", ' +
          '"Receiver", "Alert", "Provider"',
      );
    });

    it.each<[string, string]>([
      ['an empty target.name', ''],
      ['a target.name that is not an object name', 'Podinfo_1'],
    ])('%s', async (_case, name) => {
      await expectRefusedWith(
        create(valid({ target: { kind: 'Kustomization', name } })),
        `spec.target.name: Invalid value: "string": target.name must be the name of a Kubernetes object ` +
          `(lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)`,
      );
    });

    it('a target.namespace that is not a namespace name', async () => {
      await expectRefusedWith(
        create(valid({ target: { kind: 'Kustomization', name: 'podinfo', namespace: 'Apps_1' } })),
        `spec.target.namespace: Invalid value: "string": target.namespace must be a namespace name ` +
          `(lowercase letters, digits and '-', starting and ending with a letter or digit)`,
      );
    });

    it('a target.apiVersion of another API group than the kind', async () => {
      await expectRefusedWith(
        create(valid({ target: { kind: 'Kustomization', name: 'podinfo', apiVersion: 'helm.toolkit.fluxcd.io/v2' } })),
        'spec.target: Invalid value: "object": target.apiVersion helm.toolkit.fluxcd.io/v2 is not an API version ' +
          'of Kustomization; leave it out to use the version the cluster serves',
      );
    });

    const withSourceOnly =
      'spec.withSource: Forbidden: withSource is only for the Reconcile action on a Kustomization or a HelmRelease; remove it or set it to false';
    const forceOnly =
      'spec.force: Forbidden: force is only for the Reconcile action on a HelmRelease, ResourceSetInputProvider or FluxInstance; remove it or set it to false';
    const resetOnly = 'spec.reset: Forbidden: reset is only for the Reconcile action on a HelmRelease; remove it or set it to false';
    const dependenciesOnly =
      'spec.withDependencies: Forbidden: withDependencies is only for the Reconcile action on a Kustomization or a HelmRelease; remove it or set it to false';
    const dependentsOnly =
      'spec.withDependents: Forbidden: withDependents is only for the Reconcile action on a Kustomization or a HelmRelease; remove it or set it to false';
    const chainsWait =
      'spec.wait: Forbidden: withDependencies and withDependents need wait, as each step is judged before the next starts; remove wait false';

    it.each<[string, Spec, string]>([
      [
        'withSource on a GitRepository (a source has no source)',
        valid({ withSource: true, target: { kind: 'GitRepository', name: 'podinfo' } }),
        withSourceOnly,
      ],
      ['withSource with the Suspend action', valid({ action: 'Suspend', withSource: true }), withSourceOnly],
      [
        'withDependencies on a GitRepository',
        valid({ withDependencies: true, target: { kind: 'GitRepository', name: 'podinfo' } }),
        dependenciesOnly,
      ],
      ['withDependents with the Suspend action', valid({ action: 'Suspend', withDependents: true }), dependentsOnly],
      ['withDependencies without waiting', valid({ withDependencies: true, wait: false }), chainsWait],
      ['force on a Kustomization', valid({ force: true }), forceOnly],
      [
        'force with the Suspend action',
        valid({ action: 'Suspend', force: true, target: { kind: 'HelmRelease', name: 'podinfo' } }),
        forceOnly,
      ],
      ['reset on a FluxInstance', valid({ reset: true, target: { kind: 'FluxInstance', name: 'flux' } }), resetOnly],
      [
        'reset with the Resume action',
        valid({ action: 'Resume', reset: true, target: { kind: 'HelmRelease', name: 'podinfo' } }),
        resetOnly,
      ],
    ])('%s', async (_case, spec, error) => {
      await expectRefusedWith(create(spec), error);
    });

    it.each<[string, string, string]>([
      ['over 1h', '2h', 'spec.timeout: Invalid value: "string": timeout must be more than 0s and at most 1h'],
      ['of zero', '0s', 'spec.timeout: Invalid value: "string": timeout must be more than 0s and at most 1h'],
      [
        'that is not a duration',
        'five minutes',
        'spec.timeout: Invalid value: "string": timeout must be a Go duration such as 90s, 5m or 1h30m',
      ],
    ])('a timeout %s (%s)', async (_case, timeout, error) => {
      await expectRefusedWith(create(valid({ timeout })), error);
    });

    it('a negative ttlSecondsAfterFinished', async () => {
      await expectRefusedWith(
        create(valid({ ttlSecondsAfterFinished: -1 })),
        'spec.ttlSecondsAfterFinished: Invalid value: -1: spec.ttlSecondsAfterFinished in body should be greater than or equal to 0',
      );
    });
  });

  describe('spec is immutable once created', () => {
    const immutable =
      'spec: Invalid value: "object": spec is immutable; a request is one action, run once - create a new FluxActionRequest to act again';

    function mergePatch(name: string, body: Record<string, unknown>): Promise<unknown> {
      return custom.patchNamespacedCustomObject(
        { group: Group, version: Version, plural: Plural, namespace: ns, name, body },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    }

    it.each<[string, Spec]>([
      ['timeout', { timeout: '10m' }],
      ['target.name', { target: { name: 'other' } }],
    ])('refuses a change of spec.%s', async (_field, change) => {
      await create(valid(), 'immutable');
      await expectRefusedWith(mergePatch('immutable', { spec: change }), immutable);
      const unchanged = await getRequest(kc, ns, 'immutable');
      expect(unchanged.spec).toEqual({ ...valid(), wait: true, timeout: '5m' });
    });

    it('still lets status and metadata be written', async () => {
      await create(valid(), 'frozen-spec');
      await mergePatch('frozen-spec', { metadata: { labels: { team: 'apps' } } });
      const current = (await custom.getNamespacedCustomObject({
        group: Group,
        version: Version,
        plural: Plural,
        namespace: ns,
        name: 'frozen-spec',
      })) as Record<string, unknown>;
      await custom.replaceNamespacedCustomObjectStatus({
        group: Group,
        version: Version,
        plural: Plural,
        namespace: ns,
        name: 'frozen-spec',
        body: { ...current, status: { phase: Phase.Running } },
      });
      const written = await getRequest(kc, ns, 'frozen-spec');
      expect(written.status?.phase).toBe(Phase.Running);
      expect(written.metadata.labels).toEqual({ team: 'apps' });
      expect(written.spec).toEqual({ ...valid(), wait: true, timeout: '5m' });
    });
  });

  describe('accepts', () => {
    it('a minimal request, defaulting wait to true and timeout to 5m', async () => {
      await create({ action: 'Reconcile', target: { kind: 'Kustomization', name: 'podinfo' } }, 'minimal');
      const request = await getRequest(kc, ns, 'minimal');
      expect(request.spec).toEqual({ action: 'Reconcile', target: { kind: 'Kustomization', name: 'podinfo' }, wait: true, timeout: '5m' });
    });

    it('knows all 16 supported kinds (the table below comes from src/flux/kinds.ts)', () => {
      expect(fluxKinds).toHaveLength(16);
    });

    it.each(fluxKinds.map((k) => [k.kind, `${k.group}/${k.versions[0]}`] as const))(
      'Suspend on %s, also with target.apiVersion %s',
      async (kind, apiVersion) => {
        await create({ action: 'Suspend', target: { kind, name: 'podinfo' } }, 'suspend');
        await create({ action: 'Suspend', target: { kind, name: 'podinfo', apiVersion } }, 'suspend-with-api-version');
      },
    );

    it.each<[string, Spec]>([
      ['withSource on a HelmRelease', valid({ withSource: true, target: { kind: 'HelmRelease', name: 'podinfo' } })],
      ['withSource on a Kustomization', valid({ withSource: true })],
      [
        'withDependencies and withDependents on a HelmRelease',
        valid({ withDependencies: true, withDependents: true, target: { kind: 'HelmRelease', name: 'podinfo' } }),
      ],
      ['force on a HelmRelease', valid({ force: true, target: { kind: 'HelmRelease', name: 'podinfo' } })],
      ['force on a FluxInstance', valid({ force: true, target: { kind: 'FluxInstance', name: 'flux' } })],
      ['force on a ResourceSetInputProvider', valid({ force: true, target: { kind: 'ResourceSetInputProvider', name: 'inputs' } })],
      ['reset on a HelmRelease', valid({ reset: true, target: { kind: 'HelmRelease', name: 'podinfo' } })],
      [
        'withSource, force and reset set to false on any action',
        valid({ action: 'Suspend', withSource: false, force: false, reset: false, target: { kind: 'GitRepository', name: 'repo' } }),
      ],
    ])('%s', async (_case, spec) => {
      await create(spec);
    });

    it.each(['1h', '90s', '1m30s', '1.5m', '500ms'])('timeout %s', async (timeout) => {
      await create(valid({ timeout }), 'timeout');
      expect((await getRequest(kc, ns, 'timeout')).spec.timeout).toBe(timeout);
    });
  });
});
