// A pair of FluxActionSchedules, a minute apart in Berlin time, suspend and then resume a real
// Kustomization reconciled by the real kustomize-controller. The operator's clock jumps to each
// slot (test/support/jump-clock.ts): the slots are real cron slots in a real time zone, and the
// test does not wait for them.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { Group, Version } from '../../src/api/types.js';
import { SchedulePlural, type FluxActionSchedule } from '../../src/schedule/types.js';
import { apply, clusterSources, fluxObject, waitForFlux } from '../support/e2e.js';
import { getFluxObject, OperatorServiceAccount, startOperator, waitForPhase, type TestOperator } from '../support/harness.js';
import { JumpClock } from '../support/jump-clock.js';
import { adminKubeConfig, createNamespace, deleteNamespace, waitFor } from '../support/kube.js';

const MIN = 60_000;
const zone = 'Europe/Berlin';

/** The cron expression of the minute starting at t, read in zone: `<minute> <hour> <day> <month> *`. */
function cronAt(t: number): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone: zone,
      hourCycle: 'h23',
      minute: 'numeric',
      hour: 'numeric',
      day: 'numeric',
      month: 'numeric',
    })
      .formatToParts(new Date(t))
      .map((p) => [p.type, Number(p.value)]),
  );
  return `${parts['minute']} ${parts['hour']} ${parts['day']} ${parts['month']} *`;
}

describe('a suspend schedule and a resume schedule a minute apart', () => {
  const kc = adminKubeConfig();
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const clock = new JumpClock();
  let ns: string;
  let operator: TestOperator;

  beforeAll(async () => {
    ns = await createNamespace(kc, 'e2e-schedules');
    operator = await startOperator({ watchNamespace: ns }, OperatorServiceAccount, undefined, clock);
    const repo = clusterSources().gitRepo(ns);
    await repo.commit(
      { 'app/configmap.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  message: hello\n' },
      'first',
    );
    await apply(kc, fluxObject('GitRepository', ns, 'repo', { interval: '1h', url: repo.url, ref: { branch: repo.branch } }));
    await apply(
      kc,
      fluxObject('Kustomization', ns, 'app', {
        interval: '1h',
        path: './app',
        prune: true,
        targetNamespace: ns,
        sourceRef: { kind: 'GitRepository', name: 'repo' },
      }),
    );
    await waitForFlux(kc, 'Kustomization', ns, 'app', 'to be Ready', (ks) => ks.status?.['lastAppliedRevision'] !== undefined);
  });

  afterAll(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed
    await operator?.stop();
    await deleteNamespace(kc, ns);
  });

  const schedule = (name: string, cron: string, action: 'Suspend' | 'Resume') =>
    custom.createNamespacedCustomObject({
      group: Group,
      version: Version,
      plural: SchedulePlural,
      namespace: ns,
      body: {
        apiVersion: `${Group}/${Version}`,
        kind: 'FluxActionSchedule',
        metadata: { name },
        spec: {
          schedule: cron,
          timeZone: zone,
          startingDeadlineSeconds: 300,
          requestTemplate: { spec: { action, target: { kind: 'Kustomization', name: 'app' } } },
        },
      },
    });

  it('suspends the Kustomization at the first slot and resumes it, reconciled by Flux, at the next', async () => {
    const suspendAt = Math.floor(clock.now() / MIN) * MIN + 2 * MIN;
    const resumeAt = suspendAt + MIN;
    await schedule('evening', cronAt(suspendAt), 'Suspend');
    await schedule('morning', cronAt(resumeAt), 'Resume');

    clock.jumpTo(suspendAt + 1_000);
    await waitForPhase(kc, ns, `evening-${suspendAt / MIN}`, 'Succeeded', 60_000);
    const suspended = await getFluxObject(kc, 'Kustomization', ns, 'app');
    expect(suspended.spec['suspend']).toBe(true);
    expect(suspended.metadata.annotations?.['fluxaction.io/suspended-by']).toBe(`${ns}/evening-${suspendAt / MIN}`);

    clock.jumpTo(resumeAt + 1_000);
    const resumed = await waitForPhase(kc, ns, `morning-${resumeAt / MIN}`, 'Succeeded', 120_000);
    const ks = await getFluxObject(kc, 'Kustomization', ns, 'app');
    expect(ks.spec['suspend']).toBe(false);
    // kustomize-controller handled the resume's token: Flux reconciled it, not just the patch.
    expect(ks.status?.lastHandledReconcileAt).toBe(resumed.status?.token);

    const evening = await waitFor('the suspend schedule to record its success', async () => {
      const s = (await custom.getNamespacedCustomObject({
        group: Group,
        version: Version,
        plural: SchedulePlural,
        namespace: ns,
        name: 'evening',
      })) as FluxActionSchedule;
      return s.status?.lastSuccessfulTime ? s : undefined;
    });
    expect(evening.status?.lastScheduleTime).toBe(new Date(suspendAt).toISOString().replace('.000Z', 'Z'));
  });
});
