// The Helm chart (charts/flux-action-operator) as helm renders it: the API server accepts every
// object (server-side dry run), its CRD, RBAC and admission policies are config/'s, and the
// operator's and the MCP adapter's Deployments carry the flags, probes and restricted security
// context the values ask for.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { allFeaturesValues, parseObjects, renderChart, type Rendered } from '../support/helm.js';
import { repoRoot, testKubeconfigPath } from '../support/kube.js';
import { ensureInstalled } from '../support/harness.js';
import { parseOperatorConfig } from '../../src/runtime/config.js';
import { parseMcpConfig } from '../../src/mcp/config.js';

const run = promisify(execFile);
const cluster = path.join(repoRoot, 'test', 'cluster', 'cluster.sh');

async function kubectl(args: string[], input?: string): Promise<string> {
  const child = run('bash', [cluster, 'kubectl', '--kubeconfig', testKubeconfigPath(), ...args], { maxBuffer: 16 << 20 });
  if (input !== undefined) child.child.stdin?.end(input);
  return (await child).stdout;
}

interface Container {
  name: string;
  image: string;
  args: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  resources: unknown;
  securityContext: Record<string, unknown>;
}
interface DeploymentSpec {
  replicas: number;
  strategy?: { type: string };
  template: {
    metadata: { annotations?: Record<string, string> };
    spec: { serviceAccountName: string; securityContext: Record<string, unknown>; containers: Container[] };
  };
}

const key = (o: Rendered): string => `${o.kind}/${o.metadata.name}`;
const find = (objects: Rendered[], kind: string, name: string): Rendered => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${objects.map(key).join(', ')}`);
  return found;
};
const deployment = (objects: Rendered[], name: string): DeploymentSpec => find(objects, 'Deployment', name)['spec'] as DeploymentSpec;
const container = (objects: Rendered[], name: string): Container => deployment(objects, name).template.spec.containers[0]!;

/** An object without the labels and annotations helm adds: what must equal config/'s copy. */
function withoutMetadataExtras(o: Rendered): Rendered {
  const { labels: _labels, annotations: _annotations, ...metadata } = o.metadata;
  return { ...o, metadata };
}

let defaults: Rendered[];
let all: Rendered[];
let config: Rendered[];

beforeAll(async () => {
  // The namespace the rendered objects go into (a dry run does not create it).
  await ensureInstalled();
  [defaults, all] = await Promise.all([renderChart(), renderChart({ values: [allFeaturesValues] })]);
  const [configDefault, configMutating] = await Promise.all([
    kubectl(['kustomize', path.join(repoRoot, 'config', 'default')]),
    kubectl(['kustomize', path.join(repoRoot, 'config', 'admission', 'mutating')]),
  ]);
  config = [...parseObjects(configDefault), ...parseObjects(configMutating)];
});

describe('the chart, rendered', () => {
  it.each([
    ['default values', () => defaults],
    ['every option on', () => all],
  ])('with %s is accepted by the API server (server-side dry run)', async (_name, objects) => {
    // The ServiceMonitor needs the Prometheus Operator's CRD, which this cluster lacks: checked below.
    const manifests = objects().filter((o) => o.kind !== 'ServiceMonitor');
    const out = await kubectl(
      ['apply', '--dry-run=server', '--server-side', '--force-conflicts', '--field-manager=fluxact-chart-test', '-f', '-'],
      manifests.map((o) => `---\n${stringify(o)}`).join(''),
    );
    for (const o of manifests) expect(out).toContain(`/${o.metadata.name} serverside-applied (server dry run)`);
    expect(out.trim().split('\n')).toHaveLength(manifests.length);
  });

  it("holds config/'s CRD, RBAC and admission policies and roles, apart from labels", () => {
    const kinds = [
      'CustomResourceDefinition',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'ServiceAccount',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
      'MutatingAdmissionPolicy',
      'MutatingAdmissionPolicyBinding',
    ];
    const pick = (objects: Rendered[]): Record<string, Rendered> =>
      Object.fromEntries(objects.filter((o) => kinds.includes(o.kind)).map((o) => [key(o), withoutMetadataExtras(o)]));
    const fromChart = pick(all);
    expect(Object.keys(fromChart).sort()).toEqual(Object.keys(pick(config)).sort());
    expect(fromChart).toEqual(pick(config));
  });

  it('runs the operator with leader election on its Lease when there is more than one replica', () => {
    expect(deployment(defaults, 'fluxact-operator').replicas).toBe(2);
    expect(container(defaults, 'fluxact-operator').args).toEqual([
      'operator',
      '--metrics-addr=:8080',
      '--leader-elect',
      '--lease-name=flux-action-operator',
      '--concurrency=8',
      '--log-level=info',
    ]);
    expect(find(defaults, 'Role', 'fluxact-operator-leader-election')).toBeDefined();
  });

  it('turns leader election off for a single replica, which is then replaced, not rolled', async () => {
    const single = await renderChart({ set: ['operator.replicas=1'] });
    expect(container(single, 'fluxact-operator').args).toContain('--no-leader-elect');
    expect(container(single, 'fluxact-operator').args).not.toContain('--leader-elect');
    expect(deployment(single, 'fluxact-operator').strategy).toEqual({ type: 'Recreate' });
    expect(single.filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding')).toEqual([]);
    const forced = await renderChart({ set: ['operator.replicas=1', 'operator.leaderElection.enabled=true'] });
    expect(container(forced, 'fluxact-operator').args).toContain('--leader-elect');
    expect(deployment(forced, 'fluxact-operator').strategy).toBeUndefined();
  });

  it('passes every operator value as its flag', () => {
    expect(container(all, 'fluxact-operator').args).toEqual([
      'operator',
      '--metrics-addr=:9090',
      '--leader-elect',
      '--lease-name=flux-action-operator',
      '--concurrency=16',
      '--log-level=debug',
      '--watch-namespace=apps',
      '--events-addr=http://notification-controller.flux-system.svc.cluster.local./',
      '--cross-namespace-from=fluxact-system,platform',
    ]);
    expect(container(all, 'fluxact-operator').image).toBe('registry.example.com/flux-action-operator:0.1.0-test');
    expect(container(defaults, 'fluxact-operator').image).toBe('flux-action-operator:0.1.0');
  });

  it("renders flags the operator's and the adapter's own parsers accept, with the values' meaning", () => {
    const operator = parseOperatorConfig(container(all, 'fluxact-operator').args.slice(1), { POD_NAMESPACE: 'fluxact-system' });
    expect(operator).toMatchObject({
      eventsAddr: 'http://notification-controller.flux-system.svc.cluster.local./',
      watchNamespace: 'apps',
      crossNamespaceFrom: ['fluxact-system', 'platform'],
      concurrency: 16,
      metricsAddr: ':9090',
    });
    expect(parseOperatorConfig(container(defaults, 'fluxact-operator').args.slice(1), {}).eventsAddr).toBeUndefined();
    const mcp = parseMcpConfig(container(all, 'fluxact-mcp').args.slice(1), { FLUXACT_MCP_TOKEN: 'an-mcp-token-for-the-tests-0123456789' });
    expect(mcp).toMatchObject({
      transport: 'http',
      listen: { host: '0.0.0.0', port: 8081 },
      readOnly: true,
      maxOutput: 20000,
      waitTimeoutMs: 120_000,
      requestTtlSeconds: 1800,
    });
    expect(mcp.allowedHosts).toContain('mcp.example.com');
  });

  it('probes the health port and runs both containers non-root, read-only, without capabilities, under RuntimeDefault seccomp', () => {
    for (const name of ['fluxact-operator', 'fluxact-mcp']) {
      const spec = deployment(all, name);
      expect(spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(spec.template.spec.containers[0]!.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
      });
    }
    const operator = container(all, 'fluxact-operator');
    expect(operator.ports).toEqual([{ name: 'http-metrics', containerPort: 9090, protocol: 'TCP' }]);
    expect(operator.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http-metrics' });
    expect(operator.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http-metrics' });
  });

  it('serves the metrics port through a Service the ServiceMonitor selects', () => {
    const service = find(all, 'Service', 'fluxact-operator-metrics')['spec'] as {
      selector: Record<string, string>;
      ports: { name: string; port: number }[];
    };
    expect(service.ports).toEqual([{ name: 'http-metrics', port: 9090, targetPort: 'http-metrics', protocol: 'TCP' }]);
    const podLabels = (
      find(all, 'Deployment', 'fluxact-operator')['spec'] as { template: { metadata: { labels: Record<string, string> } } }
    ).template.metadata.labels;
    expect(podLabels).toMatchObject(service.selector);
    const monitor = find(all, 'ServiceMonitor', 'fluxact-operator');
    const monitorSpec = monitor['spec'] as {
      selector: { matchLabels: Record<string, string> };
      endpoints: { port: string; interval: string }[];
    };
    expect(find(all, 'Service', 'fluxact-operator-metrics').metadata.labels).toMatchObject(monitorSpec.selector.matchLabels);
    expect(monitorSpec.endpoints).toEqual([{ port: 'http-metrics', path: '/metrics', interval: '15s', scrapeTimeout: '10s' }]);
    expect(monitor.metadata.labels).toMatchObject({ release: 'prometheus' });
    expect(defaults.filter((o) => o.kind === 'ServiceMonitor')).toEqual([]);
  });

  it('deploys the MCP adapter only when enabled, with its token from the Secret and its flags from the values', () => {
    expect(defaults.filter((o) => o.metadata.name.startsWith('fluxact-mcp'))).toEqual([]);
    const mcp = container(all, 'fluxact-mcp');
    expect(mcp.args).toEqual([
      'mcp',
      '--transport=http',
      '--listen=0.0.0.0:8081',
      '--allowed-hosts=fluxact-mcp.fluxact-system.svc,fluxact-mcp.fluxact-system.svc.cluster.local,mcp.example.com',
      '--wait-timeout=2m',
      '--request-ttl=30m',
      '--max-output=20000',
      '--log-level=debug',
      '--read-only',
    ]);
    expect(mcp.env).toEqual([{ name: 'FLUXACT_MCP_TOKEN', valueFrom: { secretKeyRef: { name: 'fluxact-mcp-token', key: 'token' } } }]);
    const secret = find(all, 'Secret', 'fluxact-mcp-token') as Rendered & { data: { token: string } };
    expect(Buffer.from(secret.data.token, 'base64').toString()).toBe('an-mcp-token-for-the-tests-0123456789');
    expect(deployment(all, 'fluxact-mcp').template.spec.serviceAccountName).toBe('fluxact-mcp');
  });

  it('generates a token when none is given, and creates no Secret for an existing one', async () => {
    const generated = await renderChart({ set: ['mcp.enabled=true'] });
    const secret = find(generated, 'Secret', 'fluxact-mcp-token') as Rendered & { data: { token: string } };
    expect(Buffer.from(secret.data.token, 'base64').toString()).toMatch(/^[A-Za-z0-9]{48}$/);
    const existing = await renderChart({ set: ['mcp.enabled=true', 'mcp.token.existingSecret=my-token'] });
    expect(existing.filter((o) => o.kind === 'Secret')).toEqual([]);
    expect(container(existing, 'fluxact-mcp').env![0]!.valueFrom!.secretKeyRef).toEqual({ name: 'my-token', key: 'token' });
  });

  it("with auth passthrough, acts with each caller's token: no Secret, no token, the OAuth metadata's flags", async () => {
    const passthrough = await renderChart({
      set: [
        'mcp.enabled=true',
        'mcp.auth=passthrough',
        'mcp.authorizationServers={https://login.example.com/realms/platform}',
        'mcp.resourceUrl=https://flux-mcp.example.com/mcp',
      ],
    });
    expect(passthrough.filter((o) => o.kind === 'Secret')).toEqual([]);
    const mcp = container(passthrough, 'fluxact-mcp');
    expect(mcp.env).toBeUndefined();
    expect(mcp.args).toEqual(
      expect.arrayContaining([
        '--auth=passthrough',
        '--authorization-server=https://login.example.com/realms/platform',
        '--resource-url=https://flux-mcp.example.com/mcp',
      ]),
    );
    expect(deployment(passthrough, 'fluxact-mcp').template.metadata.annotations?.['checksum/token']).toBeUndefined();
    // The adapter's own parser accepts them without a token, bound beyond loopback.
    expect(parseMcpConfig(mcp.args.slice(1), {})).toMatchObject({
      auth: 'passthrough',
      authorizationServers: ['https://login.example.com/realms/platform'],
      resourceUrl: 'https://flux-mcp.example.com/mcp',
    });
  });

  it('leaves the admission policies and roles out when admission is disabled', async () => {
    const without = await renderChart({ set: ['admission.enabled=false'] });
    const admission = without.filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'admission');
    expect(admission).toEqual([]);
    expect(
      defaults
        .filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'admission')
        .map(key)
        .sort(),
    ).toEqual([
      'ClusterRole/fluxact-approver',
      'ClusterRole/fluxact-reconciler',
      'ClusterRole/fluxact-requester',
      'ClusterRole/fluxact-viewer',
      'ValidatingAdmissionPolicy/fluxact-action-permission',
      'ValidatingAdmissionPolicy/fluxact-approval',
      'ValidatingAdmissionPolicy/fluxact-requested-by',
      'ValidatingAdmissionPolicyBinding/fluxact-action-permission',
      'ValidatingAdmissionPolicyBinding/fluxact-approval',
      'ValidatingAdmissionPolicyBinding/fluxact-requested-by',
    ]);
  });

  it('names the operator and adapter objects after namePrefix, in the release namespace', async () => {
    const other = await renderChart({ namespace: 'platform', set: ['namePrefix=acme', 'mcp.enabled=true', 'admission.enabled=false'] });
    const names = other.filter((o) => o.kind !== 'CustomResourceDefinition').map((o) => o.metadata.name);
    for (const name of names) expect(name).toMatch(/^acme-/);
    const binding = find(other, 'ClusterRoleBinding', 'acme-operator') as Rendered & { subjects: unknown[]; roleRef: { name: string } };
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'acme-operator', namespace: 'platform' }]);
    expect(binding.roleRef.name).toBe('acme-operator');
    expect(other.filter((o) => o.metadata.namespace !== undefined).every((o) => o.metadata.namespace === 'platform')).toBe(true);
  });
});
