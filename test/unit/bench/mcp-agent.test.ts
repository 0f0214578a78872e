// The peer benchmark's judgements of the Flux Operator MCP server's answers: when a documentation hit
// answers a relevance question, and what a get_kubernetes_resources answer says about a reconcile.
import { describe, expect, it } from '@jest/globals';
import { reconcileState, theirHitAnswers } from '../../bench/mcp-agent.js';

// A hit as flux-operator-mcp's search_flux_docs renders it (docindex.RenderHit).
const hit = (path: string, content: string): string =>
  `Title: Kustomization — Writing a Kustomization spec > Prune\nPath: ${path}\nLines: 120-135 of 1400\nContent: ${content}`;

describe('theirHitAnswers', () => {
  it("takes a section of the kind's CRD page that names the field as a code span", () => {
    const prune = hit(
      '/docs/crd/kustomization',
      '### Prune\n\n`.spec.prune` is a required boolean field to enable/disable garbage collection',
    );
    expect(theirHitAnswers(prune, 'Kustomization spec.prune')).toBe(true);
  });

  it('refuses another page, another field, or a field named only as a prefix of a longer one', () => {
    const prune = '### Prune\n\n`.spec.prune` is a required boolean field';
    expect(theirHitAnswers(hit('/docs/crd/helmrelease', prune), 'Kustomization spec.prune')).toBe(false);
    expect(theirHitAnswers(hit('/docs/crd/kustomization', prune), 'Kustomization spec.wait')).toBe(false);
    const postBuild = hit('/docs/crd/kustomization', '### Post build\n\n`.spec.postBuild` is optional');
    expect(theirHitAnswers(postBuild, 'Kustomization spec.postBuild.substitute')).toBe(false);
  });

  it('takes the "Writing a ... spec" section for the whole spec, and nothing else', () => {
    const overview = hit('/docs/crd/helmrelease', '## Writing a HelmRelease spec\n\nAs with all other Kubernetes config, ...');
    expect(theirHitAnswers(overview, 'HelmRelease spec')).toBe(true);
    expect(theirHitAnswers(hit('/docs/crd/helmrelease', '### Values\n\n`.spec.values` ...'), 'HelmRelease spec')).toBe(false);
  });
});

describe('reconcileState', () => {
  it('reads the requestedAt annotation, lastHandledReconcileAt and Ready of the named object', () => {
    const yaml = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: broken
  namespace: apps
  annotations:
    reconcile.fluxcd.io/requestedAt: "2026-11-28T20:00:00.1Z"
status:
  lastHandledReconcileAt: "2026-11-28T20:00:00.1Z"
  conditions:
    - type: Reconciling
      status: "False"
    - type: Ready
      status: "False"
      reason: ReconciliationFailed
      message: ConfigMap/apps/broken dry-run failed
`;
    expect(reconcileState(yaml, 'broken')).toEqual({
      requestedAt: '2026-11-28T20:00:00.1Z',
      lastHandledReconcileAt: '2026-11-28T20:00:00.1Z',
      ready: { type: 'Ready', status: 'False', reason: 'ReconciliationFailed', message: 'ConfigMap/apps/broken dry-run failed' },
    });
  });

  it("reads them from the Flux Operator's projection, keyed by the field expressions", () => {
    const yaml = `---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: app
  namespace: apps
metadata.annotations:
  reconcile.fluxcd.io/requestedAt: "2026-11-28T20:00:00.1Z"
status.lastHandledReconcileAt: "2026-11-28T20:00:00.1Z"
status.conditions[?(@.type=='Ready')]:
  type: Ready
  status: "True"
  reason: ReconciliationSucceeded
`;
    expect(reconcileState(yaml, 'app')).toEqual({
      requestedAt: '2026-11-28T20:00:00.1Z',
      lastHandledReconcileAt: '2026-11-28T20:00:00.1Z',
      ready: { type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded' },
    });
  });

  it('skips the documents of other objects, and says undefined when the object is not there', () => {
    const other = 'metadata:\n  name: app\nstatus:\n  lastHandledReconcileAt: x\n';
    expect(reconcileState(`${other}---\nmetadata:\n  name: broken\n`, 'broken')).toEqual({
      requestedAt: undefined,
      lastHandledReconcileAt: undefined,
      ready: undefined,
    });
    expect(reconcileState(other, 'broken')).toBeUndefined();
  });
});
