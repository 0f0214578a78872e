import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { randomSuffix } from '../support/kube.js';
import { git, MediaType, OciAnnotation, startSourcesServer, TestAuthor, type SourcesServer } from '../support/sources.js';

const run = promisify(execFile);
let server: SourcesServer;

// The first run of the suite may build fluxact-sources (about half a minute).
beforeAll(async () => {
  server = await startSourcesServer();
}, 300_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await server?.stop();
});

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Unpacks a .tgz with the tar CLI into a new temporary directory. */
async function untar(archive: Uint8Array): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'fluxact-untar-'));
  const file = `${dir}.tgz`;
  writeFileSync(file, archive);
  await run('tar', ['-xzf', file, '-C', dir]);
  rmSync(file);
  return dir;
}

async function getBytes(url: string): Promise<Buffer> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return Buffer.from(await res.arrayBuffer());
}

describe('fluxact-sources', () => {
  describe('Git (/git/<name>.git)', () => {
    it('creates a repository on the first push and serves both commits to ls-remote and clone', async () => {
      const repo = server.gitRepo(`app-${randomSuffix()}`);
      expect(repo.url).toBe(`${server.url}/git/${repo.name}.git`);
      expect(await repo.head()).toBeUndefined();

      const first = await repo.commit({ 'deploy/config.yaml': 'replicas: 1\n', 'README.md': 'first\n' }, 'Add config');
      expect(first).toMatch(/^[0-9a-f]{40}$/);
      expect(await repo.head()).toBe(first);
      const second = await repo.commit({ 'deploy/config.yaml': 'replicas: 2\n', 'README.md': null }, 'Scale to 2');
      expect(second).toMatch(/^[0-9a-f]{40}$/);
      expect(second).not.toBe(first);

      const refs = await git(tmpdir(), 'ls-remote', repo.url);
      expect(refs).toContain(`${second}\tHEAD\n`);
      expect(refs).toContain(`${second}\trefs/heads/main\n`);

      const clone = path.join(mkdtempSync(path.join(tmpdir(), 'fluxact-clone-')), 'repo');
      await git(tmpdir(), 'clone', '-q', repo.url, clone);
      const log = await git(clone, 'log', '--format=%H %an <%ae> %s');
      expect(log.trim().split('\n')).toEqual([
        `${second} ${TestAuthor.name} <${TestAuthor.email}> Scale to 2`,
        `${first} ${TestAuthor.name} <${TestAuthor.email}> Add config`,
      ]);
      expect(readFileSync(path.join(clone, 'deploy', 'config.yaml'), 'utf8')).toBe('replicas: 2\n');
      expect(existsSync(path.join(clone, 'README.md'))).toBe(false);
    });

    it('commits on top of the server branch when another clone pushed to it', async () => {
      const name = `shared-${randomSuffix()}`;
      const first = await server.gitRepo(name).commit({ 'a.txt': 'a\n' }, 'From the first clone');
      const second = await server.gitRepo(name).commit({ 'b.txt': 'b\n' }, 'From the second clone');
      const clone = path.join(mkdtempSync(path.join(tmpdir(), 'fluxact-clone-')), 'repo');
      await git(tmpdir(), 'clone', '-q', server.gitRepo(name).url, clone);
      expect((await git(clone, 'rev-parse', 'HEAD', 'HEAD^')).trim().split('\n')).toEqual([second, first]);
      expect(readFileSync(path.join(clone, 'a.txt'), 'utf8')).toBe('a\n');
    });

    it('answers 404 for a repository never pushed to, without creating it', async () => {
      const name = `missing-${randomSuffix()}`;
      await expect(git(tmpdir(), 'ls-remote', `${server.url}/git/${name}.git`)).rejects.toThrow(/not found/);
      expect(existsSync(path.join(server.root, 'git', `${name}.git`))).toBe(false);
    });
  });

  describe('Helm (/helm/)', () => {
    it('publishes two versions of a chart; index.yaml lists both, newest first, with the archives digests', async () => {
      const name = `demo-${randomSuffix()}`;
      const helm = server.helmRepo();
      const templates = {
        'configmap.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  color: {{ .Values.color }}\n',
      };
      const v1 = await helm.publishChart({ name, version: '0.1.0', appVersion: '1.0.0', templates, values: { color: 'blue' } });
      const v2 = await helm.publishChart({ name, version: '0.2.0', appVersion: '1.1.0', templates, values: { color: 'green' } });

      const index = await helm.index();
      const entries = index.entries[name] ?? [];
      expect(entries.map((e) => [e.version, e.appVersion, e.apiVersion, e.digest, e.urls])).toEqual([
        ['0.2.0', '1.1.0', 'v2', v2.digest, [`${name}-0.2.0.tgz`]],
        ['0.1.0', '1.0.0', 'v2', v1.digest, [`${name}-0.1.0.tgz`]],
      ]);
      for (const entry of entries) expect(Date.parse(entry.created)).not.toBeNaN();

      // The archive the index points at is the one published, and a chart that tar reads.
      const archive = await getBytes(new URL(entries[0]!.urls[0]!, helm.url).href);
      expect(sha256(archive)).toBe(v2.digest);
      expect(v2.url).toBe(`${server.url}/helm/${name}-0.2.0.tgz`);
      const dir = await untar(archive);
      expect(parse(readFileSync(path.join(dir, name, 'Chart.yaml'), 'utf8'))).toEqual({
        apiVersion: 'v2',
        name,
        version: '0.2.0',
        appVersion: '1.1.0',
        type: 'application',
      });
      expect(parse(readFileSync(path.join(dir, name, 'values.yaml'), 'utf8'))).toEqual({ color: 'green' });
      expect(readFileSync(path.join(dir, name, 'templates', 'configmap.yaml'), 'utf8')).toBe(templates['configmap.yaml']);
    });

    it('refuses an archive stored under another name than <name>-<version>.tgz', async () => {
      const published = await server.helmRepo().publishChart({ name: `named-${randomSuffix()}`, version: '1.0.0', templates: {} });
      const res = await fetch(`${server.url}/helm/wrong-1.0.0.tgz`, { method: 'PUT', body: published.archive });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain(`${published.name}-1.0.0.tgz`);
      expect((await server.helmRepo().index()).entries['wrong']).toBeUndefined();
    });
  });

  describe('OCI (/v2/)', () => {
    it('pushes a Flux artifact and serves its manifest and content', async () => {
      const repo = server.ociRepo(`apps/web-${randomSuffix()}`);
      expect(repo.url).toBe(`oci://${new URL(server.url).host}/${repo.name}`);
      // The second path is longer than a tar header's 100-byte name field (it goes into the ustar prefix).
      const long = `overlays/${'nested-directory/'.repeat(7)}patch.yaml`;
      const files = { 'deploy/configmap.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n', [long]: 'patch\n' };
      const digest = await repo.pushArtifact('v1', files, {
        revision: 'main@sha1:0123456789abcdef0123456789abcdef01234567',
        source: 'http://127.0.0.1/git/web.git',
      });
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);

      const manifest = await repo.manifest('v1');
      expect(manifest).toEqual(await repo.manifest(digest));
      expect(manifest.mediaType).toBe(MediaType.ociManifest);
      expect(manifest.config.mediaType).toBe(MediaType.fluxConfig);
      expect(manifest.layers.map((l) => l.mediaType)).toEqual([MediaType.fluxContent]);
      expect(manifest.annotations).toMatchObject({
        [OciAnnotation.revision]: 'main@sha1:0123456789abcdef0123456789abcdef01234567',
        [OciAnnotation.source]: 'http://127.0.0.1/git/web.git',
      });

      const layer = await getBytes(`${server.url}/v2/${repo.name}/blobs/${manifest.layers[0]!.digest}`);
      expect(`sha256:${sha256(layer)}`).toBe(manifest.layers[0]!.digest);
      const dir = await untar(layer);
      expect(readFileSync(path.join(dir, 'deploy', 'configmap.yaml'), 'utf8')).toBe(files['deploy/configmap.yaml']);
      expect(readFileSync(path.join(dir, ...long.split('/')), 'utf8')).toBe('patch\n');
    });

    it('pushes a Helm chart with Helm media types, tagged with its version', async () => {
      const repo = server.ociRepo(`charts/podinfo-${randomSuffix()}`);
      await repo.pushChart({ name: 'podinfo', version: '6.5.0', templates: { 'cm.yaml': 'kind: ConfigMap\n' } });
      const manifest = await repo.manifest('6.5.0');
      expect(manifest.config.mediaType).toBe(MediaType.helmConfig);
      expect(manifest.layers.map((l) => l.mediaType)).toEqual([MediaType.helmChart]);
      const config = JSON.parse((await getBytes(`${server.url}/v2/${repo.name}/blobs/${manifest.config.digest}`)).toString()) as unknown;
      expect(config).toMatchObject({ name: 'podinfo', version: '6.5.0', apiVersion: 'v2' });
      const tags = (await (await fetch(`${server.url}/v2/${repo.name}/tags/list`)).json()) as { tags: string[] };
      expect(tags.tags).toEqual(['6.5.0']);
    });
  });

  describe('the server', () => {
    it('answers /healthz and logs one line per request', async () => {
      const res = await fetch(`${server.url}/healthz?probe=${randomSuffix()}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('ok\n');
      const probe = new URL(res.url).search;
      expect(
        server
          .log()
          .split('\n')
          .filter((line) => line.includes(`GET /healthz${probe} 200 `)),
      ).toHaveLength(1);
    });

    it('exits 0 on SIGTERM', async () => {
      const other = await startSourcesServer();
      expect((await fetch(`${other.url}/healthz`)).status).toBe(200);
      expect(await other.stop()).toBe(0);
      expect(other.log()).toContain('shutting down');
    });
  });
});
