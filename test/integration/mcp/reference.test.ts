// get_kubernetes_api_versions and read_flux_doc through the SDK's real client, as the adapter's
// ServiceAccount: what the API server serves, and a Flux kind's reference page from its live CRD.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, randomSuffix, waitFor } from '../../support/kube.js';
import { connectStdio, startHttpMcp, textOf, type HttpMcp, type McpConnection } from '../../support/mcp.js';

let kc: k8s.KubeConfig;
let stdio: McpConnection;
let capped: McpConnection;
let http: HttpMcp;
let overHttp: McpConnection;

/** A Flux-like group of this run, serving Gizmo in two versions (the Flux CRDs here serve one each). */
const group = `gizmos-${randomSuffix()}.fluxcd.io`;
const gizmoSchema = (description: string): k8s.V1JSONSchemaProps => ({
  type: 'object',
  description,
  properties: {
    spec: {
      type: 'object',
      required: ['size'],
      properties: {
        size: { type: 'integer', description: 'How big the gizmo is.', _default: 3 },
        colour: { type: 'string', _enum: ['red', 'blue'], description: 'Its colour.' },
      },
    },
  },
});

beforeAll(async () => {
  kc = adminKubeConfig();
  const crds = kc.makeApiClient(k8s.ApiextensionsV1Api);
  await crds.createCustomResourceDefinition({
    body: {
      metadata: { name: `gizmos.${group}` },
      spec: {
        group,
        scope: 'Namespaced',
        names: { kind: 'Gizmo', plural: 'gizmos', singular: 'gizmo', listKind: 'GizmoList' },
        versions: [
          { name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: gizmoSchema('Gizmo is a thing that makes things.') } },
          {
            name: 'v1beta1',
            served: true,
            storage: false,
            deprecated: true,
            schema: { openAPIV3Schema: gizmoSchema('Gizmo, the old way.') },
          },
        ],
      },
    },
  });
  await waitFor('the Gizmo CRD to be served', async () => {
    const crd = await crds.readCustomResourceDefinition({ name: `gizmos.${group}` });
    return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
  });
  [stdio, capped] = await Promise.all([connectStdio(), connectStdio(['--max-output', '2000'])]);
  http = await startHttpMcp();
  overHttp = await http.connect();
});

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed */
  await Promise.all([stdio?.close(), capped?.close(), overHttp?.close()]);
  await http?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
  await kc.makeApiClient(k8s.ApiextensionsV1Api).deleteCustomResourceDefinition({ name: `gizmos.${group}` });
});

async function call(
  connection: McpConnection,
  name: string,
  args: Record<string, unknown> = {},
): Promise<{ text: string; isError: boolean; structured: Record<string, unknown> }> {
  const result = await connection.client.callTool({ name, arguments: args });
  return {
    text: textOf(result),
    isError: result.isError === true,
    structured: (result.structuredContent ?? {}) as Record<string, unknown>,
  };
}

describe('get_kubernetes_api_versions', () => {
  it.each([
    ['stdio', () => stdio],
    ['HTTP', () => overHttp],
  ])('lists what the API server serves, over %s, marking Flux and the preferred version of groups with several', async (_t, connection) => {
    const out = await call(connection(), 'get_kubernetes_api_versions');
    expect(out.isError).toBe(false);
    const lines = out.text.split('\n');
    // The same set as the API server's own discovery.
    const groups = await kc.makeApiClient(k8s.ApisApi).getAPIVersions();
    const served = ['v1', ...groups.groups.flatMap((g) => g.versions.map((v) => v.groupVersion))].sort();
    expect(lines.map((l) => l.split('  ')[0])).toEqual(served);
    expect(lines).toContain('apps/v1');
    expect(lines).toContain('kustomize.toolkit.fluxcd.io/v1  (Flux)');
    expect(lines).toContain(`${group}/v1  (preferred, Flux)`);
    expect(lines).toContain(`${group}/v1beta1  (Flux)`);
    expect(lines).toContain('fluxaction.io/v1alpha1');
  });
});

describe('read_flux_doc', () => {
  it("writes a kind's whole reference page from the CRD installed: description, then every field with type, facts and description", async () => {
    const out = await call(stdio, 'read_flux_doc', { kind: 'Kustomization' });
    expect(out.isError).toBe(false);
    const crd = await kc
      .makeApiClient(k8s.ApiextensionsV1Api)
      .readCustomResourceDefinition({ name: 'kustomizations.kustomize.toolkit.fluxcd.io' });
    const v1 = crd.spec.versions.find((v) => v.name === 'v1')!.schema!.openAPIV3Schema!;
    const others = crd.spec.versions
      .filter((v) => v.served && v.name !== 'v1')
      .map((v) => `${v.name}${v.deprecated ? ' (deprecated)' : ''}`);
    const lines = out.text.split('\n');
    expect(lines.slice(0, 3)).toEqual([
      '# Kustomization (kustomize.toolkit.fluxcd.io/v1) — from the CRD installed in this cluster',
      `Scope: Namespaced${others.length > 0 ? `; also served: ${others.join(', ')}` : ''}`,
      'Reference: https://fluxcd.io/flux/components/kustomize/kustomizations/',
    ]);
    expect(out.text).toContain(v1.description!.trim().replace(/\n/g, ' '));
    // Every spec field is on the page, at its depth, with its type.
    for (const field of Object.keys(v1.properties!['spec']!.properties!))
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^  ${field}  <`)));
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}prune {2}<boolean> {2}required$/));
    expect(lines).toContainEqual(
      expect.stringMatching(/^ {4}kind {2}<string> {2}required; one of: "OCIRepository", "GitRepository", "Bucket"/),
    );
  });

  it('narrows to one field and what is under it, the kind named by its plural', async () => {
    const out = await call(stdio, 'read_flux_doc', { kind: 'helmreleases', field: 'spec.chart.spec.sourceRef' });
    expect(out.text.split('\n')[0]).toBe('# HelmRelease (helm.toolkit.fluxcd.io/v2) — from the CRD installed in this cluster');
    expect(out.text).toContain('FIELDS under spec.chart.spec.sourceRef:');
    expect(out.text).toContain('      sourceRef  <object>  required');
    expect(out.text).not.toContain('  interval  <');
  });

  it('reads the storage version by default and another served version when asked', async () => {
    const current = await call(stdio, 'read_flux_doc', { kind: 'Gizmo' });
    expect(current.text).toBe(
      [
        `# Gizmo (${group}/v1) — from the CRD installed in this cluster`,
        'Scope: Namespaced; also served: v1beta1 (deprecated)',
        '',
        'Gizmo is a thing that makes things.',
        '',
        'FIELDS:',
        'spec  <object>',
        '  colour  <string>  one of: "red", "blue"',
        '    Its colour.',
        '  size  <integer>  required; default: 3',
        '    How big the gizmo is.',
      ].join('\n'),
    );
    const older = await call(stdio, 'read_flux_doc', { kind: 'Gizmo', version: 'v1beta1' });
    expect(older.text.split('\n').slice(0, 4)).toEqual([
      `# Gizmo (${group}/v1beta1, deprecated) — from the CRD installed in this cluster`,
      'Scope: Namespaced; also served: v1',
      '',
      'Gizmo, the old way.',
    ]);
  });

  it('is cut at the output cap with a note saying how to read one part', async () => {
    const out = await call(capped, 'read_flux_doc', { kind: 'HelmRelease' });
    const note = out.text.split('\n').at(-1)!;
    expect(out.text.length - note.length - 1).toBeLessThanOrEqual(2000);
    expect(note).toMatch(/^# output cut at \d+ of \d+ characters; read one part with field \(e\.g\. field spec\) to see the rest$/);
  });

  it('names the kinds, versions or fields there are when asked for one that is not', async () => {
    const kind = await call(stdio, 'read_flux_doc', { kind: 'Kustomisation' });
    expect(kind.isError).toBe(true);
    expect(kind.text).toMatch(/^no Flux kind Kustomisation is installed in this cluster; the Flux kinds are: .*Kustomization/);
    const version = await call(stdio, 'read_flux_doc', { kind: 'Gizmo', version: 'v9' });
    expect(version.text).toBe('Gizmo is not served in version v9; served: v1, v1beta1');
    const field = await call(stdio, 'read_flux_doc', { kind: 'Kustomization', field: 'spec.prun' });
    expect(field.text).toMatch(
      /^Kustomization kustomize.toolkit.fluxcd.io\/v1 has no field spec.prun; its top-level fields: spec, status$/,
    );
  });
});
