// What `kubectl get far` shows: the CRD's printer columns, resource names and conditions, through the
// pinned kubectl on a request whose status is written here as a failed operator would write it.
// No operator runs here.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { ApprovedCondition, FailureReason, Phase, ProgressReason, ReadyCondition, StalledCondition } from '../../src/api/conditions.js';
import { Group, Plural, Version } from '../../src/api/types.js';
import { createRequest, ensureInstalled, writeRequestStatus } from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace, repoRoot, testKubeconfigPath } from '../support/kube.js';

const run = promisify(execFile);

let kc: k8s.KubeConfig;
let ns: string;
let cacheDir: string;

const name = 'reconcile-y';
const waiting = 'approve-z';
const message = 'Kustomization x/y not found';

/**
 * Runs the pinned kubectl (test/cluster/cluster.sh kubectl) against the test cluster, the one the admin
 * client talks to (kubectl's last --kubeconfig wins); rejects on a non-zero exit. Its discovery cache is
 * this file's own, so names and columns come from the CRD as installed now, not from an earlier run.
 */
async function kubectl(...args: string[]): Promise<string> {
  const flags = ['--kubeconfig', testKubeconfigPath(), '--cache-dir', cacheDir];
  const { stdout } = await run('bash', ['test/cluster/cluster.sh', 'kubectl', ...flags, ...args], {
    cwd: repoRoot,
    timeout: 30_000,
  });
  return stdout;
}

/** A kubectl table as rows of header → cell, cut at the header's column starts (cells may hold spaces). */
function parseTable(output: string): { headers: string[]; rows: Record<string, string>[] } {
  const [header, ...lines] = output.split('\n').filter((l) => l.trim() !== '');
  if (header === undefined) throw new Error('kubectl printed no table');
  const columns = [...header.matchAll(/\S+/g)].map((m) => ({ name: m[0], start: m.index }));
  const rows = lines.map((line) =>
    Object.fromEntries(columns.map((c, i) => [c.name, line.slice(c.start, columns[i + 1]?.start ?? line.length).trim()])),
  );
  return { headers: columns.map((c) => c.name), rows };
}

beforeAll(async () => {
  kc = adminKubeConfig();
  cacheDir = await mkdtemp(path.join(tmpdir(), 'fluxact-kubectl-cache-'));
  await ensureInstalled();
  ns = await createNamespace(kc, 'printer-columns');
  await createRequest(kc, ns, name, { action: 'Reconcile', target: { kind: 'Kustomization', name: 'y', namespace: 'x' } });
  // The status an operator writes when the target is missing: Failed, Ready=False and Stalled=True.
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const current = (await custom.getNamespacedCustomObject({
    group: Group,
    version: Version,
    plural: Plural,
    namespace: ns,
    name,
  })) as Record<string, unknown>;
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const condition = { reason: FailureReason.TargetNotFound, message, observedGeneration: 1, lastTransitionTime: now };
  await custom.replaceNamespacedCustomObjectStatus({
    group: Group,
    version: Version,
    plural: Plural,
    namespace: ns,
    name,
    body: {
      ...current,
      status: {
        observedGeneration: 1,
        phase: Phase.Failed,
        message,
        completionTime: now,
        conditions: [
          { ...condition, type: ReadyCondition, status: 'False' },
          { ...condition, type: StalledCondition, status: 'True' },
        ],
      },
    },
  });
  // A request a policy rule holds for approval, as the operator writes it.
  await createRequest(kc, ns, waiting, { action: 'Reconcile', target: { kind: 'HelmRelease', name: 'web' } });
  const awaiting = {
    reason: ProgressReason.AwaitingApproval,
    message: 'awaiting approval',
    observedGeneration: 1,
    lastTransitionTime: now,
  };
  await writeRequestStatus(kc, ns, waiting, {
    observedGeneration: 1,
    phase: Phase.Pending,
    message: 'awaiting approval',
    requestedBy: 'alice',
    conditions: [
      { ...awaiting, type: ApprovedCondition, status: 'Unknown' },
      { ...awaiting, type: ReadyCondition, status: 'Unknown' },
    ],
  });
});

afterAll(async () => {
  await deleteNamespace(kc, ns);
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
});

describe('kubectl get far', () => {
  it('shows NAME ACTION KIND TARGET PHASE REASON APPROVAL AGE with each request, its outcome and its approval', async () => {
    const table = parseTable(await kubectl('get', 'far', '-n', ns));
    expect(table.headers).toEqual(['NAME', 'ACTION', 'KIND', 'TARGET', 'PHASE', 'REASON', 'APPROVAL', 'AGE']);
    const age = expect.stringMatching(/^(\d+[smh])+$/);
    expect(table.rows).toEqual([
      {
        NAME: waiting,
        ACTION: 'Reconcile',
        KIND: 'HelmRelease',
        TARGET: 'web',
        PHASE: 'Pending',
        REASON: 'AwaitingApproval',
        APPROVAL: 'AwaitingApproval',
        AGE: age,
      },
      {
        NAME: name,
        ACTION: 'Reconcile',
        KIND: 'Kustomization',
        TARGET: 'y',
        PHASE: 'Failed',
        REASON: 'TargetNotFound',
        APPROVAL: '',
        AGE: age,
      },
    ]);
  });

  it('adds MESSAGE and REQUESTER with -o wide', async () => {
    const table = parseTable(await kubectl('get', 'far', '-n', ns, '-o', 'wide'));
    expect(table.headers).toEqual(['NAME', 'ACTION', 'KIND', 'TARGET', 'PHASE', 'REASON', 'APPROVAL', 'AGE', 'MESSAGE', 'REQUESTER']);
    expect(table.rows).toEqual([
      expect.objectContaining({ NAME: waiting, MESSAGE: 'awaiting approval', REQUESTER: 'alice' }),
      expect.objectContaining({ NAME: name, REASON: 'TargetNotFound', MESSAGE: message, REQUESTER: '' }),
    ]);
  });

  it.each(['far', 'fluxactionrequests', 'fluxactionrequest', 'fluxactionrequests.fluxaction.io'])(
    'answers to the resource name %s',
    async (resource) => {
      const table = parseTable(await kubectl('get', resource, name, '-n', ns));
      expect(table.rows).toEqual([expect.objectContaining({ NAME: name, PHASE: 'Failed' })]);
    },
  );

  it('lists requests in the flux category', async () => {
    const output = await kubectl('get', 'flux', '-n', ns, '-o', 'name');
    expect(output.split('\n')).toContain(`fluxactionrequest.${Group}/${name}`);
  });
});

describe('kubectl wait', () => {
  it('sees Ready=False on a failed request', async () => {
    const output = await kubectl('wait', '--for=condition=Ready=false', `far/${name}`, '-n', ns, '--timeout=10s');
    expect(output.trim()).toBe(`fluxactionrequest.${Group}/${name} condition met`);
  });
});
