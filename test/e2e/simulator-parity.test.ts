// The Flux simulator (the test double of the integration tests) checked against the real
// controllers on the same scenarios: the requests must end the same way, with the same words, and
// the Flux objects must carry the same conditions and status fields the operator reads. When Flux
// changes how it reports, this is the test that says the simulator no longer tells the truth.
//
// The simulator's objects carry the sharding label sharding.fluxcd.io/key, which the real
// controllers are started to ignore (--watch-label-selector=!sharding.fluxcd.io/key, as Flux's
// main shard is), so each side has its objects to itself.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import {
  act,
  apply,
  clusterSources,
  condition,
  type E2eEnvironment,
  fluxObject,
  type Outcome,
  startE2eEnvironment,
  waitForFlux,
} from '../support/e2e.js';
import {
  type FluxObjectView,
  getFluxObject,
  type OperatorEnvironment,
  patchFluxObject,
  startOperatorEnvironment,
} from '../support/harness.js';
import type { GitRepo } from '../support/sources.js';

const SimulatedShard = { 'sharding.fluxcd.io/key': 'simulator' };

/** An outcome without what differs by nature between two runs: namespaces, Git SHAs, tokens, timing. */
function normalize(outcome: Outcome, ns: string): Record<string, unknown> {
  const text = (s: string | undefined): string | undefined => s?.replaceAll(ns, '<ns>').replace(/@sha1:[0-9a-f]{40}/g, '@sha1:<sha>');
  return {
    phase: outcome.phase,
    reason: outcome.reason,
    message: text(outcome.message),
    revision: text(outcome.revision),
    sourceRevision: text(outcome.sourceRevision),
  };
}

/** Status fields the operator reads. */
const readFields = ['lastHandledReconcileAt', 'lastHandledForceAt', 'observedGeneration', 'lastAppliedRevision', 'artifact', 'history'];

/** What of a Flux object's status the operator relies on: the kstatus conditions and which fields are there. */
function shape(obj: FluxObjectView): Record<string, unknown> {
  const conditions = ['Ready', 'Reconciling', 'Stalled']
    .map((type) => condition(obj, type))
    .filter((c) => c !== undefined)
    .map((c) => `${c.type}=${c.status} (${c.reason})`);
  return { conditions, fields: readFields.filter((f) => obj.status?.[f] !== undefined) };
}

describe('The Flux simulator against the real controllers', () => {
  let real: E2eEnvironment;
  let sim: OperatorEnvironment;
  let repo: GitRepo;
  const simulated = (): Pick<E2eEnvironment, 'kc' | 'ns' | 'mcp'> => ({ kc: sim.kc, ns: sim.ns, mcp: real.mcp });

  beforeAll(async () => {
    real = await startE2eEnvironment('e2e-parity-real');
    sim = await startOperatorEnvironment('e2e-parity-sim');
    repo = clusterSources().gitRepo(real.ns);
    await repo.commit(
      { 'app/greeting.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  message: one\n' },
      'first',
    );
    for (const [env, labels] of [
      [real, {}],
      [sim, SimulatedShard],
    ] as const) {
      await apply(
        env.kc,
        fluxObject('GitRepository', env.ns, 'repo', { interval: '1h', url: repo.url, ref: { branch: repo.branch } }, { labels }),
      );
      await apply(
        env.kc,
        fluxObject(
          'Kustomization',
          env.ns,
          'app',
          { interval: '1h', path: './app', prune: true, targetNamespace: env.ns, sourceRef: { kind: 'GitRepository', name: 'repo' } },
          { labels },
        ),
      );
    }
    await waitForFlux(real.kc, 'Kustomization', real.ns, 'app');
    await waitForFlux(sim.kc, 'Kustomization', sim.ns, 'app');
  });

  afterAll(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
    await real?.stop();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
    await sim?.stop();
  });

  const reconcileApp = { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' }, withSource: true } as const;

  it('a reconcile with source: same outcome, same conditions and fields', async () => {
    await repo.commit(
      { 'app/greeting.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  message: two\n' },
      'second',
    );
    const fromReal = await act(real, 'kubectl', reconcileApp, { expect: 'Succeeded' });
    const fromSim = await act(simulated(), 'kubectl', reconcileApp, { expect: 'Succeeded' });
    expect(normalize(fromSim, sim.ns)).toEqual(normalize(fromReal, real.ns));
    for (const kind of ['Kustomization', 'GitRepository']) {
      const name = kind === 'Kustomization' ? 'app' : 'repo';
      expect({ kind, ...shape(await getFluxObject(sim.kc, kind, sim.ns, name)) }).toEqual({
        kind,
        ...shape(await getFluxObject(real.kc, kind, real.ns, name)),
      });
    }
  });

  it('a failed apply: same outcome and conditions when the simulator is told what kustomize-controller said', async () => {
    await repo.commit(
      { 'app/broken.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  values: [1, 2]\n' },
      'broken',
    );
    const fromReal = await act(real, 'kubectl', reconcileApp, { expect: 'Failed' });
    const said = condition(await getFluxObject(real.kc, 'Kustomization', real.ns, 'app'), 'Ready')!;
    await patchFluxObject(sim.kc, 'Kustomization', sim.ns, 'app', {
      metadata: {
        annotations: {
          [SimAnnotation.outcome]: 'Failed',
          [SimAnnotation.reason]: said.reason!,
          [SimAnnotation.message]: said.message!.replaceAll(real.ns, sim.ns),
        },
      },
    });
    const fromSim = await act(simulated(), 'kubectl', reconcileApp, { expect: 'Failed' });
    expect(normalize(fromSim, sim.ns)).toEqual(normalize(fromReal, real.ns));
    expect(shape(await getFluxObject(sim.kc, 'Kustomization', sim.ns, 'app'))).toEqual(
      shape(await getFluxObject(real.kc, 'Kustomization', real.ns, 'app')),
    );

    await repo.commit({ 'app/broken.yaml': null }, 'fix');
    await patchFluxObject(sim.kc, 'Kustomization', sim.ns, 'app', {
      metadata: { annotations: { [SimAnnotation.outcome]: null, [SimAnnotation.reason]: null, [SimAnnotation.message]: null } },
    });
    await act(real, 'kubectl', reconcileApp, { expect: 'Succeeded' });
    await act(simulated(), 'kubectl', reconcileApp, { expect: 'Succeeded' });
  });

  it('suspend, a refused reconcile, and resume: the same three outcomes', async () => {
    const steps = [
      [{ action: 'Suspend', target: { kind: 'Kustomization', name: 'app' } }, 'Succeeded'],
      [{ action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } }, 'Failed'],
      [{ action: 'Resume', target: { kind: 'Kustomization', name: 'app' } }, 'Succeeded'],
    ] as const;
    for (const [spec, expected] of steps) {
      const fromReal = await act(real, 'kubectl', spec, { expect: expected, timeoutSeconds: 60 });
      const fromSim = await act(simulated(), 'kubectl', spec, { expect: expected, timeoutSeconds: 60 });
      expect(normalize(fromSim, sim.ns)).toEqual(normalize(fromReal, real.ns));
    }
    expect(shape(await getFluxObject(sim.kc, 'Kustomization', sim.ns, 'app'))).toEqual(
      shape(await getFluxObject(real.kc, 'Kustomization', real.ns, 'app')),
    );
  }, 300_000);

  it('a HelmRelease with source: same outcome, same conditions and fields of the release and its HelmChart', async () => {
    const charts = clusterSources().helmRepo();
    // One chart name per run: the Helm repository outlives the test's namespace.
    const chart = `parity-${real.ns}`;
    const templates = {
      'configmap.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  chart: {{ .Chart.Version | quote }}\n',
    };
    await charts.publishChart({ name: chart, version: '0.1.0', templates });
    const release = (): Record<string, unknown> => ({
      interval: '1h',
      chart: { spec: { chart, version: '*', interval: '1h', sourceRef: { kind: 'HelmRepository', name: 'charts' } } },
    });
    await apply(real.kc, fluxObject('HelmRepository', real.ns, 'charts', { interval: '1h', url: charts.url }));
    await apply(real.kc, fluxObject('HelmRelease', real.ns, 'web', release()));
    await waitForFlux(real.kc, 'HelmRelease', real.ns, 'web');
    // The simulator does not create the HelmChart of chart.spec as helm-controller does: create it.
    const at = (revision: string): Record<string, unknown> => ({
      labels: SimulatedShard,
      annotations: { [SimAnnotation.revision]: revision },
    });
    await apply(sim.kc, fluxObject('HelmRepository', sim.ns, 'charts', { interval: '1h', url: charts.url }, { labels: SimulatedShard }));
    await apply(
      sim.kc,
      fluxObject(
        'HelmChart',
        sim.ns,
        `${sim.ns}-web`,
        { interval: '1h', chart, version: '*', sourceRef: { kind: 'HelmRepository', name: 'charts' } },
        at('0.2.0'),
      ),
    );
    await apply(sim.kc, fluxObject('HelmRelease', sim.ns, 'web', release(), at('0.2.0')));
    await waitForFlux(sim.kc, 'HelmRelease', sim.ns, 'web');

    await charts.publishChart({ name: chart, version: '0.2.0', templates });
    const spec = { action: 'Reconcile', target: { kind: 'HelmRelease', name: 'web' }, withSource: true } as const;
    const fromReal = await act(real, 'kubectl', spec, { expect: 'Succeeded' });
    const fromSim = await act(simulated(), 'kubectl', spec, { expect: 'Succeeded' });
    expect(normalize(fromSim, sim.ns)).toEqual(normalize(fromReal, real.ns));
    expect(shape(await getFluxObject(sim.kc, 'HelmRelease', sim.ns, 'web'))).toEqual(
      shape(await getFluxObject(real.kc, 'HelmRelease', real.ns, 'web')),
    );
    expect(shape(await getFluxObject(sim.kc, 'HelmChart', sim.ns, `${sim.ns}-web`))).toEqual(
      shape(await getFluxObject(real.kc, 'HelmChart', real.ns, `${real.ns}-web`)),
    );
  });
});
