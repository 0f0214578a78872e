// FluxActionPolicies enforced by the operator, against the real API server with the Flux simulator:
// a rule that holds an agent's HelmRelease action for approval (approved, rejected, expired), a
// freeze that denies, a rate limit, and a policy that cannot be used failing closed. Requests are
// created by alice and decided by bob, played by impersonation, so admission fills in who asked and
// checks who approves. A denied or waiting request never touches Flux.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { ApprovedCondition, FailureReason, ProgressReason, SuccessReason } from '../../src/api/conditions.js';
import { ApprovedByAnnotation, Group, OriginLabel, RejectedByAnnotation, Version } from '../../src/api/types.js';
import { PolicyPlural } from '../../src/policy/types.js';
import type { FluxSimulator } from '../simulator/flux-simulator.js';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import {
  createFluxObject,
  ensureInstalled,
  getRequest,
  readyReason,
  requestEvents,
  startOperator,
  startSimulator,
  waitForPhase,
  type TestOperator,
} from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, randomSuffix, waitFor } from '../support/kube.js';
import { bindRole, createRequestAs, impersonatedKubeConfig, patchAnnotations } from '../support/users.js';

let admin: k8s.KubeConfig;
let alice: k8s.KubeConfig;
let bob: k8s.KubeConfig;
let ns: string;
let brokenNs: string;
let operator: TestOperator;
let simulator: FluxSimulator;
const run = randomSuffix();
const aliceName = `alice-${run}`;
const bobName = `bob-${run}`;
const mcp = { [OriginLabel]: 'mcp' };

const guardrails = {
  apiVersion: `${Group}/${Version}`,
  kind: 'FluxActionPolicy',
  metadata: { name: 'guardrails' },
  spec: {
    rules: [
      {
        name: 'quick-approval',
        match: { origins: ['mcp'], kinds: ['HelmRelease'], names: ['quick-*'] },
        effect: 'RequireApproval',
        approvalTimeout: '2s',
        message: 'a quick decision is needed',
      },
      {
        name: 'agents-need-approval',
        match: { origins: ['mcp'], kinds: ['HelmRelease'], actions: ['Reconcile', 'Suspend', 'Resume'] },
        effect: 'RequireApproval',
        approvalTimeout: '1h',
        message: "agents' HelmRelease actions need an SRE's approval",
      },
      { name: 'freeze', match: { names: ['prod-*'] }, effect: 'Deny', message: 'production is frozen' },
      { name: 'not-too-often', match: { kinds: ['GitRepository'] }, rateLimit: { count: 1, per: '1h' } },
    ],
  },
};

function createPolicy(namespace: string, body: Record<string, unknown>): Promise<unknown> {
  return admin
    .makeApiClient(k8s.CustomObjectsApi)
    .createNamespacedCustomObject({ group: Group, version: Version, plural: PolicyPlural, namespace, body });
}

function ask(name: string, kind: string, target: string, labels?: Record<string, string>, namespace = ns): Promise<unknown> {
  return createRequestAs(alice, namespace, name, {
    spec: { action: 'Reconcile', target: { kind, name: target } },
    ...(labels ? { labels } : {}),
  });
}

beforeAll(async () => {
  admin = adminKubeConfig();
  await ensureInstalled();
  alice = impersonatedKubeConfig(admin, aliceName);
  bob = impersonatedKubeConfig(admin, bobName);
  ns = await createNamespace(admin, 'policy-enforcement');
  brokenNs = await createNamespace(admin, 'policy-broken');
  for (const namespace of [ns, brokenNs]) {
    await bindRole(admin, namespace, aliceName, { kind: 'ClusterRole', name: 'fluxact-requester' });
    await bindRole(admin, namespace, bobName, { kind: 'ClusterRole', name: 'fluxact-approver' });
  }
  await createPolicy(ns, guardrails);
  // Admitted (the schema cannot know time zones), but unusable: it must deny, not be skipped.
  await createPolicy(brokenNs, {
    ...guardrails,
    metadata: { name: 'typo' },
    spec: { rules: [{ name: 'freeze', match: {}, windows: [{ schedule: '0 16 * * 5', duration: '64h', timeZone: 'Europe/Berln' }] }] },
  });
  operator = await startOperator({ watchNamespace: undefined, crossNamespaceFrom: [] });
  simulator = await startSimulator({ namespaces: [ns, brokenNs] });
  for (const name of ['web', 'quick-web', 'rejected-web']) {
    await createFluxObject(admin, 'HelmRelease', ns, name, { annotations: { [SimAnnotation.revision]: '6.5.4' } });
  }
  await createFluxObject(admin, 'Kustomization', ns, 'prod-app');
  await createFluxObject(admin, 'GitRepository', ns, 'repo');
  await createFluxObject(admin, 'Kustomization', brokenNs, 'app');
});

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed */
  await operator?.stop();
  await simulator?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
  await deleteNamespace(admin, ns);
  await deleteNamespace(admin, brokenNs);
});

describe('a rule that requires approval', () => {
  it('holds the request Pending, Flux untouched, until an approver approves; then it runs', async () => {
    await ask('agent-reconciles-web', 'HelmRelease', 'web', mcp);
    const waiting = await waitFor('the request to await approval', async () => {
      const request = await getRequest(admin, ns, 'agent-reconciles-web');
      return readyReason(request) === ProgressReason.AwaitingApproval ? request : undefined;
    });
    expect(waiting.status?.phase).toBe('Pending');
    expect(waiting.status?.startTime).toBeUndefined();
    expect(waiting.status?.policy).toEqual({
      kind: 'FluxActionPolicy',
      namespace: ns,
      name: 'guardrails',
      rule: 'agents-need-approval',
      effect: 'RequireApproval',
    });
    expect(waiting.status?.conditions?.find((c) => c.type === ApprovedCondition)).toMatchObject({
      status: 'Unknown',
      reason: ProgressReason.AwaitingApproval,
    });
    expect(waiting.status?.message).toContain("agents' HelmRelease actions need an SRE's approval");
    expect(simulator.record('HelmRelease', ns, 'web').requestedAt).toEqual([]);

    await patchAnnotations(bob, ns, 'agent-reconciles-web', { [ApprovedByAnnotation]: bobName });
    const done = await waitForPhase(admin, ns, 'agent-reconciles-web', 'Succeeded');
    expect(readyReason(done)).toBe(SuccessReason.Succeeded);
    expect(done.status?.approval?.approvedBy).toBe(bobName);
    expect(done.status?.requestedBy).toBe(aliceName);
    expect(done.status?.conditions?.find((c) => c.type === ApprovedCondition)).toMatchObject({ status: 'True', reason: 'Approved' });
    // The timeout counts from the approval: the action started after the request was created.
    expect(Date.parse(done.status?.startTime ?? '')).toBeGreaterThanOrEqual(Date.parse(String(done.metadata.creationTimestamp)));
    expect(simulator.record('HelmRelease', ns, 'web').requestedAt).toEqual([done.status?.token]);

    // The outcome Event follows the status write that the wait above saw.
    const events = await waitFor('the outcome event', async () => {
      const list = await requestEvents(admin, ns, 'agent-reconciles-web');
      return list.some((e) => e.reason === SuccessReason.Succeeded) ? list : undefined;
    });
    expect(events.map((e) => e.reason)).toEqual(['AwaitingApproval', 'Approved', 'Requested', 'Succeeded']);
    expect(events.at(-1)?.message).toContain(`(requested by ${aliceName}, approved by ${bobName})`);
    expect(events.at(-1)?.metadata.annotations).toMatchObject({
      'fluxaction.io/requested-by': aliceName,
      'fluxaction.io/approved-by': bobName,
    });
  });

  it('fails a rejected request Rejected, naming who rejected it, Flux untouched', async () => {
    await ask('agent-rejected', 'HelmRelease', 'rejected-web', mcp);
    await waitFor('the request to await approval', async () =>
      readyReason(await getRequest(admin, ns, 'agent-rejected')) === ProgressReason.AwaitingApproval ? true : undefined,
    );
    await patchAnnotations(bob, ns, 'agent-rejected', { [RejectedByAnnotation]: bobName });
    const done = await waitForPhase(admin, ns, 'agent-rejected', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.Rejected);
    expect(done.status?.message).toBe(
      `rejected by ${bobName} (FluxActionPolicy ${ns}/guardrails rule agents-need-approval requires approval)`,
    );
    expect(simulator.record('HelmRelease', ns, 'rejected-web').requestedAt).toEqual([]);
  });

  it('fails a request nobody decided on within approvalTimeout ApprovalExpired', async () => {
    await ask('agent-quick', 'HelmRelease', 'quick-web', mcp);
    const done = await waitForPhase(admin, ns, 'agent-quick', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.ApprovalExpired);
    expect(done.status?.policy?.rule).toBe('quick-approval');
    expect(simulator.record('HelmRelease', ns, 'quick-web').requestedAt).toEqual([]);
  });

  it('does not hold a request the rule does not match (a person, not an agent)', async () => {
    await ask('person-reconciles-web', 'HelmRelease', 'web');
    const done = await waitForPhase(admin, ns, 'person-reconciles-web', 'Succeeded');
    expect(done.status?.policy).toBeUndefined();
  });
});

describe('a rule that denies', () => {
  it('fails the request PolicyDenied with the rule and its message, Flux untouched', async () => {
    await ask('reconcile-prod', 'Kustomization', 'prod-app');
    const done = await waitForPhase(admin, ns, 'reconcile-prod', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.PolicyDenied);
    expect(done.status?.message).toContain(`FluxActionPolicy ${ns}/guardrails rule freeze`);
    expect(done.status?.message).toContain('production is frozen');
    expect(done.status?.policy).toMatchObject({ rule: 'freeze', effect: 'Deny' });
    expect(simulator.record('Kustomization', ns, 'prod-app').requestedAt).toEqual([]);
  });
});

describe('a rate limit', () => {
  it('lets the first action on a target through and limits the next', async () => {
    await ask('fetch-1', 'GitRepository', 'repo');
    await waitForPhase(admin, ns, 'fetch-1', 'Succeeded');
    await ask('fetch-2', 'GitRepository', 'repo');
    const limited = await waitForPhase(admin, ns, 'fetch-2', 'Failed');
    expect(readyReason(limited)).toBe(FailureReason.RateLimited);
    expect(limited.status?.message).toContain('not-too-often');
    expect(simulator.record('GitRepository', ns, 'repo').requestedAt).toHaveLength(1);
  });
});

describe('a policy that cannot be used', () => {
  it('denies every request it governs, saying why (fail closed)', async () => {
    await ask('reconcile-app', 'Kustomization', 'app', undefined, brokenNs);
    const done = await waitForPhase(admin, brokenNs, 'reconcile-app', 'Failed');
    expect(readyReason(done)).toBe(FailureReason.PolicyDenied);
    expect(done.status?.message).toContain(`FluxActionPolicy ${brokenNs}/typo cannot be used`);
    expect(done.status?.message).toContain('Europe/Berln');
    expect(simulator.record('Kustomization', brokenNs, 'app').requestedAt).toEqual([]);
  });
});
