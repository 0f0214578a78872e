// The kinds table agrees with the Flux CRDs installed in the test cluster (the versions the
// project pins): each row's kind, plural and short names are the CRD's, and its newest version is served.
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { fluxKinds, fluxReadOnlyKinds } from '../../src/flux/kinds.js';
import { adminKubeConfig } from '../support/kube.js';

let crds: Map<string, k8s.V1CustomResourceDefinition>;

beforeAll(async () => {
  const list = await adminKubeConfig().makeApiClient(k8s.ApiextensionsV1Api).listCustomResourceDefinition();
  crds = new Map(list.items.map((c) => [c.metadata?.name ?? '', c]));
});

describe('the kinds table and the installed Flux CRDs', () => {
  it.each(fluxKinds.map((k) => [k.kind, k] as const))('%s: kind, plural, short names and newest version', (_name, row) => {
    const crd = crds.get(`${row.plural}.${row.group}`);
    expect(crd).toBeDefined();
    expect({ kind: crd!.spec.names.kind, shortNames: crd!.spec.names.shortNames ?? [] }).toEqual({
      kind: row.kind,
      shortNames: [...row.shortNames],
    });
    expect(crd!.spec.versions.filter((v) => v.served).map((v) => v.name)).toContain(row.versions[0]);
  });

  it.each(fluxReadOnlyKinds.map((k) => [k.kind, k] as const))('%s (read only): kind and plural', (_name, row) => {
    const crd = crds.get(`${row.plural}.${row.group}`);
    expect(crd?.spec.names.kind).toBe(row.kind);
  });
});
