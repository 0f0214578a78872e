// get_flux_instance's summary: counting Flux objects by state and saying plainly what is missing.
import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../../src/kube/object.js';
import { countObjects, formatFluxHealth, type FluxHealth } from '../../../src/mcp/toolsets/flux-instance.js';

function ks(
  name: string,
  ready: 'True' | 'False' | 'Unknown' | undefined,
  init: { suspend?: boolean; annotations?: Record<string, string>; reason?: string; message?: string; since?: string } = {},
): KubeObject {
  return {
    kind: 'Kustomization',
    metadata: { name, namespace: 'apps', ...(init.annotations ? { annotations: init.annotations } : {}) },
    spec: { suspend: init.suspend ?? false },
    status: ready
      ? {
          conditions: [
            {
              type: 'Ready',
              status: ready,
              reason: init.reason ?? 'R',
              message: init.message ?? '',
              lastTransitionTime: init.since ?? '2026-01-01T00:00:00Z',
            },
          ],
        }
      : {},
  };
}

describe('countObjects', () => {
  it('counts ready, failing, suspended and the rest', () => {
    const counts = countObjects('Kustomization', 'kustomize.toolkit.fluxcd.io/v1', [
      ks('a', 'True'),
      ks('b', 'False', { reason: 'BuildFailed', message: 'kustomize build failed' }),
      ks('c', 'False', { suspend: true }),
      ks('e', 'Unknown'),
      ks('f', undefined),
    ]);
    expect(counts).toMatchObject({ total: 5, ready: 1, failing: 1, suspended: 1, other: 2 });
    expect(counts.failures).toEqual([
      { object: 'apps/b', reason: 'BuildFailed', message: 'kustomize build failed', since: '2026-01-01T00:00:00Z' },
    ]);
  });

  it("reads suspension by each kind's own rule, as the operator does", () => {
    const disabled = { annotations: { 'fluxcd.controlplane.io/reconcile': 'disabled' } };
    const counts = (kind: string, apiVersion: string, objects: KubeObject[]) =>
      countObjects(
        kind,
        apiVersion,
        objects.map((o) => ({ ...o, kind })),
      );
    // flux-operator's kinds, in the kinds table or not (FluxReport), are suspended by its annotation.
    expect(counts('ResourceSet', 'fluxcd.controlplane.io/v1', [ks('rs', 'True', disabled)])).toMatchObject({ suspended: 1 });
    expect(counts('FluxReport', 'fluxcd.controlplane.io/v1', [ks('flux', 'True', disabled)])).toMatchObject({ suspended: 1 });
    // They have no spec.suspend: a ResourceSet that sets it is still reconciled.
    expect(counts('ResourceSet', 'fluxcd.controlplane.io/v1', [ks('rs', 'True', { suspend: true })])).toMatchObject({ ready: 1 });
  });

  it("does not hide a failing Kustomization behind flux-operator's annotation, which kustomize-controller ignores", () => {
    const counts = countObjects('Kustomization', 'kustomize.toolkit.fluxcd.io/v1', [
      ks('web', 'False', { reason: 'BuildFailed', annotations: { 'fluxcd.controlplane.io/reconcile': 'disabled' } }),
    ]);
    expect(counts).toMatchObject({ failing: 1, suspended: 0 });
    expect(counts.failures.map((f) => f.object)).toEqual(['apps/web']);
  });

  it('names the newest failures first, up to the cap, on one line each', () => {
    const counts = countObjects(
      'Kustomization',
      'kustomize.toolkit.fluxcd.io/v1',
      [
        ks('old', 'False', { since: '2026-01-01T00:00:00Z' }),
        ks('new', 'False', { since: '2026-01-03T00:00:00Z', message: 'line one\n  line two' }),
        ks('mid', 'False', { since: '2026-01-02T00:00:00Z' }),
      ],
      2,
    );
    expect(counts.failing).toBe(3);
    expect(counts.failures.map((f) => f.object)).toEqual(['apps/new', 'apps/mid']);
    expect(counts.failures[0]!.message).toBe('line one line two');
  });
});

describe('formatFluxHealth', () => {
  const health: FluxHealth = {
    operatorCrds: false,
    instances: [],
    controllers: [],
    crds: [{ kind: 'Kustomization', group: 'kustomize.toolkit.fluxcd.io', versions: ['v1 (storage)', 'v1beta2 (deprecated)'] }],
    kinds: [
      {
        ...countObjects(
          'Kustomization',
          'kustomize.toolkit.fluxcd.io/v1',
          [ks('b', 'False', { reason: 'BuildFailed', message: 'no kustomization.yaml' })],
          1,
        ),
      },
      { ...countObjects('Bucket', 'source.toolkit.fluxcd.io/v1', []) },
      { ...countObjects('ArtifactGenerator', 'source.extensions.fluxcd.io/v1beta1', []), error: 'not readable' },
    ],
  };

  it('says plainly when no controller runs and the Flux Operator is absent', () => {
    const text = formatFluxHealth(health);
    expect(text.split('\n')[0]).toBe('Flux: no controller Deployments; 1 Flux CRDs installed; 1 Flux objects, 1 failing.');
    expect(text).toContain('Unless the controllers run outside the cluster, nothing reconciles the Flux objects below');
    expect(text).toContain('Flux Operator:\n  not installed (no FluxInstance CRD)');
  });

  it('lists CRD versions, counts per kind with the failing ones named, empty kinds on one line, and unreadable kinds', () => {
    const text = formatFluxHealth(health);
    expect(text).toContain('  Kustomization (kustomize.toolkit.fluxcd.io): v1 (storage), v1beta2 (deprecated)');
    expect(text).toContain(
      '  Kustomization (kustomize.toolkit.fluxcd.io/v1): 1 total, 0 ready, 1 failing, 0 suspended\n    failing: apps/b: BuildFailed: no kustomization.yaml',
    );
    expect(text).toContain('  no objects: Bucket');
    expect(text).toContain('  ArtifactGenerator (source.extensions.fluxcd.io/v1beta1): not readable');
  });

  it('shows controllers with their readiness and images', () => {
    const text = formatFluxHealth({
      ...health,
      controllers: [
        {
          namespace: 'flux-system',
          name: 'kustomize-controller',
          images: ['ghcr.io/fluxcd/kustomize-controller:v1.7.3'],
          readyReplicas: 1,
          replicas: 1,
        },
      ],
    });
    expect(text.split('\n')[0]).toMatch(/^Flux: 1\/1 controller Deployments ready;/);
    expect(text).toContain('  flux-system/kustomize-controller: 1/1 ready; ghcr.io/fluxcd/kustomize-controller:v1.7.3');
  });
});
