// The fluxact client commands as users run them: the built CLI (dist/) as a child process against
// the test cluster, with the operator and the Flux simulator running in this process. Requests are
// created as alice and decided as bob (impersonated with --as), held by a FluxActionPolicy.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { ProgressReason } from '../../src/api/conditions.js';
import { Group, OriginLabel, Plural, RequestedByAnnotation, Version, type FluxActionRequest } from '../../src/api/types.js';
import { fluxKind } from '../../src/flux/kinds.js';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import { createFluxObject, createPolicy, readyReason, startOperatorEnvironment, type OperatorEnvironment } from '../support/harness.js';
import {
  Escape,
  fluxact as runFluxact,
  fluxactOnTerminal,
  startFluxact as startCli,
  writeKubeconfig,
  type CliResult,
} from '../support/cli.js';
import { randomSuffix, waitFor } from '../support/kube.js';
import { bindRole } from '../support/users.js';
import { parse } from 'yaml';

let env: OperatorEnvironment;
let kubeconfig: string;
const run = randomSuffix();
const alice = `alice-${run}`;
const bob = `bob-${run}`;

/** Runs fluxact with stdout and stderr piped. */
const fluxact = (args: string[]): Promise<CliResult> => runFluxact(kubeconfig, args);
/** Starts fluxact in the background. */
const startFluxact = (args: string[]): ReturnType<typeof startCli> => startCli(kubeconfig, args);

async function cliRequests(target: string): Promise<FluxActionRequest[]> {
  const list = (await env.kc.makeApiClient(k8s.CustomObjectsApi).listNamespacedCustomObject({
    group: Group,
    version: Version,
    plural: Plural,
    namespace: env.ns,
    labelSelector: `${OriginLabel}=cli`,
  })) as { items: FluxActionRequest[] };
  return list.items.filter((r) => r.spec.target.name === target);
}

/** The one request the CLI created for target, once it awaits approval. */
function awaitingRequest(target: string): Promise<FluxActionRequest> {
  return waitFor(`the request for ${target} to await approval`, async () =>
    (await cliRequests(target)).find((r) => readyReason(r) === ProgressReason.AwaitingApproval),
  );
}

beforeAll(async () => {
  env = await startOperatorEnvironment('cli-client');
  kubeconfig = writeKubeconfig(env.kc);
  await bindRole(env.kc, env.ns, alice, { kind: 'ClusterRole', name: 'fluxact-requester' });
  await bindRole(env.kc, env.ns, bob, { kind: 'ClusterRole', name: 'fluxact-approver' });
  // alice may approve too, but not her own requests: admission says so.
  await bindRole(env.kc, env.ns, alice, { kind: 'ClusterRole', name: 'fluxact-approver' });
  await createPolicy(env.kc, env.ns, 'cli-guardrails', [
    {
      name: 'held',
      match: { kinds: ['HelmRelease'], names: ['held-*'] },
      effect: 'RequireApproval',
      approvalTimeout: '1h',
      message: 'held HelmReleases need an approval',
    },
  ]);
  await createFluxObject(env.kc, 'Kustomization', env.ns, 'app', { annotations: { [SimAnnotation.revision]: 'main@sha1:1a2b3c' } });
  await createFluxObject(env.kc, 'Kustomization', env.ns, 'broken', {
    annotations: {
      [SimAnnotation.outcome]: 'Failed',
      [SimAnnotation.reason]: 'BuildFailed',
      [SimAnnotation.message]: 'kustomize build failed: accumulating resources',
    },
  });
  // A chain whose middle fails: ch-base ← ch-mid ← ch-top.
  await createFluxObject(env.kc, 'Kustomization', env.ns, 'ch-base', { annotations: { [SimAnnotation.revision]: 'main@sha1:base' } });
  await createFluxObject(env.kc, 'Kustomization', env.ns, 'ch-mid', {
    spec: { dependsOn: [{ name: 'ch-base' }] },
    annotations: {
      [SimAnnotation.outcome]: 'Failed',
      [SimAnnotation.reason]: 'HealthCheckFailed',
      [SimAnnotation.message]: 'db not ready',
    },
  });
  await createFluxObject(env.kc, 'Kustomization', env.ns, 'ch-top', { spec: { dependsOn: [{ name: 'ch-mid' }] } });
  for (const name of ['held-web', 'held-api', 'held-slow'])
    await createFluxObject(env.kc, 'HelmRelease', env.ns, name, { annotations: { [SimAnnotation.revision]: '6.5.4' } });
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await env?.stop();
});

describe('fluxact reconcile', () => {
  it('follows a request to Succeeded: a line per transition, the revision, exit code 0', async () => {
    const { code, stdout, stderr } = await fluxact(['reconcile', 'ks', 'app', '-n', env.ns]);
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^► Reconcile Kustomization .+\/app: request cli-reconcile-kustomization-app-[0-9a-f]{6} created$/m);
    expect(stderr).toMatch(/^\[ *\d+\.\d+s\] Running Progressing: /m);
    expect(stderr).toMatch(/^\[ *\d+\.\d+s\] Succeeded: Kustomization .+\/app: applied revision main@sha1:1a2b3c$/m);
    expect(stderr).toContain(`✔ Kustomization ${env.ns}/app: applied revision main@sha1:1a2b3c`);
    // Piped: plain lines, no live line.
    expect(stderr).not.toContain(Escape);
  });

  it('prints one line per step transition with --with-dependencies, and exits 1 at the failed step', async () => {
    const { code, stderr } = await fluxact(['reconcile', 'ks', 'ch-top', '-n', env.ns, '--with-dependencies']);
    expect(code).toBe(1);
    const steps = stderr.split('\n').filter((l) => / {3}step \d\/\d /.test(l));
    expect(steps.map((l) => l.replace(/^\[ *\d+\.\d+s\] {3}/, '')).filter((l) => !l.endsWith(': Running'))).toEqual([
      `step 1/3 Dependency Kustomization ${env.ns}/ch-base: Succeeded main@sha1:base`,
      `step 2/3 Dependency Kustomization ${env.ns}/ch-mid: Failed: db not ready`,
    ]);
    expect(stderr).not.toContain('step 3/3');
    expect(stderr).toContain(`✗ dependency Kustomization ${env.ns}/ch-mid: HealthCheckFailed: db not ready; 1 later step was not started`);
  });

  it("exits 1 with Flux's message on stderr when the reconcile fails", async () => {
    const { code, stderr } = await fluxact(['reconcile', 'kustomization', 'broken', '-n', env.ns]);
    expect(code).toBe(1);
    expect(stderr).toContain(`✗ Kustomization ${env.ns}/broken: BuildFailed: kustomize build failed: accumulating resources`);
  });

  it('prints the final request as JSON on stdout with -o json, stamped origin cli and requested-by', async () => {
    const { code, stdout } = await fluxact(['reconcile', 'ks', 'app', '-n', env.ns, '-o', 'json', '--as', alice]);
    expect(code).toBe(0);
    const request = JSON.parse(stdout) as FluxActionRequest;
    expect(request.kind).toBe('FluxActionRequest');
    expect(request.status?.phase).toBe('Succeeded');
    expect(request.status?.target?.revision).toBe('main@sha1:1a2b3c');
    expect(request.metadata.labels?.[OriginLabel]).toBe('cli');
    expect(request.metadata.annotations?.[RequestedByAnnotation]).toBe(alice);
    // The API server names a write's field manager after its client's User-Agent: the CLI created
    // the request, the operator wrote its status and the Kustomization's requestedAt.
    const custom = env.kc.makeApiClient(k8s.CustomObjectsApi);
    const managers = (object: k8s.KubernetesObject): string[] =>
      (object.metadata?.managedFields ?? []).map((m) => `${m.manager} ${m.operation} ${m.subresource ?? ''}`.trim());
    const stored = (await custom.getNamespacedCustomObject({
      group: Group,
      version: Version,
      namespace: env.ns,
      plural: Plural,
      name: request.metadata.name,
    })) as k8s.KubernetesObject;
    expect(managers(stored).sort()).toEqual(['flux-action-operator Update status', 'fluxact Update']);
    const ks = fluxKind('Kustomization')!;
    const target = (await custom.getNamespacedCustomObject({
      group: ks.group,
      version: ks.versions[0]!,
      namespace: env.ns,
      plural: ks.plural,
      name: 'app',
    })) as k8s.KubernetesObject;
    const annotations = target.metadata?.managedFields?.filter((m) =>
      JSON.stringify(m.fieldsV1).includes('reconcile.fluxcd.io/requestedAt'),
    );
    expect(annotations?.map((m) => m.manager)).toEqual(['flux-action-operator']);
  });

  it('returns once the request exists with --no-wait, printing it as YAML with -o yaml', async () => {
    const { code, stdout, stderr } = await fluxact(['resume', 'ks', 'app', '-n', env.ns, '--no-wait', '-o', 'yaml']);
    expect(code).toBe(0);
    const request = parse(stdout) as FluxActionRequest;
    expect(request.spec).toMatchObject({ action: 'Resume', target: { kind: 'Kustomization', name: 'app' } });
    expect(request.status?.phase).toBeUndefined();
    expect(stderr).toContain(`not waiting; follow it with: fluxact describe ${request.metadata.name} -n ${env.ns}`);
  });

  it('draws a live line on a terminal', async () => {
    const { code, stdout } = await fluxactOnTerminal(kubeconfig, ['reconcile', 'ks', 'app', '-n', env.ns]);
    expect(code).toBe(0);
    // ora hides the cursor, redraws the line in place and shows it again.
    expect(stdout).toContain(`${Escape}[?25l`);
    expect(stdout).toContain(`Reconcile Kustomization ${env.ns}/app: `);
    expect(stdout).toContain('applied revision main@sha1:1a2b3c');
  });

  it.each([
    [['reconcile', 'ks', 'app', '--bogus'], 'fluxact: Unknown argument: bogus'],
    [['reconcile', 'widget', 'app'], 'fluxact: unknown kind "widget": use kustomization|ks'],
    [['reconcile', 'hr'], 'fluxact: say the name of the HelmRelease to reconcile: fluxact reconcile KIND NAME'],
    [['reconcile', 'ks', 'app', '--timeout', 'soon'], 'fluxact: --timeout: expected a duration such as 90s or 5m, at most 1h, got "soon"'],
  ])('refuses bad usage %j with one line and exit code 2', async (args, message) => {
    const { code, stdout, stderr } = await fluxact([...args, '-n', env.ns]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
    expect(stderr).toContain(message);
  });
});

describe('a request held for approval', () => {
  it('says who may approve it and until when, waits, and succeeds once bob approves', async () => {
    const cli = startFluxact(['reconcile', 'hr', 'held-web', '-n', env.ns, '--as', alice]);
    const request = await awaitingRequest('held-web');
    await waitFor('the CLI to say it awaits approval', () => (cli.stderr().includes('awaiting approval until') ? true : undefined));
    expect(cli.stderr()).toContain(`fluxact approve ${request.metadata.name} -n ${env.ns}`);

    const approved = await fluxact(['approve', request.metadata.name, '-n', env.ns, '--as', bob]);
    expect(approved.code).toBe(0);
    expect(approved.stderr).toBe(`approved request ${env.ns}/${request.metadata.name} as ${bob}\n`);
    const { code, stderr } = await cli.done;
    expect(code).toBe(0);
    expect(stderr).toContain(`✔ HelmRelease ${env.ns}/held-web: `);
    expect(stderr).toContain('6.5.4');
  });

  it("passes admission's refusal on as one line (no self-rejection), then fails once bob rejects", async () => {
    const cli = startFluxact(['reconcile', 'hr', 'held-api', '-n', env.ns, '--as', alice]);
    const request = await awaitingRequest('held-api');
    const own = await fluxact(['reject', request.metadata.name, '-n', env.ns, '--as', alice]);
    expect(own.code).toBe(1);
    expect(own.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
    expect(own.stderr).toMatch(new RegExp(`^fluxact: .*${alice} asked for this action and may not approve or reject it: someone else`));

    const rejected = await fluxact(['reject', request.metadata.name, '-n', env.ns, '--as', bob]);
    expect(rejected.code).toBe(0);
    const { code, stderr } = await cli.done;
    expect(code).toBe(1);
    expect(stderr).toContain(`✗ rejected by ${bob}`);
  });

  it('gives up after --timeout with exit code 1, the request still waiting', async () => {
    const { code, stderr } = await fluxact(['reconcile', 'hr', 'held-slow', '-n', env.ns, '--as', alice, '--timeout', '1s']);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /fluxact: timed out after \d+s waiting for request cli-reconcile-helmrelease-held-slow-[0-9a-f]{6} \(Pending\); it keeps running/,
    );
    const [request] = await cliRequests('held-slow');
    expect(request?.status?.phase).toBe('Pending');
  });
});

describe('fluxact get and describe', () => {
  it('lists the requests of a namespace as a table', async () => {
    const { code, stdout } = await fluxact(['get', 'requests', '-n', env.ns]);
    expect(code).toBe(0);
    const [header, ...rows] = stdout.trimEnd().split('\n');
    expect(header).toMatch(/^NAME +ACTION +KIND +TARGET +PHASE +REASON +APPROVAL +AGE$/);
    expect(
      rows.some((r) => /^cli-reconcile-kustomization-app-\S+ +Reconcile +Kustomization +app +Succeeded +Succeeded +\d+[smh]$/.test(r)),
    ).toBe(true);
  });

  it('lists every namespace with -A', async () => {
    const { code, stdout } = await fluxact(['get', '-A']);
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toMatch(/^NAMESPACE +NAME +ACTION/);
    expect(stdout).toContain(`${env.ns} `);
  });

  it("shows a request's status, conditions and events", async () => {
    const [request] = await cliRequests('broken');
    const { code, stdout } = await fluxact(['describe', request?.metadata.name ?? '', '-n', env.ns]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Phase: +Failed$/m);
    expect(stdout).toMatch(/^Origin: +cli$/m);
    expect(stdout).toMatch(/^ {2}Ready +False +ReconciliationFailed +Kustomization .+\/broken: BuildFailed/m);
    expect(stdout).toMatch(/^Events:\n(?:.*\n)*? {2}Warning +Failed +/m);
  });

  it('says so in one line, exit code 1, for a request that does not exist', async () => {
    const { code, stderr } = await fluxact(['describe', 'nope', '-n', env.ns]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^fluxact: .*"nope" not found\n$/);
  });
});
