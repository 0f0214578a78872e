// The operator's own kubeconfig loader: finds the kubeconfig as kubectl does (--kubeconfig,
// $KUBECONFIG, ~/.kube/config, else the pod's ServiceAccount), checks it with a one-line message
// for each mistake, and gives the ClusterAccess the operator's API client calls with: TLS material,
// a bearer token (static, from a rotated file, or from an exec credential plugin), basic auth and
// impersonation. It does without @kubernetes/client-node, which a long-running process would
// otherwise keep in memory only to read one file.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { OutgoingHttpHeaders } from 'node:http';
import type https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse, YAMLError } from 'yaml';
import { ConfigError } from '../runtime/config.js';
import type { AccessCluster, ClusterAccess } from './access.js';
import { isRecord } from './object.js';

/** Where a pod's ServiceAccount token, CA certificate and namespace are mounted. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The ExecCredential API versions an exec plugin may speak. */
export const EXEC_API_VERSIONS: readonly string[] = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

/** How long a token file (or a CA, certificate or key file) is used before it is read again. */
export const FILE_REREAD_MS = 60_000;

/** How long before its expiry an exec credential is fetched anew (at most half its lifetime). */
export const EXEC_REFRESH_MARGIN_MS = 30_000;

/** How long an exec plugin may run before it is killed. */
export const EXEC_TIMEOUT_MS = 60_000;

/** A cluster entry's fields, spelled as in a kubeconfig. Relative paths are resolved against the file's directory. */
export interface KubeconfigCluster {
  /** The API server's URL. */
  server: string;
  'certificate-authority'?: string;
  /** Base64 of the PEM certificates; wins over certificate-authority, as in kubectl. */
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
  'proxy-url'?: string;
  extensions?: Array<{ name: string; extension?: unknown }>;
}

/** An exec credential plugin (client.authentication.k8s.io ExecConfig). */
export interface KubeconfigExec {
  apiVersion: string;
  /** The program; a relative path with a separator in it is resolved against the file's directory. */
  command: string;
  args?: string[];
  /** Variables added to the process's environment for the plugin. */
  env?: Array<{ name: string; value: string }>;
  provideClusterInfo?: boolean;
  interactiveMode?: string;
  installHint?: string;
}

/** A user entry's fields, spelled as in a kubeconfig. Relative paths are resolved against the file's directory. */
export interface KubeconfigUser {
  token?: string;
  'token-file'?: string;
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  username?: string;
  password?: string;
  as?: string;
  'as-uid'?: string;
  'as-groups'?: string[];
  'as-user-extra'?: Record<string, string[]>;
  exec?: KubeconfigExec;
  'auth-provider'?: { name: string; config?: Record<string, string> };
}

/** A context entry's fields, spelled as in a kubeconfig. */
export interface KubeconfigContext {
  cluster: string;
  user?: string;
  namespace?: string;
}

export interface NamedCluster {
  name: string;
  cluster: KubeconfigCluster;
}

export interface NamedUser {
  name: string;
  user: KubeconfigUser;
}

export interface NamedContext {
  name: string;
  context: KubeconfigContext;
}

/** A kubeconfig that was found and checked: where it came from and the entries its current context uses. */
export interface LoadedKubeconfig {
  /** How messages name it: `kubeconfig a.yaml:b.yaml`, `kubeconfig a.yaml ($KUBECONFIG)`, `in-cluster config`. */
  readonly source: string;
  /** The files read, in merge order; empty for the in-cluster config. */
  readonly files: readonly string[];
  /** The ServiceAccount directory when the config is the pod's own; else undefined. */
  readonly serviceAccountDir: string | undefined;
  readonly currentContext: string;
  readonly context: NamedContext;
  readonly cluster: NamedCluster;
  /** The context's user; undefined when it names none, or one no file defines (requests go anonymous). */
  readonly user: NamedUser | undefined;
}

/** Time and limits of a ClusterAccess, injectable for tests. */
export interface AccessOptions {
  /** Milliseconds since the epoch: file re-reads and exec credential expiry go by it. */
  now?: () => number;
  /** How long an exec plugin may run before it is killed. */
  execTimeoutMs?: number;
}

/** The entries of one file, before merging. */
interface ParsedFile {
  clusters: NamedCluster[];
  users: NamedUser[];
  contexts: NamedContext[];
  currentContext: string | undefined;
}

type Mapping = Record<string, unknown>;

/**
 * Finds and checks the kubeconfig: config.kubeconfig (a path, or paths joined with the platform's
 * delimiter), else $KUBECONFIG (the same), else ~/.kube/config, else the pod's ServiceAccount (with
 * KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT set and its token mounted). Several files merge
 * as in kubectl: the first file that defines a name wins, and the first current-context set wins.
 * Throws a ConfigError saying in one line what is wrong, naming the file.
 */
export function readKubeconfig(
  config: { kubeconfig?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
  home: string | undefined = os.homedir(),
  serviceAccountDir: string = SERVICE_ACCOUNT_DIR,
): LoadedKubeconfig {
  const given = splitList(config.kubeconfig);
  if (given.length > 0) return fromFiles(given, `kubeconfig ${given.join(path.delimiter)}`, '');
  const fromEnv = splitList(env['KUBECONFIG']);
  if (fromEnv.length > 0) return fromFiles(fromEnv, `kubeconfig ${env['KUBECONFIG'] ?? ''} ($KUBECONFIG)`, ' ($KUBECONFIG)');
  if (home) {
    const file = path.join(home, '.kube', 'config');
    if (fs.existsSync(file)) return fromFiles([file], `kubeconfig ${file}`, '');
  }
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (host && port && fs.existsSync(path.join(serviceAccountDir, 'token'))) return inCluster(host, port, serviceAccountDir);
  throw new ConfigError(
    'no kubeconfig: set $KUBECONFIG or pass --kubeconfig, or create ~/.kube/config (in a pod, the ServiceAccount is used)',
  );
}

/**
 * The ClusterAccess the operator calls the API server with. Throws a ConfigError for what its client
 * cannot honour: a cluster behind proxy-url, a user of a legacy auth-provider (the MCP server and
 * the CLI, which call through client-node, take both).
 */
export function operatorAccess(loaded: LoadedKubeconfig, options: AccessOptions = {}): ClusterAccess {
  const { name, cluster } = loaded.cluster;
  if (cluster['proxy-url'])
    throw new ConfigError(`${loaded.source}: cluster "${name}" sets proxy-url, which the operator does not support`);
  const user = loaded.user;
  const provider: unknown = user?.user['auth-provider'];
  if (user && provider !== undefined && provider !== null) {
    const providerName = isRecord(provider) && typeof provider.name === 'string' ? provider.name : '';
    throw new ConfigError(
      `${loaded.source}: user "${user.name}" uses auth-provider "${providerName}", which the operator does not support: use an exec credential plugin (client.authentication.k8s.io)`,
    );
  }
  return new KubeconfigAccess(loaded, options);
}

function splitList(list: string | undefined): string[] {
  return (list ?? '').split(path.delimiter).filter((file) => file !== '');
}

function fromFiles(files: string[], source: string, suffix: string): LoadedKubeconfig {
  const parsed = files.map((file) => parseFile(file, `kubeconfig ${file}${suffix}`));
  const clusters = firstByName(parsed.flatMap((p) => p.clusters));
  const users = firstByName(parsed.flatMap((p) => p.users));
  const contexts = firstByName(parsed.flatMap((p) => p.contexts));
  const currentContext = parsed.find((p) => p.currentContext !== undefined)?.currentContext;
  if (currentContext === undefined) throw new ConfigError(`${source}: no current-context is set`);
  const context = contexts.get(currentContext);
  if (!context) throw new ConfigError(`${source}: current-context "${currentContext}" is not among its contexts`);
  const cluster = clusters.get(context.context.cluster);
  if (!cluster) throw new ConfigError(`${source}: context "${currentContext}" names no cluster the file defines`);
  const user = context.context.user === undefined ? undefined : users.get(context.context.user);
  return checked({ source, files, serviceAccountDir: undefined, currentContext, context, cluster, user });
}

/** The pod's ServiceAccount as a kubeconfig, as client-go's in-cluster config builds it. */
function inCluster(host: string, port: string, dir: string): LoadedKubeconfig {
  const server = `https://${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  const namespaceFile = path.join(dir, 'namespace');
  const namespace = fs.existsSync(namespaceFile) ? fs.readFileSync(namespaceFile, 'utf8').trim() : '';
  return checked({
    source: 'in-cluster config',
    files: [],
    serviceAccountDir: dir,
    currentContext: 'inClusterContext',
    context: { name: 'inClusterContext', context: { cluster: 'inCluster', user: 'inClusterUser', ...(namespace ? { namespace } : {}) } },
    cluster: { name: 'inCluster', cluster: { server, 'certificate-authority': path.join(dir, 'ca.crt') } },
    // Kubelet rotates the token: it is read as a token-file, again every minute.
    user: { name: 'inClusterUser', user: { 'token-file': path.join(dir, 'token') } },
  });
}

/** The entries by name, the first of each name winning. */
export function firstByName<T extends { name: string }>(entries: T[]): Map<string, T> {
  const byName = new Map<string, T>();
  for (const entry of entries) if (!byName.has(entry.name)) byName.set(entry.name, entry);
  return byName;
}

/** Checks the entries the current context uses; the server is stored without a trailing slash. */
function checked(loaded: LoadedKubeconfig): LoadedKubeconfig {
  const { source, cluster, user } = loaded;
  const server = cluster.cluster.server.replace(/\/+$/, '');
  try {
    new URL(server);
  } catch {
    throw new ConfigError(`${source}: cluster "${cluster.name}" has server ${JSON.stringify(server)}, which is not a URL`);
  }
  const fail = (where: string, problem: string): never => {
    throw new ConfigError(`${source}: ${where}: ${problem}`);
  };
  checkFields(cluster.cluster, clusterFields, (problem) => fail(`cluster "${cluster.name}"`, problem));
  checkFields(loaded.context.context, { namespace: 'string' }, (problem) => fail(`context "${loaded.context.name}"`, problem));
  if (user) checkUser(user.user, (problem) => fail(`user "${user.name}"`, problem));
  // A field set to null (`token:` with no value) is no field.
  const exec = user?.user.exec;
  return {
    ...loaded,
    context: { name: loaded.context.name, context: withoutNulls(loaded.context.context) },
    cluster: { name: cluster.name, cluster: { ...withoutNulls(cluster.cluster), server } },
    user: user && {
      name: user.name,
      user: { ...withoutNulls(user.user), ...(exec ? { exec: withoutNulls(exec) } : {}) },
    },
  };
}

function withoutNulls<T extends object>(entry: T): T {
  return Object.fromEntries(Object.entries(entry).filter(([, value]) => value !== null && value !== undefined)) as T;
}

type FieldType = 'string' | 'boolean' | 'strings';

const clusterFields: Record<string, FieldType> = {
  'certificate-authority': 'string',
  'certificate-authority-data': 'string',
  'insecure-skip-tls-verify': 'boolean',
  'tls-server-name': 'string',
  'proxy-url': 'string',
};

const userFields: Record<string, FieldType> = {
  token: 'string',
  'token-file': 'string',
  'client-certificate': 'string',
  'client-certificate-data': 'string',
  'client-key': 'string',
  'client-key-data': 'string',
  username: 'string',
  password: 'string',
  as: 'string',
  'as-uid': 'string',
  'as-groups': 'strings',
};

const execFields: Record<string, FieldType> = {
  apiVersion: 'string',
  command: 'string',
  args: 'strings',
  provideClusterInfo: 'boolean',
  interactiveMode: 'string',
  installHint: 'string',
};

/** Calls fail with "<field> must be …" for the first field of entry whose value has the wrong type. */
function checkFields(entry: object, fields: Record<string, FieldType>, fail: (problem: string) => never, prefix = ''): void {
  const values = entry as Mapping;
  for (const [field, type] of Object.entries(fields)) {
    const value = values[field];
    if (value === undefined || value === null) continue;
    if (type === 'strings' ? !isStrings(value) : typeof value !== type)
      fail(`${prefix}${field} must be ${type === 'strings' ? 'a list of strings' : `a ${type}`}`);
  }
}

function checkUser(user: KubeconfigUser, fail: (problem: string) => never): void {
  checkFields(user, userFields, fail);
  const extra: unknown = user['as-user-extra'];
  if (extra !== undefined && extra !== null && !(isRecord(extra) && Object.values(extra).every(isStrings)))
    fail('as-user-extra must map each key to a list of strings');
  const exec: unknown = user.exec;
  if (exec === undefined || exec === null) return;
  if (!isRecord(exec)) return fail('exec must be a mapping');
  checkFields(exec, execFields, fail, 'exec.');
  if (!exec.command) fail('exec.command is missing');
  if (typeof exec.apiVersion !== 'string' || !EXEC_API_VERSIONS.includes(exec.apiVersion))
    fail(`exec.apiVersion must be one of ${EXEC_API_VERSIONS.join(', ')}, got ${JSON.stringify(exec.apiVersion ?? null)}`);
  const env = exec.env;
  if (
    env !== undefined &&
    env !== null &&
    !(Array.isArray(env) && env.every((e) => isRecord(e) && typeof e.name === 'string' && typeof e.value === 'string'))
  )
    fail('exec.env must be a list of {name, value}');
}

/** Reads and parses one file; structure errors name the entry as client-node does (`clusters[0].name is missing`). */
function parseFile(file: string, label: string): ParsedFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${label}: ${fileProblem(err)}`);
  }
  let doc: unknown;
  try {
    doc = parse(text, { logLevel: 'error' });
  } catch (err) {
    throw new ConfigError(`${label}: ${yamlProblem(err)}`);
  }
  const fail = (problem: string): never => {
    throw new ConfigError(`${label}: ${problem}`);
  };
  doc ??= {};
  if (!isRecord(doc)) return fail('not a kubeconfig (its top level is not a mapping)');
  const dir = path.dirname(path.resolve(file));
  const current = doc['current-context'];
  if (current !== undefined && current !== null && typeof current !== 'string') fail('current-context must be a string');
  // client-node reads clusters, then contexts, then users: the first error is the same.
  const clusters = listOf(doc.clusters).map((entry, i) => {
    const name = nameOf(entry, `clusters[${i}]`, fail);
    const cluster = fieldOf(entry, 'cluster', `clusters[${i}]`, fail);
    const server = cluster.server;
    if (server === undefined || server === null || server === '') fail(`clusters[${i}].cluster.server is missing`);
    if (typeof server !== 'string') fail(`clusters[${i}].cluster.server must be a string`);
    return { name, cluster: resolvePaths(cluster, ['certificate-authority'], dir) as unknown as KubeconfigCluster };
  });
  const contexts = listOf(doc.contexts).map((entry, i) => {
    const name = nameOf(entry, `contexts[${i}]`, fail);
    const context = fieldOf(entry, 'context', `contexts[${i}]`, fail);
    if (context.cluster === undefined || context.cluster === null || context.cluster === '')
      fail(`contexts[${i}].context.cluster is missing`);
    if (typeof context.cluster !== 'string') fail(`contexts[${i}].context.cluster must be a string`);
    if (context.user !== undefined && context.user !== null && typeof context.user !== 'string')
      fail(`contexts[${i}].context.user must be a string`);
    // An empty user is no user, as in client-node.
    const { user, ...rest } = context;
    return { name, context: { ...rest, ...(user ? { user } : {}) } as unknown as KubeconfigContext };
  });
  const users = listOf(doc.users).map((entry, i) => {
    const name = nameOf(entry, `users[${i}]`, fail);
    const raw = isRecord(entry) ? entry.user : undefined;
    if (raw !== undefined && raw !== null && !isRecord(raw)) fail(`users[${i}].user must be a mapping`);
    const user = resolvePaths(isRecord(raw) ? raw : {}, ['client-certificate', 'client-key', 'token-file'], dir);
    // kubectl resolves the exec command only when it is a path, not a name looked up in $PATH.
    const exec = user.exec;
    if (isRecord(exec) && typeof exec.command === 'string' && exec.command.includes(path.sep))
      user.exec = resolvePaths(exec, ['command'], dir);
    return { name, user };
  });
  return { clusters, contexts, users, currentContext: typeof current === 'string' && current !== '' ? current : undefined };
}

/** A kubeconfig list: client-node reads anything but a list as none. */
function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function nameOf(entry: unknown, at: string, fail: (problem: string) => never): string {
  const name = isRecord(entry) ? entry.name : undefined;
  if (name === undefined || name === null || name === '') return fail(`${at}.name is missing`);
  if (typeof name !== 'string') return fail(`${at}.name must be a string`);
  return name;
}

function fieldOf(entry: unknown, field: string, at: string, fail: (problem: string) => never): Mapping {
  const value = isRecord(entry) ? entry[field] : undefined;
  if (value === undefined || value === null) return fail(`${at}.${field} is missing`);
  if (!isRecord(value)) return fail(`${at}.${field} must be a mapping`);
  return value;
}

/** A copy of entry with its relative file paths resolved against dir, as kubectl does. */
function resolvePaths(entry: Mapping, fields: string[], dir: string): Mapping {
  const copy = { ...entry };
  for (const field of fields) {
    const value = copy[field];
    if (typeof value === 'string' && value !== '' && !path.isAbsolute(value)) copy[field] = path.resolve(dir, value);
  }
  return copy;
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** Why a file could not be read, in a few words. */
function fileProblem(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'not readable (permission denied)';
  if (code === 'EISDIR') return 'is a directory';
  return firstLine(err);
}

/** A YAML error as one line: `invalid YAML at line 3, column 3: block collections are not allowed within flow collections`. */
function yamlProblem(err: unknown): string {
  if (!(err instanceof YAMLError)) return firstLine(err);
  let reason =
    err.code === 'MULTIPLE_DOCS'
      ? 'more than one document'
      : firstLine(err)
          .replace(/ at line \d+, column \d+:?$/, '')
          .replace(/:$/, '');
  reason = reason.charAt(0).toLowerCase() + reason.slice(1);
  const at = err.linePos?.[0];
  return at ? `invalid YAML at line ${at.line}, column ${at.col}: ${reason}` : `invalid YAML: ${reason}`;
}

/** The first line of text that is not blank, trimmed; undefined when there is none. */
function firstText(text: string): string | undefined {
  return text
    .split('\n')
    .find((line) => line.trim() !== '')
    ?.trim();
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}

/** An error's message as one line (its first, trimmed). */
export function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0]?.trim() || 'invalid';
}

/** The credential an exec plugin returned. */
interface ExecCredential {
  token?: string;
  cert?: string;
  key?: string;
}

/** A file's contents, read again once they are older than FILE_REREAD_MS. */
class FileCache {
  private readonly entries = new Map<string, { readAt: number; value: Buffer }>();

  constructor(private readonly now: () => number) {}

  /** The file's contents; a file that cannot be read again keeps its last contents (as client-go does for a token). */
  async read(file: string, what: string): Promise<Buffer> {
    const cached = this.entries.get(file);
    const now = this.now();
    if (cached && now - cached.readAt < FILE_REREAD_MS) return cached.value;
    let value: Buffer;
    try {
      value = await readFile(file);
    } catch (err) {
      if (!cached) throw new Error(`cannot read ${what} ${file}: ${fileProblem(err)}`, { cause: err });
      value = cached.value;
    }
    // Unchanged contents keep their Buffer, so whoever keys connections by it sees the same one.
    if (cached?.value.equals(value)) value = cached.value;
    this.entries.set(file, { readAt: now, value });
    return value;
  }
}

/** Runs a user's exec plugin and keeps its credential until shortly before it expires. */
class ExecPlugin {
  private cached: { credential: ExecCredential; refreshAt: number } | undefined;
  private running: Promise<ExecCredential> | undefined;

  constructor(
    private readonly exec: KubeconfigExec,
    private readonly cluster: KubeconfigCluster,
    private readonly now: () => number,
    private readonly timeoutMs: number,
  ) {}

  /** The credential: the cached one while it is fresh, else a new one (one plugin run for concurrent callers). */
  credential(): Promise<ExecCredential> {
    if (this.cached && this.now() < this.cached.refreshAt) return Promise.resolve(this.cached.credential);
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(): Promise<ExecCredential> {
    const { command } = this.exec;
    const plugin = `exec plugin ${JSON.stringify(command)}`;
    if (this.exec.interactiveMode === 'Always') throw new Error(`${plugin} needs a terminal (interactiveMode: Always)`);
    const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify(this.execInfo()) };
    for (const { name, value } of this.exec.env ?? []) env[name] = value;
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = execFile(
        command,
        this.exec.args ?? [],
        { env, timeout: this.timeoutMs, encoding: 'utf8', windowsHide: true },
        (err, out, errOut) => {
          if (!err) {
            resolve(out);
            return;
          }
          const { code } = err;
          if (code === 'ENOENT') {
            const hint = firstText(this.exec.installHint ?? '');
            reject(new Error(`${plugin} not found${hint ? `: ${hint}` : ''}`));
          } else if (err.killed) reject(new Error(`${plugin} did not finish within ${formatMs(this.timeoutMs)}`));
          else {
            const status = typeof code === 'number' ? `exit code ${code}` : err.signal ? `killed by ${err.signal}` : firstLine(err);
            const stderr = firstText(errOut);
            reject(new Error(`${plugin} failed (${status})${stderr ? `: ${stderr}` : ''}`));
          }
        },
      );
      // Not interactive: a plugin that reads stdin sees its end at once instead of waiting for the timeout.
      child.stdin?.end();
    });
    const fetchedAt = this.now();
    const credential = parseExecCredential(stdout, this.exec.apiVersion, plugin);
    const refreshAt =
      credential.expiresAt === undefined
        ? Infinity
        : credential.expiresAt - Math.min(EXEC_REFRESH_MARGIN_MS, Math.max(0, credential.expiresAt - fetchedAt) / 2);
    this.cached = { credential: credential.credential, refreshAt };
    return credential.credential;
  }

  /** KUBERNETES_EXEC_INFO, as kubectl sets it: not interactive, and the cluster when provideClusterInfo asks for it. */
  private execInfo(): object {
    const spec: Mapping = { interactive: false };
    if (this.exec.provideClusterInfo) {
      const c = this.cluster;
      const config = (Array.isArray(c.extensions) ? c.extensions : []).find(
        (e) => e.name === 'client.authentication.k8s.io/exec',
      )?.extension;
      let caData = c['certificate-authority-data'];
      if (caData === undefined && c['certificate-authority'] !== undefined) {
        try {
          caData = fs.readFileSync(c['certificate-authority']).toString('base64');
        } catch {
          // The call itself reports an unreadable CA file.
        }
      }
      spec.cluster = {
        server: c.server,
        ...(c['tls-server-name'] !== undefined ? { 'tls-server-name': c['tls-server-name'] } : {}),
        ...(c['insecure-skip-tls-verify'] ? { 'insecure-skip-tls-verify': true } : {}),
        ...(caData !== undefined ? { 'certificate-authority-data': caData } : {}),
        ...(c['proxy-url'] !== undefined ? { 'proxy-url': c['proxy-url'] } : {}),
        ...(config !== undefined ? { config } : {}),
      };
    }
    return { kind: 'ExecCredential', apiVersion: this.exec.apiVersion, spec };
  }
}

/** Reads an ExecCredential from a plugin's output, checking it as kubectl does. */
function parseExecCredential(stdout: string, apiVersion: string, plugin: string): { credential: ExecCredential; expiresAt?: number } {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch (err) {
    throw new Error(`${plugin} printed no ExecCredential JSON: ${firstLine(err)}`, { cause: err });
  }
  if (!isRecord(doc) || doc.kind !== 'ExecCredential') throw new Error(`${plugin} printed no ExecCredential JSON`);
  if (doc.apiVersion !== apiVersion)
    throw new Error(
      `${plugin} returned apiVersion ${JSON.stringify(doc.apiVersion ?? null)}, configured for ${JSON.stringify(apiVersion)}`,
    );
  const status = doc.status;
  if (!isRecord(status)) throw new Error(`${plugin} returned no status`);
  const text = (field: string): string | undefined => {
    const value = status[field];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const token = text('token');
  const cert = text('clientCertificateData');
  const key = text('clientKeyData');
  if ((cert === undefined) !== (key === undefined)) throw new Error(`${plugin} returned a client certificate or key without the other`);
  if (token === undefined && cert === undefined) throw new Error(`${plugin} returned neither a token nor a client certificate and key`);
  const expiry = text('expirationTimestamp');
  const expiresAt = expiry === undefined ? undefined : Date.parse(expiry);
  if (expiresAt !== undefined && Number.isNaN(expiresAt))
    throw new Error(`${plugin} returned expirationTimestamp ${JSON.stringify(expiry)}, which is not a time`);
  const credential: ExecCredential = { ...(token ? { token } : {}), ...(cert && key ? { cert, key } : {}) };
  return expiresAt === undefined ? { credential } : { credential, expiresAt };
}

/** A ClusterAccess from a loaded kubeconfig's current cluster and user. */
class KubeconfigAccess implements ClusterAccess {
  private readonly files: FileCache;
  private readonly plugin: ExecPlugin | undefined;
  private readonly current: AccessCluster;
  /** The base64 data fields, decoded once: the same Buffer each call. */
  private readonly decoded: { ca?: Buffer; cert?: Buffer; key?: Buffer };

  constructor(
    private readonly loaded: LoadedKubeconfig,
    options: AccessOptions,
  ) {
    const now = options.now ?? Date.now;
    this.files = new FileCache(now);
    const { cluster } = loaded.cluster;
    const user = loaded.user?.user;
    this.plugin = user?.exec ? new ExecPlugin(user.exec, cluster, now, options.execTimeoutMs ?? EXEC_TIMEOUT_MS) : undefined;
    this.current = { name: loaded.cluster.name, server: cluster.server };
    const decode = (data: string | undefined): Buffer | undefined => (data ? Buffer.from(data, 'base64') : undefined);
    this.decoded = {
      ca: decode(cluster['certificate-authority-data']),
      cert: decode(user?.['client-certificate-data']),
      key: decode(user?.['client-key-data']),
    };
  }

  getCurrentCluster(): AccessCluster {
    return this.current;
  }

  async applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    const { name, cluster } = this.loaded.cluster;
    if (cluster['insecure-skip-tls-verify'] === true) opts.rejectUnauthorized = false;
    if (cluster['tls-server-name']) opts.servername = cluster['tls-server-name'];
    const ca = await this.material(this.decoded.ca, cluster['certificate-authority'], 'certificate-authority', `cluster "${name}"`);
    if (ca) opts.ca = ca;
    const named = this.loaded.user;
    if (!named) return;
    const { user } = named;
    const where = `user "${named.name}"`;
    const cert = await this.material(this.decoded.cert, user['client-certificate'], 'client-certificate', where);
    const key = await this.material(this.decoded.key, user['client-key'], 'client-key', where);
    if (cert) opts.cert = cert;
    if (key) opts.key = key;
    const headers = headersOf(opts);
    const token = await this.failing(where, () => this.token(user));
    if (token) headers['Authorization'] = `Bearer ${token}`;
    else if (this.plugin) {
      const plugin = this.plugin;
      const credential = await this.failing(where, () => plugin.credential());
      if (credential.token) headers['Authorization'] = `Bearer ${credential.token}`;
      if (credential.cert && credential.key) {
        opts.cert = credential.cert;
        opts.key = credential.key;
      }
    }
    if (user.username !== undefined) opts.auth = `${user.username}:${user.password ?? ''}`;
    if (user.as) headers['Impersonate-User'] = user.as;
    if (user['as-uid']) headers['Impersonate-Uid'] = user['as-uid'];
    if (user['as-groups']?.length) headers['Impersonate-Group'] = [...user['as-groups']];
    for (const [extra, values] of Object.entries(user['as-user-extra'] ?? {}))
      headers[`Impersonate-Extra-${encodeURIComponent(extra)}`] = [...values];
  }

  /** fn's result; its failure as one line naming the kubeconfig and the entry. */
  private async failing<T>(where: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new Error(`${this.loaded.source}: ${where}: ${firstLine(err)}`, { cause: err });
    }
  }

  /** The bearer token of token, else of token-file (trimmed, read again every minute). */
  private async token(user: KubeconfigUser): Promise<string | undefined> {
    if (user.token) return user.token;
    const file = user['token-file'];
    if (!file) return undefined;
    const token = (await this.files.read(file, 'token-file')).toString('utf8').trim();
    if (!token) throw new Error(`token-file ${file} is empty`);
    return token;
  }

  /** PEM material: its decoded data, else its file's contents (read again every minute). */
  private async material(data: Buffer | undefined, file: string | undefined, what: string, where: string): Promise<Buffer | undefined> {
    if (data) return data;
    if (!file) return undefined;
    return this.failing(where, () => this.files.read(file, what));
  }
}

/** opts.headers as a mutable record, created when absent (a raw header list is turned into one). */
function headersOf(opts: https.RequestOptions): OutgoingHttpHeaders {
  const given = opts.headers;
  if (given && !Array.isArray(given)) return given as OutgoingHttpHeaders;
  const headers: OutgoingHttpHeaders = {};
  const raw = (given ?? []) as readonly string[];
  for (let i = 0; i + 1 < raw.length; i += 2) headers[raw[i] ?? ''] = raw[i + 1];
  opts.headers = headers;
  return headers;
}
