// The npm package as a user gets it: `npm pack` of the built tree, installed into an empty
// directory from npm's cache alone (no registry), production dependencies only, then its bins run
// through npx, and `fluxact mcp` started the way server.json tells an MCP client to start it.
// Fails when `files` leaves out what the bin loads, a runtime dependency is only a devDependency,
// or a bin points nowhere.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { repoRoot } from '../support/kube.js';
import { mcpKubeconfigFile, textOf } from '../support/mcp.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (at most 3 minutes); never throws on a non-zero exit. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Result> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, timeout: 180_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// npm and npx of the Node.js that runs the tests (hack/node.sh's), else the PATH's.
const nodeBin = path.dirname(process.execPath);
const npm = existsSync(path.join(nodeBin, 'npm')) ? path.join(nodeBin, 'npm') : 'npm';
const npx = existsSync(path.join(nodeBin, 'npx')) ? path.join(nodeBin, 'npx') : 'npx';

interface PackageJson {
  name: string;
  version: string;
  license: string;
  bin: Record<string, string>;
  engines: Record<string, string>;
  dependencies: Record<string, string>;
}
interface LockEntry {
  dev?: boolean;
  [field: string]: unknown;
}
interface ServerJson {
  packages: {
    identifier: string;
    runtimeHint: string;
    packageArguments: { value: string }[];
  }[];
}

const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as PackageJson;
const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
const serverJson = JSON.parse(readFileSync(path.join(repoRoot, 'server.json'), 'utf8')) as ServerJson;

/**
 * An empty project that depends on the tarball, with a lockfile: the package's production
 * dependencies at the versions package-lock.json resolves (its dev-only entries left out), so
 * `npm ci --offline` takes every one of them from npm's cache, where `npm ci` of this repository
 * put them.
 */
function writeProject(dir: string, tarball: string): void {
  const spec = `file:${tarball}`;
  const integrity = `sha512-${createHash('sha512')
    .update(readFileSync(path.join(dir, tarball)))
    .digest('base64')}`;
  const production = Object.fromEntries(Object.entries(lock.packages).filter(([key, entry]) => key !== '' && entry.dev !== true));
  const packages = {
    '': { name: 'npm-package-test', dependencies: { [pkg.name]: spec } },
    ...production,
    [`node_modules/${pkg.name}`]: {
      version: pkg.version,
      resolved: spec,
      integrity,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'npm-package-test', private: true, dependencies: { [pkg.name]: spec } }),
  );
  writeFileSync(
    path.join(dir, 'package-lock.json'),
    JSON.stringify({ name: 'npm-package-test', lockfileVersion: 3, requires: true, packages }),
  );
}

let project: string;
let packed: string[];

beforeAll(async () => {
  const main = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: build with 'npm run build:all' (make test does)`);
  project = mkdtempSync(path.join(tmpdir(), 'fluxact-npm-'));
  // --ignore-scripts: the tree is built already; prepack would build it again.
  const pack = await run(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', project], repoRoot);
  if (pack.code !== 0) throw new Error(`npm pack failed: ${pack.stderr}`);
  const [report] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  packed = report!.files.map((f) => f.path).sort();
  writeProject(project, report!.filename);
  const install = await run(npm, ['ci', '--offline', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], project);
  if (install.code !== 0)
    throw new Error(
      `npm ci --offline of the packed tarball failed (a dependency missing from npm's cache? run npm ci here first): ${install.stderr}`,
    );
}, 240_000);

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('holds the compiled sources, the CRDs, README and package.json: no sources, tests, maps or cache', () => {
    const crds = readdirSync(path.join(repoRoot, 'crds')).map((f) => `crds/${f}`);
    expect(packed).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'dist/src/cli/main.js', ...crds]));
    const unexpected = packed.filter((f) => !/^(package\.json|README\.md|LICENSE|crds\/[^/]+\.yaml|dist\/src\/.+\.js)$/.test(f));
    expect(unexpected).toEqual([]);
    expect(packed.filter((f) => f.startsWith('dist/src/codegen/'))).toEqual([]);
  });

  it('installs from npm’s cache alone, without its development dependencies', () => {
    const installed = path.join(project, 'node_modules');
    expect(existsSync(path.join(installed, pkg.name, 'dist', 'src', 'cli', 'main.js'))).toBe(true);
    for (const dev of ['jest', 'typescript', 'eslint'])
      expect({ dev, installed: existsSync(path.join(installed, dev)) }).toEqual({ dev, installed: false });
  });

  it('runs `npx fluxact --help`, `--version`, `mcp --help` and `operator --help` in the empty project', async () => {
    const [help, shown, mcpHelp, operatorHelp] = await Promise.all([
      run(npx, ['--offline', 'fluxact', '--help'], project),
      run(npx, ['--offline', 'fluxact', '--version'], project),
      run(npx, ['--offline', 'fluxact', 'mcp', '--help'], project),
      run(npx, ['--offline', 'fluxact', 'operator', '--help'], project),
    ]);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toContain('fluxact <command> [flags]');
    // The installed package's own version, read from its package.json.
    expect(shown).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    expect(mcpHelp).toMatchObject({ code: 0, stderr: '' });
    expect(mcpHelp.stdout).toContain('Usage: fluxact mcp [flags]');
    expect(operatorHelp).toMatchObject({ code: 0, stderr: '' });
    expect(operatorHelp.stdout).toContain('Usage: fluxact operator [flags]');
  });

  it('links kubectl-fluxact and a bin named after the package (the one npx runs) to the same command', () => {
    const bin = path.join(project, 'node_modules', '.bin');
    const fluxact = realpathSync(path.join(bin, 'fluxact'));
    expect(fluxact).toBe(path.join(realpathSync(project), 'node_modules', pkg.name, 'dist', 'src', 'cli', 'main.js'));
    for (const name of ['kubectl-fluxact', pkg.name])
      expect({ name, target: realpathSync(path.join(bin, name)) }).toEqual({ name, target: fluxact });
  });

  it('serves MCP over stdio when started as server.json says (npx <package> mcp, KUBECONFIG)', async () => {
    const entry = serverJson.packages[0]!;
    expect(entry.runtimeHint).toBe('npx');
    const transport = new StdioClientTransport({
      command: npx,
      args: ['--offline', entry.identifier, ...entry.packageArguments.map((a) => a.value)],
      cwd: project,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KUBECONFIG: await mcpKubeconfigFile(), FLUXACT_LOG_LEVEL: 'warn' },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'fluxact-npm-package-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['reconcile_flux_kustomization', 'list_flux_action_requests']));
      // A read through the kubeconfig: the server reaches the cluster as the adapter's ServiceAccount.
      const listed = await client.callTool({ name: 'list_flux_action_requests', arguments: { namespace: 'default' } });
      expect({ isError: listed.isError ?? false, text: textOf(listed) }).toMatchObject({ isError: false });
    } finally {
      await client.close();
    }
  });
});
