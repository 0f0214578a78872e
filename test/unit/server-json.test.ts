// server.json, the MCP registry's entry for `fluxact mcp`, follows package.json: the same version,
// the package's mcpName (the registry's proof of ownership), a command npx can run, and only
// environment variables the server reads, with its defaults.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { MCP_FLAGS } from '../../src/mcp/config.js';
import { LOG_LEVELS } from '../../src/runtime/logger.js';
import { repoRoot } from '../support/kube.js';

const readJson = (file: string): unknown => JSON.parse(readFileSync(path.join(repoRoot, file), 'utf8'));

const packageJson = z
  .object({
    name: z.string(),
    version: z.string(),
    mcpName: z.string(),
    bin: z.record(z.string(), z.string()),
  })
  .parse(readJson('package.json'));

// The parts of the registry's schema (2025-12-11 server.schema.json) this entry uses.
const input = z.object({
  name: z.string(),
  description: z.string().min(1),
  format: z.enum(['string', 'number', 'boolean', 'filepath']).optional(),
  default: z.string().optional(),
  choices: z.array(z.string()).optional(),
  isRequired: z.boolean().optional(),
  isSecret: z.boolean().optional(),
});
const serverJson = z
  .object({
    $schema: z.url(),
    name: z.string().regex(/^[a-zA-Z0-9.-]+\/[a-zA-Z0-9._-]+$/),
    title: z.string().optional(),
    description: z.string().min(1).max(100),
    version: z.string(),
    packages: z
      .array(
        z.strictObject({
          registryType: z.literal('npm'),
          registryBaseUrl: z.literal('https://registry.npmjs.org'),
          identifier: z.string(),
          version: z.string(),
          runtimeHint: z.literal('npx'),
          transport: z.strictObject({ type: z.literal('stdio') }),
          packageArguments: z.array(z.strictObject({ type: z.literal('positional'), value: z.string() })),
          environmentVariables: z.array(input),
        }),
      )
      .length(1),
  })
  .parse(readJson('server.json'));
const entry = serverJson.packages[0]!;

describe('server.json', () => {
  it("has package.json's version, for the server and its npm package", () => {
    expect(serverJson.version).toBe(packageJson.version);
    expect(entry.version).toBe(packageJson.version);
  });

  it("is named by package.json's mcpName and points at the package", () => {
    expect(serverJson.name).toBe(packageJson.mcpName);
    expect(entry.identifier).toBe(packageJson.name);
  });

  it('runs `fluxact mcp` over stdio through the bin npx picks for the package (the one named after it)', () => {
    expect(entry.packageArguments.map((a) => a.value)).toEqual(['mcp']);
    const bin = packageJson.bin[packageJson.name];
    expect(bin).toBe(packageJson.bin['fluxact']);
  });

  it('lists only environment variables `fluxact mcp` reads, with its defaults', () => {
    const flags = new Map(MCP_FLAGS.map((f) => [f.env, f]));
    for (const variable of entry.environmentVariables) {
      const flag = flags.get(variable.name);
      expect({ name: variable.name, read: flag !== undefined }).toEqual({ name: variable.name, read: true });
      if (variable.default !== undefined) expect({ [variable.name]: variable.default }).toEqual({ [variable.name]: flag?.defaultText });
      if (variable.format === 'boolean') expect(flag?.value).toBeUndefined();
    }
    expect(entry.environmentVariables.map((v) => v.name)).toContain('KUBECONFIG');
    expect(entry.environmentVariables.find((v) => v.name === 'FLUXACT_LOG_LEVEL')?.choices).toEqual([...LOG_LEVELS]);
  });
});
