// The FluxActionRequest API (fluxaction.io/v1alpha1) and the parts of Flux objects the operator reads,
// as zod schemas that parse what comes off the wire.
import { z } from 'zod';
import { isRecord } from '../kube/object.js';
import { ConditionStatus, Phase } from './conditions.js';

export const Group = 'fluxaction.io';
export const Version = 'v1alpha1';
export const ApiVersion = `${Group}/${Version}`;
export const Kind = 'FluxActionRequest';
export const Plural = 'fluxactionrequests';

/** Annotation set on a suspended object, naming the request that suspended it. */
export const SuspendedByAnnotation = 'fluxaction.io/suspended-by';
/** Annotation holding the username of the request's creator; set at creation (admission), immutable after. */
export const RequestedByAnnotation = 'fluxaction.io/requested-by';
/**
 * Annotation holding the groups of the request's creator, comma-separated; set at creation
 * (admission) like requested-by, immutable after. Policies match requesters by group with it.
 */
export const RequestedByGroupsAnnotation = 'fluxaction.io/requested-by-groups';
/** Annotation an approver sets to their own username to approve a request awaiting approval; final. */
export const ApprovedByAnnotation = 'fluxaction.io/approved-by';
/** Annotation an approver sets to their own username to reject a request awaiting approval; final. */
export const RejectedByAnnotation = 'fluxaction.io/rejected-by';
/** Labels and annotations that say where a request came from (set by the MCP adapter). */
export const OriginLabel = 'fluxaction.io/origin';
export const ClientAnnotation = 'fluxaction.io/client';

export const Action = { Reconcile: 'Reconcile', Suspend: 'Suspend', Resume: 'Resume' } as const;
export type Action = (typeof Action)[keyof typeof Action];

export const ConditionSchema = z.object({
  type: z.string(),
  status: z.enum(ConditionStatus),
  reason: z.string().optional(),
  message: z.string().optional(),
  observedGeneration: z.number().int().optional(),
  lastTransitionTime: z.string().optional(),
});
export type Condition = z.infer<typeof ConditionSchema>;

const MetadataSchema = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: z.union([z.string(), z.date()]).optional(),
  deletionTimestamp: z.union([z.string(), z.date()]).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export const TargetRefSchema = z.object({
  kind: z.string(),
  name: z.string(),
  namespace: z.string().optional(),
  apiVersion: z.string().optional(),
});
export type TargetRef = z.infer<typeof TargetRefSchema>;

export const RequestSpecSchema = z.object({
  action: z.enum(Action),
  target: TargetRefSchema,
  withSource: z.boolean().optional(),
  /** Reconcile the target's spec.dependsOn graph first, upstream first (Kustomization, HelmRelease). */
  withDependencies: z.boolean().optional(),
  /** After the target, reconcile the objects of its kind that depend on it, transitively. */
  withDependents: z.boolean().optional(),
  force: z.boolean().optional(),
  reset: z.boolean().optional(),
  wait: z.boolean().optional(),
  timeout: z.string().optional(),
  ttlSecondsAfterFinished: z.number().int().optional(),
});
export type RequestSpec = z.infer<typeof RequestSpecSchema>;

/** What the request knows of one Flux object it acted on: identity, Flux's verdict, and our token. */
export const ObjectStatusSchema = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  name: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().int().optional(),
  ready: z.string().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
  revision: z.string().optional(),
  suspended: z.boolean().optional(),
  lastHandledReconcileAt: z.string().optional(),
  /** The requestedAt value this request wrote (or shares) on this object. */
  token: z.string().optional(),
});
export type ObjectStatus = z.infer<typeof ObjectStatusSchema>;

/** The part a step of a chain plays: a source (withSource), a dependency, the target, or a dependent. */
export const StepRole = { Source: 'Source', Dependency: 'Dependency', Target: 'Target', Dependent: 'Dependent' } as const;
export type StepRole = (typeof StepRole)[keyof typeof StepRole];

/**
 * One step of a chain (withDependencies, withDependents): the object, the part it plays, where it
 * stands and when it started and finished. The list is fixed when the chain starts, in the order
 * the steps run, so a restart resumes at the step it was on.
 */
export const StepStatusSchema = ObjectStatusSchema.extend({
  role: z.enum(StepRole).optional(),
  phase: z.enum(Phase).optional(),
  startTime: z.string().optional(),
  completionTime: z.string().optional(),
});
export type StepStatus = z.infer<typeof StepStatusSchema>;

/** The FluxActionPolicy or ClusterFluxActionPolicy rule that decided a request, and its effect. */
export const PolicyRefSchema = z.object({
  kind: z.string(),
  namespace: z.string().optional(),
  name: z.string(),
  /** Absent when the policy itself could not be used (it denies: fail closed). */
  rule: z.string().optional(),
  effect: z.string(),
});
export type PolicyRef = z.infer<typeof PolicyRefSchema>;

export const ApprovalStatusSchema = z.object({
  /** When the request fails with ApprovalExpired unless approved or rejected before. */
  expiresAt: z.string().optional(),
  approvedBy: z.string().optional(),
  rejectedBy: z.string().optional(),
});
export type ApprovalStatus = z.infer<typeof ApprovalStatusSchema>;

export const RequestStatusSchema = z.object({
  observedGeneration: z.number().int().optional(),
  phase: z.enum(Phase).optional(),
  token: z.string().optional(),
  startTime: z.string().optional(),
  completionTime: z.string().optional(),
  /** Who asked: the request's fluxaction.io/requested-by annotation, copied by the operator. */
  requestedBy: z.string().optional(),
  message: z.string().optional(),
  conditions: z.array(ConditionSchema).optional(),
  target: ObjectStatusSchema.optional(),
  source: ObjectStatusSchema.optional(),
  /** A HelmChart's own source, reconciled before the HelmChart (HelmRelease withSource). */
  chartSource: ObjectStatusSchema.optional(),
  /** A chain's steps in the order they run (withDependencies, withDependents); absent otherwise. */
  steps: z.array(StepStatusSchema).optional(),
  /** The policy rule that decided the request (absent when no rule matched: allowed). */
  policy: PolicyRefSchema.optional(),
  /** The approval the deciding rule asked for: until when, and who decided. */
  approval: ApprovalStatusSchema.optional(),
});
export type RequestStatus = z.infer<typeof RequestStatusSchema>;

export const FluxActionRequestSchema = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: MetadataSchema,
  spec: RequestSpecSchema,
  status: RequestStatusSchema.optional(),
});
export type FluxActionRequest = z.infer<typeof FluxActionRequestSchema>;

/**
 * What the operator reads of a finished request: who and what its outcome Event names, and its TTL.
 * The reconciler checks a cached request against it with isFinishedRequest, which gives the same
 * verdict without a copy.
 */
export const FinishedRequestSchema = z.object({
  metadata: z.object({
    name: z.string(),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
    annotations: z.object({ [RequestedByAnnotation]: z.string().optional() }).optional(),
  }),
  spec: z.object({ ttlSecondsAfterFinished: z.number().int().optional() }),
  status: z
    .object({
      phase: z.enum(Phase).optional(),
      startTime: z.string().optional(),
      completionTime: z.string().optional(),
      requestedBy: z.string().optional(),
      message: z.string().optional(),
      conditions: z.array(ConditionSchema.pick({ type: true, status: true, reason: true })).optional(),
      approval: ApprovalStatusSchema.pick({ approvedBy: true, rejectedBy: true }).optional(),
    })
    .optional(),
});
export type FinishedRequest = z.infer<typeof FinishedRequestSchema>;

/**
 * Whether raw is a FinishedRequest as FinishedRequestSchema reads one (the same verdict: a unit test
 * holds them to it), checked in place: the object itself serves, read-only, with no copy made. A
 * parse with zod allocates about 3 KB a request even of these few fields (objects per field read),
 * and a restart looks at every finished request in one burst: with 10 000, a full collection during
 * it could count the burst's garbage as live, and V8 grew the heap from there (README, Performance).
 */
export function isFinishedRequest(raw: unknown): raw is FinishedRequest {
  if (!isRecord(raw)) return false;
  const { metadata, spec, status } = raw;
  if (!isRecord(metadata) || typeof metadata['name'] !== 'string') return false;
  if (!isOptionalString(metadata['namespace']) || !isOptionalString(metadata['uid']) || !isOptionalString(metadata['resourceVersion']))
    return false;
  const annotations = metadata['annotations'];
  if (annotations !== undefined && !(isRecord(annotations) && isOptionalString(annotations[RequestedByAnnotation]))) return false;
  if (!isRecord(spec)) return false;
  const ttl = spec['ttlSecondsAfterFinished'];
  if (ttl !== undefined && !Number.isSafeInteger(ttl)) return false;
  if (status === undefined) return true;
  if (!isRecord(status)) return false;
  if (!isOptionalString(status['startTime']) || !isOptionalString(status['completionTime'])) return false;
  if (!isOptionalString(status['requestedBy']) || !isOptionalString(status['message'])) return false;
  const phase = status['phase'];
  if (phase !== undefined && !(typeof phase === 'string' && Phases.has(phase))) return false;
  const conditions = status['conditions'];
  if (conditions !== undefined) {
    if (!Array.isArray(conditions)) return false;
    for (const c of conditions as unknown[]) {
      if (!isRecord(c) || typeof c['type'] !== 'string' || !isOptionalString(c['reason'])) return false;
      const conditionStatus = c['status'];
      if (!(typeof conditionStatus === 'string' && ConditionStatuses.has(conditionStatus))) return false;
    }
  }
  const approval = status['approval'];
  if (approval === undefined) return true;
  return isRecord(approval) && isOptionalString(approval['approvedBy']) && isOptionalString(approval['rejectedBy']);
}

const Phases: ReadonlySet<string> = new Set(Object.values(Phase));
const ConditionStatuses: ReadonlySet<string> = new Set(Object.values(ConditionStatus));

function isOptionalString(value: unknown): boolean {
  return value === undefined || typeof value === 'string';
}

/** The request's target with its namespace filled in (default: the request's namespace). */
export function targetOf(request: Pick<FluxActionRequest, 'metadata' | 'spec'>): TargetRef & { namespace: string } {
  return { ...request.spec.target, namespace: request.spec.target.namespace ?? request.metadata.namespace ?? '' };
}

/** A Flux object as the operator reads it: only what the protocol needs, the rest passed through. */
export const FluxObjectSchema = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: MetadataSchema,
  spec: z.record(z.string(), z.unknown()).optional(),
  status: z.record(z.string(), z.unknown()).optional(),
});
export type FluxObject = z.infer<typeof FluxObjectSchema>;
