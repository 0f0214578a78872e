// An agent's HelmRelease action held for approval, with the real source- and helm-controller: a
// FluxActionPolicy requires approval for HelmReleases asked for through MCP; the agent's
// reconcile_flux_helmrelease call answers at once that the request awaits approval, naming it, and
// Flux is not touched; the requester (the adapter's ServiceAccount, here also an approver) may not
// approve its own request; an SRE approves it through the code path of `fluxact approve`; then
// helm-controller installs the new chart version and the request Succeeds with its outcome.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { ApprovedCondition, ConditionStatus, EventReason, ProgressReason, SuccessReason } from '../../src/api/conditions.js';
import { Group, Version } from '../../src/api/types.js';
import { RequestService } from '../../src/client/requests.js';
import { PolicyPlural } from '../../src/policy/types.js';
import {
  apply,
  clusterSources,
  configMapData,
  fluxObject,
  readRequest,
  startE2eEnvironment,
  waitForFlux,
  type E2eEnvironment,
  type Outcome,
} from '../support/e2e.js';
import { getFluxObject, OperatorNamespace, requestEvents, serviceAccountKubeConfig, waitForPhase } from '../support/harness.js';
import { randomSuffix, waitFor } from '../support/kube.js';
import { McpServiceAccount, textOf } from '../support/mcp.js';
import { deploymentTemplate, type HelmRepo } from '../support/sources.js';
import { bindRole, impersonatedKubeConfig, refusal } from '../support/users.js';

const templates = {
  'configmap.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-version
data:
  chart: {{ .Chart.Version | quote }}
`,
  'deployment.yaml': deploymentTemplate('web', 'registry.invalid/web'),
};

interface History {
  chartVersion?: string;
}
const history = (obj: { status?: Record<string, unknown> }): History[] => (obj.status?.['history'] as History[] | undefined) ?? [];

const agent = `system:serviceaccount:${OperatorNamespace}:${McpServiceAccount}`;
const sre = `sre-${randomSuffix()}`;

let env: E2eEnvironment;
let charts: HelmRepo;
let chart: string;
/** The agent's answer: the request it created, held for approval. */
let held: Outcome & { awaitingApproval?: boolean; approvalExpiresAt?: string; policy?: string; requestedBy?: string };
let heldText: string;
let answeredMs: number;

beforeAll(async () => {
  env = await startE2eEnvironment('e2e-approval');
  chart = `web-${env.ns}`;
  charts = clusterSources().helmRepo();
  await charts.publishChart({ name: chart, version: '0.1.0', appVersion: '1.0.0', templates });
  await apply(env.kc, fluxObject('HelmRepository', env.ns, 'charts', { interval: '1h', url: charts.url }));
  await apply(
    env.kc,
    fluxObject('HelmRelease', env.ns, 'web', {
      interval: '1h',
      chart: { spec: { chart, version: '*', interval: '1h', sourceRef: { kind: 'HelmRepository', name: 'charts' } } },
    }),
  );
  await waitForFlux(env.kc, 'HelmRelease', env.ns, 'web', 'to install 0.1.0', (hr) => history(hr)[0]?.chartVersion === '0.1.0');
  await env.kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
    group: Group,
    version: Version,
    plural: PolicyPlural,
    namespace: env.ns,
    body: {
      apiVersion: `${Group}/${Version}`,
      kind: 'FluxActionPolicy',
      metadata: { name: 'guardrails' },
      spec: {
        rules: [
          {
            name: 'agents-need-approval',
            match: { origins: ['mcp'], kinds: ['HelmRelease'] },
            effect: 'RequireApproval',
            approvalTimeout: '30m',
            message: "agents' HelmRelease actions need an SRE's approval",
          },
        ],
      },
    },
  });
  await bindRole(env.kc, env.ns, sre, { kind: 'ClusterRole', name: 'fluxact-approver' });
  // The adapter's ServiceAccount may approve in this namespace too: only self-approval stops it.
  await bindRole(env.kc, env.ns, agent, { kind: 'ClusterRole', name: 'fluxact-approver' });

  // A new chart version, which only a reconcile with source installs.
  await charts.publishChart({ name: chart, version: '0.2.0', appVersion: '1.1.0', templates });
  const started = Date.now();
  const result = await env.mcp.client.callTool(
    { name: 'reconcile_flux_helmrelease', arguments: { name: 'web', namespace: env.ns, with_source: true, wait_timeout: '5m' } },
    undefined,
    { timeout: 6 * 60_000 },
  );
  answeredMs = Date.now() - started;
  held = result.structuredContent as typeof held;
  heldText = textOf(result);
}, 300_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await env?.stop();
});

describe('an agent’s HelmRelease reconcile under a policy that requires approval', () => {
  it('is answered at once, without waiting out wait_timeout: awaiting approval, with the rule, the deadline and the request’s name', () => {
    expect(answeredMs).toBeLessThan(60_000);
    expect(held).toMatchObject({
      phase: 'Pending',
      reason: ProgressReason.AwaitingApproval,
      awaitingApproval: true,
      requestedBy: agent,
      policy: `FluxActionPolicy ${env.ns}/guardrails rule agents-need-approval`,
    });
    expect(held.request).toMatch(new RegExp(`^${env.ns}/`));
    expect(Date.parse(held.approvalExpiresAt!)).toBeGreaterThan(Date.now() + 25 * 60_000);
    const [, name] = held.request.split('/');
    expect(heldText).toContain(`requires a person with verb approve on fluxactionrequests in namespace ${env.ns} (not the requester)`);
    expect(heldText).toContain(`get_flux_action_request name=${name} namespace=${env.ns}`);
  });

  it('leaves Flux untouched while it waits: no token written, the old chart version still installed', async () => {
    const request = await readRequest(env.kc, held.request);
    expect(request.status?.phase).toBe('Pending');
    expect(request.status?.token).toBeUndefined();
    expect(request.status?.startTime).toBeUndefined();
    const hr = await getFluxObject(env.kc, 'HelmRelease', env.ns, 'web');
    expect(hr.metadata.annotations?.['reconcile.fluxcd.io/requestedAt']).toBeUndefined();
    expect(history(hr)[0]?.chartVersion).toBe('0.1.0');
  });

  it('may not be approved by its requester, the adapter’s ServiceAccount, though it holds verb approve', async () => {
    const asAgent = new RequestService({ kc: await serviceAccountKubeConfig(env.kc, OperatorNamespace, McpServiceAccount) });
    const [namespace, name] = held.request.split('/') as [string, string];
    const refused = await refusal(asAgent.decide(namespace, name, 'approve'));
    expect(refused.code).toBe(403);
    expect(refused.message).toContain(
      `${agent} asked for this action and may not approve or reject it: someone else with verb approve on fluxactionrequests in namespace ${env.ns} must decide`,
    );
    const request = await readRequest(env.kc, held.request);
    expect(request.metadata.annotations?.['fluxaction.io/approved-by']).toBeUndefined();
  });

  it('runs once an SRE approves it (fluxact approve), and Succeeds with helm-controller’s outcome', async () => {
    const [namespace, name] = held.request.split('/') as [string, string];
    const decided = await new RequestService({ kc: impersonatedKubeConfig(env.kc, sre) }).decide(namespace, name, 'approve');
    expect(decided.by).toBe(sre);
    const done = await waitForPhase(env.kc, namespace, name, 'Succeeded', 120_000);
    expect(done.status?.approval?.approvedBy).toBe(sre);
    expect(done.status?.conditions?.find((c) => c.type === ApprovedCondition)?.status).toBe(ConditionStatus.True);
    expect(done.status?.target?.revision).toBe('0.2.0');
    expect(done.status?.source?.revision).toMatch(/^0\.2\.0/);
    const hr = await getFluxObject(env.kc, 'HelmRelease', env.ns, 'web');
    expect(history(hr)[0]?.chartVersion).toBe('0.2.0');
    expect(hr.status?.lastHandledReconcileAt).toBe(done.status?.token);
    expect(await configMapData(env.kc, env.ns, 'web-version')).toEqual({ chart: '0.2.0' });
    // The agent sees the outcome, and who approved, when it follows up.
    const followed = await env.mcp.client.callTool({ name: 'get_flux_action_request', arguments: { name, namespace } });
    expect(followed.structuredContent).toMatchObject({
      phase: 'Succeeded',
      reason: SuccessReason.Succeeded,
      approvedBy: sre,
      revision: '0.2.0',
    });
    // The story in Events: held, approved, carried out.
    // The outcome Event follows the status write that the MCP answer above read.
    const reasons = await waitFor('the outcome event', async () => {
      const list = (await requestEvents(env.kc, namespace, name)).map((e) => e.reason);
      return list.includes(EventReason.Succeeded) ? list : undefined;
    });
    expect(reasons).toEqual(
      expect.arrayContaining([EventReason.AwaitingApproval, EventReason.Approved, EventReason.Requested, EventReason.Succeeded]),
    );
    expect(reasons.indexOf(EventReason.AwaitingApproval)).toBeLessThan(reasons.indexOf(EventReason.Approved));
    expect(reasons.indexOf(EventReason.Approved)).toBeLessThan(reasons.indexOf(EventReason.Requested));
  });
});
