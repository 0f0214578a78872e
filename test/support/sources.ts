// Test access to fluxact-sources (test/cluster/sources/), the local server the Flux controllers fetch
// from: Git repositories to push commits to, a Helm repository to publish charts to and an OCI
// registry to push Flux artifacts and Helm charts to, all under one loopback URL.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { repoRoot, waitFor } from './kube.js';
import { checkRelativePath, tar, tarGz, type ArchiveFiles } from './tarball.js';

const run = promisify(execFile);

/** The variable holding the base URL (http://127.0.0.1:PORT) of a server started outside the tests. */
export const SourcesUrlEnv = 'FLUXACT_SOURCES_URL';
/** The variable naming a fluxact-sources binary to use instead of building one with test/cluster/build.sh. */
export const SourcesBinEnv = 'FLUXACT_SOURCES_BIN';

/** Media types of Flux artifacts (as `flux push artifact` writes them) and of Helm charts in OCI registries. */
export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  fluxConfig: 'application/vnd.cncf.flux.config.v1+json',
  fluxContent: 'application/vnd.cncf.flux.content.v1.tar+gzip',
  helmConfig: 'application/vnd.cncf.helm.config.v1+json',
  helmChart: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
} as const;

/** The OCI annotations Flux reads from an artifact's manifest. */
export const OciAnnotation = {
  created: 'org.opencontainers.image.created',
  revision: 'org.opencontainers.image.revision',
  source: 'org.opencontainers.image.source',
} as const;

/** Author and committer of every commit pushed by the tests. */
export const TestAuthor = { name: 'fluxact tests', email: 'tests@fluxaction.io' } as const;

/** The sources on one server. */
export interface Sources {
  /** Base URL, http://127.0.0.1:PORT. */
  url: string;
  /** The Git repository `name`, on `branch` (default main); created on the server by its first commit. */
  gitRepo(name: string, branch?: string): GitRepo;
  /** The server's Helm repository. */
  helmRepo(): HelmRepo;
  /** The OCI repository `name` (e.g. `apps/web`) in the server's registry. */
  ociRepo(name: string): OciRepo;
}

export interface GitRepo {
  name: string;
  branch: string;
  /** http://127.0.0.1:PORT/git/<name>.git: the spec.url of a GitRepository (with spec.ref.branch). */
  url: string;
  /**
   * Writes (string) or deletes (null) files, commits them (with TestAuthor, even if nothing changed) on
   * top of what the server has and pushes the branch; resolves with the commit's full SHA. Calls on one
   * GitRepo run one at a time.
   */
  commit(files: Record<string, string | null>, message: string): Promise<string>;
  /** The SHA the server's branch points at; undefined before the first push. */
  head(): Promise<string | undefined>;
}

export interface ChartSpec {
  name: string;
  version: string;
  appVersion?: string;
  /** templates/<file> → content. */
  templates: Record<string, string>;
  /** values.yaml, as an object or as its text; default empty. */
  values?: Record<string, unknown> | string;
}

export interface PublishedChart {
  name: string;
  version: string;
  /** The archive's sha256 (hex), as index.yaml's digest says. */
  digest: string;
  /** The archive's absolute URL. */
  url: string;
  archive: Buffer;
}

export interface HelmRepo {
  /** http://127.0.0.1:PORT/helm/: the spec.url of a HelmRepository. */
  url: string;
  /** Packs a chart, uploads it and resolves once index.yaml lists it (the server rewrites the index). */
  publishChart(chart: ChartSpec): Promise<PublishedChart>;
  /** The repository's index.yaml. */
  index(): Promise<HelmIndex>;
}

export interface OciRepo {
  name: string;
  /** oci://127.0.0.1:PORT/<name>: the spec.url of an OCIRepository (with spec.insecure: true: plain HTTP). */
  url: string;
  /**
   * Pushes files as a Flux artifact tagged `tag`, as `flux push artifact` does: one tar+gzip layer, Flux's
   * config media type, the created/source/revision annotations (revision default: the tag; source default:
   * the repository's URL). Resolves with the manifest's digest (sha256:...).
   */
  pushArtifact(tag: string, files: ArchiveFiles, meta?: { revision?: string; source?: string }): Promise<string>;
  /** Pushes a chart as `helm push` does, tagged with its version; resolves with the manifest's digest. */
  pushChart(chart: ChartSpec): Promise<string>;
  /** A manifest by tag or digest. */
  manifest(reference: string): Promise<OciManifest>;
}

const IndexEntry = z.looseObject({
  apiVersion: z.string(),
  name: z.string(),
  version: z.string(),
  appVersion: z.string().optional(),
  urls: z.array(z.string()).min(1),
  digest: z.string(),
  created: z.string(),
});
const HelmIndex = z.object({
  apiVersion: z.literal('v1'),
  entries: z.record(z.string(), z.array(IndexEntry)),
  generated: z.string(),
});
export type HelmIndex = z.infer<typeof HelmIndex>;

const Descriptor = z.object({ mediaType: z.string(), digest: z.string(), size: z.number() });
const OciManifest = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string(),
  config: Descriptor,
  layers: z.array(Descriptor),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type OciManifest = z.infer<typeof OciManifest>;

/** The sources on the server at url (default: $FLUXACT_SOURCES_URL). */
export function sources(url = process.env[SourcesUrlEnv]): Sources {
  if (!url) throw new Error(`no sources server: set ${SourcesUrlEnv} or start one with startSourcesServer()`);
  const base = url.replace(/\/+$/, '');
  return {
    url: base,
    gitRepo: (name, branch = 'main') => gitRepo(base, name, branch),
    helmRepo: () => helmRepo(base),
    ociRepo: (name) => ociRepo(base, name),
  };
}

export interface SourcesServer extends Sources {
  /** Its data directory (git/, helm/), deleted by stop(). */
  root: string;
  /** Everything it wrote to stderr: one line per request. */
  log(): string;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * The fluxact-sources binary: $FLUXACT_SOURCES_BIN, or the one `test/cluster/build.sh sources` builds
 * into the cache (about half a minute the first time, at once afterwards).
 */
export async function sourcesBinary(): Promise<string> {
  const fromEnv = process.env[SourcesBinEnv];
  if (fromEnv) return fromEnv;
  const { stdout } = await run('bash', [path.join(repoRoot, 'test', 'cluster', 'build.sh'), 'sources'], { maxBuffer: 16 << 20 });
  const bin = stdout.trim().split('\n').pop();
  if (!bin) throw new Error('test/cluster/build.sh sources printed no path');
  return bin;
}

/** Starts fluxact-sources on a free loopback port with a new temporary data directory. */
export async function startSourcesServer(binary?: string): Promise<SourcesServer> {
  const bin = binary ?? (await sourcesBinary());
  const root = mkdtempSync(path.join(tmpdir(), 'fluxact-sources-'));
  const child = spawn(bin, ['--root', root, '--addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      resolve(code);
    }),
  );
  // It prints its URL on stdout once it listens.
  const url = await waitFor(
    'fluxact-sources to listen',
    () => {
      if (child.exitCode !== null) throw new Error(`fluxact-sources exited ${child.exitCode}: ${stderr}`);
      return /^(http:\/\/\S+)\n/.exec(stdout)?.[1];
    },
    10_000,
  ).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  return {
    ...sources(url),
    root,
    log: () => stderr,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      rmSync(root, { recursive: true, force: true });
      return code;
    },
  };
}

// Git runs with no user or system configuration, the fixed author, and never prompts.
const gitEnv: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GIT_'))),
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: TestAuthor.name,
  GIT_AUTHOR_EMAIL: TestAuthor.email,
  GIT_COMMITTER_NAME: TestAuthor.name,
  GIT_COMMITTER_EMAIL: TestAuthor.email,
};

/** Runs the git CLI in cwd (no shell) with the tests' environment; resolves with its stdout. */
export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd, env: gitEnv, maxBuffer: 16 << 20 });
  return stdout;
}

function gitRepo(base: string, name: string, branch: string): GitRepo {
  const url = `${base}/git/${name}.git`;
  let workTree: string | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  const head = async (): Promise<string | undefined> => {
    try {
      const out = await git(tmpdir(), 'ls-remote', url, `refs/heads/${branch}`);
      return out.split(/\s/)[0] || undefined;
    } catch (err) {
      // The server answers 404 for a repository nothing was pushed to yet; git says "repository '...' not found".
      // (String(err), not instanceof Error: under jest, child_process errors come from another realm.)
      if (/repository '.*' not found/.test(String(err))) return undefined;
      throw err;
    }
  };

  const commitNow = async (files: Record<string, string | null>, message: string): Promise<string> => {
    if (!workTree) {
      const dir = mkdtempSync(path.join(tmpdir(), `fluxact-git-${name}-`));
      await git(dir, 'init', '-q', '-b', branch);
      await git(dir, 'remote', 'add', 'origin', url);
      workTree = dir;
    }
    const dir = workTree;
    // Start from the server's branch: another GitRepo (or process) may have pushed to it.
    const remote = await head();
    const local = await git(dir, 'rev-parse', '-q', '--verify', 'HEAD').then(
      (out) => out.trim(),
      () => undefined,
    );
    if (remote && remote !== local) {
      await git(dir, 'fetch', '-q', 'origin', branch);
      await git(dir, 'reset', '-q', '--hard', 'FETCH_HEAD');
    }
    for (const [file, content] of Object.entries(files)) {
      checkRelativePath(file);
      if (file.split('/')[0] === '.git') throw new Error(`cannot write ${file} in a Git work tree`);
      const target = path.join(dir, ...file.split('/'));
      if (content === null) {
        rmSync(target);
      } else {
        mkdirSync(path.dirname(target), { recursive: true });
        writeFileSync(target, content);
      }
    }
    await git(dir, 'add', '-A');
    await git(dir, 'commit', '-q', '--allow-empty', '-m', message);
    await git(dir, 'push', '-q', 'origin', `HEAD:refs/heads/${branch}`);
    return (await git(dir, 'rev-parse', 'HEAD')).trim();
  };

  return {
    name,
    branch,
    url,
    head,
    commit: (files, message) => {
      const result = queue.then(() => commitNow(files, message));
      queue = result.catch(() => undefined);
      return result;
    },
  };
}

/**
 * A chart template of one Deployment named after the release, one replica of a container running
 * `<image>:<the chart's appVersion>` (on the fake node its pod turns Running).
 */
export function deploymentTemplate(container: string, image: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 1
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
        - name: ${container}
          image: ${image}:{{ .Chart.AppVersion }}
`;
}

/** A chart's archive: <name>/Chart.yaml (apiVersion v2, type application), values.yaml, templates/*. */
export function chartArchive(chart: ChartSpec): Buffer {
  const files: ArchiveFiles = {
    [`${chart.name}/Chart.yaml`]: stringify(chartMetadata(chart)),
    [`${chart.name}/values.yaml`]: typeof chart.values === 'string' ? chart.values : stringify(chart.values ?? {}),
  };
  for (const [file, content] of Object.entries(chart.templates)) files[`${chart.name}/templates/${file}`] = content;
  return tarGz(files);
}

function chartMetadata(chart: ChartSpec): Record<string, string> {
  return {
    apiVersion: 'v2',
    name: chart.name,
    version: chart.version,
    ...(chart.appVersion !== undefined ? { appVersion: chart.appVersion } : {}),
    type: 'application',
  };
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Throws, with the server's answer, unless the response has the expected status. */
async function expectStatus(res: Response, status: number, what: string): Promise<void> {
  if (res.status !== status) throw new Error(`${what}: ${res.status} ${res.statusText}: ${(await res.text()).trim()}`);
}

function helmRepo(base: string): HelmRepo {
  const url = `${base}/helm/`;
  const index = async (): Promise<HelmIndex> => {
    const res = await fetch(new URL('index.yaml', url));
    await expectStatus(res, 200, `GET ${url}index.yaml`);
    return HelmIndex.parse(parse(await res.text()));
  };
  return {
    url,
    index,
    publishChart: async (chart) => {
      const archive = chartArchive(chart);
      const file = `${chart.name}-${chart.version}.tgz`;
      const res = await fetch(new URL(file, url), { method: 'PUT', body: archive, headers: { 'Content-Type': 'application/gzip' } });
      await expectStatus(res, 201, `PUT ${url}${file}`);
      const entry = IndexEntry.parse(await res.json());
      const digest = sha256(archive);
      if (entry.digest !== digest) throw new Error(`${url}${file}: the server's digest ${entry.digest} is not the archive's ${digest}`);
      return { name: chart.name, version: chart.version, digest, url: new URL(entry.urls[0]!, url).href, archive };
    },
  };
}

function ociRepo(base: string, name: string): OciRepo {
  const host = new URL(base).host;
  const api = `${base}/v2/${name}`;
  const url = `oci://${host}/${name}`;

  // A blob in two steps (start an upload, PUT its content with the digest), as every registry accepts.
  const pushBlob = async (mediaType: string, data: Buffer): Promise<z.infer<typeof Descriptor>> => {
    const digest = `sha256:${sha256(data)}`;
    const start = await fetch(`${api}/blobs/uploads/`, { method: 'POST' });
    await expectStatus(start, 202, `POST ${api}/blobs/uploads/`);
    const location = start.headers.get('location');
    if (!location) throw new Error(`POST ${api}/blobs/uploads/ gave no Location`);
    const upload = new URL(location, base);
    upload.searchParams.set('digest', digest);
    const put = await fetch(upload, { method: 'PUT', body: data, headers: { 'Content-Type': 'application/octet-stream' } });
    await expectStatus(put, 201, `PUT ${upload.pathname}`);
    return { mediaType, digest, size: data.length };
  };

  const pushManifest = async (
    tag: string,
    config: z.infer<typeof Descriptor>,
    layer: z.infer<typeof Descriptor>,
    annotations: Record<string, string>,
  ): Promise<string> => {
    const manifest: OciManifest = { schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: [layer], annotations };
    const body = Buffer.from(JSON.stringify(manifest));
    const res = await fetch(`${api}/manifests/${tag}`, { method: 'PUT', body, headers: { 'Content-Type': MediaType.ociManifest } });
    await expectStatus(res, 201, `PUT ${api}/manifests/${tag}`);
    const digest = `sha256:${sha256(body)}`;
    const answered = res.headers.get('docker-content-digest');
    if (answered !== digest)
      throw new Error(`PUT ${api}/manifests/${tag}: the registry says digest ${answered}, the manifest's is ${digest}`);
    return digest;
  };

  return {
    name,
    url,
    pushArtifact: async (tag, files, meta = {}) => {
      const content = tarGz(files);
      const layer = await pushBlob(MediaType.fluxContent, content);
      // The image config that `flux push artifact` (go-containerregistry's empty image plus one layer) writes.
      const diffId = `sha256:${sha256(tar(files))}`;
      const zero = '0001-01-01T00:00:00Z';
      const configJson = {
        architecture: '',
        created: zero,
        history: [{ created: zero }],
        os: '',
        rootfs: { type: 'layers', diff_ids: [diffId] },
        config: {},
      };
      const config = await pushBlob(MediaType.fluxConfig, Buffer.from(JSON.stringify(configJson)));
      return pushManifest(tag, config, layer, {
        [OciAnnotation.created]: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        [OciAnnotation.source]: meta.source ?? url,
        [OciAnnotation.revision]: meta.revision ?? tag,
      });
    },
    pushChart: async (chart) => {
      const layer = await pushBlob(MediaType.helmChart, chartArchive(chart));
      const config = await pushBlob(MediaType.helmConfig, Buffer.from(JSON.stringify(chartMetadata(chart))));
      // Helm tags a chart with its version, '+' (not allowed in tags) written as '_'.
      return pushManifest(chart.version.replaceAll('+', '_'), config, layer, {
        'org.opencontainers.image.title': chart.name,
        'org.opencontainers.image.version': chart.version,
      });
    },
    manifest: async (reference) => {
      const res = await fetch(`${api}/manifests/${reference}`, { headers: { Accept: MediaType.ociManifest } });
      await expectStatus(res, 200, `GET ${api}/manifests/${reference}`);
      return OciManifest.parse(await res.json());
    },
  };
}
