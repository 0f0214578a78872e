// The fluxact command as users run it (from dist/, built by `make test`).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { repoRoot } from '../support/kube.js';

const main = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

function fluxact(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], { env: { ...process.env, FLUXACT_CONCURRENCY: '' } }, (err, stdout, stderr) => {
      const code = err && typeof err.code === 'number' ? err.code : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('fluxact', () => {
  it('prints the operator flags with --help', async () => {
    const { code, stdout } = await fluxact(['operator', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('--cross-namespace-from <ns1,ns2>');
    expect(stdout).toContain('--leader-elect');
  });

  it('refuses a bad flag value with the flag named and exit code 2', async () => {
    const { code, stderr } = await fluxact(['operator', '--concurrency', 'abc']);
    expect(code).toBe(2);
    expect(stderr.trim()).toBe('fluxact: --concurrency: expected an integer from 1 to 256, got "abc"');
  });

  it('refuses an unknown flag', async () => {
    const { code, stderr } = await fluxact(['operator', '--concurency=4']);
    expect(code).toBe(2);
    expect(stderr).toContain('--concurency');
  });

  it('refuses an unknown command', async () => {
    const { code, stderr } = await fluxact(['reconcile']);
    expect(code).toBe(2);
    expect(stderr).toContain('unknown command "reconcile"');
  });

  it('prints its version', async () => {
    const { code, stdout } = await fluxact(['version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
