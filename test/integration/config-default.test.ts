// `kubectl apply -k config/default`, as the README tells a user to install the operator, against
// the local control plane: every object is applied, the Deployments roll out under the namespace's
// restricted Pod Security (kwok runs their pods), and what is served matches the Helm chart's: the
// same CRDs, the same ClusterRole rules, ServiceAccounts bound to them, and Deployments whose
// flags the operator and the MCP adapter read as the chart's.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { readFileSync, readdirSync } from 'node:fs';
import { parseMcpConfig } from '../../src/mcp/config.js';
import { parseOperatorConfig } from '../../src/runtime/config.js';
import { ensureInstalled, OperatorNamespace } from '../support/harness.js';
import { chartDir, parseObjects, renderChart, type Rendered } from '../support/helm.js';
import { repoRoot, testKubeconfigPath } from '../support/kube.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** kubectl of the local control plane (test/cluster/cluster.sh kubectl); never throws on a non-zero exit. */
function kubectl(args: string[], input?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(
      'bash',
      [path.join(repoRoot, 'test', 'cluster', 'cluster.sh'), 'kubectl', '--kubeconfig', testKubeconfigPath(), ...args],
      { cwd: repoRoot, timeout: 150_000, maxBuffer: 32 << 20 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const result = await kubectl(args, input);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

/** A served object, as kubectl prints it in JSON. */
async function served<T>(kind: string, name: string, namespace?: string): Promise<T> {
  const ns = namespace ? ['--namespace', namespace] : [];
  return JSON.parse(await kubectlOk(['get', kind, name, ...ns, '-o', 'json'])) as T;
}

interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema: unknown;
  subresources?: unknown;
  additionalPrinterColumns?: unknown;
}
interface Crd {
  metadata: { name: string };
  spec: { group: string; scope: string; names: { kind: string; plural: string }; versions: CrdVersion[] };
}
interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}
interface Container {
  args: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  securityContext?: Record<string, unknown>;
  livenessProbe: { httpGet: { path: string } };
  readinessProbe: { httpGet: { path: string } };
}
interface Deployment {
  spec: { replicas: number; template: { spec: { serviceAccountName: string; containers: Container[] } } };
  status?: { availableReplicas?: number };
}

/** What the API server keeps of a CRD's definition: kind, names, and each version's schema. */
function crdShape(crd: Crd): unknown {
  const versions = crd.spec.versions.map(({ name, served, storage, schema, subresources, additionalPrinterColumns }) => ({
    name,
    served,
    storage,
    schema,
    subresources,
    additionalPrinterColumns,
  }));
  return { name: crd.metadata.name, group: crd.spec.group, scope: crd.spec.scope, names: crd.spec.names, versions };
}

function chartObject(objects: Rendered[], kind: string, name: string): Rendered {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`the chart renders no ${kind} ${name}`);
  return found;
}

const mcpToken = 'config-default-test-token-0123456789';
let applied: Result;
let built: Rendered[];
let chart: Rendered[];

beforeAll(async () => {
  // The CRDs, namespace, RBAC and admission policies every integration test shares (the same objects).
  await ensureInstalled();
  built = parseObjects(await kubectlOk(['kustomize', path.join(repoRoot, 'config', 'default')]));
  // As the README says: the MCP adapter's token Secret first, then the kustomization.
  await kubectlOk(
    ['apply', '-f', '-'],
    `apiVersion: v1
kind: Secret
metadata: {name: fluxact-mcp-token, namespace: ${OperatorNamespace}}
stringData: {token: ${mcpToken}}
`,
  );
  applied = await kubectl(['apply', '-k', path.join(repoRoot, 'config', 'default')]);
  chart = await renderChart({ set: ['mcp.enabled=true', `mcp.token.value=${mcpToken}`] });
}, 180_000);

afterAll(async () => {
  // What only config/default adds to the shared namespace: the Deployments, the adapter's Service, the Secret.
  await kubectl([
    'delete',
    '--namespace',
    OperatorNamespace,
    '--ignore-not-found',
    '--wait=false',
    'deployment/fluxact-operator',
    'deployment/fluxact-mcp',
    'service/fluxact-mcp',
    'secret/fluxact-mcp-token',
  ]);
});

describe('kubectl apply -k config/default', () => {
  it('applies every object of the kustomization', () => {
    expect(applied).toMatchObject({ code: 0 });
    const lines = applied.stdout.trim().split('\n');
    for (const o of built) {
      const line = lines.find((l) => new RegExp(`/${o.metadata.name} (created|configured|unchanged)$`).test(l));
      expect({ object: `${o.kind}/${o.metadata.name}`, line }).toEqual({
        object: `${o.kind}/${o.metadata.name}`,
        line: expect.any(String),
      });
    }
    expect(lines).toHaveLength(built.length);
  });

  it('rolls out the operator and the MCP adapter under the restricted Pod Security of fluxact-system', async () => {
    const ns = await served<{ metadata: { labels: Record<string, string> } }>('namespace', OperatorNamespace);
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    await kubectlOk(['rollout', 'status', '--namespace', OperatorNamespace, '--timeout=120s', 'deployment/fluxact-operator']);
    await kubectlOk(['rollout', 'status', '--namespace', OperatorNamespace, '--timeout=120s', 'deployment/fluxact-mcp']);
    const operator = await served<Deployment>('deployment', 'fluxact-operator', OperatorNamespace);
    expect(operator.status?.availableReplicas).toBe(2);
  });

  it("serves the chart's CRDs", async () => {
    const files = readdirSync(path.join(chartDir, 'crds')).filter((f) => f.endsWith('.yaml'));
    const fromChart = files.map((f) => parse(readFileSync(path.join(chartDir, 'crds', f), 'utf8')) as Crd);
    const fromConfig = built.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name);
    expect(fromConfig.sort()).toEqual(fromChart.map((c) => c.metadata.name).sort());
    for (const crd of fromChart) expect(crdShape(await served<Crd>('crd', crd.metadata.name))).toEqual(crdShape(crd));
  });

  it("serves the chart's ClusterRole rules, bound to the Deployments' ServiceAccounts", async () => {
    for (const component of ['operator', 'mcp']) {
      const name = `fluxact-${component}`;
      const role = await served<{ rules: Rule[] }>('clusterrole', name);
      expect({ name, rules: role.rules }).toEqual({
        name,
        rules: (chartObject(chart, 'ClusterRole', name) as unknown as { rules: Rule[] }).rules,
      });
      const binding = await served<{ roleRef: { name: string }; subjects: unknown[] }>('clusterrolebinding', name);
      expect(binding.roleRef.name).toBe(name);
      const deployment = await served<Deployment>('deployment', name, OperatorNamespace);
      expect(binding.subjects).toEqual([
        { kind: 'ServiceAccount', name: deployment.spec.template.spec.serviceAccountName, namespace: OperatorNamespace },
      ]);
      await served('serviceaccount', deployment.spec.template.spec.serviceAccountName, OperatorNamespace);
    }
  });

  it("runs Deployments the operator and the adapter read as the chart's: the same flags, ServiceAccounts, probes and replicas", async () => {
    const config = {
      operator: await served<Deployment>('deployment', 'fluxact-operator', OperatorNamespace),
      mcp: await served<Deployment>('deployment', 'fluxact-mcp', OperatorNamespace),
    };
    const fromChart = {
      operator: chartObject(chart, 'Deployment', 'fluxact-operator') as unknown as Deployment,
      mcp: chartObject(chart, 'Deployment', 'fluxact-mcp') as unknown as Deployment,
    };
    const podEnv = { POD_NAMESPACE: OperatorNamespace, FLUXACT_MCP_TOKEN: mcpToken };
    const operatorArgs = (d: Deployment): string[] => d.spec.template.spec.containers[0]!.args.slice(1);
    expect(parseOperatorConfig(operatorArgs(config.operator), podEnv)).toEqual(
      parseOperatorConfig(operatorArgs(fromChart.operator), podEnv),
    );
    expect(parseMcpConfig(operatorArgs(config.mcp), podEnv)).toEqual(parseMcpConfig(operatorArgs(fromChart.mcp), podEnv));
    for (const component of ['operator', 'mcp'] as const) {
      const shape = (d: Deployment) => {
        const c = d.spec.template.spec.containers[0]!;
        return {
          replicas: d.spec.replicas,
          serviceAccountName: d.spec.template.spec.serviceAccountName,
          command: c.args[0],
          env: c.env?.map((e) => e.name),
          liveness: c.livenessProbe.httpGet.path,
          readiness: c.readinessProbe.httpGet.path,
          readOnlyRootFilesystem: c.securityContext?.['readOnlyRootFilesystem'],
        };
      };
      expect({ component, ...shape(config[component]) }).toEqual({ component, ...shape(fromChart[component]) });
    }
  });
});
