// Bundles the compiled command (dist/src/cli/main.js, from `npm run build`) and its dependencies
// into dist/bundle: what the container image runs, without node_modules. Minified, because Node.js
// keeps every loaded module's source in memory (client-node is 21 MB of JavaScript, 3.4 MB
// bundled and minified), and split at the command's lazy imports, so the operator's process
// still loads neither the MCP server nor the client.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints: [path.join(root, 'dist', 'src', 'cli', 'main.js')],
  outdir,
  bundle: true,
  minify: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  plugins: [
    {
      name: 'whatwg-url',
      setup(b) {
        b.onResolve({ filter: /^whatwg-url$/ }, () => ({ path: path.join(root, 'hack', 'whatwg-url-shim.mjs') }));
      },
    },
  ],
  // CommonJS dependencies call require(); in an ES module it has to be made.
  banner: { js: "import { createRequire as __fluxactRequire } from 'node:module'; const require = __fluxactRequire(import.meta.url);" },
});
const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
process.stdout.write(
  `bundle: ${Object.keys(result.metafile.outputs).length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB in ${path.relative(root, outdir)}\n`,
);
