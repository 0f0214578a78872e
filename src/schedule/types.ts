// The FluxActionSchedule API (fluxaction.io/v1alpha1, DESIGN §10), as zod schemas that parse what
// comes off the wire. The CRD refuses most bad input at admission; what CEL cannot check (that a
// cron schedule has a next run, that a time zone exists) is reported in the Ready condition.
import { z } from 'zod';
import { ConditionSchema, RequestSpecSchema } from '../api/types.js';

export const ScheduleKind = 'FluxActionSchedule';
export const SchedulePlural = 'fluxactionschedules';

/** Label on every request a schedule created, naming the schedule (the requests' selector). */
export const ScheduleLabel = 'fluxaction.io/schedule';
/** The value of the fluxaction.io/origin label on requests a schedule created. */
export const ScheduleOrigin = 'schedule';
/** Annotation on a schedule's request: the slot it runs, RFC 3339 (as CronJob's scheduled-timestamp). */
export const ScheduledAtAnnotation = 'fluxaction.io/scheduled-at';

/** The longest schedule name: `<name>-<slot minutes>` then fits 63 characters, and the name a label value. */
export const MaxScheduleNameLength = 52;

/** What happens to a slot while an earlier request of the schedule is still running. */
export const ConcurrencyPolicy = {
  /** Skip the slot (it runs once the earlier request finished, if still within startingDeadlineSeconds). The default. */
  Forbid: 'Forbid',
  /** Create the slot's request anyway. */
  Allow: 'Allow',
} as const;
export type ConcurrencyPolicy = (typeof ConcurrencyPolicy)[keyof typeof ConcurrencyPolicy];

/** How many finished requests are kept, as CronJob keeps Jobs. */
export const DefaultSuccessfulHistoryLimit = 3;
export const DefaultFailedHistoryLimit = 1;
/** The time zone a schedule is read in when it names none. */
export const DefaultScheduleTimeZone = 'UTC';

/** The condition a schedule's status carries. */
export const ScheduleReadyCondition = 'Ready';
/** Reasons of a schedule's Ready condition. */
export const ScheduleReadyReason = {
  /** The schedule is in force: requests are created at its slots. */
  Scheduled: 'Scheduled',
  /** spec.suspend is true: no request is created until it is false again. */
  Suspended: 'Suspended',
  /** spec.schedule is not a cron schedule, or never fires. */
  InvalidSchedule: 'InvalidSchedule',
  /** spec.timeZone is not an IANA time zone this operator knows. */
  InvalidTimeZone: 'InvalidTimeZone',
} as const;
export type ScheduleReadyReason = (typeof ScheduleReadyReason)[keyof typeof ScheduleReadyReason];

/** Kubernetes Event reasons recorded on a schedule. */
export const ScheduleEventReason = {
  /** A slot's request was created. */
  Created: 'Created',
  /** A slot was missed by more than startingDeadlineSeconds (the operator was down, or the schedule suspended). */
  MissedSchedule: 'MissedSchedule',
  /** Forbid: a slot came while an earlier request still ran. */
  AlreadyActive: 'AlreadyActive',
  /** The API server refused the slot's request (e.g. admission). */
  FailedCreate: 'FailedCreate',
  /** Finished requests beyond the history limits were deleted. */
  Deleted: 'Deleted',
  /** The schedule or time zone cannot be used. */
  InvalidSchedule: 'InvalidSchedule',
} as const;

export const ScheduleSpecSchema = z.object({
  schedule: z.string(),
  timeZone: z.string().optional(),
  suspend: z.boolean().optional(),
  concurrencyPolicy: z.enum(ConcurrencyPolicy).optional(),
  startingDeadlineSeconds: z.number().int().optional(),
  successfulHistoryLimit: z.number().int().optional(),
  failedHistoryLimit: z.number().int().optional(),
  requestTemplate: z.object({ spec: RequestSpecSchema }),
});
export type ScheduleSpec = z.infer<typeof ScheduleSpecSchema>;

/** A request of the schedule's that has not finished. */
export const ActiveRefSchema = z.object({
  name: z.string(),
  uid: z.string().optional(),
});
export type ActiveRef = z.infer<typeof ActiveRefSchema>;

export const ScheduleStatusSchema = z.object({
  observedGeneration: z.number().int().optional(),
  lastScheduleTime: z.string().optional(),
  lastSuccessfulTime: z.string().optional(),
  nextScheduleTime: z.string().optional(),
  active: z.array(ActiveRefSchema).optional(),
  conditions: z.array(ConditionSchema).optional(),
});
export type ScheduleStatus = z.infer<typeof ScheduleStatusSchema>;

export const FluxActionScheduleSchema = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: z.looseObject({
    name: z.string(),
    namespace: z.string(),
    uid: z.string(),
    generation: z.number().int().optional(),
    resourceVersion: z.string().optional(),
    creationTimestamp: z.union([z.string(), z.date()]).optional(),
    deletionTimestamp: z.union([z.string(), z.date()]).optional(),
  }),
  spec: ScheduleSpecSchema,
  status: ScheduleStatusSchema.optional(),
});
export type FluxActionSchedule = z.infer<typeof FluxActionScheduleSchema>;
