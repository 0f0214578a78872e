// fluxact against the real Flux controllers, as a person or a pipeline runs it: a Kustomization and
// its GitRepository from the local Git server reconciled with source (the new revision, exit 0), a
// broken manifest (kustomize-controller's message on stderr, exit 1), a bad flag (exit 2), and the
// live line on a terminal.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { Group, Plural, Version } from '../../src/api/types.js';
import { Escape, fluxact, fluxactOnTerminal, writeKubeconfig } from '../support/cli.js';
import {
  brokenConfigMapManifest,
  condition,
  configMapManifest,
  type E2eEnvironment,
  gitKustomization,
  startE2eEnvironment,
} from '../support/e2e.js';
import { getFluxObject } from '../support/harness.js';
import type { GitRepo } from '../support/sources.js';

/** The requests in the test's namespace. */
async function requestsIn(env: E2eEnvironment): Promise<unknown[]> {
  const list = (await env.kc
    .makeApiClient(k8s.CustomObjectsApi)
    .listNamespacedCustomObject({ group: Group, version: Version, plural: Plural, namespace: env.ns })) as { items: unknown[] };
  return list.items;
}

let env: E2eEnvironment;
let repo: GitRepo;
let kubeconfig: string;

beforeAll(async () => {
  env = await startE2eEnvironment('e2e-cli');
  kubeconfig = writeKubeconfig(env.kc);
  repo = await gitKustomization(env);
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await env?.stop();
});

describe('fluxact with the real Flux controllers', () => {
  it('reconciles with source after a push: a line per transition, the new revision, exit 0', async () => {
    const sha = await repo.commit({ 'app/configmap.yaml': configMapManifest('two') }, 'second');
    const { code, stdout, stderr } = await fluxact(kubeconfig, ['reconcile', 'ks', 'app', '--with-source', '-n', env.ns]);
    expect(stderr).toMatch(/^► Reconcile Kustomization .+\/app: request cli-reconcile-kustomization-app-[0-9a-f]{6} created$/m);
    expect(stderr).toMatch(/^\[ *\d+\.\d+s\] Running /m);
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toContain(`✔ Kustomization ${env.ns}/app: applied revision ${repo.branch}@sha1:${sha}`);
    // Piped: plain lines, no live line.
    expect(stderr).not.toContain(Escape);
  });

  it("exits 1 with kustomize-controller's message on stderr when a broken manifest is pushed", async () => {
    await repo.commit({ 'app/broken.yaml': brokenConfigMapManifest }, 'broken');
    const { code, stderr } = await fluxact(kubeconfig, [
      'reconcile',
      'kustomization',
      'app',
      '--with-source',
      '--timeout',
      '5m',
      '-n',
      env.ns,
    ]);
    expect(code).toBe(1);
    const ready = condition(await getFluxObject(env.kc, 'Kustomization', env.ns, 'app'), 'Ready');
    expect(ready).toMatchObject({ status: 'False' });
    expect(ready!.message).toContain('broken');
    // Word for word what kustomize-controller wrote on its Ready condition.
    expect(stderr).toContain(`✗ Kustomization ${env.ns}/app: `);
    expect(stderr).toContain(ready!.message!.trim().split('\n')[0]);
    await repo.commit({ 'app/broken.yaml': null }, 'fix');
  });

  it('draws a live line on a terminal and ends with the outcome', async () => {
    const { code, stdout } = await fluxactOnTerminal(kubeconfig, ['reconcile', 'ks', 'app', '--with-source', '-n', env.ns]);
    expect(code).toBe(0);
    // ora hides the cursor, redraws the line in place and shows it again.
    expect(stdout).toContain(`${Escape}[?25l`);
    expect(stdout).toContain(`${Escape}[?25h`);
    expect(stdout).toContain(`Kustomization ${env.ns}/app: applied revision ${repo.branch}@sha1:`);
  });

  it('refuses a bad flag with one line and exit 2, creating nothing', async () => {
    const before = (await requestsIn(env)).length;
    const { code, stdout, stderr } = await fluxact(kubeconfig, ['reconcile', 'ks', 'app', '--with-sources', '-n', env.ns]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toEqual(['fluxact: Unknown argument: with-sources']);
    expect(await requestsIn(env)).toHaveLength(before);
  });
});
