// make dev: fills the local sources server with what config/samples points at upstream (podinfo's
// Git repository and its chart in an OCI registry), and prints config/samples (as `kubectl
// kustomize` renders it, read from stdin) with the upstream addresses replaced by the local ones,
// for `kubectl apply -f -`. The samples in config/ stay as a user would write them for a real
// cluster; only their addresses change here.
//
//   kubectl kustomize config/samples | node dist/test/cluster/dev-samples.js <sources-url>
import { readFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import { deploymentTemplate, sources, type ChartSpec } from '../support/sources.js';

const podinfoImage = 'ghcr.io/stefanprodan/podinfo:6.5.0';

/** podinfo's ./kustomize folder, cut down to a Deployment and a Service. */
const kustomizeFolder: Record<string, string> = {
  'kustomize/kustomization.yaml': stringify({
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: ['deployment.yaml', 'service.yaml'],
  }),
  'kustomize/deployment.yaml': stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'podinfo' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'podinfo' } },
      template: {
        metadata: { labels: { app: 'podinfo' } },
        spec: { containers: [{ name: 'podinfod', image: podinfoImage, ports: [{ name: 'http', containerPort: 9898 }] }] },
      },
    },
  }),
  'kustomize/service.yaml': stringify({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'podinfo' },
    spec: { selector: { app: 'podinfo' }, ports: [{ name: 'http', port: 9898, targetPort: 'http' }] },
  }),
};

const chart: ChartSpec = {
  name: 'podinfo',
  version: '6.5.0',
  appVersion: '6.5.0',
  templates: {
    'deployment.yaml': deploymentTemplate('podinfod', 'ghcr.io/stefanprodan/podinfo'),
  },
};

interface Manifest {
  kind?: string;
  spec?: Record<string, unknown>;
}

const upstream = {
  git: 'https://github.com/stefanprodan/podinfo',
  oci: 'oci://ghcr.io/',
};

async function main(): Promise<void> {
  const url = process.argv[2];
  if (!url) throw new Error('usage: dev-samples.js <sources-url> < rendered-samples.yaml');
  const local = sources(url);
  const docs = parseAllDocuments(readFileSync(0, 'utf8')).map((d) => d.toJS() as Manifest);

  for (const doc of docs) {
    const spec = doc.spec ?? {};
    if (doc.kind === 'GitRepository' && spec['url'] === upstream.git) {
      const branch = (spec['ref'] as { branch?: string } | undefined)?.branch ?? 'master';
      const repo = local.gitRepo('podinfo', branch);
      if (!(await repo.head())) await repo.commit(kustomizeFolder, 'podinfo manifests');
      spec['url'] = repo.url;
    }
    if (doc.kind === 'OCIRepository' && String(spec['url']).startsWith(upstream.oci)) {
      const oci = local.ociRepo(String(spec['url']).slice(upstream.oci.length));
      await oci.pushChart(chart);
      spec['url'] = oci.url;
      // The local registry speaks plain HTTP.
      spec['insecure'] = true;
    }
  }
  process.stdout.write(docs.map((d) => stringify(d)).join('---\n'));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
