// The search_flux_docs index: documents from a CRD's OpenAPI schema and from markdown sections,
// the ranking, and when the index is rebuilt.
import { describe, expect, it } from '@jest/globals';
import {
  buildIndex,
  crdDocuments,
  DocsIndex,
  markdownDocuments,
  firstSentence,
  kindsNamed,
  pathBoost,
  processTerm,
  referenceLink,
  searchIndex,
  type DocsSource,
  type NewDocument,
} from '../../../src/mcp/docs-index.js';
import { parseCrd, type FluxCrd } from '../../../src/mcp/flux-crds.js';

/** A trimmed Kustomization CRD as the API server returns it. */
function sampleCrd(): FluxCrd {
  const schema = (prune: string) => ({
    description: 'Kustomization is the Schema for the kustomizations API.',
    type: 'object',
    properties: {
      apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
      kind: { type: 'string', description: 'Kind is a string value representing the REST resource.' },
      metadata: { type: 'object' },
      spec: {
        type: 'object',
        description: 'KustomizationSpec defines the configuration to calculate the desired state.',
        required: ['interval', 'prune'],
        properties: {
          prune: { type: 'boolean', description: prune },
          interval: {
            type: 'string',
            description: 'The interval at which to reconcile the Kustomization.',
            pattern: '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$',
          },
          deletionPolicy: {
            type: 'string',
            description: 'DeletionPolicy can be used to control garbage collection when this\nKustomization is deleted.',
            enum: ['MirrorPrune', 'Delete'],
          },
          healthChecks: {
            type: 'array',
            description: 'A list of resources to be included in the health assessment.',
            items: { type: 'object', properties: { name: { type: 'string', description: 'Name of the referent.' } }, required: ['name'] },
          },
          commonMetadata: {
            type: 'object',
            properties: {
              labels: {
                type: 'object',
                additionalProperties: { type: 'string' },
                description: 'Labels to be added to the object metadata.',
              },
            },
          },
          patches: { type: 'array', items: { 'x-kubernetes-preserve-unknown-fields': true } },
          timeout: { 'x-kubernetes-int-or-string': true, description: 'Timeout for validation, apply and health checking operations.' },
        },
      },
      status: {
        type: 'object',
        properties: { lastAppliedRevision: { type: 'string', description: 'The last successfully applied revision.' } },
      },
    },
  });
  const crd = parseCrd({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'kustomizations.kustomize.toolkit.fluxcd.io', resourceVersion: '42' },
    spec: {
      group: 'kustomize.toolkit.fluxcd.io',
      scope: 'Namespaced',
      names: { kind: 'Kustomization', plural: 'kustomizations' },
      versions: [
        { name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: schema('Prune enables garbage collection.') } },
        {
          name: 'v1beta2',
          served: true,
          storage: false,
          deprecated: true,
          schema: { openAPIV3Schema: schema('Prune enables garbage collection.') },
        },
        { name: 'v1beta1', served: false, storage: false, schema: { openAPIV3Schema: schema('Old prune.') } },
      ],
    },
  });
  if (!crd) throw new Error('the sample CRD does not parse');
  return crd;
}

const find = (docs: NewDocument[], version: string, path: string) => docs.find((d) => d.version === version && d.path === path);

describe('documents from a CRD schema', () => {
  const docs = crdDocuments(sampleCrd());

  it('has one document per served version and field path, with type and description', () => {
    expect(find(docs, 'v1', 'spec.prune')).toMatchObject({
      source: 'crd',
      kind: 'Kustomization',
      group: 'kustomize.toolkit.fluxcd.io',
      type: 'boolean',
      description: 'Prune enables garbage collection.',
      facts: 'required',
      preferred: true,
      link: 'https://fluxcd.io/flux/components/kustomize/kustomizations/',
    });
    expect(find(docs, 'v1beta2', 'spec.prune')?.preferred).toBe(false);
    expect(docs.filter((d) => d.version === 'v1beta1')).toEqual([]);
  });

  it('names fields of list elements and map values, and types as Go writes them', () => {
    expect(find(docs, 'v1', 'spec.healthChecks')?.type).toBe('[]object');
    expect(find(docs, 'v1', 'spec.healthChecks[].name')).toMatchObject({ type: 'string', facts: 'required' });
    expect(find(docs, 'v1', 'spec.commonMetadata.labels')?.type).toBe('map[string]string');
    expect(find(docs, 'v1', 'spec.timeout')?.type).toBe('int-or-string');
    expect(find(docs, 'v1', 'spec.patches')?.type).toBe('[]any (free-form)');
  });

  it('records allowed values, patterns and the kind itself, and leaves out apiVersion, kind and metadata', () => {
    expect(find(docs, 'v1', 'spec.deletionPolicy')?.facts).toBe('one of: "MirrorPrune", "Delete"');
    expect(find(docs, 'v1', 'spec.interval')?.facts).toContain('required; pattern: ^([0-9]+');
    expect(find(docs, 'v1', '')?.description).toBe('Kustomization is the Schema for the kustomizations API.');
    expect(find(docs, 'v1beta2', '')?.facts).toBe('deprecated version');
    expect(docs.some((d) => ['apiVersion', 'kind', 'metadata'].includes(d.path))).toBe(false);
  });
});

describe('reference links', () => {
  it('point to the kind page on the Flux website, or the Flux Operator site for its kinds', () => {
    expect(referenceLink('helm.toolkit.fluxcd.io', 'HelmRelease', 'helmreleases')).toBe(
      'https://fluxcd.io/flux/components/helm/helmreleases/',
    );
    expect(referenceLink('source.toolkit.fluxcd.io', 'OCIRepository', 'ocirepositories')).toBe(
      'https://fluxcd.io/flux/components/source/ocirepositories/',
    );
    expect(referenceLink('fluxcd.controlplane.io', 'ResourceSet', 'resourcesets')).toBe('https://fluxoperator.dev/docs/crd/resourceset/');
    expect(referenceLink('example.com', 'Thing', 'things')).toBe('');
  });
});

describe('documents from markdown', () => {
  const text = [
    'Intro text.',
    '# Operations',
    'How we run Flux.',
    '## Rolling back a release',
    'Suspend the HelmRelease first.',
    '```sh',
    '# not a heading',
    'flux suspend hr web',
    '```',
    '### Afterwards',
    'Resume it.',
  ].join('\n');
  const docs = markdownDocuments('runbooks/flux.md', text);

  it('has one document per section, with its heading trail and an anchor link', () => {
    expect(docs.map((d) => d.path)).toEqual([
      'runbooks/flux.md',
      'Operations',
      'Operations > Rolling back a release',
      'Operations > Rolling back a release > Afterwards',
    ]);
    expect(docs[2]).toMatchObject({ source: 'markdown', link: 'runbooks/flux.md#rolling-back-a-release' });
  });

  it('keeps fenced code in its section rather than reading # lines there as headings', () => {
    expect(docs[2]!.description).toContain('# not a heading\nflux suspend hr web');
  });
});

describe('search', () => {
  const other: NewDocument[] = [
    {
      ...find(crdDocuments(sampleCrd()), 'v1', 'spec.prune')!,
      kind: 'HelmRelease',
      group: 'helm.toolkit.fluxcd.io',
      path: 'spec.chartRef.apiVersion',
      description: 'APIVersion of the referent.',
    },
    {
      ...find(crdDocuments(sampleCrd()), 'v1', 'spec.prune')!,
      kind: 'HelmRelease',
      group: 'helm.toolkit.fluxcd.io',
      path: 'spec.chart.spec.version',
      description: 'Version semver expression, ignored for charts from v1.GitRepository sources.',
    },
  ];
  const index = buildIndex([
    ...crdDocuments(sampleCrd()),
    ...other,
    ...markdownDocuments('ops.md', '# Rollback\nSuspend the HelmRelease, then roll back with helm.'),
  ]);

  it('ranks the field a query describes first (BM25+ over path, kind and description)', () => {
    const [hit] = searchIndex(index, 'prune garbage collection', 1);
    expect(hit).toMatchObject({ kind: 'Kustomization', path: 'spec.prune', version: 'v1' });
  });

  it('shows a field of several versions once, in the storage version, naming the others', () => {
    const hits = searchIndex(index, 'prune garbage collection', 10);
    expect(hits.filter((h) => h.path === 'spec.prune')).toHaveLength(1);
    expect(hits[0]!.otherVersions).toEqual(['v1beta2']);
  });

  it('puts the field whose path the words spell before fields that merely contain them', () => {
    expect(pathBoost('chart version', 'spec.chart.spec.version')).toBeGreaterThan(pathBoost('chart version', 'spec.chartRef.apiVersion'));
    expect(pathBoost('health checks', 'spec.healthChecks')).toBe(2);
    expect(pathBoost('spec.interval', 'spec.interval')).toBeGreaterThan(pathBoost('spec.interval', 'spec.retryInterval'));
    expect(searchIndex(index, 'helmrelease chart version', 1)[0]?.path).toBe('spec.chart.spec.version');
  });

  it('finds camelCase fields by their words, and markdown sections', () => {
    expect(searchIndex(index, 'health checks', 1)[0]?.path).toBe('spec.healthChecks');
    expect(searchIndex(index, 'roll back', 1)[0]).toMatchObject({ source: 'markdown', path: 'Rollback', link: 'ops.md#rollback' });
  });

  it('splits camelCase terms and drops common words', () => {
    expect(processTerm('healthChecks')).toEqual(['healthchecks', 'health', 'checks']);
    expect(processTerm('APIVersion')).toEqual(['apiversion', 'api', 'version']);
    expect(processTerm('The')).toBeNull();
  });
});

describe('the index follows its source', () => {
  function fakeSource(): DocsSource & { fingerprintValue: string; docs: NewDocument[]; fingerprints: number; fail: boolean } {
    const source = {
      fingerprintValue: 'a',
      docs: crdDocuments(sampleCrd()),
      fingerprints: 0,
      fail: false,
      fingerprint: () => {
        source.fingerprints++;
        if (source.fail) return Promise.reject(new Error('forbidden'));
        return Promise.resolve(source.fingerprintValue);
      },
      documents: () => Promise.resolve(source.docs),
    };
    return source;
  }

  it('checks the fingerprint at most every checkEveryMs and rebuilds only when it changed', async () => {
    let now = 0;
    const source = fakeSource();
    const index = new DocsIndex(source, { checkEveryMs: 5000, now: () => now });
    await index.search('prune', 1);
    await index.search('prune', 1);
    expect(source.fingerprints).toBe(1);
    expect(index.builds).toBe(1);

    now = 6000;
    await index.search('prune', 1);
    expect(source.fingerprints).toBe(2);
    expect(index.builds).toBe(1);

    source.fingerprintValue = 'b';
    source.docs = [...source.docs, ...markdownDocuments('new.md', '# Brand new section\nwidgets')];
    now = 7000;
    expect((await index.search('widgets', 1)).hits).toEqual([]);
    now = 12000;
    expect((await index.search('widgets', 1)).hits[0]?.path).toBe('Brand new section');
    expect(index.builds).toBe(2);
  });

  it('keeps answering from the last index when the check fails, and fails when it has none', async () => {
    let now = 0;
    const source = fakeSource();
    const index = new DocsIndex(source, { checkEveryMs: 1000, now: () => now });
    source.fail = true;
    await expect(index.search('prune', 1)).rejects.toThrow('forbidden');
    source.fail = false;
    expect((await index.search('prune', 1)).hits[0]?.path).toBe('spec.prune');
    source.fail = true;
    now = 5000;
    expect((await index.search('prune', 1)).hits[0]?.path).toBe('spec.prune');
  });
});

describe('ranking helpers', () => {
  it('prefers a field to its children and to fields under segments the query does not name', () => {
    expect(pathBoost('helmrelease timeout', 'spec.timeout')).toBeGreaterThan(pathBoost('helmrelease timeout', 'spec.test.timeout'));
    expect(pathBoost('values from configmap', 'spec.valuesFrom')).toBeGreaterThan(
      pathBoost('values from configmap', 'spec.valuesFrom[].valuesKey'),
    );
  });

  it('finds the kinds a query names, by kind, plural or words', () => {
    const kinds = [
      { kind: 'GitRepository', plural: 'gitrepositories' },
      { kind: 'Bucket', plural: 'buckets' },
      { kind: 'ImagePolicy', plural: 'imagepolicies' },
    ];
    expect([...kindsNamed('git repository tag', kinds)]).toEqual(['GitRepository']);
    expect([...kindsNamed('Buckets endpoint', kinds)]).toEqual(['Bucket']);
    expect([...kindsNamed('image policies semver', kinds)]).toEqual(['ImagePolicy']);
    expect([...kindsNamed('prune garbage collection', kinds)]).toEqual([]);
  });

  it('summarises a description by its first sentence, on one line', () => {
    expect(firstSentence('Prune enables garbage collection.\nMore text.')).toBe('Prune enables garbage collection.');
    expect(firstSentence('Version 1.2 of the\nchart')).toBe('Version 1.2 of the chart');
  });
});
