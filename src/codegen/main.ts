// `make generate` (npm run generate): rewrites the generated sections of the CRD and the
// ClusterRoles from the kinds table, in the repository the command runs in.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { projectTable } from './artefacts.js';
import { GenerateError, generate } from './generate.js';

try {
  const root = process.cwd();
  for (const file of generate(root, projectTable)) {
    if (file.next === file.current) continue;
    writeFileSync(path.join(root, file.path), file.next);
    process.stdout.write(`generated ${file.path}\n`);
  }
} catch (err) {
  if (!(err instanceof GenerateError)) throw err;
  process.stderr.write(`generate: ${err.message}\n`);
  process.exitCode = 1;
}
