import { describe, expect, it } from '@jest/globals';
import type { FluxActionRequest, RequestStatus } from '../../../src/api/types.js';
import { MaxMessageLength, ReportingController, outcomeEvent } from '../../../src/audit/flux-events.js';
import { ApprovedByAnnotation } from '../../../src/api/types.js';

const NOW = Date.parse('2026-11-25T11:00:07.890Z');
const K = 'kustomize.toolkit.fluxcd.io';

function request(status: RequestStatus | undefined, overrides: Partial<FluxActionRequest> = {}): FluxActionRequest {
  return {
    apiVersion: 'fluxaction.io/v1alpha1',
    kind: 'FluxActionRequest',
    metadata: {
      name: 'reconcile-podinfo',
      namespace: 'apps',
      uid: 'req-uid-1',
      annotations: { 'fluxaction.io/requested-by': 'alice' },
    },
    spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'podinfo' } },
    ...(status ? { status } : {}),
    ...overrides,
  };
}

const succeeded: RequestStatus = {
  phase: 'Succeeded',
  token: '2026-11-25T11:00:00.123456789Z',
  requestedBy: 'alice',
  completionTime: '2026-11-25T11:00:05Z',
  message: 'Kustomization apps/podinfo: applied revision main@sha1:1a2b3c',
  conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: 'applied' }],
  target: {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    name: 'podinfo',
    namespace: 'apps',
    uid: 'ks-uid-1',
    revision: 'main@sha1:1a2b3c',
  },
};

const failed: RequestStatus = {
  phase: 'Failed',
  requestedBy: 'alice',
  completionTime: '2026-11-25T11:00:06Z',
  message: 'ReconciliationFailed: Kustomization apps/podinfo: kustomize build failed',
  conditions: [
    { type: 'Ready', status: 'False', reason: 'ReconciliationFailed', message: 'x' },
    { type: 'Stalled', status: 'True', reason: 'ReconciliationFailed', message: 'x' },
  ],
  token: '2026-11-25T11:00:00.123456789Z',
  target: { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', name: 'podinfo', namespace: 'apps', uid: 'ks-uid-1' },
};

const build = (r: FluxActionRequest, annotations?: Record<string, string>) =>
  outcomeEvent(r, { instance: 'op-1_abcd', now: NOW, ...(annotations ? { targetAnnotations: annotations } : {}) });

describe('outcomeEvent', () => {
  it('builds nothing for a request without an outcome', () => {
    expect(build(request(undefined))).toBeUndefined();
    expect(build(request({ phase: 'Pending' }))).toBeUndefined();
    expect(build(request({ ...succeeded, phase: 'Running' }))).toBeUndefined();
  });

  describe('involvedObject', () => {
    it('is the Flux target as the request resolved it, with its uid', () => {
      expect(build(request(succeeded))?.involvedObject).toEqual({
        kind: 'Kustomization',
        namespace: 'apps',
        name: 'podinfo',
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        uid: 'ks-uid-1',
      });
    });

    it('falls back to spec.target, the request namespace and the kinds table when the target was never read', () => {
      const notFound: RequestStatus = {
        phase: 'Failed',
        message: 'TargetNotFound: HelmRelease apps/web not found',
        conditions: [{ type: 'Ready', status: 'False', reason: 'TargetNotFound' }],
      };
      const r = request(notFound, {
        spec: { action: 'Reconcile', target: { kind: 'HelmRelease', name: 'web' } },
      });
      expect(build(r)?.involvedObject).toEqual({
        kind: 'HelmRelease',
        namespace: 'apps',
        name: 'web',
        apiVersion: 'helm.toolkit.fluxcd.io/v2',
      });
    });

    it('uses the apiVersion the request named when the target was never read', () => {
      const r = request(
        { phase: 'Failed', conditions: [{ type: 'Ready', status: 'False', reason: 'TargetNotFound' }] },
        {
          spec: {
            action: 'Suspend',
            target: { kind: 'GitRepository', name: 'repo', namespace: 'flux-system', apiVersion: 'source.toolkit.fluxcd.io/v1beta2' },
          },
        },
      );
      expect(build(r)?.involvedObject).toEqual({
        kind: 'GitRepository',
        namespace: 'flux-system',
        name: 'repo',
        apiVersion: 'source.toolkit.fluxcd.io/v1beta2',
      });
      expect(Object.keys(build(r)?.metadata ?? {})).toContain('source.toolkit.fluxcd.io/action');
    });
  });

  describe('severity and reason', () => {
    it('is info with the Ready reason for Succeeded', () => {
      const event = build(request(succeeded));
      expect(event?.severity).toBe('info');
      expect(event?.reason).toBe('Succeeded');
    });

    it('is info with reason Requested for a request that did not wait', () => {
      const event = build(request({ ...succeeded, conditions: [{ type: 'Ready', status: 'True', reason: 'Requested' }] }));
      expect(event?.severity).toBe('info');
      expect(event?.reason).toBe('Requested');
    });

    it('is error with the Ready reason for Failed', () => {
      const event = build(request(failed));
      expect(event?.severity).toBe('error');
      expect(event?.reason).toBe('ReconciliationFailed');
    });

    it('carries a governance reason such as PolicyDenied as it stands in the Ready condition', () => {
      const denied = build(request({ ...failed, conditions: [{ type: 'Ready', status: 'False', reason: 'PolicyDenied' }] }));
      expect(denied?.reason).toBe('PolicyDenied');
    });

    it('falls back to the phase when the request has no Ready condition', () => {
      expect(build(request({ phase: 'Failed', message: 'm' }))?.reason).toBe('Failed');
    });
  });

  describe('message', () => {
    it("is the request's message", () => {
      expect(build(request(failed))?.message).toBe('ReconciliationFailed: Kustomization apps/podinfo: kustomize build failed');
    });

    it("is cut to the 39000 characters Flux's Event allows", () => {
      const message = build(request({ ...failed, message: 'x'.repeat(MaxMessageLength + 10) }))?.message ?? '';
      expect(message).toHaveLength(MaxMessageLength);
      expect(message.endsWith('...')).toBe(true);
    });

    it('is empty, not missing, when the request has none (the field is required)', () => {
      expect(build(request({ phase: 'Failed' }))?.message).toBe('');
    });
  });

  describe('timestamp', () => {
    it('is the completion time in RFC 3339 whole seconds, as metav1.Time marshals', () => {
      expect(build(request(succeeded))?.timestamp).toBe('2026-11-25T11:00:05Z');
    });

    it('drops fractions of a second and converts to UTC', () => {
      expect(build(request({ ...succeeded, completionTime: '2026-11-25T12:00:05.999+01:00' }))?.timestamp).toBe('2026-11-25T11:00:05Z');
    });

    it('is now when the request has no completion time', () => {
      expect(build(request({ ...succeeded, completionTime: undefined }))?.timestamp).toBe('2026-11-25T11:00:07Z');
    });
  });

  describe('metadata', () => {
    it("carries action, requester, request, revision and token, keyed by the target's API group", () => {
      expect(build(request(succeeded))?.metadata).toEqual({
        [`${K}/action`]: 'Reconcile',
        [`${K}/requester`]: 'alice',
        [`${K}/request`]: 'apps/reconcile-podinfo',
        [`${K}/revision`]: 'main@sha1:1a2b3c',
        [`${K}/token`]: '2026-11-25T11:00:00.123456789Z/req-uid-1',
      });
    });

    it('names the approver the operator honoured (status.approval.approvedBy)', () => {
      const r = request({ ...succeeded, approval: { approvedBy: 'bob' } });
      expect(build(r)?.metadata?.[`${K}/approver`]).toBe('bob');
    });

    it('names who rejected a rejected request (status.approval.rejectedBy), and no approver', () => {
      const r = request({ ...failed, approval: { rejectedBy: 'carol' } });
      const metadata = build(r)?.metadata;
      expect(metadata?.[`${K}/rejecter`]).toBe('carol');
      expect(metadata).not.toHaveProperty([`${K}/approver`]);
    });

    it('names no rejecter when nobody rejected', () => {
      expect(build(request(failed))?.metadata).not.toHaveProperty([`${K}/rejecter`]);
    });

    it('names no approver for an approved-by annotation on a request that needed no approval', () => {
      const r = request(succeeded);
      r.metadata.annotations = { ...r.metadata.annotations, [ApprovedByAnnotation]: 'bob' };
      expect(build(r)?.metadata).not.toHaveProperty([`${K}/approver`]);
    });

    it('has no approver when nobody approved', () => {
      expect(build(request(succeeded))?.metadata).not.toHaveProperty([`${K}/approver`]);
    });

    it('takes the requester from the annotation when status has none yet', () => {
      expect(build(request({ ...failed, requestedBy: undefined }))?.metadata?.[`${K}/requester`]).toBe('alice');
    });

    it('has no requester when nobody is recorded', () => {
      const r = request({ ...failed, requestedBy: undefined });
      r.metadata.annotations = {};
      expect(build(r)?.metadata).not.toHaveProperty([`${K}/requester`]);
    });

    it('has no revision when Flux reported none', () => {
      expect(build(request({ ...succeeded, target: { ...succeeded.target, revision: undefined } }))?.metadata).not.toHaveProperty([
        `${K}/revision`,
      ]);
    });

    it("has no revision for a failed request: the target's is the one applied before, not the one that failed", () => {
      const r = request({ ...failed, target: { ...failed.target, revision: 'main@sha1:0ld' } });
      expect(build(r)?.metadata).not.toHaveProperty([`${K}/revision`]);
    });

    it('has no revision for a request that did not wait (reason Requested): Flux has not applied anything yet', () => {
      const r = request({ ...succeeded, conditions: [{ type: 'Ready', status: 'True', reason: 'Requested' }] });
      expect(build(r)?.metadata).not.toHaveProperty([`${K}/revision`]);
    });

    it('keys the token by the request uid alone when no token was recorded, so each request stays distinct', () => {
      expect(build(request({ ...failed, token: undefined }))?.metadata?.[`${K}/token`]).toBe('req-uid-1');
      const r = request({ ...failed, token: undefined });
      delete r.metadata.uid;
      expect(build(r)?.metadata?.[`${K}/token`]).toBe('apps/reconcile-podinfo');
    });

    it('gives requests that shared one Flux reconcile different tokens', () => {
      const a = build(request(succeeded));
      const b = build(request(succeeded, { metadata: { name: 'other', namespace: 'apps', uid: 'req-uid-2' } }));
      expect(a?.metadata?.[`${K}/token`]).not.toBe(b?.metadata?.[`${K}/token`]);
    });

    it("copies the target's event.toolkit.fluxcd.io/ annotations as they are, and no others", () => {
      const event = build(request(succeeded), {
        'event.toolkit.fluxcd.io/team': 'platform',
        'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
        'reconcile.fluxcd.io/requestedAt': 'x',
      });
      expect(event?.metadata?.['event.toolkit.fluxcd.io/team']).toBe('platform');
      expect(event?.metadata).not.toHaveProperty(['reconcile.fluxcd.io/requestedAt']);
      expect(event?.metadata?.[`${K}/reconcile`]).toBeUndefined();
    });

    it('uses the group of a flux-operator target', () => {
      const r = request(
        {
          ...succeeded,
          target: { apiVersion: 'fluxcd.controlplane.io/v1', kind: 'ResourceSet', name: 'apps', namespace: 'apps' },
        },
        { spec: { action: 'Suspend', target: { kind: 'ResourceSet', name: 'apps' } } },
      );
      expect(build(r)?.metadata?.['fluxcd.controlplane.io/action']).toBe('Suspend');
    });
  });

  it('reports as flux-action-operator from this replica', () => {
    const event = build(request(succeeded));
    expect(event?.reportingController).toBe(ReportingController);
    expect(event?.reportingController).toBe('flux-action-operator');
    expect(event?.reportingInstance).toBe('op-1_abcd');
  });

  it('serialises with exactly the fields of v1beta1.Event', () => {
    expect(Object.keys(JSON.parse(JSON.stringify(build(request(succeeded)))) as object).sort()).toEqual([
      'involvedObject',
      'message',
      'metadata',
      'reason',
      'reportingController',
      'reportingInstance',
      'severity',
      'timestamp',
    ]);
  });
});
