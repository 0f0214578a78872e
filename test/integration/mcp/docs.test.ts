// search_flux_docs through the SDK's real client, as the adapter's ServiceAccount: the Flux API
// reference read from the cluster's CRDs, markdown from --docs-dir, and an index that follows CRDs.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { OperatorServiceAccount } from '../../support/harness.js';
import { adminKubeConfig, randomSuffix, waitFor } from '../../support/kube.js';
import { connectStdio, mcpKubeconfigFile, textOf, type McpConnection } from '../../support/mcp.js';

let kc: k8s.KubeConfig;
let docsDir: string;
let adapter: McpConnection;
let unprivileged: McpConnection;

beforeAll(async () => {
  kc = adminKubeConfig();
  docsDir = mkdtempSync(path.join(tmpdir(), 'fluxact-docs-'));
  writeFileSync(
    path.join(docsDir, 'runbook.md'),
    '# Incident runbook\n\n## Silencing a flapping HelmRelease\n\nWhen alerts flap at night, suspend the release with suspend_flux_reconciliation and page its owner.\n',
  );
  mkdirSync(path.join(docsDir, 'guides'));
  writeFileSync(path.join(docsDir, 'guides', 'upgrades.md'), '# Upgrades\n\nUpgrade Flux on Tuesdays only, after the weekly backup.\n');
  [adapter, unprivileged] = await Promise.all([
    connectStdio(['--docs-dir', docsDir]),
    mcpKubeconfigFile(OperatorServiceAccount).then((file) => connectStdio([], file)),
  ]);
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await Promise.all([adapter?.close(), unprivileged?.close()]);
});

async function search(
  connection: McpConnection,
  args: Record<string, unknown>,
): Promise<{ text: string; isError: boolean; hits: Record<string, unknown>[] }> {
  const result = await connection.client.callTool({ name: 'search_flux_docs', arguments: args });
  const structured = (result.structuredContent ?? {}) as { hits?: Record<string, unknown>[] };
  return { text: textOf(result), isError: result.isError === true, hits: structured.hits ?? [] };
}

/** A field's description as the cluster's CRD has it. */
async function crdDescription(crdName: string, version: string, ...fieldPath: string[]): Promise<string | undefined> {
  const crd = await kc.makeApiClient(k8s.ApiextensionsV1Api).readCustomResourceDefinition({ name: crdName });
  let node = crd.spec.versions.find((v) => v.name === version)?.schema?.openAPIV3Schema;
  for (const key of fieldPath) node = node?.properties?.[key];
  return node?.description;
}

describe('search_flux_docs', () => {
  it('finds Kustomization spec.prune for "prune garbage collection", with the description from the cluster and the reference page', async () => {
    const out = await search(adapter, { query: 'prune garbage collection' });
    expect(out.isError).toBe(false);
    expect(out.hits).toHaveLength(1);
    expect(out.hits[0]).toMatchObject({
      source: 'crd',
      kind: 'Kustomization',
      version: 'v1',
      path: 'spec.prune',
      type: 'boolean',
      link: 'https://fluxcd.io/flux/components/kustomize/kustomizations/',
    });
    const description = await crdDescription('kustomizations.kustomize.toolkit.fluxcd.io', 'v1', 'spec', 'prune');
    expect(description).toBeTruthy();
    expect(out.hits[0]?.['description']).toBe(description);
    // Flux 2.7 also serves the deprecated v1beta2, 2.9 only v1.
    const crd = await kc
      .makeApiClient(k8s.ApiextensionsV1Api)
      .readCustomResourceDefinition({ name: 'kustomizations.kustomize.toolkit.fluxcd.io' });
    const others = crd.spec.versions.filter((v) => v.served && v.name !== 'v1').map((v) => v.name);
    const also = others.length > 0 ? `; also in ${others.join(', ')}` : '';
    const first = `1. Kustomization spec.prune (kustomize.toolkit.fluxcd.io/v1${also}) — boolean`;
    expect(out.text.slice(0, first.length)).toBe(first);
    expect(out.text).toContain('Reference: https://fluxcd.io/flux/components/kustomize/kustomizations/');
  });

  it('finds HelmRelease spec.chart.spec.version for a question about the chart version', async () => {
    const out = await search(adapter, { query: 'helmrelease chart version semver', limit: 3 });
    expect(out.hits.map((h) => `${String(h['kind'])} ${String(h['path'])}`)).toContain('HelmRelease spec.chart.spec.version');
    expect(out.text).toContain('HelmRelease spec.chart.spec.version (helm.toolkit.fluxcd.io/v2');
    expect(out.text).toContain('Reference: https://fluxcd.io/flux/components/helm/helmreleases/');
  });

  it('links Flux Operator kinds to their page on the Flux Operator site', async () => {
    const out = await search(adapter, { query: 'fluxinstance distribution registry' });
    expect(out.hits[0]).toMatchObject({
      kind: 'FluxInstance',
      path: 'spec.distribution.registry',
      link: 'https://fluxoperator.dev/docs/crd/fluxinstance/',
    });
  });

  it('finds a section of the markdown in --docs-dir, nested directories included', async () => {
    const out = await search(adapter, { query: 'alerts flap at night' });
    expect(out.text).toBe(
      '1. Incident runbook > Silencing a flapping HelmRelease (docs directory: runbook.md#silencing-a-flapping-helmrelease)\n   When alerts flap at night, suspend the release with suspend_flux_reconciliation and page its owner.',
    );
    const nested = await search(adapter, { query: 'upgrade tuesdays weekly backup' });
    expect(nested.hits[0]).toMatchObject({ source: 'markdown', path: 'Upgrades', link: 'guides/upgrades.md#upgrades' });
  });

  it('follows the CRDs: a Flux CRD installed later is found, and gone once deleted', async () => {
    const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    const word = `zorblax${randomSuffix()}`;
    const group = `docs${randomSuffix()}.fluxcd.io`;
    const name = `gadgets.${group}`;
    await ext.createCustomResourceDefinition({
      body: {
        metadata: { name },
        spec: {
          group,
          scope: 'Namespaced',
          names: { kind: 'Gadget', plural: 'gadgets', singular: 'gadget', listKind: 'GadgetList' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: {
                      type: 'object',
                      properties: { sprocketCount: { type: 'integer', description: `How many ${word} sprockets to turn.` } },
                    },
                  },
                },
              },
            },
          ],
        },
      },
    });
    try {
      const found = await waitFor('the new CRD to be indexed', async () => {
        const out = await search(adapter, { query: word });
        return out.hits[0]?.['kind'] === 'Gadget' ? out : undefined;
      });
      expect(found.hits[0]).toMatchObject({ path: 'spec.sprocketCount', type: 'integer', group, version: 'v1' });
    } finally {
      await ext.deleteCustomResourceDefinition({ name });
    }
    await waitFor('the deleted CRD to leave the index', async () => {
      const out = await search(adapter, { query: word });
      return out.hits.some((h) => h['kind'] === 'Gadget') ? undefined : out;
    });
  });

  it('answers no match plainly, and refuses a limit over 10', async () => {
    const none = await search(adapter, { query: 'qqqxxyyzz' });
    expect(none.isError).toBe(false);
    expect(none.text).toMatch(/^No match for "qqqxxyyzz" among \d+ indexed fields and sections/);
    const tooMany = await search(adapter, { query: 'prune', limit: 11 });
    expect(tooMany.isError).toBe(true);
  });

  it('passes on an RBAC refusal when the CRDs may not be read', async () => {
    const out = await search(unprivileged, { query: 'prune' });
    expect(out.isError).toBe(true);
    expect(out.text).toContain('forbidden: customresourcedefinitions.apiextensions.k8s.io is forbidden');
  });
});
