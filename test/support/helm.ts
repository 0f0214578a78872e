// The helm binary for the chart's tests (charts/flux-action-operator): $FLUXACT_HELM_BIN, else the
// per-user cache, where test/cluster/build.sh helm builds it when missing.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './kube.js';

const run = promisify(execFile);

/** The variable naming a helm binary to use instead of the cache's. */
export const HelmBinEnv = 'FLUXACT_HELM_BIN';
/** The chart's directory. */
export const chartDir = path.join(repoRoot, 'charts', 'flux-action-operator');
/** Values switching every optional part of the chart on. */
export const allFeaturesValues = path.join(repoRoot, 'test', 'chart', 'all-features.values.yaml');

let bin: Promise<string> | undefined;

/** Path of the helm binary, built once per process if the cache lacks it. */
export function helmBin(): Promise<string> {
  const fromEnv = process.env[HelmBinEnv];
  if (fromEnv) return Promise.resolve(fromEnv);
  bin ??= run('bash', [path.join(repoRoot, 'test', 'cluster', 'build.sh'), 'helm'], { maxBuffer: 1 << 20 }).then(({ stdout }) =>
    stdout.trim(),
  );
  return bin;
}

/** Runs helm with args; rejects with its stderr on failure. */
export async function helm(args: string[], env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout } = await run(await helmBin(), args, { maxBuffer: 16 << 20, env: { ...process.env, ...env } });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`helm ${args.join(' ')} failed: ${stderr || String(err)}`, { cause: err });
  }
}

/** A rendered Kubernetes object, as plain parsed YAML. */
export interface Rendered {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** Parses a multi-document YAML stream into objects, leaving out empty documents. */
export function parseObjects(text: string): Rendered[] {
  return parseAllDocuments(text)
    .map((d) => d.toJSON() as Rendered | null)
    .filter((o): o is Rendered => o !== null);
}

/**
 * `helm template` of the chart as release `fluxact` in namespace (default fluxact-system), with
 * values files and --set arguments; CRDs included.
 */
export async function renderChart(options: { namespace?: string; values?: string[]; set?: string[] } = {}): Promise<Rendered[]> {
  const args = ['template', 'fluxact', chartDir, '--namespace', options.namespace ?? 'fluxact-system', '--include-crds'];
  for (const file of options.values ?? []) args.push('-f', file);
  for (const s of options.set ?? []) args.push('--set', s);
  return parseObjects(await helm(args));
}
