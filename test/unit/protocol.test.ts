import { describe, expect, it } from '@jest/globals';
import { FailureReason, Phase, ProgressReason, SuccessReason } from '../../src/api/conditions.js';
import type { Condition, FluxActionRequest, FluxObject, RequestSpec, RequestStatus } from '../../src/api/types.js';
import { fluxKind, type FluxKind } from '../../src/flux/kinds.js';
import { objectKey, refOf } from '../../src/flux/objects.js';
import { decide, type DecideInput, type HeldToken, type Plan, type Slot, type Step } from '../../src/flux/protocol.js';
import { tokenMinter } from '../../src/flux/token.js';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const T0 = '2026-11-25T11:59:59.000000001Z';
const T1 = '2026-11-25T11:59:59.500000000Z';

function kind(name: string): FluxKind {
  const k = fluxKind(name);
  if (!k) throw new Error(`no kind ${name}`);
  return k;
}

const apiVersions: Record<string, string> = {
  Kustomization: 'kustomize.toolkit.fluxcd.io/v1',
  HelmRelease: 'helm.toolkit.fluxcd.io/v2',
  GitRepository: 'source.toolkit.fluxcd.io/v1',
  OCIRepository: 'source.toolkit.fluxcd.io/v1',
  HelmChart: 'source.toolkit.fluxcd.io/v1',
  HelmRepository: 'source.toolkit.fluxcd.io/v1',
  ResourceSet: 'fluxcd.controlplane.io/v1',
  Alert: 'notification.toolkit.fluxcd.io/v1beta3',
};

interface ObjOpts {
  annotations?: Record<string, string>;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  generation?: number;
  deleting?: boolean;
}

function obj(k: string, name: string, o: ObjOpts = {}): FluxObject {
  return {
    apiVersion: apiVersions[k] ?? 'x/v1',
    kind: k,
    metadata: {
      name,
      namespace: 'apps',
      uid: `uid-${name}`,
      generation: o.generation ?? 1,
      ...(o.annotations ? { annotations: o.annotations } : {}),
      ...(o.deleting ? { deletionTimestamp: '2026-11-25T11:00:00Z' } : {}),
    },
    spec: o.spec ?? {},
    status: o.status ?? {},
  };
}

function ready(
  status: Condition['status'],
  reason = 'ReconciliationSucceeded',
  message = 'Applied revision: main@sha1:abc',
  observedGeneration = 1,
): Condition {
  return { type: 'Ready', status, reason, message, observedGeneration };
}

function handledStatus(token: string, conditions: Condition[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { lastHandledReconcileAt: token, conditions, ...extra };
}

function request(spec: Partial<RequestSpec> & { target?: RequestSpec['target'] }, status?: RequestStatus): FluxActionRequest {
  return {
    apiVersion: 'fluxaction.io/v1alpha1',
    kind: 'FluxActionRequest',
    metadata: { name: 'req', namespace: 'apps', generation: 1 },
    spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'podinfo' }, wait: true, timeout: '5m', ...spec },
    ...(status ? { status } : {}),
  };
}

function step(
  slot: Slot,
  object: FluxObject | undefined,
  k = object?.kind ?? 'Kustomization',
  name = object?.metadata.name ?? 'podinfo',
): Step {
  return {
    slot,
    kind: kind(k),
    ref: object ? refOf(object) : { apiVersion: apiVersions[k] ?? '', kind: k, name, namespace: 'apps' },
    object,
  };
}

function run(req: FluxActionRequest, steps: Step[], extra: Partial<DecideInput> = {}): Plan {
  return decide({ request: req, now: NOW, steps, heldTokens: () => [], mintToken: () => 'MINTED', ...extra });
}

function running(token: string, slot: Slot = 'target', more: RequestStatus = {}): RequestStatus {
  return { phase: Phase.Running, startTime: '2026-11-25T11:59:00Z', [slot]: { token }, ...(slot === 'target' ? { token } : {}), ...more };
}

function condition(plan: Plan, type: string): Condition | undefined {
  return plan.status.conditions?.find((c) => c.type === type);
}

describe('Reconcile', () => {
  it('records a new token and patches requestedAt in the same plan, status first', () => {
    const plan = run(request({}), [step('target', obj('Kustomization', 'podinfo'))]);
    expect(plan.status.phase).toBe(Phase.Running);
    expect(plan.status.token).toBe('MINTED');
    expect(plan.status.target?.token).toBe('MINTED');
    expect(plan.patch?.body).toEqual({ metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': 'MINTED' } } });
    expect(plan.patch?.ref).toMatchObject({ kind: 'Kustomization', name: 'podinfo', namespace: 'apps' });
    expect(condition(plan, 'Reconciling')).toMatchObject({ status: 'True', reason: ProgressReason.Progressing });
    expect(condition(plan, 'Ready')).toMatchObject({ status: 'Unknown' });
    expect(plan.event?.reason).toBe('Requested');
  });

  it('re-uses the recorded token after a restart instead of minting another', () => {
    const plan = run(request({}, running(T1)), [step('target', obj('Kustomization', 'podinfo'))]);
    expect(plan.status.token).toBe(T1);
    expect(plan.patch?.body.metadata?.annotations['reconcile.fluxcd.io/requestedAt']).toBe(T1);
    expect(plan.event).toBeUndefined();
  });

  it('waits without patching once the token is written and not yet handled', () => {
    const target = obj('Kustomization', 'podinfo', {
      annotations: { 'reconcile.fluxcd.io/requestedAt': T1 },
      status: handledStatus(T0, [ready('True')]),
    });
    const plan = run(request({}, running(T1)), [step('target', target)]);
    expect(plan.patch).toBeUndefined();
    expect(plan.status.phase).toBe(Phase.Running);
    expect(plan.requeueAfterMs).toBe(Date.parse('2026-11-25T12:04:00Z') - NOW);
  });

  it('leaves the status as written while Flux works on the token: marking it Reconciling is not a transition of the request', () => {
    const written = run(request({}, running(T1)), [
      step(
        'target',
        obj('Kustomization', 'podinfo', {
          annotations: { 'reconcile.fluxcd.io/requestedAt': T1 },
          status: handledStatus(T0, [ready('True')]),
        }),
      ),
    ]).status;
    const reconciling = obj('Kustomization', 'podinfo', {
      annotations: { 'reconcile.fluxcd.io/requestedAt': T1 },
      status: handledStatus(T0, [
        { type: 'Reconciling', status: 'True', reason: 'Progressing', message: 'Reconciliation in progress', observedGeneration: 1 },
        ready('Unknown', 'Progressing', 'Reconciliation in progress'),
      ]),
    });
    const plan = run(request({}, written), [step('target', reconciling)]);
    expect(plan.status.phase).toBe(Phase.Running);
    // The reconciler writes the status only when it differs: here it does not.
    expect(plan.status).toEqual(written);
  });

  it('succeeds with the applied revision when Flux handled the token and is Ready for this generation', () => {
    const target = obj('Kustomization', 'podinfo', {
      annotations: { 'reconcile.fluxcd.io/requestedAt': T1 },
      status: handledStatus(T1, [ready('True')], { lastAppliedRevision: 'main@sha1:abc' }),
    });
    const plan = run(request({}, running(T1)), [step('target', target)]);
    expect(plan.status.phase).toBe(Phase.Succeeded);
    expect(plan.status.message).toBe('Kustomization apps/podinfo: applied revision main@sha1:abc');
    expect(plan.status.target?.revision).toBe('main@sha1:abc');
    expect(condition(plan, 'Ready')).toMatchObject({ status: 'True', reason: SuccessReason.Succeeded });
    expect(condition(plan, 'Reconciling')).toBeUndefined();
    expect(condition(plan, 'Stalled')).toBeUndefined();
    expect(plan.status.completionTime).toBe('2026-11-25T12:00:00Z');
    expect(plan.event).toMatchObject({ reason: 'Succeeded', type: 'Normal' });
  });

  it('fails at once with Flux reason and message when Ready=False for this generation after the token was handled', () => {
    const target = obj('Kustomization', 'podinfo', {
      annotations: { 'reconcile.fluxcd.io/requestedAt': T1 },
      status: handledStatus(T1, [ready('False', 'BuildFailed', 'kustomize build failed: missing resource')]),
    });
    const plan = run(request({}, running(T1)), [step('target', target)]);
    expect(plan.status.phase).toBe(Phase.Failed);
    expect(plan.status.message).toBe('Kustomization apps/podinfo: BuildFailed: kustomize build failed: missing resource');
    expect(condition(plan, 'Ready')).toMatchObject({ status: 'False', reason: FailureReason.ReconciliationFailed });
    expect(condition(plan, 'Stalled')).toMatchObject({ status: 'True', reason: FailureReason.ReconciliationFailed });
    expect(plan.event).toMatchObject({ reason: 'Failed', type: 'Warning' });
  });

  it('fails when Flux reports Stalled=True', () => {
    const target = obj('Kustomization', 'podinfo', {
      status: handledStatus(T1, [ready('False'), { type: 'Stalled', status: 'True', reason: 'InvalidPath', message: 'path not found' }]),
    });
    const plan = run(request({}, running(T1)), [step('target', target)]);
    expect(plan.status.message).toContain('InvalidPath: path not found');
    expect(plan.status.phase).toBe(Phase.Failed);
  });

  it('fails at once on a failed attempt that Flux will retry (Reconciling=True ProgressingWithRetry, Ready=False)', () => {
    // What kustomize-, helm- and source-controller write after a failed attempt.
    const target = obj('Kustomization', 'podinfo', {
      status: handledStatus(T1, [
        {
          type: 'Reconciling',
          status: 'True',
          reason: 'ProgressingWithRetry',
          message: 'Detecting drift for revision main@sha1:abc',
          observedGeneration: 1,
        },
        // Ending in a newline, as kustomize-controller's apply errors do.
        ready('False', 'ReconciliationFailed', 'ConfigMap/apps/broken dry-run failed: invalid\n'),
      ]),
    });
    const plan = run(request({}, running(T1)), [step('target', target)]);
    expect(plan.status.phase).toBe(Phase.Failed);
    expect(plan.status.message).toBe('Kustomization apps/podinfo: ReconciliationFailed: ConfigMap/apps/broken dry-run failed: invalid');
  });

  it.each(['ArtifactFailed', 'DependencyNotReady'])(
    'keeps following a Ready=False %s that Flux retries shortly: the inputs are not there yet',
    (reason) => {
      // As kustomize-controller writes it: Ready=False only, before any Reconciling condition.
      const target = obj('Kustomization', 'podinfo', {
        status: handledStatus(T1, [ready('False', reason, 'Source artifact not found, retrying in 30s')]),
      });
      const plan = run(request({}, running(T1)), [step('target', target)]);
      expect(plan.status.phase).toBe(Phase.Running);
      expect(plan.status.message).toContain(`waiting for Flux to retry: ${reason}: Source artifact not found, retrying in 30s`);
    },
  );

  it('waits until a Kustomization records the revision it applied (conditions are patched before the other status fields)', () => {
    const caughtUp = (applied: string | undefined): FluxObject =>
      obj('Kustomization', 'podinfo', {
        status: handledStatus(T1, [ready('True', 'ReconciliationSucceeded', 'Applied revision: main@sha1:new')], {
          lastAttemptedRevision: 'main@sha1:new',
          ...(applied ? { lastAppliedRevision: applied } : {}),
        }),
      });
    for (const stale of [undefined, 'main@sha1:old']) {
      const plan = run(request({}, running(T1)), [step('target', caughtUp(stale))]);
      expect(plan.status.phase).toBe(Phase.Running);
      expect(plan.status.message).toContain('waiting for Flux to record the applied revision');
    }
    const done = run(request({}, running(T1)), [step('target', caughtUp('main@sha1:new'))]);
    expect(done.status.phase).toBe(Phase.Succeeded);
    expect(done.status.target?.revision).toBe('main@sha1:new');
  });

  it('fails at once on an ArtifactFailed that Flux does not retry shortly (a path not in the artifact)', () => {
    const target = obj('Kustomization', 'podinfo', {
      status: handledStatus(T1, [
        ready('False', 'ArtifactFailed', 'kustomization path not found: stat /tmp/kustomization-1/web: no such file or directory'),
      ]),
    });
    expect(run(request({}, running(T1)), [step('target', target)]).status.phase).toBe(Phase.Failed);
  });

  it("times out on a Ready=False ArtifactFailed that does not clear, with Flux's words", () => {
    const target = obj('Kustomization', 'podinfo', {
      annotations: { 'reconcile.fluxcd.io/requestedAt': T1 },
      status: handledStatus(T1, [
        { type: 'Reconciling', status: 'True', reason: 'ProgressingWithRetry' },
        ready('False', 'ArtifactFailed', 'Source artifact not found, retrying in 30s'),
      ]),
    });
    const plan = run(request({ timeout: '30s' }, running(T1)), [step('target', target)]);
    expect(condition(plan, 'Ready')?.reason).toBe(FailureReason.Timeout);
    expect(plan.status.message).toContain('Source artifact not found, retrying in 30s');
  });

  it('keeps following while Reconciling=True ProgressingWithRetry has not reached Ready=False', () => {
    const target = obj('Kustomization', 'podinfo', {
      status: handledStatus(T1, [
        { type: 'Reconciling', status: 'True', reason: 'ProgressingWithRetry' },
        ready('Unknown', 'Progressing', 'retrying'),
      ]),
    });
    expect(run(request({}, running(T1)), [step('target', target)]).status.phase).toBe(Phase.Running);
  });

  it('keeps following while Flux still reports Reconciling=True', () => {
    const target = obj('Kustomization', 'podinfo', {
      status: handledStatus(T1, [ready('True'), { type: 'Reconciling', status: 'True', reason: 'Progressing' }]),
    });
    expect(run(request({}, running(T1)), [step('target', target)]).status.phase).toBe(Phase.Running);
  });

  it('keeps following while Ready is for an older generation', () => {
    const target = obj('Kustomization', 'podinfo', { generation: 2, status: handledStatus(T1, [ready('False', 'X', 'old failure', 1)]) });
    expect(run(request({}, running(T1)), [step('target', target)]).status.phase).toBe(Phase.Running);
  });

  it('times out with what it saw last when Flux does not handle the token in time', () => {
    const target = obj('Kustomization', 'podinfo', { annotations: { 'reconcile.fluxcd.io/requestedAt': T1 } });
    const plan = run(request({ timeout: '30s' }, running(T1)), [step('target', target)]);
    expect(plan.status.phase).toBe(Phase.Failed);
    expect(condition(plan, 'Ready')?.reason).toBe(FailureReason.Timeout);
    expect(plan.status.message).toBe(
      `no outcome within 30s: waiting for Flux to handle the request on Kustomization apps/podinfo (requestedAt ${T1})`,
    );
  });

  it('reports TargetNotFound for a target that never existed', () => {
    const plan = run(request({}), [step('target', undefined)]);
    expect(condition(plan, 'Ready')?.reason).toBe(FailureReason.TargetNotFound);
    expect(plan.status.message).toBe('Kustomization apps/podinfo not found');
  });

  it('reports TargetDeleted for a target that disappears after the token was recorded', () => {
    const plan = run(request({}, running(T1)), [step('target', undefined)]);
    expect(condition(plan, 'Ready')?.reason).toBe(FailureReason.TargetDeleted);
  });

  it('reports TargetDeleted for a target being deleted', () => {
    const plan = run(request({}, running(T1)), [step('target', obj('Kustomization', 'podinfo', { deleting: true }))]);
    expect(condition(plan, 'Ready')?.reason).toBe(FailureReason.TargetDeleted);
  });

  it('refuses a suspended target without touching it', () => {
    const plan = run(request({}), [step('target', obj('Kustomization', 'podinfo', { spec: { suspend: true } }))]);
    expect(condition(plan, 'Ready')?.reason).toBe(FailureReason.TargetSuspended);
    expect(plan.patch).toBeUndefined();
  });

  it.each(['disabled', 'Disabled', 'DISABLED'])('refuses a flux-operator kind suspended by its reconcile annotation (%s)', (value) => {
    // flux-operator compares the value case-insensitively (IsDisabled: strings.ToLower(val) == "disabled").
    const rs = obj('ResourceSet', 'apps', { annotations: { 'fluxcd.controlplane.io/reconcile': value } });
    const plan = run(request({ target: { kind: 'ResourceSet', name: 'apps' } }), [step('target', rs)]);
    expect(condition(plan, 'Ready')?.reason).toBe(FailureReason.TargetSuspended);
  });

  it('fails a target that becomes suspended while the request waits', () => {
    const target = obj('Kustomization', 'podinfo', { spec: { suspend: true }, annotations: { 'reconcile.fluxcd.io/requestedAt': T1 } });
    expect(condition(run(request({}, running(T1)), [step('target', target)]), 'Ready')?.reason).toBe(FailureReason.TargetSuspended);
  });

  it('refuses to reconcile kinds with nothing to reconcile', () => {
    const alert = run(request({ target: { kind: 'Alert', name: 'a' } }), [step('target', obj('Alert', 'a'))]);
    expect(condition(alert, 'Ready')?.reason).toBe(FailureReason.UnsupportedAction);
    const oci = obj('HelmRepository', 'charts', { spec: { type: 'oci' } });
    const plan = run(request({ target: { kind: 'HelmRepository', name: 'charts' } }), [step('target', oci)]);
    expect(condition(plan, 'Ready')?.reason).toBe(FailureReason.UnsupportedAction);
    expect(plan.status.message).toContain('HelmRepository of type oci');
  });

  it.each([FailureReason.CrossNamespaceForbidden, FailureReason.UnsupportedKind, FailureReason.Forbidden])(
    'ends with a resolution failure %s',
    (reason) => {
      const plan = run(request({}), [], { failure: { reason, message: 'because' } });
      expect(plan.status.phase).toBe(Phase.Failed);
      expect(condition(plan, 'Ready')?.reason).toBe(reason);
      expect(condition(plan, 'Stalled')?.reason).toBe(reason);
      expect(plan.patch).toBeUndefined();
    },
  );

  it('sets forceAt and resetAt to the token when asked, and waits until both are written', () => {
    const hr = obj('HelmRelease', 'podinfo');
    const plan = run(request({ target: { kind: 'HelmRelease', name: 'podinfo' }, force: true, reset: true }), [step('target', hr)]);
    expect(plan.patch?.body.metadata?.annotations).toEqual({
      'reconcile.fluxcd.io/requestedAt': 'MINTED',
      'reconcile.fluxcd.io/forceAt': 'MINTED',
      'reconcile.fluxcd.io/resetAt': 'MINTED',
    });
    const half = obj('HelmRelease', 'podinfo', { annotations: { 'reconcile.fluxcd.io/requestedAt': T1 } });
    const again = run(request({ target: { kind: 'HelmRelease', name: 'podinfo' }, force: true }, running(T1)), [step('target', half)]);
    expect(again.patch?.body.metadata?.annotations['reconcile.fluxcd.io/forceAt']).toBe(T1);
  });

  it('reports the HelmRelease chart version as its revision', () => {
    const hr = obj('HelmRelease', 'podinfo', { status: handledStatus(T1, [ready('True')], { history: [{ chartVersion: '6.5.0' }] }) });
    const plan = run(request({ target: { kind: 'HelmRelease', name: 'podinfo' } }, running(T1)), [step('target', hr)]);
    expect(plan.status.message).toBe('HelmRelease apps/podinfo: applied revision 6.5.0');
  });

  it('with wait: false succeeds as Requested once the token is written', () => {
    const target = obj('Kustomization', 'podinfo', { annotations: { 'reconcile.fluxcd.io/requestedAt': T1 } });
    const plan = run(request({ wait: false }, running(T1)), [step('target', target)]);
    expect(plan.status.phase).toBe(Phase.Succeeded);
    expect(condition(plan, 'Ready')?.reason).toBe(SuccessReason.Requested);
  });
});

describe('Reconcile withSource', () => {
  const git = (o: ObjOpts = {}): FluxObject => obj('GitRepository', 'podinfo', o);
  const ks = (o: ObjOpts = {}): FluxObject => obj('Kustomization', 'podinfo', o);
  const req = (status?: RequestStatus): FluxActionRequest => request({ withSource: true }, status);

  it('reconciles the source first and leaves the target untouched', () => {
    const plan = run(req(), [step('source', git()), step('target', ks())]);
    expect(plan.patch?.ref.kind).toBe('GitRepository');
    expect(plan.status.source?.token).toBe('MINTED');
    expect(plan.status.target).toBeUndefined();
    expect(condition(plan, 'Reconciling')?.reason).toBe(ProgressReason.WaitingForSource);
  });

  it('moves on to the target once the source is Ready with the handled token', () => {
    const source = git({
      status: handledStatus(T0, [ready('True', 'Succeeded', 'stored artifact')], { artifact: { revision: 'main@sha1:def' } }),
    });
    const plan = run(req(running(T0, 'source')), [step('source', source), step('target', ks())]);
    expect(plan.patch?.ref.kind).toBe('Kustomization');
    expect(plan.status.source?.revision).toBe('main@sha1:def');
    expect(plan.status.token).toBe('MINTED');
  });

  it('fails with SourceFailed and the source message when the source fails', () => {
    const source = git({ status: handledStatus(T0, [ready('False', 'GitOperationFailed', 'auth failed')]) });
    const plan = run(req(running(T0, 'source')), [step('source', source), step('target', ks())]);
    expect(condition(plan, 'Ready')?.reason).toBe(FailureReason.SourceFailed);
    expect(plan.status.message).toBe('source GitRepository apps/podinfo: GitOperationFailed: auth failed');
    expect(plan.patch).toBeUndefined();
  });

  it('fails with SourceFailed when the source does not exist', () => {
    const plan = run(req(), [step('source', undefined, 'GitRepository', 'gone'), step('target', ks())]);
    expect(condition(plan, 'Ready')?.reason).toBe(FailureReason.SourceFailed);
    expect(plan.status.message).toBe('source GitRepository apps/gone not found');
  });

  it('does not judge the source again once the target has its token', () => {
    const failing = git({ status: handledStatus(T0, [ready('False', 'GitOperationFailed', 'later failure')]) });
    const target = ks({ annotations: { 'reconcile.fluxcd.io/requestedAt': T1 } });
    const plan = run(req({ ...running(T1), source: { token: T0 } }), [step('source', failing), step('target', target)]);
    expect(plan.status.phase).toBe(Phase.Running);
  });

  describe('a target that handled the token with an older view of its source', () => {
    const A = 'main@sha1:aaa';
    const B = 'main@sha1:bbb';
    const source = git({ status: handledStatus(T0, [ready('True', 'Succeeded', 'stored artifact')], { artifact: { revision: B } }) });
    const recorded = { kind: 'GitRepository', name: 'podinfo', namespace: 'apps', token: T0, revision: B };
    const started = (): FluxActionRequest => req({ ...running(T1), source: recorded });
    const spec = { sourceRef: { kind: 'GitRepository', name: 'podinfo' } };
    const appliedAt = (revision: string): FluxObject =>
      ks({
        spec,
        annotations: { 'reconcile.fluxcd.io/requestedAt': T1 },
        status: handledStatus(T1, [ready('True', 'ReconciliationSucceeded', `Applied revision: ${revision}`)], {
          lastAppliedRevision: revision,
          lastAttemptedRevision: revision,
        }),
      });
    const failedAt = (revision: string): FluxObject =>
      ks({
        spec,
        annotations: { 'reconcile.fluxcd.io/requestedAt': T1 },
        status: handledStatus(
          T1,
          [
            ready('False', 'BuildFailed', 'kustomize build failed'),
            {
              type: 'Reconciling',
              status: 'True',
              reason: 'ProgressingWithRetry',
              message: `Building manifests for revision ${revision} with a timeout of 5m0s`,
            },
          ],
          { lastAppliedRevision: A, lastAttemptedRevision: revision },
        ),
      });

    it("keeps following a success with the previous revision until Flux applies the source's", () => {
      const stale = run(started(), [step('source', source), step('target', appliedAt(A))]);
      expect(stale.status.phase).toBe(Phase.Running);
      expect(stale.status.message).toBe(
        `Kustomization apps/podinfo: Flux reconciled revision ${A}, not the source's ${B}; waiting for it to apply ${B}`,
      );
      const done = run(started(), [step('source', source), step('target', appliedAt(B))]);
      expect(done.status.phase).toBe(Phase.Succeeded);
      expect(done.status.message).toBe(`Kustomization apps/podinfo: applied revision ${B}`);
    });

    it('keeps following a failure of the previous revision, and reports one of the source revision', () => {
      expect(run(started(), [step('source', source), step('target', failedAt(A))]).status.phase).toBe(Phase.Running);
      const failed = run(started(), [step('source', source), step('target', failedAt(B))]);
      expect(failed.status.phase).toBe(Phase.Failed);
      expect(failed.status.message).toBe('Kustomization apps/podinfo: BuildFailed: kustomize build failed');
    });

    it('reports a failure that names no attempt (before Flux fetched the artifact) as it is', () => {
      const target = ks({
        spec,
        annotations: { 'reconcile.fluxcd.io/requestedAt': T1 },
        status: handledStatus(T1, [ready('False', 'ArtifactFailed', 'kustomization path not found')], { lastAttemptedRevision: A }),
      });
      expect(run(started(), [step('source', source), step('target', target)]).status.phase).toBe(Phase.Failed);
    });

    it('follows the revision the source has now, and the one recorded when the source is not read again', () => {
      const moved = git({ status: handledStatus(T0, [ready('True')], { artifact: { revision: 'main@sha1:ccc' } }) });
      const newer = run(started(), [step('source', moved), step('target', appliedAt('main@sha1:ccc'))]);
      expect(newer.status.message).toBe('Kustomization apps/podinfo: applied revision main@sha1:ccc');
      expect(run(started(), [step('target', appliedAt(A))]).status.phase).toBe(Phase.Running);
      expect(run(started(), [step('target', appliedAt(B))]).status.phase).toBe(Phase.Succeeded);
    });

    it('does not apply to a request without withSource', () => {
      const plain = request({}, { ...running(T1), source: recorded });
      expect(run(plain, [step('target', appliedAt(A))]).status.phase).toBe(Phase.Succeeded);
    });
  });

  describe('a HelmRelease that handled the token with an older view of its chart', () => {
    const hrReq = (sourceKind: string, revision: string): FluxActionRequest =>
      request(
        { withSource: true, target: { kind: 'HelmRelease', name: 'podinfo' } },
        { ...running(T1), source: { kind: sourceKind, name: 'chart', namespace: 'apps', token: T0, revision } },
      );
    const release = (sourceKind: string, attempted: Record<string, string>, readyStatus: 'True' | 'False' = 'True'): FluxObject =>
      obj('HelmRelease', 'podinfo', {
        spec: { chartRef: { kind: sourceKind, name: 'chart' } },
        annotations: { 'reconcile.fluxcd.io/requestedAt': T1 },
        status: handledStatus(T1, [ready(readyStatus, readyStatus === 'True' ? 'UpgradeSucceeded' : 'UpgradeFailed', 'Helm upgrade')], {
          history: [{ chartVersion: attempted['lastAttemptedRevision'] }],
          ...attempted,
        }),
      });
    const chart = (kind: string, revision: string): Step =>
      step('source', obj(kind, 'chart', { status: handledStatus(T0, [ready('True', 'Succeeded')], { artifact: { revision } }) }));

    it("waits while the release's chart version is not the HelmChart's, as helm-controller compares them", () => {
      const stale = run(hrReq('HelmChart', '6.5.1'), [
        chart('HelmChart', '6.5.1'),
        step('target', release('HelmChart', { lastAttemptedRevision: '6.5.0' })),
      ]);
      expect(stale.status.phase).toBe(Phase.Running);
      expect(stale.status.message).toBe(
        "HelmRelease apps/podinfo: Flux reconciled revision 6.5.0, not the source's 6.5.1; waiting for it to apply 6.5.1",
      );
      const done = run(hrReq('HelmChart', '6.5.1'), [
        chart('HelmChart', '6.5.1'),
        step('target', release('HelmChart', { lastAttemptedRevision: '6.5.1' })),
      ]);
      expect(done.status.message).toBe('HelmRelease apps/podinfo: applied revision 6.5.1');
    });

    it("compares an OCIRepository's digest with the release's lastAttemptedRevisionDigest", () => {
      const oci = '6.5.1@sha256:bbbbbbbbbbbbbbbb';
      const at = (digest: string): Step =>
        step('target', release('OCIRepository', { lastAttemptedRevision: '6.5.1', lastAttemptedRevisionDigest: digest }));
      expect(run(hrReq('OCIRepository', oci), [chart('OCIRepository', oci), at('sha256:aaaaaaaaaaaaaaaa')]).status.phase).toBe(
        Phase.Running,
      );
      expect(run(hrReq('OCIRepository', oci), [chart('OCIRepository', oci), at('sha256:bbbbbbbbbbbbbbbb')]).status.phase).toBe(
        Phase.Succeeded,
      );
    });

    it('reports a failure as it is: helm-controller may fail before it loads the new chart', () => {
      const failed = run(hrReq('HelmChart', '6.5.1'), [
        chart('HelmChart', '6.5.1'),
        step('target', release('HelmChart', { lastAttemptedRevision: '6.5.0' }, 'False')),
      ]);
      expect(failed.status.phase).toBe(Phase.Failed);
    });
  });

  it('skips a static OCI HelmRepository in a HelmChart chain', () => {
    const repo = obj('HelmRepository', 'charts', { spec: { type: 'oci' } });
    const chart = obj('HelmChart', 'apps-podinfo');
    const plan = run(request({ withSource: true, target: { kind: 'HelmRelease', name: 'podinfo' } }), [
      step('chartSource', repo),
      step('source', chart),
      step('target', obj('HelmRelease', 'podinfo')),
    ]);
    expect(plan.patch?.ref.kind).toBe('HelmChart');
  });
});

describe('Suspend and Resume', () => {
  it('suspends a toolkit kind with spec.suspend and names the request', () => {
    const plan = run(request({ action: 'Suspend' }), [step('target', obj('Kustomization', 'podinfo'))]);
    expect(plan.patch?.body).toEqual({ metadata: { annotations: { 'fluxaction.io/suspended-by': 'apps/req' } }, spec: { suspend: true } });
    expect(plan.status.token).toBeUndefined();
  });

  it('suspends a flux-operator kind with the reconcile annotation', () => {
    const plan = run(request({ action: 'Suspend', target: { kind: 'ResourceSet', name: 'apps' } }), [
      step('target', obj('ResourceSet', 'apps')),
    ]);
    expect(plan.patch?.body).toEqual({
      metadata: { annotations: { 'fluxaction.io/suspended-by': 'apps/req', 'fluxcd.controlplane.io/reconcile': 'disabled' } },
    });
  });

  it('succeeds once the target reads back suspended', () => {
    const target = obj('Kustomization', 'podinfo', { spec: { suspend: true }, annotations: { 'fluxaction.io/suspended-by': 'apps/req' } });
    const plan = run(request({ action: 'Suspend' }, { phase: Phase.Running }), [step('target', target)]);
    expect(plan.status.phase).toBe(Phase.Succeeded);
    expect(plan.status.message).toBe('Kustomization apps/podinfo suspended');
  });

  it('resumes with a token in the same patch that clears the suspension', () => {
    const target = obj('Kustomization', 'podinfo', {
      spec: { suspend: true },
      annotations: { 'fluxaction.io/suspended-by': 'apps/other' },
    });
    const plan = run(request({ action: 'Resume' }), [step('target', target)]);
    expect(plan.patch?.body).toEqual({
      metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': 'MINTED', 'fluxaction.io/suspended-by': null } },
      spec: { suspend: false },
    });
  });

  it('keeps patching a resume until the target reads back unsuspended', () => {
    const target = obj('ResourceSet', 'apps', {
      annotations: { 'reconcile.fluxcd.io/requestedAt': T1, 'fluxcd.controlplane.io/reconcile': 'disabled' },
    });
    const plan = run(request({ action: 'Resume', target: { kind: 'ResourceSet', name: 'apps' } }, running(T1)), [step('target', target)]);
    expect(plan.patch?.body.metadata?.annotations['fluxcd.controlplane.io/reconcile']).toBe('enabled');
  });

  it('follows a resumed target to Ready', () => {
    const target = obj('Kustomization', 'podinfo', {
      annotations: { 'reconcile.fluxcd.io/requestedAt': T1 },
      status: handledStatus(T1, [ready('True')]),
    });
    expect(run(request({ action: 'Resume' }, running(T1)), [step('target', target)]).status.phase).toBe(Phase.Succeeded);
  });

  it('resumes an Alert without a token', () => {
    const plan = run(request({ action: 'Resume', target: { kind: 'Alert', name: 'a' } }), [
      step('target', obj('Alert', 'a', { spec: { suspend: true } })),
    ]);
    expect(plan.patch?.body).toEqual({ metadata: { annotations: { 'fluxaction.io/suspended-by': null } }, spec: { suspend: false } });
    expect(plan.status.token).toBeUndefined();
  });
});

describe('coalescing', () => {
  const target = (o: ObjOpts = {}): FluxObject => obj('Kustomization', 'podinfo', o);
  const key = objectKey(refOf(target()));
  const held =
    (tokens: HeldToken[]) =>
    (k: string): readonly HeldToken[] =>
      k === key ? tokens : [];
  const h = (token: string, force = false): HeldToken => ({ token, action: 'Reconcile', force, reset: false });

  it('shares a token another request recorded but has not written yet', () => {
    const plan = run(request({}), [step('target', target())], { heldTokens: held([h(T1)]) });
    expect(plan.status.token).toBe(T1);
  });

  it('mints a new token when the held one is already written', () => {
    const plan = run(request({}), [step('target', target({ annotations: { 'reconcile.fluxcd.io/requestedAt': T1 } }))], {
      heldTokens: held([h(T1)]),
    });
    expect(plan.status.token).toBe('MINTED');
  });

  it('records but does not write its token while a written token of ours is unhandled', () => {
    const plan = run(request({}), [step('target', target({ annotations: { 'reconcile.fluxcd.io/requestedAt': T1 } }))], {
      heldTokens: held([h(T1)]),
      mintToken: () => '2026-11-25T12:00:00.000000000Z',
    });
    expect(plan.status.token).toBe('2026-11-25T12:00:00.000000000Z');
    expect(plan.patch).toBeUndefined();
    expect(condition(plan, 'Reconciling')?.reason).toBe(ProgressReason.WaitingForTarget);
  });

  it('writes its token once the earlier one was handled', () => {
    const T2 = '2026-11-25T12:00:00.000000000Z';
    const t = target({ annotations: { 'reconcile.fluxcd.io/requestedAt': T1 }, status: handledStatus(T1, [ready('True')]) });
    const plan = run(request({}, running(T2)), [step('target', t)], { heldTokens: held([h(T1)]) });
    expect(plan.patch?.body.metadata?.annotations['reconcile.fluxcd.io/requestedAt']).toBe(T2);
  });

  it('does not share a token recorded with other options, and waits for it instead', () => {
    const plan = run(request({ target: { kind: 'HelmRelease', name: 'podinfo' } }), [step('target', obj('HelmRelease', 'podinfo'))], {
      heldTokens: () => [h(T1, true)],
    });
    expect(plan.status.token).toBeUndefined();
    expect(condition(plan, 'Reconciling')?.reason).toBe(ProgressReason.WaitingForTarget);
  });

  it('counts a later token handled by Flux as covering ours', () => {
    const later = '2026-11-25T12:00:01.5Z';
    const t = target({ status: handledStatus(later, [ready('True')]) });
    expect(run(request({}, running(T1)), [step('target', t)]).status.phase).toBe(Phase.Succeeded);
  });

  it('counts a later plain reconcile as covering a forced or reset request only when Flux recorded the force or reset as late', () => {
    // Ours was recorded but never written (its status write answered with a cut connection); a plain
    // reconcile written afterwards was handled: no forced upgrade happened, so ours is written again.
    const later = '2026-11-25T12:00:01.5Z';
    const forced = { target: { kind: 'HelmRelease', name: 'podinfo' }, force: true };
    const plain = obj('HelmRelease', 'podinfo', {
      annotations: { 'reconcile.fluxcd.io/requestedAt': later },
      status: handledStatus(later, [ready('True')], { lastHandledForceAt: T0 }),
    });
    const again = run(request(forced, running(T1)), [step('target', plain)]);
    expect(again.status.phase).toBe(Phase.Running);
    expect(again.patch?.body.metadata?.annotations).toEqual({ 'reconcile.fluxcd.io/requestedAt': T1, 'reconcile.fluxcd.io/forceAt': T1 });
    const reset = run(request({ ...forced, force: false, reset: true }, running(T1)), [step('target', plain)]);
    expect(reset.patch?.body.metadata?.annotations['reconcile.fluxcd.io/resetAt']).toBe(T1);
    // A later forced reconcile did what ours asks.
    const laterForce = obj('HelmRelease', 'podinfo', { status: handledStatus(later, [ready('True')], { lastHandledForceAt: later }) });
    expect(run(request(forced, running(T1)), [step('target', laterForce)]).status.phase).toBe(Phase.Succeeded);
  });

  it('does not count the value that was already there when the token was recorded', () => {
    const skewed = '2027-01-01T00:00:00Z';
    const t = target({ annotations: { 'reconcile.fluxcd.io/requestedAt': T1 }, status: handledStatus(skewed, [ready('True')]) });
    const status = { ...running(T1), target: { token: T1, lastHandledReconcileAt: skewed } };
    expect(run(request({}, status), [step('target', t)]).status.phase).toBe(Phase.Running);
  });
});

describe('tokens', () => {
  it('mints strictly increasing fixed-width tokens even within one millisecond', () => {
    const mint = tokenMinter(() => NOW);
    const a = mint();
    const b = mint();
    expect(a).toBe('2026-11-25T12:00:00.000000000Z');
    expect(b).toBe('2026-11-25T12:00:00.000000001Z');
    expect(b > a).toBe(true);
  });
});
