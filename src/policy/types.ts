// The FluxActionPolicy and ClusterFluxActionPolicy API (fluxaction.io/v1alpha1, DESIGN §7.4), as zod
// schemas that parse what comes off the wire. The CRDs refuse most bad input at admission; what CEL
// cannot check (a cron schedule, a time zone) is checked when a policy is loaded (evaluate.ts).
import { z } from 'zod';
import { ConditionSchema } from '../api/types.js';
import { Action } from '../api/types.js';

export const PolicyKind = 'FluxActionPolicy';
export const ClusterPolicyKind = 'ClusterFluxActionPolicy';
export type PolicyKindName = typeof PolicyKind | typeof ClusterPolicyKind;
export const PolicyPlural = 'fluxactionpolicies';
export const ClusterPolicyPlural = 'clusterfluxactionpolicies';

/** What a rule that matches does with the request. */
export const Effect = {
  /** Carry the request out; later rules are not looked at. */
  Allow: 'Allow',
  /** Fail the request (PolicyDenied, or RateLimited for a rule with a rateLimit). The default. */
  Deny: 'Deny',
  /** Hold the request until someone approves or rejects it (DESIGN §7.3). */
  RequireApproval: 'RequireApproval',
} as const;
export type Effect = (typeof Effect)[keyof typeof Effect];

/** The effect of a rule that names none: a guardrail rule denies. */
export const DefaultEffect: Effect = Effect.Deny;
/** How long a request waits for approval when the rule gives no approvalTimeout. */
export const DefaultApprovalTimeout = '1h';
/** DefaultApprovalTimeout in milliseconds. */
export const DefaultApprovalTimeoutMs = 3_600_000;
/** A window's time zone when it names none. */
export const DefaultTimeZone = 'UTC';

/** The condition a policy's status carries: True when it is in force, False (reason Invalid) when it cannot be used. */
export const PolicyReadyCondition = 'Ready';
/** Reasons of a policy's Ready condition. */
export const PolicyReadyReason = {
  /** The policy parsed and compiled; it governs requests. */
  Valid: 'Valid',
  /** The policy cannot be used (a bad schedule, time zone or duration); it denies every request it governs. */
  Invalid: 'Invalid',
} as const;
export type PolicyReadyReason = (typeof PolicyReadyReason)[keyof typeof PolicyReadyReason];

const strings = z.array(z.string());

export const RequestersSchema = z.object({
  users: strings.optional(),
  groups: strings.optional(),
});

export const MatchSchema = z.object({
  actions: z.array(z.enum(Action)).optional(),
  kinds: strings.optional(),
  /** Globs on the target's name: `*` any run of characters, `?` one character. */
  names: strings.optional(),
  /** Values of the request's fluxaction.io/origin label. */
  origins: strings.optional(),
  requesters: RequestersSchema.optional(),
});
export type Match = z.infer<typeof MatchSchema>;

export const WindowSchema = z.object({
  /** A 5-field cron schedule: each fire time opens a window. */
  schedule: z.string(),
  /** How long each window lasts (elapsed time), a Go duration. */
  duration: z.string(),
  /** The IANA time zone the schedule is read in; default UTC. */
  timeZone: z.string().optional(),
});
export type Window = z.infer<typeof WindowSchema>;

export const RateLimitSchema = z.object({
  count: z.number().int(),
  per: z.string(),
});

export const RuleSchema = z.object({
  name: z.string(),
  match: MatchSchema.optional(),
  effect: z.enum(Effect).optional(),
  approvalTimeout: z.string().optional(),
  message: z.string().optional(),
  windows: z.array(WindowSchema).optional(),
  rateLimit: RateLimitSchema.optional(),
});
export type Rule = z.infer<typeof RuleSchema>;

export const LabelSelectorRequirementSchema = z.object({
  key: z.string(),
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
  values: strings.optional(),
});
export const LabelSelectorSchema = z.object({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z.array(LabelSelectorRequirementSchema).optional(),
});
export type LabelSelector = z.infer<typeof LabelSelectorSchema>;

export const PolicySpecSchema = z.object({
  rules: z.array(RuleSchema),
  /** ClusterFluxActionPolicy only: the namespaces it governs (empty or absent: all). */
  namespaceSelector: LabelSelectorSchema.optional(),
});
export type PolicySpec = z.infer<typeof PolicySpecSchema>;

export const PolicyStatusSchema = z.object({
  observedGeneration: z.number().int().optional(),
  /** How many rules spec has (the Rules printer column). */
  rules: z.number().int().optional(),
  conditions: z.array(ConditionSchema).optional(),
});
export type PolicyStatus = z.infer<typeof PolicyStatusSchema>;

export const PolicyMetadataSchema = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
});

export const FluxActionPolicySchema = z.object({
  apiVersion: z.string().optional(),
  kind: z.enum([PolicyKind, ClusterPolicyKind]),
  metadata: PolicyMetadataSchema,
  spec: PolicySpecSchema,
  status: PolicyStatusSchema.optional(),
});
export type FluxActionPolicy = z.infer<typeof FluxActionPolicySchema>;
