// The fluxact command as users run it (from dist/, built by `make test`).
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { repoRoot } from '../support/kube.js';

const main = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

function fluxact(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], { env: { ...env, FLUXACT_CONCURRENCY: '' } }, (err, stdout, stderr) => {
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
    const { code, stderr } = await fluxact(['frobnicate']);
    expect(code).toBe(2);
    expect(stderr).toBe('fluxact: unknown command "frobnicate"\n');
  });

  it('prints its version', async () => {
    const { code, stdout } = await fluxact(['version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('a malformed kubeconfig', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fluxact-kubeconfig-'));
  const file = (name: string, text: string): string => {
    const at = path.join(dir, name);
    writeFileSync(at, text);
    return at;
  };
  const notYaml = file('not-yaml', 'apiVersion: v1\nclusters: [\n  - name: a\n');
  const noServer = file('no-server', 'apiVersion: v1\nkind: Config\nclusters:\n- name: a\n  cluster: {}\n');
  const noContext = file('no-context', 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
  const unknownContext = file('unknown-context', 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\ncurrent-context: prod\n');
  const missing = path.join(dir, 'missing');

  describe.each(['operator', 'mcp'])('fluxact %s', (command) => {
    it.each([
      [
        'is not YAML',
        notYaml,
        `kubeconfig ${notYaml}: invalid YAML at line 3, column 3: block collections are not allowed within flow collections`,
      ],
      ['lacks a cluster server', noServer, `kubeconfig ${noServer}: clusters[0].cluster.server is missing`],
      ['sets no current-context', noContext, `kubeconfig ${noContext}: no current-context is set`],
      ['names a context it lacks', unknownContext, `kubeconfig ${unknownContext}: current-context "prod" is not among its contexts`],
      ['does not exist', missing, `kubeconfig ${missing}: no such file`],
    ])('that %s: one line saying so, exit code 2', async (_what, kubeconfig, message) => {
      const { code, stdout, stderr } = await fluxact([command, '--kubeconfig', kubeconfig]);
      expect(code).toBe(2);
      expect(stderr).toBe(`fluxact: ${message}\n`);
      expect(stdout).toBe('');
    });
  });
});

describe('no kubeconfig, or an API server that does not answer', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fluxact-home-'));
  // Neither $KUBECONFIG nor ~/.kube/config, and not in a pod.
  const bare: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir };

  it.each([['get'], ['reconcile', 'ks', 'app'], ['operator'], ['mcp']])(
    'fluxact %s without any kubeconfig: one line saying where one is looked for, exit code 2',
    async (...args) => {
      const { code, stdout, stderr } = await fluxact(args, bare);
      expect(code).toBe(2);
      expect(stderr).toBe(
        'fluxact: no kubeconfig: set $KUBECONFIG or pass --kubeconfig, or create ~/.kube/config (in a pod, the ServiceAccount is used)\n',
      );
      expect(stdout).toBe('');
    },
  );

  // A port nothing listens on (the one a closed server had).
  const refused = path.join(dir, 'refused');
  beforeAll(async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
    writeFileSync(
      refused,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "https://127.0.0.1:${port}"}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\nusers:\n- name: u\n  user: {token: t}\n`,
    );
  });

  it.each([['get'], ['describe', 'nope'], ['reconcile', 'ks', 'app', '--no-wait']])(
    'fluxact %s against a refused connection: one line naming the server and the reason, exit code 1',
    async (...args) => {
      const { code, stdout, stderr } = await fluxact([...args, '--kubeconfig', refused], bare);
      expect(code).toBe(1);
      expect(stderr).toMatch(
        /^fluxact: cannot reach the API server at https:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED 127\.0\.0\.1:\d+\n$/,
      );
      expect(stdout).toBe('');
    },
  );
});
