// What the operator's process loads. Node.js keeps the source and compiled code of every module it
// imports, so a module the operator never runs still costs it memory: the MCP server's HTTP stack
// (express, and iconv-lite under it) cost the idle operator 8.5 MiB of RSS when one small helper
// pulled it in, and the client's argument parser (yargs, whose terminal-width code reads ICU's data
// as it loads) about 4 MiB of the restarted operator's peak. The bundle is split at the command's lazy imports; this follows the static imports
// from the entry point and from the operator's own chunk, as Node.js loads them.
import path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { repoRoot } from '../../support/kube.js';

/** The packages of every input in the chunks loaded, statically, from the output whose inputs include `from`. */
function loadedPackages(meta: Metafile, from: string): Set<string> {
  const outputs = Object.entries(meta.outputs);
  const start = outputs.find(([, o]) => Object.keys(o.inputs).some((i) => i.endsWith(from)));
  if (!start) throw new Error(`no output holds ${from}`);
  const seen = new Set<string>();
  const queue = [start[0]];
  while (queue.length > 0) {
    const out = queue.pop()!;
    if (seen.has(out)) continue;
    seen.add(out);
    for (const i of meta.outputs[out]!.imports) if (i.kind === 'import-statement' && !i.external) queue.push(i.path);
  }
  const packages = new Set<string>();
  for (const out of seen)
    for (const input of Object.keys(meta.outputs[out]!.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      packages.add(m ? m[1]! : 'src');
    }
  return packages;
}

describe("the operator's process", () => {
  let meta: Metafile;
  beforeAll(async () => {
    const result = await build({
      entryPoints: [path.join(repoRoot, 'src', 'cli', 'main.ts')],
      outdir: path.join(repoRoot, '.cache', 'bundle-imports-test'),
      write: false,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      metafile: true,
      logLevel: 'silent',
    });
    meta = result.metafile;
  }, 60_000);

  it('loads neither the MCP server nor the CLI client nor its argument parser, whatever the command', () => {
    const atStart = loadedPackages(meta, 'src/cli/main.ts');
    for (const pkg of ['express', 'iconv-lite', '@modelcontextprotocol/sdk', 'ajv', 'ora', 'yargs', 'cliui', 'string-width'])
      expect(atStart).not.toContain(pkg);
  });

  it('loads what it runs on and not the MCP server', () => {
    const operator = loadedPackages(meta, 'src/operator/manager.ts');
    expect(operator).toContain('prom-client');
    for (const pkg of ['express', 'iconv-lite', '@modelcontextprotocol/sdk', 'ajv', 'ora', 'yargs']) expect(operator).not.toContain(pkg);
  });
});
