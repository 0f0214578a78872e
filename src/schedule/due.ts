// What a schedule should do now, as a pure function of its spec, its status, its requests and the
// time: create the request of a slot, skip a slot (too late, or an earlier request still running),
// or wait for the next slot. The rules are CronJob's: only the latest slot since the last one runs,
// and only within startingDeadlineSeconds of its time. The controller does the I/O around it.
import { Cron } from 'croner';
import { isFinished, Phase } from '../api/conditions.js';
import { ConcurrencyPolicy, DefaultScheduleTimeZone, ScheduleReadyReason, type ScheduleSpec } from './types.js';

/** A schedule's cron expression compiled in its time zone. */
export interface CompiledSchedule {
  cron: Cron;
  timeZone: string;
}

/** Why a schedule cannot be used, in one line that says what to fix. */
export interface ScheduleProblem {
  reason: typeof ScheduleReadyReason.InvalidSchedule | typeof ScheduleReadyReason.InvalidTimeZone;
  message: string;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Compiles spec.schedule (5 fields, minute hour day-of-month month day-of-week, or a macro such as
 * @daily; day-of-month and day-of-week are ORed as in CronJob) in spec.timeZone (default UTC).
 */
export function compileSchedule(spec: Pick<ScheduleSpec, 'schedule' | 'timeZone'>): CompiledSchedule | ScheduleProblem {
  const timeZone = spec.timeZone ?? DefaultScheduleTimeZone;
  if (!isTimeZone(timeZone))
    return {
      reason: ScheduleReadyReason.InvalidTimeZone,
      message: `unknown time zone ${JSON.stringify(timeZone)}: use an IANA name such as Europe/Berlin`,
    };
  let cron: Cron;
  try {
    cron = new Cron(spec.schedule.trim(), { timezone: timeZone, mode: '5-part', fixedTimeRule: 'no-wildcard' });
  } catch (err) {
    const detail = err instanceof Error ? err.message.replace(/^CronPattern: /, '') : String(err);
    return {
      reason: ScheduleReadyReason.InvalidSchedule,
      message: `schedule ${JSON.stringify(spec.schedule)} is not a cron schedule: ${detail}`,
    };
  }
  // A pattern such as "0 0 30 2 *" parses but never fires.
  if (cron.nextRun(new Date(0)) === null)
    return { reason: ScheduleReadyReason.InvalidSchedule, message: `schedule ${JSON.stringify(spec.schedule)} never fires` };
  return { cron, timeZone };
}

/** Whether compileSchedule failed. */
export function isProblem(compiled: CompiledSchedule | ScheduleProblem): compiled is ScheduleProblem {
  return 'reason' in compiled;
}

/** The first slot strictly after `after` (ms), or undefined when there is none. */
export function nextSlot(schedule: CompiledSchedule, after: number): number | undefined {
  return schedule.cron.nextRun(new Date(after))?.getTime();
}

/** At most this many slots are counted when reporting missed ones (CronJob's limit). */
export const MaxMissedCounted = 100;

export interface DueInput {
  schedule: CompiledSchedule;
  /** The time now (ms). */
  now: number;
  /** When the schedule was created: no slot before it runs. */
  createdAt: number;
  /** status.lastScheduleTime: the slot of the latest request created. */
  lastScheduleTime?: number;
  startingDeadlineSeconds?: number;
  suspend?: boolean;
  concurrencyPolicy?: ConcurrencyPolicy;
  /** How many of the schedule's requests have not finished. */
  active: number;
}

/** What to do now; `next` is the first slot after now (undefined while suspended or when none comes). */
export type Due =
  /** Nothing is due: wait for `next`. */
  | { action: 'wait'; next: number | undefined }
  /** Create the request of `slot`; `skipped` earlier slots since the last one are not run (at most MaxMissedCounted counted). */
  | { action: 'create'; slot: number; skipped: number; next: number | undefined }
  /** The latest slot is more than startingDeadlineSeconds old: it is skipped, as are the `skipped` before it. */
  | { action: 'tooLate'; slot: number; skipped: number; next: number | undefined }
  /** Forbid, and a request of the schedule is still running: the slot waits (it may run once that finished). */
  | { action: 'forbidden'; slot: number; next: number | undefined };

/**
 * Decides what a schedule does now. The due slot is the latest one in (lastScheduleTime or
 * creation, now]: a restart that finds it again creates the same deterministic name, so nothing
 * runs twice, and a slot the operator was down for still runs if it is within
 * startingDeadlineSeconds (no deadline: any age, as CronJob).
 */
export function due(input: DueInput): Due {
  const { schedule, now } = input;
  if (input.suspend) return { action: 'wait', next: undefined };
  const next = nextSlot(schedule, now);
  const earliest = Math.max(input.createdAt, input.lastScheduleTime ?? 0);
  const [latest] = schedule.cron.previousRuns(1, new Date(now + 1));
  const slot = latest?.getTime();
  if (slot === undefined || slot <= earliest) return { action: 'wait', next };
  let skipped = 0;
  for (let t = nextSlot(schedule, earliest); t !== undefined && t < slot && skipped < MaxMissedCounted; t = nextSlot(schedule, t))
    skipped++;
  if (input.startingDeadlineSeconds !== undefined && slot + input.startingDeadlineSeconds * 1000 < now)
    return { action: 'tooLate', slot, skipped, next };
  if ((input.concurrencyPolicy ?? ConcurrencyPolicy.Forbid) === ConcurrencyPolicy.Forbid && input.active > 0)
    return { action: 'forbidden', slot, next };
  return { action: 'create', slot, skipped, next };
}

/**
 * The name of a slot's request: `<schedule>-<slot in minutes since the epoch>`, as CronJob names
 * its Jobs. The same slot always gets the same name, so creating it twice is refused by the API
 * server (AlreadyExists) instead of running twice.
 */
export function slotRequestName(scheduleName: string, slot: number): string {
  return `${scheduleName}-${Math.floor(slot / 60_000)}`;
}

/** A request of the schedule's, as the history needs it. */
export interface ScheduledRequest {
  name: string;
  phase?: string | undefined;
  /** The slot it ran (ms); newer slots are kept first. */
  slot: number;
}

/** The requests of a schedule that have not finished, oldest slot first. */
export function activeRequests<T extends ScheduledRequest>(requests: readonly T[]): T[] {
  return requests.filter((r) => !isFinished(r.phase)).sort((a, b) => a.slot - b.slot);
}

/**
 * The finished requests beyond the history limits, to delete: all but the newest
 * `successfulLimit` succeeded and the newest `failedLimit` failed ones. Unfinished requests are kept.
 */
export function historyToDelete<T extends ScheduledRequest>(requests: readonly T[], successfulLimit: number, failedLimit: number): T[] {
  const newestFirst = [...requests].sort((a, b) => b.slot - a.slot || (a.name < b.name ? 1 : -1));
  const succeeded = newestFirst.filter((r) => r.phase === Phase.Succeeded);
  const failed = newestFirst.filter((r) => r.phase === Phase.Failed);
  return [...succeeded.slice(Math.max(0, successfulLimit)), ...failed.slice(Math.max(0, failedLimit))].sort((a, b) => a.slot - b.slot);
}
