import { describe, expect, it } from '@jest/globals';
import { Phase } from '../../../src/api/conditions.js';
import { StepRole, type FluxActionRequest } from '../../../src/api/types.js';
import { objectKey } from '../../../src/flux/objects.js';
import { RequestIndex } from '../../../src/operator/request-index.js';

const ks = (name: string): string =>
  objectKey({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', namespace: 'apps', name });

function chainRequest(phase: Phase): FluxActionRequest {
  const step = (name: string, role: StepRole, token?: string) => ({
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    name,
    namespace: 'apps',
    role,
    phase: token ? Phase.Running : Phase.Pending,
    ...(token ? { token } : {}),
  });
  return {
    apiVersion: 'fluxaction.io/v1alpha1',
    kind: 'FluxActionRequest',
    metadata: { name: 'a', namespace: 'apps' },
    spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' }, withDependencies: true, force: true },
    status: {
      phase,
      steps: [step('infra', StepRole.Dependency, 'T1'), step('database', StepRole.Dependency, 'T2'), step('app', StepRole.Target)],
    },
  };
}

describe('RequestIndex with chains', () => {
  it("holds each chain step's token for the other requests, force only on the target", () => {
    const index = new RequestIndex();
    index.holdFrom('apps/a', chainRequest(Phase.Running));
    expect(index.heldTokens(ks('infra'), 'apps/b')).toEqual([{ token: 'T1', action: 'Reconcile', force: false, reset: false }]);
    expect(index.heldTokens(ks('database'), 'apps/b')).toEqual([{ token: 'T2', action: 'Reconcile', force: false, reset: false }]);
    expect(index.heldTokens(ks('app'), 'apps/b')).toEqual([]);
  });

  it('releases them when the chain finished', () => {
    const index = new RequestIndex();
    index.holdFrom('apps/a', chainRequest(Phase.Running));
    index.holdFrom('apps/a', chainRequest(Phase.Failed));
    expect(index.heldTokens(ks('infra'), 'apps/b')).toEqual([]);
  });
});
