// FluxActionSchedules (DESIGN §10) against the real API server with the Flux simulator: the request
// of each slot under the slot's name, owned by its schedule and asked for by the operator; a restart
// that neither repeats a slot nor skips one within startingDeadlineSeconds; Forbid and Allow; the
// history limits; policies on origin schedule; and what admission refuses. The operator's clock
// jumps to each slot (test/support/jump-clock.ts) instead of the test waiting a minute for it.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { FailureReason, isFinished } from '../../src/api/conditions.js';
import { Group, OriginLabel, Plural, RequestedByAnnotation, Version, type FluxActionRequest } from '../../src/api/types.js';
import { PolicyPlural } from '../../src/policy/types.js';
import {
  ScheduledAtAnnotation,
  ScheduleLabel,
  SchedulePlural,
  type FluxActionSchedule,
  type ScheduleSpec,
} from '../../src/schedule/types.js';
import type { FluxSimulator } from '../simulator/flux-simulator.js';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import {
  createFluxObject,
  ensureInstalled,
  getRequest,
  OperatorNamespace,
  OperatorServiceAccount,
  readyReason,
  startOperator,
  startSimulator,
  waitForPhase,
  type TestOperator,
} from '../support/harness.js';
import { JumpClock } from '../support/jump-clock.js';
import { adminKubeConfig, createNamespace, deleteNamespace, randomSuffix, waitFor } from '../support/kube.js';
import { bindRole, impersonatedKubeConfig, refusal } from '../support/users.js';

const MIN = 60_000;
const operatorUser = `system:serviceaccount:${OperatorNamespace}:${OperatorServiceAccount}`;

let admin: k8s.KubeConfig;
let custom: k8s.CustomObjectsApi;
let ns: string;
let simulator: FluxSimulator;
const running: TestOperator[] = [];

beforeAll(async () => {
  await ensureInstalled();
  admin = adminKubeConfig();
  custom = admin.makeApiClient(k8s.CustomObjectsApi);
  ns = await createNamespace(admin, 'schedules');
  simulator = await startSimulator();
  await createFluxObject(admin, 'Kustomization', ns, 'apps');
  // The simulator never handles this one's requests: they stay Running.
  await createFluxObject(admin, 'Kustomization', ns, 'slow', { annotations: { [SimAnnotation.outcome]: 'Ignore' } });
});

afterEach(async () => {
  for (const o of running.splice(0)) await o.stop();
});

afterAll(async () => {
  await simulator.stop();
  await deleteNamespace(admin, ns);
});

/** Starts an operator whose clock starts `ahead` ms in the future and can jump further. */
async function operatorAt(clock: JumpClock): Promise<TestOperator> {
  const operator = await startOperator({}, OperatorServiceAccount, undefined, clock);
  running.push(operator);
  return operator;
}

/** The first whole minute after now (ms). */
function nextMinute(now: number, every = 1): number {
  const step = every * MIN;
  return Math.floor(now / step) * step + step;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

async function createSchedule(
  name: string,
  spec: Partial<ScheduleSpec> & Pick<ScheduleSpec, 'requestTemplate'>,
  as = admin,
  dryRun = false,
) {
  return (await as.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
    group: Group,
    version: Version,
    plural: SchedulePlural,
    namespace: ns,
    ...(dryRun ? { dryRun: 'All' } : {}),
    body: { apiVersion: `${Group}/${Version}`, kind: 'FluxActionSchedule', metadata: { name }, spec: { schedule: '* * * * *', ...spec } },
  })) as FluxActionSchedule;
}

async function getSchedule(name: string): Promise<FluxActionSchedule> {
  return (await custom.getNamespacedCustomObject({
    group: Group,
    version: Version,
    plural: SchedulePlural,
    namespace: ns,
    name,
  })) as FluxActionSchedule;
}

async function waitForSchedule(name: string, what: string, predicate: (s: FluxActionSchedule) => boolean, timeoutMs = 30_000) {
  return waitFor(
    `schedule ${name} ${what}`,
    async () => {
      const s = await getSchedule(name);
      return predicate(s) ? s : undefined;
    },
    timeoutMs,
  );
}

/** The schedule's requests (by its label), oldest slot first. */
async function scheduleRequests(name: string): Promise<FluxActionRequest[]> {
  const list = (await custom.listNamespacedCustomObject({
    group: Group,
    version: Version,
    plural: Plural,
    namespace: ns,
    labelSelector: `${ScheduleLabel}=${name}`,
  })) as { items: FluxActionRequest[] };
  return list.items.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
}

async function scheduleEvents(name: string): Promise<k8s.CoreV1Event[]> {
  const list = await admin.makeApiClient(k8s.CoreV1Api).listNamespacedEvent({
    namespace: ns,
    fieldSelector: `involvedObject.kind=FluxActionSchedule,involvedObject.name=${name}`,
  });
  return list.items;
}

// The operators here run on clocks up to half an hour ahead of the API server's: the requests'
// timeout (counted from their creation) must outlast the jump, or a request whose first read waits
// for a cache to sync ends Timeout at once.
const reconcileApps = {
  requestTemplate: { spec: { action: 'Reconcile' as const, target: { kind: 'Kustomization', name: 'apps' }, timeout: '1h' } },
};
const slotName = (schedule: string, slot: number): string => `${schedule}-${slot / MIN}`;

describe('a schedule', () => {
  it("creates each slot's request under the slot's name, owned by the schedule, asked for by the operator, origin schedule", async () => {
    const clock = new JumpClock();
    await operatorAt(clock);
    const name = `every-minute-${randomSuffix()}`;
    const created = await createSchedule(name, reconcileApps);
    const slot = nextMinute(clock.now());
    // Before the slot: the next one is known, nothing is created.
    await waitForSchedule(name, 'to name its next slot', (s) => s.status?.nextScheduleTime === iso(slot));
    expect(await scheduleRequests(name)).toEqual([]);

    clock.jumpTo(slot + 1_000);
    const request = await waitForPhase(admin, ns, slotName(name, slot), 'Succeeded');
    expect(request.metadata.labels).toEqual({ [OriginLabel]: 'schedule', [ScheduleLabel]: name });
    expect(request.metadata.annotations?.[RequestedByAnnotation]).toBe(operatorUser);
    expect(request.metadata.annotations?.[ScheduledAtAnnotation]).toBe(iso(slot));
    expect(request.metadata['ownerReferences']).toEqual([
      { apiVersion: `${Group}/${Version}`, kind: 'FluxActionSchedule', name, uid: created.metadata.uid, controller: true },
    ]);
    expect(request.status?.requestedBy).toBe(operatorUser);

    const status = (
      await waitForSchedule(
        name,
        'to record the slot and its success',
        (s) => s.status?.lastSuccessfulTime !== undefined && !s.status.active,
      )
    ).status!;
    expect(status.lastScheduleTime).toBe(iso(slot));
    expect(status.nextScheduleTime).toBe(iso(slot + MIN));
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'Scheduled' });
    expect((await scheduleEvents(name)).map((e) => [e.reason, e.message])).toContainEqual([
      'Created',
      `created request ${slotName(name, slot)} for the slot at ${iso(slot)}`,
    ]);
  });

  it('creates nothing while suspended, and names no next slot', async () => {
    const clock = new JumpClock();
    await operatorAt(clock);
    const name = `suspended-${randomSuffix()}`;
    const sentinel = `sentinel-${randomSuffix()}`;
    await createSchedule(name, { ...reconcileApps, suspend: true });
    await createSchedule(sentinel, reconcileApps);
    const s = await waitForSchedule(name, 'to say it is suspended', (x) => x.status?.conditions?.[0]?.reason === 'Suspended');
    expect(s.status?.nextScheduleTime).toBeUndefined();
    const slot = nextMinute(clock.now());
    clock.jumpTo(slot + 1_000);
    // The slot has come for the operator: the schedule beside it ran.
    await waitForPhase(admin, ns, slotName(sentinel, slot), 'Succeeded');
    await waitForSchedule(sentinel, 'to record its slot', (x) => x.status?.lastScheduleTime === iso(slot));
    expect(await scheduleRequests(name)).toEqual([]);
    expect((await getSchedule(name)).status?.lastScheduleTime).toBeUndefined();
  });

  it('skips a slot whose name another request holds, with an Event, and does not touch that request', async () => {
    const clock = new JumpClock();
    await operatorAt(clock);
    const name = `taken-${randomSuffix()}`;
    await createSchedule(name, reconcileApps);
    const slot = nextMinute(clock.now());
    const other = (await custom.createNamespacedCustomObject({
      group: Group,
      version: Version,
      plural: Plural,
      namespace: ns,
      body: {
        apiVersion: `${Group}/${Version}`,
        kind: 'FluxActionRequest',
        metadata: { name: slotName(name, slot) },
        spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'apps' } },
      },
    })) as FluxActionRequest;
    clock.jumpTo(slot + 1_000);
    const s = await waitForSchedule(name, 'to record the slot as handled', (x) => x.status?.lastScheduleTime === iso(slot));
    expect(s.status?.conditions?.[0]).toMatchObject({ status: 'True', reason: 'Scheduled' });
    const events = await scheduleEvents(name);
    expect(events.map((e) => [e.type, e.reason, e.message])).toContainEqual([
      'Warning',
      'FailedCreate',
      `request ${slotName(name, slot)} exists and does not belong to this schedule: the slot at ${iso(slot)} is skipped`,
    ]);
    const after = (await custom.getNamespacedCustomObject({
      group: Group,
      version: Version,
      plural: Plural,
      namespace: ns,
      name: slotName(name, slot),
    })) as FluxActionRequest;
    expect(after.metadata.uid).toBe(other.metadata.uid);
    expect(after.metadata['ownerReferences']).toBeUndefined();
  });

  it('that never fires says so in Ready', async () => {
    await operatorAt(new JumpClock());
    const name = `never-${randomSuffix()}`;
    await createSchedule(name, { ...reconcileApps, schedule: '0 0 30 2 *' });
    const s = await waitForSchedule(name, 'to be not Ready', (x) => x.status?.conditions?.[0]?.status === 'False');
    expect(s.status?.conditions?.[0]).toMatchObject({ reason: 'InvalidSchedule', message: 'schedule "0 0 30 2 *" never fires' });
  });
});

describe('a restart', () => {
  it('that lost the status write finds the slot again and creates no second request', async () => {
    const clock = new JumpClock();
    const first = await operatorAt(clock);
    const name = `restart-${randomSuffix()}`;
    await createSchedule(name, reconcileApps);
    const slot = nextMinute(clock.now());
    clock.jumpTo(slot + 1_000);
    await waitForSchedule(name, 'to record the slot', (s) => s.status?.lastScheduleTime === iso(slot));
    const [before] = await scheduleRequests(name);
    await first.stop();
    running.splice(running.indexOf(first), 1);

    // As if the operator had stopped after creating the request and before writing status.
    await custom.patchNamespacedCustomObjectStatus(
      { group: Group, version: Version, plural: SchedulePlural, namespace: ns, name, body: { status: { lastScheduleTime: null } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const again = new JumpClock();
    again.jumpTo(slot + 5_000);
    await operatorAt(again);
    await waitForSchedule(name, 'to record the slot again', (s) => s.status?.lastScheduleTime === iso(slot));
    const after = await scheduleRequests(name);
    expect(after.map((r) => [r.metadata.name, r.metadata.uid])).toEqual([[slotName(name, slot), before!.metadata.uid]]);
    expect((await scheduleEvents(name)).filter((e) => e.reason === 'Created')).toHaveLength(1);
  });

  it('runs the slot it was down for within startingDeadlineSeconds, and skips one beyond it with an Event', async () => {
    const name = `deadline-${randomSuffix()}`;
    const clock = new JumpClock();
    await createSchedule(name, { ...reconcileApps, schedule: '*/10 * * * *', startingDeadlineSeconds: 120 });
    const slot = nextMinute(clock.now(), 10);
    // Down at the slot; back 60s later.
    clock.jumpTo(slot + 60_000);
    const down = await operatorAt(clock);
    await waitForPhase(admin, ns, slotName(name, slot), 'Succeeded');
    await waitForSchedule(name, 'to record the slot', (s) => s.status?.lastScheduleTime === iso(slot));
    await down.stop();
    running.splice(running.indexOf(down), 1);

    // Down at the next slot; back 180s later, past its deadline.
    const later = new JumpClock();
    later.jumpTo(slot + 10 * MIN + 180_000);
    await operatorAt(later);
    const s = await waitForSchedule(
      name,
      'to name the slot after the missed one',
      (x) => x.status?.nextScheduleTime === iso(slot + 20 * MIN),
    );
    expect(s.status?.lastScheduleTime).toBe(iso(slot));
    expect((await scheduleRequests(name)).map((r) => r.metadata.name)).toEqual([slotName(name, slot)]);
    const missed = await waitFor('a MissedSchedule event', async () =>
      (await scheduleEvents(name)).find((e) => e.reason === 'MissedSchedule'),
    );
    expect(missed.type).toBe('Warning');
    expect(missed.message).toBe(`missed the slot at ${iso(slot + 10 * MIN)} by more than startingDeadlineSeconds (120s): skipped`);
  });
});

describe('concurrencyPolicy', () => {
  it('Forbid holds a slot while the previous request runs; Allow creates it', async () => {
    const clock = new JumpClock();
    await operatorAt(clock);
    const slow = {
      requestTemplate: { spec: { action: 'Reconcile' as const, target: { kind: 'Kustomization', name: 'slow' }, timeout: '1h' } },
    };
    const forbid = `forbid-${randomSuffix()}`;
    const allow = `allow-${randomSuffix()}`;
    await createSchedule(forbid, slow);
    await createSchedule(allow, { ...slow, concurrencyPolicy: 'Allow' });
    const first = nextMinute(clock.now());
    clock.jumpTo(first + 1_000);
    // Both first slots' requests are under way: one writes the token, and the other, made at the
    // same moment for the same target, may join it instead (no status until its outcome; see Coalescing).
    const firsts = [forbid, allow].map((name) => slotName(name, first));
    await waitFor('the first slots to be under way', async () => {
      const requests = await Promise.all(firsts.map((name) => getRequest(admin, ns, name)));
      const phases = requests.map((r) => r.status?.phase);
      return phases.includes('Running') && !phases.some(isFinished) ? true : undefined;
    });
    await waitForSchedule(forbid, 'to list its running request', (s) => s.status?.active?.[0]?.name === slotName(forbid, first));

    clock.jumpTo(first + MIN + 1_000);
    await waitFor('the second slot of Allow', async () => ((await scheduleRequests(allow)).length === 2 ? true : undefined));
    const held = await waitFor('Forbid to hold the second slot', async () =>
      (await scheduleEvents(forbid)).find((e) => e.reason === 'AlreadyActive'),
    );
    expect(held.message).toBe(
      `the slot at ${iso(first + MIN)} waits: request ${slotName(forbid, first)} has not finished (concurrencyPolicy Forbid)`,
    );
    expect((await scheduleRequests(forbid)).map((r) => r.metadata.name)).toEqual([slotName(forbid, first)]);
    const allowed = await waitForSchedule(allow, 'to list both running requests', (s) => s.status?.active?.length === 2);
    expect(allowed.status?.active?.map((a) => a.name)).toEqual([slotName(allow, first), slotName(allow, first + MIN)]);
  });
});

describe('history limits', () => {
  it('keep the newest succeeded and failed requests and delete the older ones', async () => {
    const clock = new JumpClock();
    await operatorAt(clock);
    const ok = `history-ok-${randomSuffix()}`;
    const failing = `history-failed-${randomSuffix()}`;
    await createSchedule(ok, {
      requestTemplate: { spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'apps' }, wait: false } },
      successfulHistoryLimit: 2,
    });
    await createSchedule(failing, {
      requestTemplate: { spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'missing' } } },
      failedHistoryLimit: 1,
    });
    const first = nextMinute(clock.now());
    const slots = [0, 1, 2, 3].map((i) => first + i * MIN);
    for (const slot of slots) {
      clock.jumpTo(slot + 1_000);
      await waitForPhase(admin, ns, slotName(ok, slot), 'Succeeded');
      const failed = await waitForPhase(admin, ns, slotName(failing, slot), 'Failed');
      expect(readyReason(failed)).toBe(FailureReason.TargetNotFound);
    }
    await waitFor('the succeeded history to be 2 requests', async () => {
      const names = (await scheduleRequests(ok)).map((r) => r.metadata.name);
      return names.length === 2 ? names : undefined;
    });
    expect((await scheduleRequests(ok)).map((r) => r.metadata.name)).toEqual([slotName(ok, slots[2]!), slotName(ok, slots[3]!)]);
    await waitFor('the failed history to be 1 request', async () => ((await scheduleRequests(failing)).length === 1 ? true : undefined));
    expect((await scheduleRequests(failing)).map((r) => r.metadata.name)).toEqual([slotName(failing, slots[3]!)]);
  });
});

describe('policies', () => {
  it('govern scheduled requests by origin schedule', async () => {
    const clock = new JumpClock();
    await operatorAt(clock);
    const policyNs = await createNamespace(admin, 'schedules-policy');
    try {
      await createFluxObject(admin, 'Kustomization', policyNs, 'apps');
      await custom.createNamespacedCustomObject({
        group: Group,
        version: Version,
        plural: PolicyPlural,
        namespace: policyNs,
        body: {
          apiVersion: `${Group}/${Version}`,
          kind: 'FluxActionPolicy',
          metadata: { name: 'no-schedules' },
          spec: { rules: [{ name: 'no-scheduled-actions', match: { origins: ['schedule'] }, effect: 'Deny', message: 'not on a timer' }] },
        },
      });
      const name = `denied-${randomSuffix()}`;
      await admin.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
        group: Group,
        version: Version,
        plural: SchedulePlural,
        namespace: policyNs,
        body: {
          apiVersion: `${Group}/${Version}`,
          kind: 'FluxActionSchedule',
          metadata: { name },
          spec: { schedule: '* * * * *', ...reconcileApps },
        },
      });
      // The policy store has the policy before the slot comes.
      await waitFor('the policy to be in force', async () => {
        const p = (await custom.getNamespacedCustomObject({
          group: Group,
          version: Version,
          plural: PolicyPlural,
          namespace: policyNs,
          name: 'no-schedules',
        })) as {
          status?: { conditions?: { status: string }[] };
        };
        return p.status?.conditions?.[0]?.status === 'True' ? true : undefined;
      });
      const slot = nextMinute(clock.now());
      clock.jumpTo(slot + 1_000);
      const denied = await waitForPhase(admin, policyNs, slotName(name, slot), 'Failed');
      expect(readyReason(denied)).toBe(FailureReason.PolicyDenied);
      expect(denied.status?.policy).toMatchObject({ name: 'no-schedules', rule: 'no-scheduled-actions', effect: 'Deny' });
    } finally {
      await deleteNamespace(admin, policyNs);
    }
  });
});

describe('admission', () => {
  const spec = (over: Record<string, unknown>): Partial<ScheduleSpec> & Pick<ScheduleSpec, 'requestTemplate'> => ({
    ...reconcileApps,
    ...over,
  });

  it.each([
    [
      { schedule: '0 18 * *' },
      'spec.schedule: Invalid value: "0 18 * *": schedule must be a cron schedule of 5 fields (minute hour day-of-month month day-of-week), such as "0 18 * * 1-5", or a macro such as @daily',
    ],
    [{ schedule: 'CRON_TZ=UTC 0 18 * * *' }, 'schedule may not name a time zone (TZ= or CRON_TZ=); set spec.timeZone instead'],
    [
      { timeZone: 'Europe/Berlinn' },
      'unknown time zone Europe/Berlinn evaluating rule: timeZone must be an IANA time zone name such as Europe/Berlin or UTC',
    ],
    [{ timeZone: '+01:00' }, 'timeZone must be an IANA time zone name such as Europe/Berlin or UTC'],
    [{ concurrencyPolicy: 'Replace' }, 'spec.concurrencyPolicy: Unsupported value: "Replace": supported values: "Forbid", "Allow"'],
    [
      { startingDeadlineSeconds: -1 },
      'spec.startingDeadlineSeconds: Invalid value: -1: spec.startingDeadlineSeconds in body should be greater than or equal to 0',
    ],
    [
      { requestTemplate: { spec: { action: 'Suspend', target: { kind: 'Kustomization', name: 'apps' }, withSource: true } } },
      'spec.requestTemplate.spec.withSource: Forbidden: withSource is only for the Reconcile action on a Kustomization or a HelmRelease; remove it or set it to false',
    ],
    [
      { requestTemplate: { spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'apps' }, timeout: '2h' } } },
      'timeout must be more than 0s and at most 1h',
    ],
  ])('refuses %j with a message that says what to fix', async (over, message) => {
    const r = await refusal(createSchedule(`bad-${randomSuffix()}`, spec(over), admin, true));
    expect(r.code).toBe(422);
    expect(r.message).toContain(message);
  });

  it('refuses a name longer than 52 characters', async () => {
    const r = await refusal(createSchedule('a'.repeat(53), reconcileApps, admin, true));
    expect(r.message).toContain("a FluxActionSchedule's name must be at most 52 characters");
  });

  it("checks the template's action verb on its target against whoever writes the schedule", async () => {
    const user = `carol-${randomSuffix()}`;
    const carol = impersonatedKubeConfig(admin, user);
    await bindRole(admin, ns, user, { kind: 'ClusterRole', name: 'fluxact-reconciler' });
    const suspend = { requestTemplate: { spec: { action: 'Suspend' as const, target: { kind: 'Kustomization', name: 'apps' } } } };
    const refused = await waitFor('the role binding to take effect and admission to refuse', async () => {
      const r = await refusal(createSchedule(`carol-${randomSuffix()}`, suspend, carol, true));
      return r.code === 403 && r.message.includes('ValidatingAdmissionPolicy') ? r : undefined;
    });
    expect(refused.message).toContain(
      `user ${user} may not suspend kustomizations.kustomize.toolkit.fluxcd.io ${ns}/apps: a FluxActionSchedule of Suspend requests needs verb suspend on its target`,
    );
    await createSchedule(`carol-${randomSuffix()}`, reconcileApps, carol, true);
  });
});
