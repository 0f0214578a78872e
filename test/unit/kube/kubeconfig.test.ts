// The operator's own kubeconfig loader: where it looks, how files merge, the one-line message for
// each mistake, and what its ClusterAccess puts on a request (TLS material, token, token file, exec
// plugin, basic auth, impersonation). Exec plugins are small node scripts; time is injected.
import fs from 'node:fs';
import type https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, jest } from '@jest/globals';
import {
  EXEC_REFRESH_MARGIN_MS,
  FILE_REREAD_MS,
  operatorAccess,
  readKubeconfig,
  type AccessOptions,
  type LoadedKubeconfig,
} from '../../../src/kube/kubeconfig.js';
import { ConfigError } from '../../../src/runtime/config.js';
import { loadKubeConfig } from '../../../src/runtime/kubeconfig.js';

const dir = fs.mkdtempSync(path.join(tmpdir(), 'fluxact-kubeconfig-unit-'));
let seq = 0;

/** A new empty directory under the test's temporary directory. */
function newDir(): string {
  return fs.mkdtempSync(path.join(dir, 'd-'));
}

/** Writes text to a new file (in a directory of its own unless given one) and returns its path. */
function file(text: string, name = 'config', at: string = newDir()): string {
  const where = path.join(at, name);
  fs.writeFileSync(where, text);
  return where;
}

/** A kubeconfig with one cluster, user and context, the entries' fields given as YAML flow mappings. */
function kubeconfig({ cluster = '{server: "https://k.example:6443"}', user = '{}', extra = '' } = {}): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- {name: c, cluster: ${cluster}}`,
    'users:',
    `- {name: u, user: ${user}}`,
    'contexts:',
    '- {name: x, context: {cluster: c, user: u, namespace: ns}}',
    'current-context: x',
    extra,
  ].join('\n');
}

/** Reads only the given file: no environment, no home directory, no ServiceAccount. */
function read(at: string): LoadedKubeconfig {
  return readKubeconfig({ kubeconfig: at }, {}, undefined, path.join(dir, 'no-service-account'));
}

/** The ConfigError message reading config throws, or fails the test when it does not throw one. */
function refusal(load: () => unknown): string {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the kubeconfig to be refused');
}

/** The options a request gets from the file's access. */
async function applied(at: string, options: AccessOptions = {}): Promise<https.RequestOptions> {
  const opts: https.RequestOptions = {};
  await operatorAccess(read(at), options).applyToHTTPSOptions(opts);
  return opts;
}

const b64 = (text: string): string => Buffer.from(text).toString('base64');

afterEach(() => {
  jest.restoreAllMocks();
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The Authorization header access sends with a call. */
async function authorization(access: ReturnType<typeof operatorAccess>): Promise<unknown> {
  const opts: https.RequestOptions = {};
  await access.applyToHTTPSOptions(opts);
  return (opts.headers as Record<string, unknown>)['Authorization'];
}

describe('readKubeconfig: where it looks', () => {
  const named = (server: string): string => kubeconfig({ cluster: `{server: "${server}"}` });
  const serverOf = (loaded: LoadedKubeconfig): string => loaded.cluster.cluster.server;

  it('takes --kubeconfig over $KUBECONFIG, and $KUBECONFIG over ~/.kube/config', () => {
    const home = newDir();
    fs.mkdirSync(path.join(home, '.kube'));
    file(named('https://home.example'), 'config', path.join(home, '.kube'));
    const fromEnv = file(named('https://env.example'));
    const flag = file(named('https://flag.example'));
    const none = path.join(dir, 'no-service-account');
    expect(serverOf(readKubeconfig({ kubeconfig: flag }, { KUBECONFIG: fromEnv }, home, none))).toBe('https://flag.example');
    expect(serverOf(readKubeconfig({}, { KUBECONFIG: fromEnv }, home, none))).toBe('https://env.example');
    expect(serverOf(readKubeconfig({ kubeconfig: undefined }, { KUBECONFIG: '' }, home, none))).toBe('https://home.example');
  });

  it('names the source in its messages, with ($KUBECONFIG) when the variable gave it', () => {
    const empty = file('apiVersion: v1\n');
    expect(refusal(() => read(empty))).toBe(`kubeconfig ${empty}: no current-context is set`);
    expect(refusal(() => readKubeconfig({}, { KUBECONFIG: empty }, undefined))).toBe(
      `kubeconfig ${empty} ($KUBECONFIG): no current-context is set`,
    );
    const home = newDir();
    fs.mkdirSync(path.join(home, '.kube'));
    const homeConfig = file('apiVersion: v1\n', 'config', path.join(home, '.kube'));
    expect(refusal(() => readKubeconfig({}, {}, home))).toBe(`kubeconfig ${homeConfig}: no current-context is set`);
  });

  it('merges a list of files as kubectl does: the first file that defines a name wins', () => {
    const first = file('clusters:\n- {name: c, cluster: {server: "https://first.example"}}\nusers:\n- {name: u, user: {token: first}}\n');
    const second = file(
      [
        'clusters:',
        '- {name: c, cluster: {server: "https://second.example"}}',
        '- {name: d, cluster: {server: "https://d.example"}}',
        'users:',
        '- {name: u, user: {token: second}}',
        'contexts:',
        '- {name: x, context: {cluster: c, user: u}}',
        'current-context: x',
      ].join('\n'),
    );
    const loaded = read([first, second].join(path.delimiter));
    expect(loaded.files).toEqual([first, second]);
    expect(loaded.source).toBe(`kubeconfig ${first}${path.delimiter}${second}`);
    expect(loaded.currentContext).toBe('x');
    expect(loaded.cluster).toEqual({ name: 'c', cluster: { server: 'https://first.example' } });
    expect(loaded.user).toEqual({ name: 'u', user: { token: 'first' } });
  });

  it('takes current-context from the first file that sets it', () => {
    const contexts =
      'clusters:\n- {name: c, cluster: {server: "https://c.example"}}\ncontexts:\n- {name: x, context: {cluster: c}}\n- {name: y, context: {cluster: c}}\n';
    const unset = file(contexts);
    const setsX = file(`${contexts}current-context: x\n`);
    const setsY = file(`${contexts}current-context: y\n`);
    expect(read([unset, setsY, setsX].join(path.delimiter)).currentContext).toBe('y');
    expect(read([setsX, setsY].join(path.delimiter)).currentContext).toBe('x');
  });

  it('reads a $KUBECONFIG list the same way', () => {
    const first = file(kubeconfig({ cluster: '{server: "https://first.example"}' }));
    const second = file(kubeconfig({ cluster: '{server: "https://second.example"}' }));
    const loaded = readKubeconfig({}, { KUBECONFIG: `${first}${path.delimiter}${second}` }, undefined);
    expect(serverOf(loaded)).toBe('https://first.example');
    expect(loaded.source).toBe(`kubeconfig ${first}${path.delimiter}${second} ($KUBECONFIG)`);
  });

  it('resolves relative file paths against the directory of the file that names them', () => {
    const at = newDir();
    const loaded = read(
      file(
        kubeconfig({
          cluster: '{server: "https://k.example", certificate-authority: ca.crt}',
          user: '{client-certificate: certs/u.crt, client-key: /abs/u.key, token-file: tok, exec: {apiVersion: client.authentication.k8s.io/v1, command: ./bin/plugin}}',
        }),
        'config',
        at,
      ),
    );
    expect(loaded.cluster.cluster['certificate-authority']).toBe(path.join(at, 'ca.crt'));
    expect(loaded.user?.user).toMatchObject({
      'client-certificate': path.join(at, 'certs', 'u.crt'),
      'client-key': '/abs/u.key',
      'token-file': path.join(at, 'tok'),
      exec: { command: path.join(at, 'bin', 'plugin') },
    });
  });

  it('leaves an exec command without a path separator to $PATH', () => {
    const loaded = read(file(kubeconfig({ user: '{exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}}' })));
    expect(loaded.user?.user.exec?.command).toBe('aws');
  });

  it('strips a trailing slash from the server', () => {
    const access = operatorAccess(read(file(kubeconfig({ cluster: '{server: "https://k.example:6443/"}' }))));
    expect(access.getCurrentCluster()).toEqual({ name: 'c', server: 'https://k.example:6443' });
  });

  it('refuses with one line when nothing is found', () => {
    const serviceAccount = newDir();
    fs.writeFileSync(path.join(serviceAccount, 'token'), 't');
    // A token without the service's variables is not a pod.
    expect(refusal(() => readKubeconfig({}, {}, newDir(), serviceAccount))).toBe(
      'no kubeconfig: set $KUBECONFIG or pass --kubeconfig, or create ~/.kube/config (in a pod, the ServiceAccount is used)',
    );
  });
});

describe('readKubeconfig: in a pod', () => {
  const serviceAccount = (): string => {
    const at = newDir();
    fs.writeFileSync(path.join(at, 'token'), 'sa-token\n');
    fs.writeFileSync(path.join(at, 'ca.crt'), 'CA PEM');
    fs.writeFileSync(path.join(at, 'namespace'), 'fluxact-system');
    return at;
  };
  const pod = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

  it('uses the ServiceAccount when there is no kubeconfig: its CA, its token and its namespace', async () => {
    const at = serviceAccount();
    const loaded = readKubeconfig({}, pod, newDir(), at);
    expect(loaded.serviceAccountDir).toBe(at);
    expect(loaded.files).toEqual([]);
    expect(loaded.context.context.namespace).toBe('fluxact-system');
    const access = operatorAccess(loaded);
    expect(access.getCurrentCluster()).toEqual({ name: 'inCluster', server: 'https://10.96.0.1:443' });
    const opts: https.RequestOptions = {};
    await access.applyToHTTPSOptions(opts);
    expect(opts.ca).toEqual(Buffer.from('CA PEM'));
    expect(opts.headers).toEqual({ Authorization: 'Bearer sa-token' });
  });

  it('puts an IPv6 service address in brackets', () => {
    const loaded = readKubeconfig({}, { ...pod, KUBERNETES_SERVICE_HOST: 'fd00::1' }, undefined, serviceAccount());
    expect(operatorAccess(loaded).getCurrentCluster()).toEqual({ name: 'inCluster', server: 'https://[fd00::1]:443' });
  });

  it('reads the rotated token again after a minute', async () => {
    const at = serviceAccount();
    let now = 1_700_000_000_000;
    const access = operatorAccess(readKubeconfig({}, pod, undefined, at), { now: () => now });
    const token = (): Promise<unknown> => authorization(access);
    expect(await token()).toBe('Bearer sa-token');
    fs.writeFileSync(path.join(at, 'token'), 'rotated');
    now += FILE_REREAD_MS - 1;
    expect(await token()).toBe('Bearer sa-token');
    now += 1;
    expect(await token()).toBe('Bearer rotated');
  });

  it('prefers a kubeconfig to the ServiceAccount', () => {
    const home = newDir();
    fs.mkdirSync(path.join(home, '.kube'));
    file(kubeconfig(), 'config', path.join(home, '.kube'));
    expect(readKubeconfig({}, pod, home, serviceAccount()).serviceAccountDir).toBeUndefined();
  });
});

describe('readKubeconfig: one line for each mistake', () => {
  it('says a file does not exist', () => {
    const missing = path.join(dir, 'missing');
    expect(refusal(() => read(missing))).toBe(`kubeconfig ${missing}: no such file`);
  });

  it('names the missing file of a list, and the variable it came from', () => {
    const good = file(kubeconfig());
    const missing = path.join(dir, 'missing');
    expect(refusal(() => read(`${good}${path.delimiter}${missing}`))).toBe(`kubeconfig ${missing}: no such file`);
    expect(refusal(() => readKubeconfig({}, { KUBECONFIG: missing }, undefined))).toBe(`kubeconfig ${missing} ($KUBECONFIG): no such file`);
  });

  it('says a file is not readable', () => {
    const locked = file(kubeconfig());
    const readFileSync = fs.readFileSync;
    jest.spyOn(fs, 'readFileSync').mockImplementation(((at: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
      if (at === locked) throw Object.assign(new Error(`EACCES: permission denied, open '${locked}'`), { code: 'EACCES' });
      return (readFileSync as (...args: unknown[]) => unknown)(at, ...rest);
    }) as typeof fs.readFileSync);
    expect(refusal(() => read(locked))).toBe(`kubeconfig ${locked}: not readable (permission denied)`);
  });

  it("gives a YAML error's position and reason", () => {
    const notYaml = file('apiVersion: v1\nclusters: [\n  - name: a\n');
    expect(refusal(() => read(notYaml))).toBe(
      `kubeconfig ${notYaml}: invalid YAML at line 3, column 3: block collections are not allowed within flow collections`,
    );
    const twice = file('apiVersion: v1\napiVersion: v2\n');
    expect(refusal(() => read(twice))).toBe(`kubeconfig ${twice}: invalid YAML at line 2, column 1: map keys must be unique`);
    const documents = file('apiVersion: v1\n---\napiVersion: v1\n');
    expect(refusal(() => read(documents))).toBe(`kubeconfig ${documents}: invalid YAML at line 2, column 1: more than one document`);
  });

  it('refuses a file whose top level is not a mapping', () => {
    const list = file('- a\n- b\n');
    expect(refusal(() => read(list))).toBe(`kubeconfig ${list}: not a kubeconfig (its top level is not a mapping)`);
  });

  it.each([
    ['clusters:\n- cluster: {server: "https://a"}\n', 'clusters[0].name is missing'],
    ['clusters:\n- {name: ok, cluster: {server: "https://a"}}\n- name: a\n', 'clusters[1].cluster is missing'],
    ['clusters:\n- name: a\n  cluster: {}\n', 'clusters[0].cluster.server is missing'],
    ['users:\n- user: {token: t}\n', 'users[0].name is missing'],
    ['contexts:\n- context: {cluster: a}\n', 'contexts[0].name is missing'],
    ['contexts:\n- name: a\n', 'contexts[0].context is missing'],
    ['contexts:\n- name: a\n  context: {user: u}\n', 'contexts[0].context.cluster is missing'],
    // client-node reads clusters, then contexts, then users: the same entry is named first.
    ['users:\n- user: {}\ncontexts:\n- name: a\nclusters:\n- name: a\n', 'clusters[0].cluster is missing'],
    ['users:\n- user: {}\ncontexts:\n- name: a\n', 'contexts[0].context is missing'],
  ])('names a malformed entry: %j', (text, message) => {
    const at = file(text);
    expect(refusal(() => read(at))).toBe(`kubeconfig ${at}: ${message}`);
  });

  it('says no current-context is set', () => {
    const at = file('apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    expect(refusal(() => read(at))).toBe(`kubeconfig ${at}: no current-context is set`);
  });

  it('says the current-context is not among its contexts', () => {
    const at = file('apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\ncurrent-context: prod\n');
    expect(refusal(() => read(at))).toBe(`kubeconfig ${at}: current-context "prod" is not among its contexts`);
  });

  it('says the context names no cluster the file defines', () => {
    const at = file('contexts:\n- {name: x, context: {cluster: gone}}\ncurrent-context: x\n');
    expect(refusal(() => read(at))).toBe(`kubeconfig ${at}: context "x" names no cluster the file defines`);
  });

  it('says the server is not a URL', () => {
    const at = file(kubeconfig({ cluster: '{server: "api.example"}' }));
    expect(refusal(() => read(at))).toBe(`kubeconfig ${at}: cluster "c" has server "api.example", which is not a URL`);
  });

  it('names a field of the wrong type in the entries in use', () => {
    const token = file(kubeconfig({ user: '{token: [a]}' }));
    expect(refusal(() => read(token))).toBe(`kubeconfig ${token}: user "u": token must be a string`);
    const insecure = file(kubeconfig({ cluster: '{server: "https://a", insecure-skip-tls-verify: "yes"}' }));
    expect(refusal(() => read(insecure))).toBe(`kubeconfig ${insecure}: cluster "c": insecure-skip-tls-verify must be a boolean`);
    const groups = file(kubeconfig({ user: '{as-groups: admins}' }));
    expect(refusal(() => read(groups))).toBe(`kubeconfig ${groups}: user "u": as-groups must be a list of strings`);
  });

  it('refuses an exec plugin without a command or with an API version kubectl no longer speaks', () => {
    const noCommand = file(kubeconfig({ user: '{exec: {apiVersion: client.authentication.k8s.io/v1}}' }));
    expect(refusal(() => read(noCommand))).toBe(`kubeconfig ${noCommand}: user "u": exec.command is missing`);
    const alpha = file(kubeconfig({ user: '{exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: aws}}' }));
    expect(refusal(() => read(alpha))).toBe(
      `kubeconfig ${alpha}: user "u": exec.apiVersion must be one of client.authentication.k8s.io/v1, client.authentication.k8s.io/v1beta1, got "client.authentication.k8s.io/v1alpha1"`,
    );
  });

  it('lets the MCP server and the CLI use a legacy auth-provider, and refuses it for the operator, pointing to exec plugins', () => {
    const at = file(kubeconfig({ user: '{auth-provider: {name: oidc, config: {client-id: x}}}' }));
    const loaded = read(at);
    expect(loaded.user?.user['auth-provider']).toEqual({ name: 'oidc', config: { 'client-id': 'x' } });
    expect(refusal(() => operatorAccess(loaded))).toBe(
      `kubeconfig ${at}: user "u" uses auth-provider "oidc", which the operator does not support: use an exec credential plugin (client.authentication.k8s.io)`,
    );
  });

  it('checks only the entries the current context uses for field types', () => {
    const at = file(
      [
        'clusters:',
        '- {name: c, cluster: {server: "https://k.example"}}',
        '- {name: old, cluster: {server: "https://old.example", insecure-skip-tls-verify: "yes"}}',
        'users:',
        '- {name: legacy, user: {auth-provider: {name: gcp}, token: [1]}}',
        '- {name: u, user: {}}',
        'contexts:',
        '- {name: x, context: {cluster: c, user: u}}',
        '- {name: y, context: {cluster: old, user: legacy}}',
        'current-context: x',
      ].join('\n'),
    );
    expect(read(at).user).toEqual({ name: 'u', user: {} });
  });

  it('lets the MCP server and the CLI use a proxy-url, and refuses it for the operator', () => {
    const at = file(kubeconfig({ cluster: '{server: "https://k.example", proxy-url: "http://proxy.example:3128"}' }));
    const loaded = read(at);
    expect(loaded.cluster.cluster['proxy-url']).toBe('http://proxy.example:3128');
    expect(refusal(() => operatorAccess(loaded))).toBe(`kubeconfig ${at}: cluster "c" sets proxy-url, which the operator does not support`);
  });
});

describe('ClusterAccess.applyToHTTPSOptions', () => {
  it('sets a bearer token and keeps the headers already there', async () => {
    const opts: https.RequestOptions = { headers: { Accept: 'application/json' } };
    await operatorAccess(read(file(kubeconfig({ user: '{token: s3cret}' })))).applyToHTTPSOptions(opts);
    expect(opts.headers).toEqual({ Accept: 'application/json', Authorization: 'Bearer s3cret' });
  });

  it('reads a token-file, again once a minute, trimmed', async () => {
    const at = newDir();
    fs.writeFileSync(path.join(at, 'token'), 'first\n');
    let now = 1_700_000_000_000;
    const access = operatorAccess(read(file(kubeconfig({ user: '{token-file: token}' }), 'config', at)), { now: () => now });
    const sent = (): Promise<unknown> => authorization(access);
    expect(await sent()).toBe('Bearer first');
    fs.writeFileSync(path.join(at, 'token'), 'second\n');
    now += 30_000;
    expect(await sent()).toBe('Bearer first');
    now += 30_000;
    expect(await sent()).toBe('Bearer second');
    // A token file that went missing keeps its last token, as client-go does.
    fs.rmSync(path.join(at, 'token'));
    now += FILE_REREAD_MS;
    expect(await sent()).toBe('Bearer second');
  });

  it('fails in one line naming a token-file that cannot be read', async () => {
    const at = newDir();
    const config = file(kubeconfig({ user: '{token-file: gone}' }), 'config', at);
    await expect(applied(config)).rejects.toThrow(
      `kubeconfig ${config}: user "u": cannot read token-file ${path.join(at, 'gone')}: no such file`,
    );
  });

  it('prefers token to token-file', async () => {
    const opts = await applied(file(kubeconfig({ user: '{token: inline, token-file: /nonexistent}' })));
    expect(opts.headers).toEqual({ Authorization: 'Bearer inline' });
  });

  it('decodes the CA, client certificate and key data', async () => {
    const opts = await applied(
      file(
        kubeconfig({
          cluster: `{server: "https://k.example", certificate-authority-data: ${b64('CA')}}`,
          user: `{client-certificate-data: ${b64('CERT')}, client-key-data: ${b64('KEY')}}`,
        }),
      ),
    );
    expect(opts).toEqual({ ca: Buffer.from('CA'), cert: Buffer.from('CERT'), key: Buffer.from('KEY'), headers: {} });
  });

  it('reads the CA, client certificate and key files', async () => {
    const at = newDir();
    fs.writeFileSync(path.join(at, 'ca.crt'), 'CA FILE');
    fs.writeFileSync(path.join(at, 'u.crt'), 'CERT FILE');
    fs.writeFileSync(path.join(at, 'u.key'), 'KEY FILE');
    const config = kubeconfig({
      cluster: '{server: "https://k.example", certificate-authority: ca.crt}',
      user: '{client-certificate: u.crt, client-key: u.key}',
    });
    const opts = await applied(file(config, 'config', at));
    expect(opts).toEqual({ ca: Buffer.from('CA FILE'), cert: Buffer.from('CERT FILE'), key: Buffer.from('KEY FILE'), headers: {} });
  });

  it('takes the data over the file, as kubectl does', async () => {
    const opts = await applied(
      file(
        kubeconfig({
          cluster: `{server: "https://k.example", certificate-authority: /nonexistent, certificate-authority-data: ${b64('CA')}}`,
        }),
      ),
    );
    expect(opts.ca).toEqual(Buffer.from('CA'));
  });

  it('fails in one line naming a CA file that cannot be read', async () => {
    const config = file(kubeconfig({ cluster: '{server: "https://k.example", certificate-authority: /nonexistent/ca.crt}' }));
    await expect(applied(config)).rejects.toThrow(
      `kubeconfig ${config}: cluster "c": cannot read certificate-authority /nonexistent/ca.crt: no such file`,
    );
  });

  it('turns off verification for insecure-skip-tls-verify, and sets the server name for tls-server-name', async () => {
    const opts = await applied(
      file(kubeconfig({ cluster: '{server: "https://10.0.0.1", insecure-skip-tls-verify: true, tls-server-name: api.example}' })),
    );
    expect(opts.rejectUnauthorized).toBe(false);
    expect(opts.servername).toBe('api.example');
    const verified = await applied(file(kubeconfig()));
    expect(verified.rejectUnauthorized).toBeUndefined();
    expect(verified.servername).toBeUndefined();
  });

  it('sets basic auth from username and password', async () => {
    const opts = await applied(file(kubeconfig({ user: '{username: admin, password: "p:w"}' })));
    expect(opts.auth).toBe('admin:p:w');
  });

  it('sets the impersonation headers from as, as-groups, as-uid and as-user-extra', async () => {
    const opts = await applied(
      file(kubeconfig({ user: '{token: t, as: jane, as-groups: [dev, ops], as-uid: "42", as-user-extra: {"reason/why": [audit]}}' })),
    );
    expect(opts.headers).toEqual({
      Authorization: 'Bearer t',
      'Impersonate-User': 'jane',
      'Impersonate-Group': ['dev', 'ops'],
      'Impersonate-Uid': '42',
      'Impersonate-Extra-reason%2Fwhy': ['audit'],
    });
  });

  it('sends nothing of a user when the context names none', async () => {
    const at = file(
      'clusters:\n- {name: c, cluster: {server: "https://k.example"}}\ncontexts:\n- {name: x, context: {cluster: c}}\ncurrent-context: x\n',
    );
    expect(await applied(at)).toEqual({});
  });
});

describe('ClusterAccess with an exec credential plugin', () => {
  // The plugin: counts its runs in a file, records what it was given, prints an ExecCredential.
  const pluginDir = newDir();
  const plugin = file(
    `const fs = require('node:fs');
const path = require('node:path');
const dir = process.argv[2];
const count = Number(fs.existsSync(path.join(dir, 'runs')) ? fs.readFileSync(path.join(dir, 'runs'), 'utf8') : '0') + 1;
fs.writeFileSync(path.join(dir, 'runs'), String(count));
fs.writeFileSync(path.join(dir, 'seen.json'), JSON.stringify({ info: JSON.parse(process.env.KUBERNETES_EXEC_INFO), args: process.argv.slice(3), mode: process.env.PLUGIN_MODE }));
const mode = process.env.PLUGIN_MODE;
if (mode === 'fail') { process.stderr.write('\\nerror: no credentials for this profile\\nsecond line\\n'); process.exit(3); }
if (mode === 'hang') setInterval(() => {}, 1000);
else {
  const status = mode === 'cert' ? { clientCertificateData: 'CERT PEM', clientKeyData: 'KEY PEM' } : { token: 'token-' + count };
  if (process.env.PLUGIN_EXPIRY) status.expirationTimestamp = process.env.PLUGIN_EXPIRY;
  process.stdout.write(JSON.stringify({ apiVersion: process.env.PLUGIN_API_VERSION, kind: 'ExecCredential', status }));
}
`,
    'plugin.cjs',
    pluginDir,
  );

  const start = 1_700_000_000_000;

  /** A kubeconfig whose user runs the plugin with its state in a fresh directory. */
  function execConfig(
    env: Record<string, string>,
    apiVersion = 'client.authentication.k8s.io/v1',
    more = '',
  ): { config: string; state: string } {
    const state = newDir();
    const entries = Object.entries({ PLUGIN_API_VERSION: apiVersion, ...env })
      .map(([name, value]) => `{name: ${name}, value: "${value}"}`)
      .join(', ');
    const user = `{exec: {apiVersion: ${apiVersion}, command: "${process.execPath}", args: ["${plugin}", "${state}", extra-arg], env: [${entries}]${more}}}`;
    return { config: file(kubeconfig({ user }), `config-${++seq}`), state };
  }

  const runs = (state: string): number => Number(fs.readFileSync(path.join(state, 'runs'), 'utf8'));

  it.each(['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'])(
    'runs the plugin with its args, its env and KUBERNETES_EXEC_INFO, and sends its token (%s)',
    async (apiVersion) => {
      const { config, state } = execConfig({ PLUGIN_MODE: 'token' }, apiVersion);
      expect(await authorization(operatorAccess(read(config)))).toBe('Bearer token-1');
      const seen = JSON.parse(fs.readFileSync(path.join(state, 'seen.json'), 'utf8')) as unknown;
      expect(seen).toEqual({
        info: { kind: 'ExecCredential', apiVersion, spec: { interactive: false } },
        args: ['extra-arg'],
        mode: 'token',
      });
    },
  );

  it('gives the plugin the cluster when provideClusterInfo asks for it', async () => {
    const { config, state } = execConfig({ PLUGIN_MODE: 'token' }, 'client.authentication.k8s.io/v1', ', provideClusterInfo: true');
    await authorization(operatorAccess(read(config)));
    const seen = JSON.parse(fs.readFileSync(path.join(state, 'seen.json'), 'utf8')) as { info: unknown };
    expect(seen.info).toEqual({
      kind: 'ExecCredential',
      apiVersion: 'client.authentication.k8s.io/v1',
      spec: { interactive: false, cluster: { server: 'https://k.example:6443' } },
    });
  });

  it('keeps the credential until shortly before it expires, then runs the plugin again', async () => {
    const expiry = start + 10 * 60_000;
    const { config, state } = execConfig({ PLUGIN_MODE: 'token', PLUGIN_EXPIRY: new Date(expiry).toISOString() });
    let now = start;
    const access = operatorAccess(read(config), { now: () => now });
    expect(await authorization(access)).toBe('Bearer token-1');
    now = expiry - EXEC_REFRESH_MARGIN_MS - 1;
    expect(await authorization(access)).toBe('Bearer token-1');
    expect(runs(state)).toBe(1);
    now = expiry - EXEC_REFRESH_MARGIN_MS;
    expect(await authorization(access)).toBe('Bearer token-2');
    expect(runs(state)).toBe(2);
  });

  it('keeps a credential without an expiry', async () => {
    const { config, state } = execConfig({ PLUGIN_MODE: 'token' });
    let now = start;
    const access = operatorAccess(read(config), { now: () => now });
    await authorization(access);
    now += 24 * 3600_000;
    expect(await authorization(access)).toBe('Bearer token-1');
    expect(runs(state)).toBe(1);
  });

  it('runs the plugin once for calls made at the same time', async () => {
    const { config, state } = execConfig({ PLUGIN_MODE: 'token' });
    const access = operatorAccess(read(config));
    expect(await Promise.all([authorization(access), authorization(access), authorization(access)])).toEqual([
      'Bearer token-1',
      'Bearer token-1',
      'Bearer token-1',
    ]);
    expect(runs(state)).toBe(1);
  });

  it('uses a client certificate and key the plugin returns', async () => {
    const { config } = execConfig({ PLUGIN_MODE: 'cert' });
    const opts: https.RequestOptions = {};
    await operatorAccess(read(config)).applyToHTTPSOptions(opts);
    expect(opts.cert).toBe('CERT PEM');
    expect(opts.key).toBe('KEY PEM');
    expect(opts.headers).toEqual({});
  });

  it('fails in one line naming the command and the first line of its stderr', async () => {
    const { config } = execConfig({ PLUGIN_MODE: 'fail' });
    await expect(authorization(operatorAccess(read(config)))).rejects.toMatchObject({
      message: `kubeconfig ${config}: user "u": exec plugin ${JSON.stringify(process.execPath)} failed (exit code 3): error: no credentials for this profile`,
    });
  });

  it('fails when the plugin speaks another API version than configured', async () => {
    const { config } = execConfig({ PLUGIN_MODE: 'token', PLUGIN_API_VERSION: 'client.authentication.k8s.io/v1beta1' });
    await expect(authorization(operatorAccess(read(config)))).rejects.toThrow(
      `exec plugin ${JSON.stringify(process.execPath)} returned apiVersion "client.authentication.k8s.io/v1beta1", configured for "client.authentication.k8s.io/v1"`,
    );
  });

  it('kills a plugin that does not finish in time', async () => {
    const { config } = execConfig({ PLUGIN_MODE: 'hang' });
    await expect(authorization(operatorAccess(read(config), { execTimeoutMs: 300 }))).rejects.toThrow(
      `exec plugin ${JSON.stringify(process.execPath)} did not finish within 300 ms`,
    );
  });

  it('says a plugin is not installed, with its install hint', async () => {
    const config = file(
      kubeconfig({
        user: '{exec: {apiVersion: client.authentication.k8s.io/v1, command: fluxact-no-such-plugin, installHint: "Install it from example.com\\nor ask"}}',
      }),
    );
    await expect(authorization(operatorAccess(read(config)))).rejects.toMatchObject({
      message: `kubeconfig ${config}: user "u": exec plugin "fluxact-no-such-plugin" not found: Install it from example.com`,
    });
  });
});

describe("loadKubeConfig (client-node's KubeConfig for the MCP server and the CLI)", () => {
  it('refuses with the same messages', () => {
    const at = file('apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\ncurrent-context: prod\n');
    expect(refusal(() => loadKubeConfig({ kubeconfig: at }))).toBe(`kubeconfig ${at}: current-context "prod" is not among its contexts`);
  });

  it('merges files as kubectl does, and keeps a proxy-url', () => {
    const first = file(
      'clusters:\n- {name: c, cluster: {server: "https://first.example", proxy-url: "http://proxy.example:3128"}}\nusers:\n- {name: u, user: {token: first}}\n',
    );
    const second = file(
      [
        'clusters:',
        '- {name: c, cluster: {server: "https://second.example"}}',
        'users:',
        '- {name: u, user: {token: second}}',
        'contexts:',
        '- {name: x, context: {cluster: c, user: u}}',
        'current-context: x',
      ].join('\n'),
    );
    const kc = loadKubeConfig({ kubeconfig: [first, second].join(path.delimiter) });
    expect(kc.getCurrentContext()).toBe('x');
    expect(kc.getCurrentCluster()).toMatchObject({ server: 'https://first.example', proxyUrl: 'http://proxy.example:3128' });
    expect(kc.getCurrentUser()?.token).toBe('first');
  });
});
