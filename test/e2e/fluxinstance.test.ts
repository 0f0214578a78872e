// The FluxInstance (flux-system/flux) run by the real flux-operator, which installs Flux from its
// own manifests (its Deployments' pods run on the fake node; the controllers that do the work are
// the processes of `cluster.sh up --with-flux`): reconcile, and suspend / refused reconcile /
// resume through the fluxcd.controlplane.io/reconcile annotation, through kubectl and MCP.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FailureReason } from '../../src/api/conditions.js';
import {
  act,
  apply,
  bothWays,
  clusterEnv,
  condition,
  fluxObject,
  kubectl,
  startE2eEnvironment,
  waitForFlux,
  type E2eEnvironment,
} from '../support/e2e.js';
import { getFluxObject } from '../support/harness.js';

// flux-operator acts only on the FluxInstance named flux in its own namespace.
const namespace = 'flux-system';
const name = 'flux';
const target = { kind: 'FluxInstance', name };

/** How many times flux-operator reconciled the instance. */
async function reconciliations(env: E2eEnvironment): Promise<number> {
  const history = (await getFluxObject(env.kc, 'FluxInstance', namespace, name)).status?.['history'] as
    { totalReconciliations?: number }[] | undefined;
  return history?.[0]?.totalReconciliations ?? 0;
}

/**
 * Removes the FluxInstance without its uninstall. Deleting an enabled one deletes what it installed,
 * the Flux CRDs (and so every Flux object) and flux-system included; disabled, its deletion only
 * drops the finalizer. Then what it installed goes by its owner label, and the CRDs, namespace and
 * ServiceAccounts it shares with the cluster's own Flux stay, minus the labels it added.
 */
async function removeFluxInstance(): Promise<void> {
  const owner = 'fluxcd.controlplane.io/name=flux';
  const shared = 'customresourcedefinitions,namespaces,serviceaccounts';
  await kubectl(['-n', namespace, 'annotate', 'fluxinstance', name, 'fluxcd.controlplane.io/reconcile=disabled', '--overwrite']);
  await kubectl(['-n', namespace, 'delete', 'fluxinstance', name, '--ignore-not-found', '--timeout=60s']);
  await kubectl(['-n', namespace, 'delete', 'deployments,services,resourcequotas', '-l', owner]);
  await kubectl(['delete', 'clusterroles,clusterrolebindings', '-l', owner]);
  await kubectl(['label', 'namespace', namespace, 'pod-security.kubernetes.io/warn-', 'pod-security.kubernetes.io/warn-version-']);
  await kubectl(['annotate', shared, '-A', '-l', owner, 'kustomize.toolkit.fluxcd.io/prune-', 'kustomize.toolkit.fluxcd.io/ssa-']);
  await kubectl(['label', 'namespaces,serviceaccounts', '-A', '-l', owner, 'app.kubernetes.io/part-of-', 'app.kubernetes.io/component-']);
  await kubectl([
    'label',
    shared,
    '-A',
    '-l',
    owner,
    'app.kubernetes.io/instance-',
    'app.kubernetes.io/managed-by-',
    'app.kubernetes.io/version-',
    'fluxcd.controlplane.io/namespace-',
    'fluxcd.controlplane.io/name-',
  ]);
}

describe('FluxInstance', () => {
  let env: E2eEnvironment;

  beforeAll(async () => {
    env = await startE2eEnvironment('e2e-fi', { namespace });
    const existing = await getFluxObject(env.kc, 'FluxInstance', namespace, name).catch(() => undefined);
    if (existing) throw new Error(`FluxInstance ${namespace}/${name} exists already: this test creates and removes its own`);
    // The release whose controllers run here.
    const version = clusterEnv('FLUX_VERSION');
    await apply(
      env.kc,
      fluxObject('FluxInstance', namespace, name, {
        // No distribution artifact: flux-operator builds Flux from the manifests it has on disk.
        distribution: { version: version.replace(/^v/, ''), registry: 'ghcr.io/fluxcd' },
        components: ['source-controller', 'kustomize-controller', 'helm-controller'],
        cluster: { type: 'kubernetes', networkPolicy: false },
      }),
    );
    await waitForFlux(env.kc, 'FluxInstance', namespace, name);
  });

  afterAll(async () => {
    await removeFluxInstance().catch(() => undefined);
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
    await env?.stop();
  });

  it('reconciles (kubectl): flux-operator handles the token and reconciles once more', async () => {
    const before = await reconciliations(env);
    const outcome = await act(env, 'kubectl', { action: 'Reconcile', target }, { expect: 'Succeeded' });
    expect(outcome).toMatchObject({ phase: 'Succeeded', reason: 'Succeeded' });
    const instance = await getFluxObject(env.kc, 'FluxInstance', namespace, name);
    expect(instance.status?.lastHandledReconcileAt).toBe(outcome.token);
    expect(await reconciliations(env)).toBeGreaterThan(before);
  });

  describe.each(bothWays)('via %s', (via) => {
    it('suspends with the annotation, refuses a reconcile, then resumes: reconciled and Ready', async () => {
      const suspended = await act(env, via, { action: 'Suspend', target }, { expect: 'Succeeded' });
      expect(suspended.phase).toBe('Succeeded');
      let instance = await getFluxObject(env.kc, 'FluxInstance', namespace, name);
      expect(instance.metadata.annotations?.['fluxcd.controlplane.io/reconcile']).toBe('disabled');
      expect(instance.metadata.annotations?.['fluxaction.io/suspended-by']).toBe(suspended.request);

      // No MCP tool reconciles a FluxInstance: the refused reconcile is asked with kubectl.
      const refused = await act(env, 'kubectl', { action: 'Reconcile', target }, { expect: 'Failed' });
      expect(refused).toMatchObject({ phase: 'Failed', reason: FailureReason.TargetSuspended });

      const before = await reconciliations(env);
      const resumed = await act(env, via, { action: 'Resume', target }, { expect: 'Succeeded' });
      expect(resumed).toMatchObject({ phase: 'Succeeded', reason: 'Succeeded' });
      instance = await getFluxObject(env.kc, 'FluxInstance', namespace, name);
      expect(instance.metadata.annotations?.['fluxcd.controlplane.io/reconcile']).toBe('enabled');
      expect(instance.status?.lastHandledReconcileAt).toBe(resumed.token);
      expect(condition(instance, 'Ready')?.status).toBe('True');
      expect(await reconciliations(env)).toBeGreaterThan(before);
    });
  });
});
