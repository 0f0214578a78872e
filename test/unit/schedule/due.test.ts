// Schedules (DESIGN §10): which slot is due at a given time, in time zones and across DST changes,
// Forbid against Allow, startingDeadlineSeconds, deterministic names and history pruning. The
// time is a parameter; nothing here sleeps.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { ScheduleSpecSchema } from '../../../src/schedule/types.js';
import { repoRoot } from '../../support/kube.js';
import {
  activeRequests,
  compileSchedule,
  due,
  historyToDelete,
  isProblem,
  slotRequestName,
  type CompiledSchedule,
  type DueInput,
} from '../../../src/schedule/due.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const t = (iso: string): number => Date.parse(iso);

function compiled(schedule: string, timeZone?: string): CompiledSchedule {
  const c = compileSchedule({ schedule, ...(timeZone ? { timeZone } : {}) });
  if (isProblem(c)) throw new Error(c.message);
  return c;
}

function input(over: Partial<DueInput> & Pick<DueInput, 'schedule' | 'now'>): DueInput {
  return { createdAt: t('2026-01-01T00:00:00Z'), active: 0, ...over };
}

describe('compileSchedule', () => {
  it('accepts 5 fields and macros such as @daily, in UTC by default', () => {
    expect(compiled('0 18 * * 1-5').timeZone).toBe('UTC');
    expect(compiled('@daily', 'Europe/Berlin').timeZone).toBe('Europe/Berlin');
  });

  it('names an unknown time zone', () => {
    expect(compileSchedule({ schedule: '0 8 * * *', timeZone: 'Europe/Berlinn' })).toEqual({
      reason: 'InvalidTimeZone',
      message: 'unknown time zone "Europe/Berlinn": use an IANA name such as Europe/Berlin',
    });
  });

  it('names a field out of range', () => {
    expect(compileSchedule({ schedule: '61 * * * *' })).toEqual({
      reason: 'InvalidSchedule',
      message: 'schedule "61 * * * *" is not a cron schedule: Invalid value for minute: 61',
    });
  });

  it('refuses a schedule that never fires, and one with a sixth field', () => {
    expect(compileSchedule({ schedule: '0 0 30 2 *' })).toEqual({
      reason: 'InvalidSchedule',
      message: 'schedule "0 0 30 2 *" never fires',
    });
    expect(compileSchedule({ schedule: '0 0 8 * * *' })).toMatchObject({ reason: 'InvalidSchedule' });
  });
});

describe('due', () => {
  const daily18 = compiled('0 18 * * *', 'Europe/Berlin');

  it('waits before the first slot, with the next one in the schedule’s time zone', () => {
    const now = t('2026-11-25T12:00:00Z');
    // 18:00 in Berlin is 17:00 UTC in winter.
    expect(due(input({ schedule: daily18, now, createdAt: now - HOUR }))).toEqual({ action: 'wait', next: t('2026-11-25T17:00:00Z') });
  });

  it('creates the slot that just came, and names it by its minute', () => {
    const now = t('2026-11-25T17:00:05Z');
    const d = due(input({ schedule: daily18, now, lastScheduleTime: t('2026-11-24T17:00:00Z') }));
    expect(d).toEqual({ action: 'create', slot: t('2026-11-25T17:00:00Z'), skipped: 0, next: t('2026-11-26T17:00:00Z') });
    expect(slotRequestName('suspend-evenings', t('2026-11-25T17:00:00Z'))).toBe(`suspend-evenings-${t('2026-11-25T17:00:00Z') / MIN}`);
  });

  it('does not create a slot again once lastScheduleTime records it', () => {
    const now = t('2026-11-25T17:30:00Z');
    expect(due(input({ schedule: daily18, now, lastScheduleTime: t('2026-11-25T17:00:00Z') }))).toEqual({
      action: 'wait',
      next: t('2026-11-26T17:00:00Z'),
    });
  });

  it('a restart before lastScheduleTime was written finds the same slot, hence the same request name', () => {
    const last = t('2026-11-24T17:00:00Z');
    const first = due(input({ schedule: daily18, now: t('2026-11-25T17:00:01Z'), lastScheduleTime: last }));
    const again = due(input({ schedule: daily18, now: t('2026-11-25T17:02:00Z'), lastScheduleTime: last }));
    expect(first.action).toBe('create');
    expect(again).toMatchObject({ action: 'create', slot: first.action === 'create' ? first.slot : -1 });
  });

  it('does not run a slot from before the schedule was created', () => {
    const now = t('2026-11-25T17:10:00Z');
    expect(due(input({ schedule: daily18, now, createdAt: t('2026-11-25T17:05:00Z') })).action).toBe('wait');
  });

  describe('startingDeadlineSeconds', () => {
    const last = t('2026-11-24T17:00:00Z');
    it('runs a slot missed by less than the deadline (the operator was down for a while)', () => {
      const now = t('2026-11-25T17:04:59Z');
      expect(due(input({ schedule: daily18, now, lastScheduleTime: last, startingDeadlineSeconds: 300 }))).toMatchObject({
        action: 'create',
        slot: t('2026-11-25T17:00:00Z'),
      });
    });

    it('skips a slot missed by more than the deadline', () => {
      const now = t('2026-11-25T17:05:01Z');
      expect(due(input({ schedule: daily18, now, lastScheduleTime: last, startingDeadlineSeconds: 300 }))).toEqual({
        action: 'tooLate',
        slot: t('2026-11-25T17:00:00Z'),
        skipped: 0,
        next: t('2026-11-26T17:00:00Z'),
      });
    });

    it('without a deadline runs only the latest of several missed slots, and counts the others', () => {
      const now = t('2026-11-28T09:00:00Z');
      expect(due(input({ schedule: daily18, now, lastScheduleTime: last }))).toEqual({
        action: 'create',
        slot: t('2026-11-27T17:00:00Z'),
        skipped: 2,
        next: t('2026-11-28T17:00:00Z'),
      });
    });

    it('counts at most 100 missed slots', () => {
      const everyMinute = compiled('* * * * *');
      const now = t('2026-11-25T12:00:00Z');
      expect(due(input({ schedule: everyMinute, now, lastScheduleTime: now - 1000 * MIN }))).toMatchObject({ skipped: 100 });
    });
  });

  describe('concurrencyPolicy', () => {
    const now = t('2026-11-25T17:00:10Z');
    const last = t('2026-11-24T17:00:00Z');
    it('Forbid (the default) holds the slot while a request is running', () => {
      expect(due(input({ schedule: daily18, now, lastScheduleTime: last, active: 1 }))).toEqual({
        action: 'forbidden',
        slot: t('2026-11-25T17:00:00Z'),
        next: t('2026-11-26T17:00:00Z'),
      });
    });

    it('Forbid runs the held slot once the running request finished, within the deadline', () => {
      expect(
        due(input({ schedule: daily18, now: now + 60_000, lastScheduleTime: last, active: 0, startingDeadlineSeconds: 300 })),
      ).toMatchObject({ action: 'create', slot: t('2026-11-25T17:00:00Z') });
    });

    it('Allow creates the slot anyway', () => {
      expect(due(input({ schedule: daily18, now, lastScheduleTime: last, active: 2, concurrencyPolicy: 'Allow' }))).toMatchObject({
        action: 'create',
      });
    });
  });

  it('creates nothing while suspended, and names no next slot', () => {
    const now = t('2026-11-25T17:00:10Z');
    expect(due(input({ schedule: daily18, now, lastScheduleTime: t('2026-11-24T17:00:00Z'), suspend: true }))).toEqual({
      action: 'wait',
      next: undefined,
    });
  });

  describe('time zones and DST', () => {
    const resume8 = compiled('0 8 * * *', 'Europe/Berlin');

    it('keeps 08:00 local across the spring change: 07:00 UTC before it, 06:00 UTC after', () => {
      expect(due(input({ schedule: resume8, now: t('2026-03-28T07:00:30Z'), lastScheduleTime: t('2026-03-27T07:00:00Z') }))).toEqual({
        action: 'create',
        slot: t('2026-03-28T07:00:00Z'),
        skipped: 0,
        next: t('2026-03-29T06:00:00Z'),
      });
      expect(due(input({ schedule: resume8, now: t('2026-03-29T06:00:30Z'), lastScheduleTime: t('2026-03-28T07:00:00Z') }))).toMatchObject({
        action: 'create',
        slot: t('2026-03-29T06:00:00Z'),
      });
    });

    it('runs a slot in the hour skipped in spring once, at the first valid time after it', () => {
      const s = compiled('30 2 * * *', 'Europe/Berlin');
      // 02:30 does not exist on 2026-03-29 in Berlin: it runs at 03:00 CEST (01:00 UTC).
      expect(due(input({ schedule: s, now: t('2026-03-29T00:59:00Z'), lastScheduleTime: t('2026-03-28T01:30:00Z') }))).toEqual({
        action: 'wait',
        next: t('2026-03-29T01:00:00Z'),
      });
    });

    it('runs a slot in the hour repeated in autumn once', () => {
      const s = compiled('30 2 * * *', 'Europe/Berlin');
      // 02:30 happens twice on 2026-10-25 in Berlin (00:30 and 01:30 UTC): only the first runs.
      const first = due(input({ schedule: s, now: t('2026-10-25T00:30:10Z'), lastScheduleTime: t('2026-10-24T00:30:00Z') }));
      expect(first).toMatchObject({ action: 'create', slot: t('2026-10-25T00:30:00Z'), next: t('2026-10-26T01:30:00Z') });
      expect(due(input({ schedule: s, now: t('2026-10-25T01:30:10Z'), lastScheduleTime: t('2026-10-25T00:30:00Z') }))).toEqual({
        action: 'wait',
        next: t('2026-10-26T01:30:00Z'),
      });
    });

    it('reads the same cron in another zone at another instant', () => {
      const ny = compiled('0 8 * * *', 'America/New_York');
      expect(due(input({ schedule: ny, now: t('2026-11-25T12:00:00Z'), createdAt: t('2026-11-25T11:00:00Z') }))).toEqual({
        action: 'wait',
        next: t('2026-11-25T13:00:00Z'),
      });
    });
  });
});

describe('history', () => {
  const req = (name: string, phase: string | undefined, slot: number) => ({ name, phase, slot });

  it('keeps the newest successful and failed requests within the limits and deletes the rest, oldest first', () => {
    const requests = [
      req('s-1', 'Succeeded', 1),
      req('s-2', 'Failed', 2),
      req('s-3', 'Succeeded', 3),
      req('s-4', 'Succeeded', 4),
      req('s-5', 'Failed', 5),
      req('s-6', 'Succeeded', 6),
      req('s-7', 'Running', 7),
    ];
    expect(historyToDelete(requests, 3, 1).map((r) => r.name)).toEqual(['s-1', 's-2']);
    expect(historyToDelete(requests, 0, 0).map((r) => r.name)).toEqual(['s-1', 's-2', 's-3', 's-4', 's-5', 's-6']);
    expect(historyToDelete(requests, 10, 10)).toEqual([]);
  });

  it('never deletes a request that has not finished', () => {
    const requests = [req('s-1', undefined, 1), req('s-2', 'Pending', 2), req('s-3', 'Running', 3)];
    expect(historyToDelete(requests, 0, 0)).toEqual([]);
    expect(activeRequests(requests).map((r) => r.name)).toEqual(['s-1', 's-2', 's-3']);
  });
});

describe('the samples (config/samples/schedules.yaml)', () => {
  const docs = parseAllDocuments(readFileSync(path.join(repoRoot, 'config', 'samples', 'schedules.yaml'), 'utf8')).map(
    (d) => d.toJS() as { metadata: { name: string }; spec: unknown },
  );
  const spec = (name: string) => ScheduleSpecSchema.parse(docs.find((d) => d.metadata.name === name)?.spec);

  it('suspend podinfo at 18:00 and resume it at 08:00 Berlin time, on weekdays, in winter and in summer', () => {
    const suspend = spec('suspend-podinfo-evenings');
    const resume = spec('resume-podinfo-mornings');
    expect([suspend.requestTemplate.spec.action, resume.requestTemplate.spec.action]).toEqual(['Suspend', 'Resume']);
    const next = (s: typeof suspend, from: string) =>
      due(input({ schedule: compiled(s.schedule, s.timeZone), now: t(from), createdAt: t(from) })).next;
    // Friday 2026-11-27: 18:00 CET is 17:00 UTC; the next 08:00 is Monday's.
    expect(next(suspend, '2026-11-27T12:00:00Z')).toBe(t('2026-11-27T17:00:00Z'));
    expect(next(resume, '2026-11-27T12:00:00Z')).toBe(t('2026-11-30T07:00:00Z'));
    // Summer time: 18:00 CEST is 16:00 UTC.
    expect(next(suspend, '2026-07-01T12:00:00Z')).toBe(t('2026-07-01T16:00:00Z'));
  });
});
