// Policy evaluation (DESIGN §7.4): a request, the policies that govern its namespace, the past actions
// on its target and the time in; Allow, Deny or RequireApproval out, with the rule that decided. Pure:
// no I/O, the clock is a parameter. Policies are parsed and compiled once, when they are loaded
// (loadPolicy), so a policy that cannot be used is known before any request meets it, and denies.
import { Cron } from 'croner';
import type { z } from 'zod';
import type { Action } from '../api/types.js';
import { parseDuration } from '../api/duration.js';
import {
  ClusterPolicyKind,
  DefaultApprovalTimeout,
  DefaultApprovalTimeoutMs,
  DefaultEffect,
  DefaultTimeZone,
  Effect,
  FluxActionPolicySchema,
  LabelSelectorSchema,
  PolicyKind,
  type LabelSelector,
  type PolicyKindName,
  type Rule,
  type Window,
} from './types.js';

/** The request as policies see it. */
export interface PolicySubject {
  /** The request's namespace and name. */
  namespace: string;
  name: string;
  action: Action;
  target: { kind: string; namespace: string; name: string };
  /** The request's fluxaction.io/origin label, if any. */
  origin: string | undefined;
  /** The request's fluxaction.io/requested-by annotation, if any. */
  requestedBy: string | undefined;
  /** The requester's groups (may be empty). */
  groups: readonly string[];
}

/**
 * An action carried out on a target at a time (milliseconds since the epoch), with what a rule's
 * match reads of its request: what rate limits count, when their rule matches it.
 */
export interface PastAction extends Pick<PolicySubject, 'action' | 'target' | 'origin' | 'requestedBy' | 'groups'> {
  at: number;
}

/** The past action of a request that started at `at`. */
export function pastAction(subject: PolicySubject, at: number): PastAction {
  const { action, target, origin, requestedBy, groups } = subject;
  return { action, target, origin, requestedBy, groups, at };
}

/** Names a policy, and the rule of it that decided (absent for a policy that cannot be used). */
export interface PolicyRef {
  kind: PolicyKindName;
  namespace?: string;
  name: string;
  rule?: string;
}

/** A window of a compiled rule: opens at each fire time of the schedule, lasts durationMs. */
export interface CompiledWindow extends Required<Window> {
  durationMs: number;
  cron: Cron;
}

/** A rule with its durations parsed, its globs and schedules compiled and its defaults filled in. */
export interface CompiledRule {
  name: string;
  match: {
    actions?: ReadonlySet<string>;
    kinds?: ReadonlySet<string>;
    names?: readonly RegExp[];
    origins?: ReadonlySet<string>;
    users?: ReadonlySet<string>;
    groups?: ReadonlySet<string>;
  };
  effect: Effect;
  /** Only for RequireApproval: the approvalTimeout (default 1h) in milliseconds. */
  approvalTimeoutMs?: number;
  approvalTimeout?: string;
  message?: string;
  windows?: readonly CompiledWindow[];
  rateLimit?: { count: number; per: string; perMs: number };
}

interface LoadedBase {
  kind: PolicyKindName;
  name: string;
  /** FluxActionPolicy only. */
  namespace?: string;
  /** metadata.generation of the object loaded, for status.observedGeneration. */
  generation?: number;
  /**
   * ClusterFluxActionPolicy only: the namespaces it governs. Absent on a cluster policy whose selector
   * cannot be read: such a policy governs every namespace (fail closed).
   */
  namespaceSelector?: LabelSelector;
}

/** A policy ready to evaluate. */
export interface ValidPolicy extends LoadedBase {
  invalid?: false;
  rules: readonly CompiledRule[];
}

/** A policy that cannot be used: it denies every request it governs, saying why. */
export interface InvalidPolicy extends LoadedBase {
  invalid: true;
  /** One line: what is wrong, e.g. `rule weekend-freeze: window 1: unknown time zone Europe/Berln`. */
  reason: string;
}

export type LoadedPolicy = ValidPolicy | InvalidPolicy;

/** Why a request was denied. */
export type DenyReason = 'PolicyDenied' | 'RateLimited';

/** What the policies decided, and which policy and rule decided it (absent when no rule matched). */
export type PolicyDecision = (
  | { effect: 'Allow' }
  | { effect: 'Deny'; reason: DenyReason; message: string }
  | { effect: 'RequireApproval'; approvalTimeoutMs: number; message: string }
) & { policy?: PolicyRef };

export interface EvaluateInput {
  request: PolicySubject;
  /** Milliseconds since the epoch. */
  now: number;
  /** The ClusterFluxActionPolicies that select the request's namespace and the namespace's FluxActionPolicies. */
  policies: readonly LoadedPolicy[];
  /**
   * Actions carried out (on any target; only the request's target's count). Called only when a rule
   * that matches limits the rate, at most once: the operator reads them from its cache of requests.
   */
  history: () => readonly PastAction[];
}

/**
 * Decides a request: ClusterFluxActionPolicies first, then the namespace's FluxActionPolicies, each
 * group by name, rules in order; the first rule that matches decides, and no match allows. A policy
 * that cannot be used denies (fail closed) where it stands in that order.
 */
export function evaluate(input: EvaluateInput): PolicyDecision {
  const { request, now } = input;
  let past: readonly PastAction[] | undefined;
  const history = (): readonly PastAction[] => (past ??= input.history());
  for (const policy of inOrder(input.policies)) {
    if (policy.invalid) {
      return {
        effect: 'Deny',
        reason: 'PolicyDenied',
        message: `denied: ${describePolicy(policy)} cannot be used (${policy.reason}); it denies every request it governs until it is fixed`,
        policy: refOf(policy),
      };
    }
    for (const rule of policy.rules) {
      const decision = decide(policy, rule, request, now, history);
      if (decision) return decision;
    }
  }
  return { effect: 'Allow' };
}

/** The evaluation order: cluster policies by name, then namespaced ones by name. */
function inOrder(policies: readonly LoadedPolicy[]): LoadedPolicy[] {
  const rank = (p: LoadedPolicy): number => (p.kind === ClusterPolicyKind ? 0 : 1);
  return [...policies].sort((a, b) => rank(a) - rank(b) || compare(a.namespace ?? '', b.namespace ?? '') || compare(a.name, b.name));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `FluxActionPolicy apps/guardrails`, `ClusterFluxActionPolicy platform`. */
export function describePolicy(policy: { kind: string; namespace?: string | undefined; name: string }): string {
  return `${policy.kind} ${policy.namespace ? `${policy.namespace}/` : ''}${policy.name}`;
}

function refOf(policy: LoadedPolicy, rule?: string): PolicyRef {
  return {
    kind: policy.kind,
    ...(policy.namespace !== undefined ? { namespace: policy.namespace } : {}),
    name: policy.name,
    ...(rule !== undefined ? { rule } : {}),
  };
}

/** The rule's decision when it matches the request at now, else undefined. */
function decide(
  policy: ValidPolicy,
  rule: CompiledRule,
  request: PolicySubject,
  now: number,
  history: () => readonly PastAction[],
): PolicyDecision | undefined {
  if (!matches(rule, request)) return undefined;
  let windowNote = '';
  if (rule.windows) {
    const open = rule.windows.flatMap((w) => {
      const start = windowStart(w, now);
      return start === undefined ? [] : [{ w, end: start + w.durationMs }];
    });
    if (open.length === 0) return undefined;
    // The window that stays open longest says when the rule stops matching.
    const last = open.reduce((a, b) => (b.end > a.end ? b : a));
    windowNote = `; the window ${last.w.schedule} (${last.w.timeZone}, ${last.w.duration}) ends at ${iso(last.end)}`;
  }
  let limitNote = '';
  if (rule.rateLimit) {
    const { count, per, perMs } = rule.rateLimit;
    const t = request.target;
    const recent = history()
      .filter((a) => a.at > now - perMs && a.at <= now)
      .filter((a) => a.target.kind === t.kind && a.target.namespace === t.namespace && a.target.name === t.name)
      // Only what the rule governs counts: a limit on agents' actions ignores a person's.
      .filter((a) => matches(rule, a))
      .map((a) => a.at)
      .sort((a, b) => b - a);
    if (recent.length < count) return undefined;
    // The count-th most recent action leaving the window brings the number under the limit.
    const frees = (recent[count - 1] ?? now) + perMs;
    limitNote = `; ${recent.length} actions on ${t.kind} ${t.namespace}/${t.name} in the last ${per} (limit ${count} per ${per}); the next slot frees up at ${iso(frees)}`;
  }
  const by = `${describePolicy(policy)} rule ${rule.name}`;
  const said = rule.message ? `: ${rule.message}` : '';
  const ref = refOf(policy, rule.name);
  switch (rule.effect) {
    case Effect.Allow:
      return { effect: 'Allow', policy: ref };
    case Effect.RequireApproval: {
      // Why only: the gate adds who may decide, how, and by when, once the deadline is known.
      return {
        effect: 'RequireApproval',
        approvalTimeoutMs: rule.approvalTimeoutMs ?? DefaultApprovalTimeoutMs,
        message: `approval required by ${by}${said}${windowNote}${limitNote}`,
        policy: ref,
      };
    }
    case Effect.Deny:
      if (rule.rateLimit)
        return { effect: 'Deny', reason: 'RateLimited', message: `rate limited by ${by}${said}${windowNote}${limitNote}`, policy: ref };
      return { effect: 'Deny', reason: 'PolicyDenied', message: `denied by ${by}${said}${windowNote}`, policy: ref };
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** Whether every match field the rule gives holds for the request (an absent or empty field holds). */
function matches(rule: CompiledRule, request: Omit<PastAction, 'at'>): boolean {
  const m = rule.match;
  if (m.actions && !m.actions.has(request.action)) return false;
  if (m.kinds && !m.kinds.has(request.target.kind)) return false;
  if (m.names && !m.names.some((glob) => glob.test(request.target.name))) return false;
  if (m.origins && (request.origin === undefined || !m.origins.has(request.origin))) return false;
  if (m.users || m.groups) {
    const byUser = request.requestedBy !== undefined && (m.users?.has(request.requestedBy) ?? false);
    const byGroup = request.groups.some((g) => m.groups?.has(g) ?? false);
    if (!byUser && !byGroup) return false;
  }
  return true;
}

/** The start of the window of w that is open at now (the latest fire time ≤ now, if its window lasts past now). */
export function windowStart(w: CompiledWindow, now: number): number | undefined {
  // previousRuns leaves out a run exactly at the reference: ask from 1ms later so a window opening now counts.
  const [start] = w.cron.previousRuns(1, new Date(now + 1));
  if (start === undefined) return undefined;
  const t = start.getTime();
  return now < t + w.durationMs ? t : undefined;
}

/** Whether a ClusterFluxActionPolicy selects a namespace with these labels (a FluxActionPolicy: its own namespace). */
export function appliesTo(policy: LoadedPolicy, namespace: string, namespaceLabels: Readonly<Record<string, string>>): boolean {
  if (policy.kind === PolicyKind) return policy.namespace === namespace;
  // A cluster policy whose selector could not be read governs everything: it fails closed.
  if (!policy.namespaceSelector) return true;
  return selects(policy.namespaceSelector, namespaceLabels);
}

/** Kubernetes label selector semantics: every matchLabels entry and every expression must hold; empty selects all. */
export function selects(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || value === undefined || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (has && value !== undefined && values.includes(value)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** A glob with `*` (any run of characters) and `?` (one character) as an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[\\^$.|+()[\]{}*?]/g, (c) => (c === '*' ? '.*' : c === '?' ? '.' : `\\${c}`));
  return new RegExp(`^${body}$`, 's');
}

/** Something wrong with a policy, found while compiling it. */
class PolicyError extends Error {
  override readonly name = 'PolicyError';
}

const fiveFields = /^\s*\S+(\s+\S+){4}\s*$/;

function positiveDuration(value: string, what: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new PolicyError(`${what} ${JSON.stringify(value)} is not a Go duration such as 90s, 5m or 1h30m`);
  if (ms <= 0) throw new PolicyError(`${what} must be more than 0s`);
  return ms;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function compileWindow(w: Window, where: string): CompiledWindow {
  const timeZone = w.timeZone ?? DefaultTimeZone;
  const durationMs = positiveDuration(w.duration, `${where}: duration`);
  if (!isTimeZone(timeZone))
    throw new PolicyError(`${where}: unknown time zone ${JSON.stringify(timeZone)} (use an IANA name such as Europe/Berlin)`);
  if (!fiveFields.test(w.schedule))
    throw new PolicyError(
      `${where}: schedule ${JSON.stringify(w.schedule)} must have 5 fields (minute hour day-of-month month day-of-week)`,
    );
  let cron: Cron;
  try {
    // 5-part: minutes resolution; day-of-month and day-of-week are ORed as in Vixie cron and Kubernetes CronJobs.
    cron = new Cron(w.schedule, { timezone: timeZone, mode: '5-part', fixedTimeRule: 'no-wildcard' });
  } catch (err) {
    const detail = err instanceof Error ? err.message.replace(/^CronPattern: /, '') : String(err);
    throw new PolicyError(`${where}: schedule ${JSON.stringify(w.schedule)} is not a cron schedule: ${detail}`);
  }
  return { schedule: w.schedule, duration: w.duration, timeZone, durationMs, cron };
}

function set(values: readonly string[] | undefined): ReadonlySet<string> | undefined {
  return values && values.length > 0 ? new Set(values) : undefined;
}

function compileRule(rule: Rule): CompiledRule {
  const where = `rule ${rule.name}`;
  const effect = rule.effect ?? DefaultEffect;
  const m = rule.match ?? {};
  const compiled: CompiledRule = {
    name: rule.name,
    match: {
      ...(set(m.actions) ? { actions: set(m.actions) } : {}),
      ...(set(m.kinds) ? { kinds: set(m.kinds) } : {}),
      ...(m.names && m.names.length > 0 ? { names: m.names.map(globToRegExp) } : {}),
      ...(set(m.origins) ? { origins: set(m.origins) } : {}),
      ...(set(m.requesters?.users) ? { users: set(m.requesters?.users) } : {}),
      ...(set(m.requesters?.groups) ? { groups: set(m.requesters?.groups) } : {}),
    },
    effect,
    ...(rule.message ? { message: rule.message } : {}),
  };
  if (rule.approvalTimeout !== undefined && effect !== Effect.RequireApproval)
    throw new PolicyError(`${where}: approvalTimeout is only for effect RequireApproval`);
  if (effect === Effect.RequireApproval) {
    compiled.approvalTimeout = rule.approvalTimeout ?? DefaultApprovalTimeout;
    compiled.approvalTimeoutMs = positiveDuration(compiled.approvalTimeout, `${where}: approvalTimeout`);
  }
  if (rule.windows && rule.windows.length > 0) compiled.windows = rule.windows.map((w, i) => compileWindow(w, `${where}: window ${i + 1}`));
  if (rule.rateLimit) {
    const { count, per } = rule.rateLimit;
    if (count < 1) throw new PolicyError(`${where}: rateLimit.count must be at least 1`);
    compiled.rateLimit = { count, per, perMs: positiveDuration(per, `${where}: rateLimit.per`) };
  }
  return compiled;
}

/** One line for a schema error: each problem with its field path. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .map(
      (i) =>
        `${
          i.path.length > 0
            ? i.path
                .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
                .join('')
                .replace(/^\./, '')
            : 'object'
        }: ${i.message}`,
    )
    .join('; ');
}

function field(obj: unknown, ...path: string[]): unknown {
  let v = obj;
  for (const key of path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined;
  return v;
}

/**
 * Parses and compiles a FluxActionPolicy or ClusterFluxActionPolicy as read from the API server.
 * Never throws: a policy that cannot be used comes back invalid, with a one-line reason (a bad cron
 * schedule, an unknown time zone, a bad duration, duplicate rule names…). Defaults: effect Deny,
 * approvalTimeout 1h (RequireApproval only), window time zone UTC.
 */
export function loadPolicy(raw: unknown): LoadedPolicy {
  const rawKind = field(raw, 'kind');
  const kind: PolicyKindName = rawKind === ClusterPolicyKind ? ClusterPolicyKind : PolicyKind;
  const rawName = field(raw, 'metadata', 'name');
  const rawNamespace = field(raw, 'metadata', 'namespace');
  const rawGeneration = field(raw, 'metadata', 'generation');
  const base: LoadedBase = {
    kind,
    name: typeof rawName === 'string' ? rawName : '<unnamed>',
    ...(kind === PolicyKind && typeof rawNamespace === 'string' ? { namespace: rawNamespace } : {}),
    ...(typeof rawGeneration === 'number' ? { generation: rawGeneration } : {}),
  };
  // A cluster policy's selector is read on its own, so that a policy broken elsewhere still governs only
  // the namespaces it selects; one whose selector cannot be read governs all (fail closed).
  const rawSelector = LabelSelectorSchema.safeParse(field(raw, 'spec', 'namespaceSelector') ?? {});
  const selector = kind === ClusterPolicyKind && rawSelector.success ? { namespaceSelector: rawSelector.data } : {};
  const parsed = FluxActionPolicySchema.safeParse(raw);
  if (!parsed.success) return { ...base, ...selector, invalid: true, reason: describeIssues(parsed.error) };
  const { spec } = parsed.data;
  try {
    if (kind === PolicyKind && spec.namespaceSelector) throw new PolicyError('namespaceSelector is only for ClusterFluxActionPolicy');
    if (spec.rules.length === 0) throw new PolicyError('rules must name at least one rule');
    const seen = new Set<string>();
    for (const r of spec.rules) {
      if (seen.has(r.name)) throw new PolicyError(`rule name ${r.name} is used twice; rule names must be unique`);
      seen.add(r.name);
    }
    return { ...base, ...selector, rules: spec.rules.map(compileRule) };
  } catch (err) {
    if (!(err instanceof PolicyError)) return { ...base, ...selector, invalid: true, reason: `cannot compile: ${String(err)}` };
    return { ...base, ...selector, invalid: true, reason: err.message };
  }
}
