// The Flux protocol, pure: given a request and snapshots of the objects it acts on, decide the next
// step — record a token, patch an object, wait for Flux, or finish with an outcome. The reconciler
// does the I/O around it. Every rule of how Flux is asked to act and how its answer is read is here.
import {
  ConditionStatus,
  FailureReason,
  Phase,
  ProgressReason,
  ReadyCondition,
  ReconcilingCondition,
  StalledCondition,
  SuccessReason,
  EventReason,
} from '../api/conditions.js';
import type { Condition, FluxActionRequest, FluxObject, ObjectStatus, RequestStatus, StepStatus } from '../api/types.js';
import { RequestedByAnnotation, StepRole, SuspendedByAnnotation, targetOf } from '../api/types.js';
import { DefaultTimeout, DefaultTimeoutMs, formatDuration, parseDuration } from '../api/duration.js';
import type { FluxKind } from './kinds.js';
import {
  ControlPlaneReconcileAnnotation,
  ForceAtAnnotation,
  RequestedAtAnnotation,
  ResetAtAnnotation,
  annotationsOf,
  conditionsOf,
  describeRef,
  findCondition,
  isStatic,
  isSuspended,
  lastHandledForceAt,
  lastHandledReconcileAt,
  lastHandledResetAt,
  objectKey,
  revisionOf,
  sourceRefOf,
  valueAt,
  type ObjectRef,
} from './objects.js';
import { isHandled } from './token.js';

/** Where in the request's status an object's record lives; also the order objects are reconciled in. */
export type Slot = 'chartSource' | 'source' | 'target';

/** One object the request acts on, resolved by the reconciler. */
export interface Step {
  /** A source or the target; outside a chain also where its record lives (status.source, status.target…). */
  slot: Slot;
  kind: FluxKind;
  ref: ObjectRef;
  /** The object as last read; undefined when it does not exist. */
  object: FluxObject | undefined;
  /** In a chain (withDependencies, withDependents): its index in status.steps and the part it plays. */
  chain?: { index: number; role: StepRole };
}

/** A token that another unfinished request holds on an object, with the options it was written with. */
export interface HeldToken {
  token: string;
  action: string;
  force: boolean;
  reset: boolean;
}

export interface DecideInput {
  request: FluxActionRequest;
  /** Milliseconds since the epoch. */
  now: number;
  /**
   * Sources first (chartSource, source), the target last; for a chain, every step in the order it
   * runs (each with `chain`). Empty when resolution failed.
   */
  steps: readonly Step[];
  /** A failure found while resolving the objects (policy, discovery, RBAC), which ends the request. */
  failure?: { reason: FailureReason; message: string };
  /** Tokens held on an object (by objectKey) by the operator's other unfinished requests. */
  heldTokens: (key: string) => readonly HeldToken[];
  mintToken: () => string;
}

/** A JSON merge patch for a Flux object. */
export interface MergePatch {
  metadata?: { annotations: Record<string, string | null> };
  spec?: { suspend: boolean };
}

export interface Plan {
  /** The request's next status; written when it differs from the current one, before any patch. */
  status: RequestStatus;
  /** A patch for a Flux object, applied after the status is written. */
  patch?: { ref: ObjectRef; body: MergePatch };
  /** When to look again even if no watch event arrives (the timeout). */
  requeueAfterMs?: number;
  /** The Event to record on the request for this transition. */
  event?: { reason: EventReason; type: 'Normal' | 'Warning'; message: string };
}

/** The request's options that decide which requests may share a token. */
export interface Options {
  action: string;
  force: boolean;
  reset: boolean;
}

type StepResult =
  | { type: 'done'; snapshot: ObjectStatus; message: string }
  | { type: 'fail'; reason: FailureReason; message: string; snapshot?: ObjectStatus }
  | { type: 'act'; snapshot: ObjectStatus; patch?: MergePatch; reason: ProgressReason; message: string };

/** The timeout of a request in milliseconds (default 5m). */
export function timeoutMs(request: FluxActionRequest): number {
  return parseDuration(request.spec.timeout ?? DefaultTimeout) ?? DefaultTimeoutMs;
}

/** RFC 3339 to the second, as Kubernetes writes metav1.Time. */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Who asked: the annotation admission checked at creation and keeps immutable, copied to status. */
export function requestedBy(request: FluxActionRequest, current: RequestStatus): Pick<RequestStatus, 'requestedBy'> {
  const value = request.metadata.annotations?.[RequestedByAnnotation] ?? current.requestedBy;
  return value === undefined ? {} : { requestedBy: value };
}

/**
 * Decides what to do next for an unfinished request. Level-triggered: the answer depends only on
 * the request's status and the objects as they are, so deciding twice changes nothing.
 */
export function decide(input: DecideInput): Plan {
  const { request, now } = input;
  const current = request.status ?? {};
  const startMs = current.startTime ? Date.parse(current.startTime) : now;
  const deadline = startMs + timeoutMs(request);
  const base: RequestStatus = {
    ...current,
    observedGeneration: request.metadata.generation ?? current.observedGeneration,
    startTime: current.startTime ?? isoSeconds(now),
    ...requestedBy(request, current),
  };

  if (input.failure) return finishRequest(request, base, now, input.failure.reason, input.failure.message);
  const target = input.steps.find((s) => roleOf(s) === StepRole.Target);
  if (!target)
    return finishRequest(request, base, now, FailureReason.TargetNotFound, `${describeRef(request.spec.target)} was not resolved`);

  const options: Options = { action: request.spec.action, force: request.spec.force ?? false, reset: request.spec.reset ?? false };
  const chain = input.steps.every((s) => s.chain !== undefined);
  // A chain records every step at once, so its list is fixed before anything is touched.
  let status: RequestStatus = chain ? { ...base, steps: input.steps.map((s) => stepRecord(s, base.steps)) } : base;
  const targetEntry = target.chain ? status.steps?.[target.chain.index] : undefined;
  // status.target mirrors the chain's target step, also when that step is done and not looked at again.
  if (targetEntry?.token) status = { ...status, target: objectStatusOf(targetEntry), token: targetEntry.token };
  const slots = input.steps.map((s) => s.slot);
  for (const [index, step] of input.steps.entries()) {
    // A chain's step is done for good once Succeeded; a source, once the next object got its token.
    if (
      step.chain ? status.steps?.[step.chain.index]?.phase === Phase.Succeeded : slots.slice(index + 1).some((slot) => status[slot]?.token)
    )
      continue;
    const expected = request.spec.withSource && roleOf(step) !== StepRole.Source ? revisionToApply(step, input.steps, status) : undefined;
    const result = runStep(step, recordOf(status, step), options, input, status.phase === Phase.Running, expected);
    if (result.snapshot && result.type !== 'act' && step.object) {
      // Finished with this object: show the lastHandledReconcileAt Flux reports now.
      const live = lastHandledReconcileAt(step.object);
      if (live !== undefined) result.snapshot.lastHandledReconcileAt = live;
    }
    status = withRecord(status, step, result, now);
    if (roleOf(step) === StepRole.Target && result.snapshot?.token) status = { ...status, token: result.snapshot.token };
    if (result.type === 'fail') return finishRequest(request, status, now, result.reason, result.message + notStarted(input.steps, index));
    if (result.type === 'done') {
      if (!chain && step.slot === 'target') return finishRequest(request, status, now, undefined, result.message);
      if (chain && index === input.steps.length - 1) return finishRequest(request, status, now, undefined, chainDone(input.steps, status));
      continue;
    }
    if (now >= deadline) {
      const what = result.patch ? 'the request could not be written' : result.message;
      return finishRequest(request, status, now, FailureReason.Timeout, `no outcome within ${formatDuration(timeoutMs(request))}: ${what}`);
    }
    return running(request, status, now, deadline, result, step.ref);
  }
  return finishRequest(request, status, now, FailureReason.TargetNotFound, `${describeRef(request.spec.target)} was not resolved`);
}

/** A source's kind and artifact revision: what a withSource request's object must apply. */
export interface SourceArtifact {
  kind: string;
  revision: string;
}

/**
 * The artifact a withSource request's object must apply, for a kind that applies its source's
 * artifact: its source step's as it is now (so a commit that arrived since the source step counts
 * too), else as the step recorded it.
 */
function revisionToApply(step: Step, steps: readonly Step[], status: RequestStatus): SourceArtifact | undefined {
  if (!step.object || !step.kind.revision.sourceAttempt) return undefined;
  const ref = sourceRefOf(step.object, step.kind);
  if ('error' in ref) return undefined;
  const names = (o: { kind?: string; name?: string; namespace?: string } | undefined): boolean =>
    o?.kind === ref.kind && o.name === ref.name && o.namespace === ref.namespace;
  const source = steps.find((s) => roleOf(s) === StepRole.Source && names(s.ref));
  const live = source?.object ? revisionOf(source.object, source.kind) : undefined;
  if (live !== undefined) return { kind: ref.kind, revision: live };
  const recorded = source?.chain ? status.steps?.[source.chain.index] : status.source;
  return names(recorded) && recorded?.revision !== undefined ? { kind: ref.kind, revision: recorded.revision } : undefined;
}

/** The part a step plays: its chain role, else a source or the target by its slot. */
export function roleOf(step: Step): StepRole {
  return step.chain?.role ?? (step.slot === 'target' ? StepRole.Target : StepRole.Source);
}

/** The step's record: a chain's entry in status.steps, else status[slot]. */
function recordOf(status: RequestStatus, step: Step): ObjectStatus | undefined {
  if (!step.chain) return status[step.slot];
  const entry = status.steps?.[step.chain.index];
  return entry ? objectStatusOf(entry) : undefined;
}

/** A chain step's entry without its own fields: what the request knows of the object. */
function objectStatusOf(entry: StepStatus): ObjectStatus {
  const { role: _role, phase: _phase, startTime: _start, completionTime: _completion, ...object } = entry;
  return object;
}

/** A chain step's entry as recorded, or a Pending one naming the object. */
function stepRecord(step: Step, recorded: readonly StepStatus[] | undefined): StepStatus {
  const index = step.chain?.index ?? 0;
  const existing = recorded?.[index];
  if (existing) return existing;
  const { apiVersion, kind, name, namespace } = step.ref;
  return { apiVersion, kind, name, namespace, role: roleOf(step), phase: Phase.Pending };
}

/** The status with a step's result recorded: status[slot], or for a chain its entry (and the target's mirror in status.target). */
function withRecord(status: RequestStatus, step: Step, result: StepResult, now: number): RequestStatus {
  if (!step.chain) return result.snapshot ? { ...status, [step.slot]: result.snapshot } : status;
  const index = step.chain.index;
  const entries = [...(status.steps ?? [])];
  const before = entries[index] ?? stepRecord(step, undefined);
  const phase = result.type === 'act' ? Phase.Running : result.type === 'done' ? Phase.Succeeded : Phase.Failed;
  const entry: StepStatus = {
    ...(result.snapshot ?? objectStatusOf(before)),
    role: roleOf(step),
    phase,
    startTime: before.startTime ?? isoSeconds(now),
  };
  if (phase !== Phase.Running) entry.completionTime = before.completionTime ?? isoSeconds(now);
  entries[index] = entry;
  const next: RequestStatus = { ...status, steps: entries };
  if (roleOf(step) === StepRole.Target && result.snapshot) next.target = result.snapshot;
  return next;
}

/** For a chain that stops at step `index`: how many later steps were left untouched. */
function notStarted(steps: readonly Step[], index: number): string {
  const left = steps.slice(index + 1).filter((s) => s.chain).length;
  if (left === 0) return '';
  return `; ${left} later ${left === 1 ? 'step was' : 'steps were'} not started`;
}

/** The message of a chain that succeeded: how many steps, and what Flux applied to the target. */
function chainDone(steps: readonly Step[], status: RequestStatus): string {
  const members = steps.length;
  const target = steps.find((s) => roleOf(s) === StepRole.Target);
  const record = target?.chain ? status.steps?.[target.chain.index] : undefined;
  const what = target ? `${describeRef(target.ref)}${revisionPhrase(target.kind, record?.revision)}` : '';
  return `${members} ${members === 1 ? 'step' : 'steps'} succeeded in order; ${what}`;
}

function revisionPhrase(kind: FluxKind, revision: string | undefined): string {
  return revision ? `: ${kind.revision.verb} revision ${revision}` : ': reconciled';
}

/** Decides one object: suspension, token, patch, and Flux's verdict once it handled the token. */
function runStep(
  step: Step,
  previous: ObjectStatus | undefined,
  options: Options,
  input: DecideInput,
  running: boolean,
  source: SourceArtifact | undefined,
): StepResult {
  const role = roleOf(step);
  const isTarget = role === StepRole.Target;
  const isSource = role === StepRole.Source;
  // How messages name the object: a chain's other steps say which part they play.
  const part = role === StepRole.Dependency ? 'dependency ' : role === StepRole.Dependent ? 'dependent ' : isSource ? 'source ' : '';
  const obj = step.object;
  const name = describeRef(step.ref);

  if (!obj || obj.metadata.deletionTimestamp) {
    if (isSource)
      return { type: 'fail', reason: FailureReason.SourceFailed, message: `source ${name} ${obj ? 'is being deleted' : 'not found'}` };
    const started = previous?.token !== undefined || (isTarget && running);
    if (started || obj)
      return { type: 'fail', reason: FailureReason.TargetDeleted, message: `${part}${name} was deleted while the request ran` };
    return { type: 'fail', reason: FailureReason.TargetNotFound, message: `${part}${name} not found` };
  }

  const snapshot = snapshotOf(obj, step.kind, previous);
  const suspended = isSuspended(obj, step.kind);
  const wait = input.request.spec.wait ?? true;

  if (options.action === 'Suspend') {
    if (suspended) {
      const by = annotationsOf(obj)[SuspendedByAnnotation];
      const ours = by === requestName(input.request);
      return { type: 'done', snapshot, message: `${name} ${ours ? 'suspended' : 'was already suspended'}` };
    }
    return act(snapshot, suspendPatch(step.kind, requestName(input.request)), ProgressReason.Progressing, `suspending ${name}`);
  }

  if (suspended && !(options.action === 'Resume' && isTarget)) {
    if (!isSource)
      return {
        type: 'fail',
        reason: FailureReason.TargetSuspended,
        message: `${part}${name} is suspended: Flux ignores reconcile requests on it; resume it first`,
        snapshot,
      };
    return { type: 'fail', reason: FailureReason.SourceFailed, message: `source ${name} is suspended`, snapshot };
  }
  const isStaticObject = isStatic(obj, step.kind);
  if (isSource && isStaticObject) return { type: 'done', snapshot, message: `source ${name} is static` };
  if (options.action === 'Reconcile' && !isSource && (!step.kind.reconcilable || isStaticObject)) {
    const why = isStaticObject && step.kind.staticWhen ? step.kind.staticWhen.described : `a ${obj.kind}`;
    return {
      type: 'fail',
      reason: FailureReason.UnsupportedAction,
      message: `${part}${name} is ${why}: Flux has nothing to reconcile`,
      snapshot,
    };
  }
  // Resuming a kind with nothing to reconcile: clear the suspension, no token.
  if (options.action === 'Resume' && !step.kind.reconcilable) {
    if (!suspended) return { type: 'done', snapshot, message: `${name} resumed` };
    return act(snapshot, resumePatch(step.kind, undefined), ProgressReason.Progressing, `resuming ${name}`);
  }

  const progress = isSource
    ? ProgressReason.WaitingForSource
    : role === StepRole.Dependency
      ? ProgressReason.WaitingForDependency
      : ProgressReason.Progressing;
  const key = objectKey(step.ref);
  const held = input.heldTokens(key);
  // force and reset are the target's: the other steps are asked to reconcile, nothing more.
  const stepOptions: Options = isTarget ? options : { action: 'Reconcile', force: false, reset: false };

  // Record a token: shared with requests whose token is not yet written, else a new one.
  if (!snapshot.token) {
    const chosen = chooseToken(obj, held, stepOptions);
    if (chosen === 'wait') {
      return {
        type: 'act',
        snapshot,
        reason: ProgressReason.WaitingForTarget,
        message: `waiting for another request on ${name} to be written first`,
      };
    }
    const token = chosen ?? input.mintToken();
    const recorded: ObjectStatus = { ...snapshot, token };
    const lastHandled = lastHandledReconcileAt(obj);
    if (lastHandled !== undefined) recorded.lastHandledReconcileAt = lastHandled;
    const blocked = blockingToken(obj, held, token);
    if (blocked)
      return {
        type: 'act',
        snapshot: recorded,
        reason: ProgressReason.WaitingForTarget,
        message: `waiting for Flux to handle the request ${blocked} on ${name} first`,
      };
    return act(recorded, requestPatch(step.kind, token, stepOptions), progress, awaiting(name, token));
  }

  const token = snapshot.token;
  if (!handled(obj, token, previous, stepOptions)) {
    if (!written(obj, step.kind, token, stepOptions)) {
      const blocked = blockingToken(obj, held, token);
      if (blocked)
        return {
          type: 'act',
          snapshot,
          reason: ProgressReason.WaitingForTarget,
          message: `waiting for Flux to handle the request ${blocked} on ${name} first`,
        };
      return act(snapshot, requestPatch(step.kind, token, stepOptions), progress, awaiting(name, token));
    }
    if (isTarget && !wait) return { type: 'done', snapshot, message: `${name}: requested at ${token}` };
    // Waiting for Flux: the record stays as written with the token (Flux marking the object
    // Reconciling is not a transition of the request), so following it writes nothing.
    return { type: 'act', snapshot: previous ?? snapshot, reason: progress, message: awaiting(name, token) };
  }
  if (isTarget && !wait) return { type: 'done', snapshot, message: `${name}: requested at ${token}` };

  // Flux handled the token: judge its verdict for this generation.
  const verdict = judge(obj, step.kind);
  if (verdict.state === 'progressing') return { type: 'act', snapshot, reason: progress, message: `${name}: ${verdict.message}` };
  const stale = source && staleAttempt(obj, step.kind, verdict.state, source);
  if (source && stale !== undefined) {
    const wanted = source.revision;
    const message = `${part}${name}: Flux reconciled revision ${stale}, not the source's ${wanted}; waiting for it to apply ${wanted}`;
    return { type: 'act', snapshot, reason: progress, message };
  }
  if (verdict.state === 'failed') {
    const reason = isTarget ? FailureReason.ReconciliationFailed : isSource ? FailureReason.SourceFailed : FailureReason.DependencyFailed;
    return { type: 'fail', reason, message: `${part}${name}: ${verdict.message}`, snapshot };
  }
  return { type: 'done', snapshot, message: `${part}${name}${revisionPhrase(step.kind, snapshot.revision)}` };
}

/** One message from asking Flux until it answers, so following a request does not rewrite its status. */
function awaiting(name: string, token: string): string {
  return `waiting for Flux to handle the request on ${name} (requestedAt ${token})`;
}

function act(snapshot: ObjectStatus, patch: MergePatch, reason: ProgressReason, message: string): StepResult {
  return { type: 'act', snapshot, patch, reason, message };
}

function requestName(request: FluxActionRequest): string {
  return `${request.metadata.namespace ?? ''}/${request.metadata.name}`;
}

/**
 * Whether Flux handled our token: lastHandledReconcileAt is the token, or a request written after it
 * (a later timestamp, and not the value seen when our token was recorded). A later request covers a
 * forced or reset one only when Flux recorded a force or reset as late (helm-controller's
 * lastHandledForceAt and lastHandledResetAt): a plain reconcile does not do what they ask, and
 * without such a record our own token must be the one handled.
 */
export function handled(
  obj: FluxObject,
  token: string,
  recorded: ObjectStatus | undefined,
  options: Pick<Options, 'force' | 'reset'>,
): boolean {
  const last = lastHandledReconcileAt(obj);
  if (last === token) return true;
  if (recorded?.lastHandledReconcileAt !== undefined && last === recorded.lastHandledReconcileAt) return false;
  if (!isHandled(token, last)) return false;
  if (options.force && !isHandled(token, lastHandledForceAt(obj))) return false;
  if (options.reset && !isHandled(token, lastHandledResetAt(obj))) return false;
  return true;
}

/** Whether the object carries our request: requestedAt (and forceAt/resetAt when asked) equal the token, and unsuspended on Resume. */
function written(obj: FluxObject, kind: FluxKind, token: string, options: Options): boolean {
  const a = annotationsOf(obj);
  if (a[RequestedAtAnnotation] !== token) return false;
  if (options.force && a[ForceAtAnnotation] !== token) return false;
  if (options.reset && a[ResetAtAnnotation] !== token) return false;
  if (options.action === 'Resume' && isSuspended(obj, kind)) return false;
  return true;
}

/**
 * Coalescing: a Reconcile shares the newest token another request holds on the object that is not
 * written yet and has the same options, so a burst of requests makes Flux reconcile once or twice.
 * Returns 'wait' while a not-yet-written token with other options is pending, undefined to mint.
 */
function chooseToken(obj: FluxObject, held: readonly HeldToken[], options: Options): string | undefined {
  if (options.action !== 'Reconcile') return undefined;
  const requestedAt = annotationsOf(obj)[RequestedAtAnnotation];
  const last = lastHandledReconcileAt(obj);
  const pending = held.filter((h) => h.token !== requestedAt && !isHandled(h.token, last));
  const same = pending.filter((h) => h.action === 'Reconcile' && h.force === options.force && h.reset === options.reset);
  if (same.length > 0)
    return same
      .map((h) => h.token)
      .sort()
      .at(-1);
  return pending.length > 0 ? 'wait' : undefined;
}

/** The token on the object that another request of ours wrote and Flux has not handled yet: ours waits for it. */
function blockingToken(obj: FluxObject, held: readonly HeldToken[], token: string): string | undefined {
  const requestedAt = annotationsOf(obj)[RequestedAtAnnotation];
  if (!requestedAt || requestedAt === token) return undefined;
  if (!held.some((h) => h.token === requestedAt)) return undefined;
  if (isHandled(requestedAt, lastHandledReconcileAt(obj))) return undefined;
  return requestedAt;
}

/** The Reconciling reason of a Flux object whose last attempt failed and will be retried. */
export const ProgressingWithRetryReason = 'ProgressingWithRetry';

/**
 * A Ready=False that says the object waits for its inputs rather than failed: its source has no
 * artifact yet ("ArtifactFailed: Source artifact not found, retrying in 30s") or a dependsOn is not
 * ready ("DependencyNotReady: ... retrying in 30s"). The controller retries on a short interval, so
 * the request keeps following it, up to its timeout. The same reasons without "retrying in" (a
 * path not found in the artifact, a download that failed) are failures, reported at once.
 */
export function isWaitingForInputs(ready: Condition): boolean {
  return (ready.reason === 'ArtifactFailed' || ready.reason === 'DependencyNotReady') && /\bretrying in\b/.test(ready.message ?? '');
}

/**
 * Whether the status fields have caught up with the conditions, for kinds that record the revision
 * attempted (a Kustomization's lastAttemptedRevision, written before the apply; lastAppliedRevision
 * after). The Flux controllers patch the conditions first and the other status fields next, so
 * Ready=True may be seen before the applied revision. It matters when our token was handled by an
 * earlier attempt (one that waited for its source): the retry's Ready=True would otherwise be
 * reported with the revision applied before it.
 */
function appliedRecorded(obj: FluxObject, kind: FluxKind): boolean {
  const { attemptedPath, paths } = kind.revision;
  if (!attemptedPath || !paths[0]) return true;
  const attempted = valueAt(obj, attemptedPath);
  return attempted === undefined || attempted === valueAt(obj, paths[0]);
}

/**
 * What the attempt Flux judged used, when it is not the source's artifact: the controller handled
 * our token with the artifact its cache held, which had not caught up with the source step yet. It
 * reconciles again when its cache sees the new artifact (kustomize-controller and helm-controller
 * watch their sources' revisions), so the request follows that attempt rather than report this
 * one. A success names its artifact in a status field (src/flux/kinds.ts sourceAttempt); a failure
 * only in the Reconciling condition kustomize-controller keeps beside it (a failure before any
 * attempt names none, and is reported as it is).
 */
export function staleAttempt(obj: FluxObject, kind: FluxKind, state: 'ready' | 'failed', source: SourceArtifact): string | undefined {
  const rule = kind.revision.sourceAttempt;
  const field = rule?.fields[source.kind] ?? rule?.fields['*'];
  if (!rule || !field) return undefined;
  let attempt: unknown;
  let expected = source.revision;
  if (state === 'ready') {
    attempt = valueAt(obj, field.path);
    if (field.as === 'digest') expected = expected.slice(expected.indexOf('@') + 1);
  } else if (rule.failureIn) {
    attempt = rule.failureIn.exec(findCondition(conditionsOf(obj), ReconcilingCondition)?.message ?? '')?.[1];
  }
  return typeof attempt === 'string' && attempt !== '' && attempt !== expected ? attempt : undefined;
}

/** Flux's verdict on an object that handled our token, read the way kstatus reads Flux objects. */
export function judge(obj: FluxObject, kind: FluxKind): { state: 'ready' | 'failed' | 'progressing'; message: string } {
  const conditions = conditionsOf(obj);
  const ready = findCondition(conditions, ReadyCondition);
  const stalled = findCondition(conditions, StalledCondition);
  const reconciling = findCondition(conditions, ReconcilingCondition);
  const generation = obj.metadata.generation;
  // Flux's messages may end in a newline (an apply error does): kubectl's columns would cut there.
  const says = (c: Condition | undefined): string => [c?.reason, c?.message?.trim()].filter(Boolean).join(': ') || 'no message';

  if (stalled?.status === ConditionStatus.True) return { state: 'failed', message: says(stalled) };
  // A failed attempt that Flux will retry: the controllers keep Reconciling=True with reason
  // ProgressingWithRetry beside Ready=False. That is the attempt's verdict (the retry is a new
  // attempt, on Flux's schedule): report it now rather than wait for the timeout.
  const retrying =
    reconciling?.status === ConditionStatus.True &&
    reconciling.reason === ProgressingWithRetryReason &&
    ready?.status === ConditionStatus.False;
  if (reconciling?.status === ConditionStatus.True && !retrying)
    return { state: 'progressing', message: `reconciling: ${says(reconciling)}` };
  if (!ready || ready.status === ConditionStatus.Unknown) return { state: 'progressing', message: `not ready yet: ${says(ready)}` };
  if (ready.observedGeneration !== undefined && generation !== undefined && ready.observedGeneration !== generation) {
    return { state: 'progressing', message: `waiting for generation ${generation} to be reconciled` };
  }
  if (ready.status === ConditionStatus.True && !appliedRecorded(obj, kind))
    return { state: 'progressing', message: 'waiting for Flux to record the applied revision' };
  if (ready.status === ConditionStatus.True) return { state: 'ready', message: says(ready) };
  if (isWaitingForInputs(ready)) return { state: 'progressing', message: `waiting for Flux to retry: ${says(ready)}` };
  return { state: 'failed', message: says(ready) };
}

/** What the request records of an object: identity and Flux's view, keeping our token. */
export function snapshotOf(obj: FluxObject, kind: FluxKind, previous: ObjectStatus | undefined): ObjectStatus {
  const ready = findCondition(conditionsOf(obj), ReadyCondition);
  const snapshot: ObjectStatus = {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    name: obj.metadata.name,
    namespace: obj.metadata.namespace ?? '',
    suspended: isSuspended(obj, kind),
  };
  const set = <K extends keyof ObjectStatus>(k: K, v: ObjectStatus[K] | undefined): void => {
    if (v !== undefined) snapshot[k] = v;
  };
  set('uid', obj.metadata.uid);
  set('generation', obj.metadata.generation);
  set('ready', ready?.status);
  set('reason', ready?.reason);
  set('message', ready?.message);
  set('revision', revisionOf(obj, kind));
  // lastHandledReconcileAt keeps the value seen when the token was recorded, so a later handled
  // value can be told apart from the one that was already there.
  set('lastHandledReconcileAt', previous?.token ? previous.lastHandledReconcileAt : lastHandledReconcileAt(obj));
  set('token', previous?.token);
  return snapshot;
}

/** The patch that asks Flux to reconcile: requestedAt, plus forceAt/resetAt when asked; on Resume also unsuspends. */
export function requestPatch(kind: FluxKind, token: string, options: Options): MergePatch {
  const annotations: Record<string, string | null> = { [RequestedAtAnnotation]: token };
  if (options.force) annotations[ForceAtAnnotation] = token;
  if (options.reset) annotations[ResetAtAnnotation] = token;
  if (options.action !== 'Resume') return { metadata: { annotations } };
  return resumePatch(kind, annotations);
}

/** Suspends: spec.suspend for toolkit kinds, the reconcile annotation for flux-operator kinds; names the request. */
export function suspendPatch(kind: FluxKind, by: string): MergePatch {
  const annotations: Record<string, string | null> = { [SuspendedByAnnotation]: by };
  if (kind.suspendStyle === 'annotation')
    return { metadata: { annotations: { ...annotations, [ControlPlaneReconcileAnnotation]: 'disabled' } } };
  return { metadata: { annotations }, spec: { suspend: true } };
}

/** Resumes: clears the suspension and the suspended-by annotation, with any extra annotations (the token). */
export function resumePatch(kind: FluxKind, extra: Record<string, string | null> | undefined): MergePatch {
  const annotations: Record<string, string | null> = { ...extra, [SuspendedByAnnotation]: null };
  if (kind.suspendStyle === 'annotation')
    return { metadata: { annotations: { ...annotations, [ControlPlaneReconcileAnnotation]: 'enabled' } } };
  return { metadata: { annotations }, spec: { suspend: false } };
}

/** The status while running: Reconciling=True and Ready=Unknown with the step's reason. */
function running(
  request: FluxActionRequest,
  status: RequestStatus,
  now: number,
  deadline: number,
  result: Extract<StepResult, { type: 'act' }>,
  ref: ObjectRef,
): Plan {
  const generation = request.metadata.generation;
  let conditions = setCondition(
    status.conditions,
    ReconcilingCondition,
    ConditionStatus.True,
    result.reason,
    result.message,
    generation,
    now,
  );
  conditions = setCondition(conditions, ReadyCondition, ConditionStatus.Unknown, result.reason, result.message, generation, now);
  conditions = conditions.filter((c) => c.type !== StalledCondition);
  const next: RequestStatus = { ...status, phase: Phase.Running, message: result.message, conditions };
  const plan: Plan = { status: next, requeueAfterMs: Math.max(0, deadline - now) };
  if (result.patch) plan.patch = { ref, body: result.patch };
  if (status.phase !== Phase.Running) {
    plan.event = {
      reason: EventReason.Requested,
      type: 'Normal',
      message: `${request.spec.action} ${describeRef(targetOf(request))}: ${result.message}`,
    };
  }
  return plan;
}

/** The final status: Ready True/False, Stalled on failure, Reconciling removed; with its Event. */
export function finishRequest(
  request: FluxActionRequest,
  status: RequestStatus,
  now: number,
  failure: FailureReason | undefined,
  message: string,
): Plan {
  const generation = request.metadata.generation;
  const reason = failure ?? (request.spec.wait === false ? SuccessReason.Requested : SuccessReason.Succeeded);
  let conditions = (status.conditions ?? []).filter((c) => c.type !== ReconcilingCondition);
  conditions = setCondition(
    conditions,
    ReadyCondition,
    failure ? ConditionStatus.False : ConditionStatus.True,
    reason,
    message,
    generation,
    now,
  );
  if (failure) conditions = setCondition(conditions, StalledCondition, ConditionStatus.True, reason, message, generation, now);
  else conditions = conditions.filter((c) => c.type !== StalledCondition);
  const phase = failure ? Phase.Failed : Phase.Succeeded;
  const next: RequestStatus = { ...status, phase, message, conditions, completionTime: isoSeconds(now) };
  return { status: next, event: outcomeEvent(next) };
}

/** The Event that tells a finished request's outcome (Succeeded, or Failed with its reason), from its status. */
export function outcomeEvent(status: RequestStatus): NonNullable<Plan['event']> {
  const message = status.message ?? '';
  if (status.phase === Phase.Failed) {
    const reason = findCondition(status.conditions ?? [], ReadyCondition)?.reason;
    return { reason: EventReason.Failed, type: 'Warning', message: reason ? `${reason}: ${message}` : message };
  }
  return { reason: EventReason.Succeeded, type: 'Normal', message };
}

/** Sets a condition, keeping lastTransitionTime when its status did not change. */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
  status: Condition['status'],
  reason: string,
  message: string,
  observedGeneration: number | undefined,
  now: number,
): Condition[] {
  const existing = conditions?.find((c) => c.type === type);
  const lastTransitionTime =
    existing && existing.status === status && existing.lastTransitionTime ? existing.lastTransitionTime : isoSeconds(now);
  const next: Condition = { type, status, reason, message, lastTransitionTime };
  if (observedGeneration !== undefined) next.observedGeneration = observedGeneration;
  return [...(conditions ?? []).filter((c) => c.type !== type), next];
}
