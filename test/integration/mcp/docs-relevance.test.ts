// How well search_flux_docs ranks, through the SDK's real client against the Flux CRDs of the local
// control plane: a relevance set of agents' questions with the field that should come first
// (hit@1 and hit@3 are printed), and the overview of a kind's spec for "Kustomization spec options".
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig } from '../../support/kube.js';
import { relevanceSet } from '../../support/docs-relevance.js';
import { connectStdio, textOf, type McpConnection } from '../../support/mcp.js';

let adapter: McpConnection;

beforeAll(async () => {
  adapter = await connectStdio();
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await adapter?.close();
});

async function search(query: string, limit: number): Promise<{ text: string; hits: { kind: string; path: string }[] }> {
  const result = await adapter.client.callTool({ name: 'search_flux_docs', arguments: { query, limit } });
  return { text: textOf(result), hits: ((result.structuredContent ?? {}) as { hits?: { kind: string; path: string }[] }).hits ?? [] };
}

describe('search_flux_docs relevance', () => {
  it(`puts the expected field first for at least 90% of ${relevanceSet.length} questions, and in the top 3 for all`, async () => {
    expect(relevanceSet.length).toBeGreaterThanOrEqual(25);
    let top1 = 0;
    let top3 = 0;
    const misses: string[] = [];
    for (const [query, expected] of relevanceSet) {
      const { hits } = await search(query, 3);
      const rank = hits.map((h) => `${h.kind} ${h.path}`).indexOf(expected);
      if (rank === 0) top1++;
      else misses.push(`${query} → ${expected} at rank ${rank < 0 ? '>3' : rank + 1}`);
      if (rank >= 0) top3++;
    }
    const n = relevanceSet.length;
    console.log(
      `search_flux_docs relevance: hit@1 ${top1}/${n} (${((100 * top1) / n).toFixed(1)}%), hit@3 ${top3}/${n} (${((100 * top3) / n).toFixed(1)}%)${misses.length > 0 ? `\nnot first: ${misses.join('; ')}` : ''}`,
    );
    expect(top1 / n).toBeGreaterThanOrEqual(0.9);
    expect(top3).toBe(n);
  });

  it("answers 'Kustomization spec options' with one hit listing every spec field, kubectl explain style, well within the output cap", async () => {
    const { text, hits } = await search('Kustomization spec options', 1);
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({ kind: 'Kustomization', path: 'spec' });
    const lines = text.split('\n');
    expect(lines[2]).toBe('   FIELDS of Kustomization spec (read_flux_doc kind Kustomization for the whole page):');
    const crd = await adminKubeConfig()
      .makeApiClient(k8s.ApiextensionsV1Api)
      .readCustomResourceDefinition({ name: 'kustomizations.kustomize.toolkit.fluxcd.io' });
    const spec = crd.spec.versions.find((v) => v.storage)!.schema!.openAPIV3Schema!.properties!['spec']!.properties!;
    for (const field of Object.keys(spec)) expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^ {5}${field} {2}<`)));
    expect(lines).toContain('     prune  <boolean>  required — Prune enables garbage collection.');
    expect(lines).toContainEqual(expect.stringMatching(/^ {5}force {2}<boolean> {2}default: false — Force instructs the controller/));
    expect(text.length).toBeLessThan(10_000);
  });

  it("ranks the fields of the kind a query names above other kinds' fields", async () => {
    const { hits } = await search('bucket provider aws', 3);
    expect(hits[0]).toMatchObject({ kind: 'Bucket', path: 'spec.provider' });
    const git = await search('gitrepository ignore paths', 1);
    expect(git.hits[0]).toMatchObject({ kind: 'GitRepository', path: 'spec.ignore' });
  });
});
