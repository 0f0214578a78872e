// The command line's grammar: the flux CLI's nouns and aliases, the flags, and the mistakes that
// are bad usage (a UsageError: one line, exit code 2).
import { describe, expect, it } from '@jest/globals';
import { completions, parseCli, UsageError, type CliCommand } from '../../../src/cli/args.js';
import { nounList, nouns } from '../../../src/cli/nouns.js';
import { fluxKinds } from '../../../src/flux/kinds.js';

async function action(argv: string[]): Promise<Extract<CliCommand, { command: 'action' }>> {
  const cmd = await parseCli(argv);
  if (cmd.command !== 'action') throw new Error(`expected an action, got ${cmd.command}`);
  return cmd;
}

async function usageError(argv: string[]): Promise<string> {
  try {
    await parseCli(argv);
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  throw new Error(`${argv.join(' ')} parsed`);
}

describe('nouns', () => {
  it.each([
    [['kustomization', 'app'], 'Kustomization'],
    [['ks', 'app'], 'Kustomization'],
    [['helmrelease', 'app'], 'HelmRelease'],
    [['hr', 'app'], 'HelmRelease'],
    [['source', 'git', 'app'], 'GitRepository'],
    [['source', 'oci', 'app'], 'OCIRepository'],
    [['source', 'bucket', 'app'], 'Bucket'],
    [['source', 'helm', 'app'], 'HelmRepository'],
    [['source', 'chart', 'app'], 'HelmChart'],
    [['gitrepository', 'app'], 'GitRepository'],
    [['resourceset', 'app'], 'ResourceSet'],
    [['rset', 'app'], 'ResourceSet'],
    [['rsip', 'app'], 'ResourceSetInputProvider'],
    [['instance', 'flux'], 'FluxInstance'],
    [['image', 'repository', 'app'], 'ImageRepository'],
    [['image', 'policy', 'app'], 'ImagePolicy'],
    [['image', 'update', 'app'], 'ImageUpdateAutomation'],
    [['receiver', 'app'], 'Receiver'],
    [['alert-provider', 'app'], 'Provider'],
    [['KS', 'app'], 'Kustomization'],
  ])('reconcile %j is a %s', async (words, kind) => {
    const cmd = await action(['reconcile', ...words]);
    expect(cmd.kind).toBe(kind);
    expect(cmd.name).toBe('app' === words.at(-1) ? 'app' : words.at(-1));
  });

  it('names every kind of the kinds table', () => {
    expect(nouns.map((n) => n.kind)).toEqual(fluxKinds.map((k) => k.kind));
    for (const kind of fluxKinds)
      expect(nouns.find((n) => n.kind === kind.kind)?.words).toEqual(expect.arrayContaining([...kind.shortNames]));
  });

  it('lists the nouns as the flux CLI writes them', () => {
    expect(nounList()).toBe(
      'kustomization|ks, helmrelease|hr, source git|oci|bucket|chart|helm, resourceset|rset, resourcesetinputprovider|rsip, ' +
        'fluxinstance|instance, image repository|policy|update, receiver, alert, provider|alert-provider',
    );
  });
});

describe('flags', () => {
  it('reads the defaults: wait, nothing else', async () => {
    expect(await parseCli(['reconcile', 'ks', 'app'])).toEqual({
      command: 'action',
      action: 'Reconcile',
      kind: 'Kustomization',
      name: 'app',
      withSource: false,
      withDependencies: false,
      withDependents: false,
      force: false,
      reset: false,
      wait: true,
      connection: {},
    });
  });

  it('reads every flag of reconcile', async () => {
    expect(
      await parseCli([
        'reconcile',
        'hr',
        'web',
        '-n',
        'apps',
        '--with-source',
        '--force',
        '--reset',
        '--timeout',
        '2m30s',
        '--no-wait',
        '--kubeconfig',
        'kc.yaml',
        '--context',
        'prod',
        '--as',
        'alice',
        '-o',
        'yaml',
      ]),
    ).toEqual({
      command: 'action',
      action: 'Reconcile',
      kind: 'HelmRelease',
      name: 'web',
      withSource: true,
      withDependencies: false,
      withDependents: false,
      force: true,
      reset: true,
      wait: false,
      timeout: { text: '2m30s', ms: 150_000 },
      output: 'yaml',
      connection: { namespace: 'apps', kubeconfig: 'kc.yaml', context: 'prod', as: 'alice' },
    });
  });

  it('reads --with-dependencies and --with-dependents', async () => {
    expect(await action(['reconcile', 'ks', 'app', '--with-dependencies', '--with-dependents'])).toMatchObject({
      withDependencies: true,
      withDependents: true,
    });
  });

  it('takes --namespace=… and flags before the verb', async () => {
    expect((await action(['--namespace=apps', 'suspend', 'ks', 'app'])).connection.namespace).toBe('apps');
    expect((await action(['resume', 'ks', 'app', '--output=json'])).output).toBe('json');
  });

  it.each([
    ['suspend', 'Suspend'],
    ['resume', 'Resume'],
  ])('%s is the %s action', async (verb, actionName) => {
    expect((await action([verb, 'ks', 'app'])).action).toBe(actionName);
  });

  it('reads get, describe, approve and reject', async () => {
    expect(await parseCli(['get'])).toEqual({ command: 'get', allNamespaces: false, connection: {} });
    expect(await parseCli(['get', 'requests', '-A', '-o', 'json'])).toEqual({
      command: 'get',
      allNamespaces: true,
      output: 'json',
      connection: {},
    });
    expect(await parseCli(['get', 'far', '-n', 'apps'])).toEqual({
      command: 'get',
      allNamespaces: false,
      connection: { namespace: 'apps' },
    });
    expect(await parseCli(['describe', 'r1', '-n', 'apps'])).toEqual({
      command: 'describe',
      name: 'r1',
      connection: { namespace: 'apps' },
    });
    expect(await parseCli(['approve', 'r1', '--as', 'bob'])).toEqual({
      command: 'decide',
      decision: 'approve',
      name: 'r1',
      connection: { as: 'bob' },
    });
    expect(await parseCli(['reject', 'r1'])).toEqual({ command: 'decide', decision: 'reject', name: 'r1', connection: {} });
  });

  it('keeps numeric names and namespaces as written', async () => {
    const cmd = await action(['reconcile', 'ks', '007', '-n', '42']);
    expect(cmd.name).toBe('007');
    expect(cmd.connection.namespace).toBe('42');
  });

  it('routes operator and mcp to their own flag parsing, untouched', async () => {
    expect(await parseCli(['operator', '--concurrency', '4', '--bogus'])).toEqual({
      command: 'operator',
      argv: ['--concurrency', '4', '--bogus'],
    });
    expect(await parseCli(['mcp', '--help'])).toEqual({ command: 'mcp', argv: ['--help'] });
  });
});

describe('bad usage', () => {
  it.each([
    [['frobnicate'], 'unknown command "frobnicate"'],
    [[], 'say what to do: fluxact --help lists the commands'],
    [['reconcile'], 'say what to act on: kustomization|ks, helmrelease|hr'],
    [['reconcile', 'widget', 'app'], 'unknown kind "widget": use kustomization|ks, helmrelease|hr'],
    [['reconcile', 'source', 'svn', 'app'], 'unknown source kind "svn": use source git|oci|bucket|chart|helm'],
    [['reconcile', 'source'], 'source: say which kind (git|oci|bucket|chart|helm)'],
    [['reconcile', 'ks'], 'say the name of the Kustomization to reconcile: fluxact reconcile KIND NAME'],
    [['reconcile', 'ks', 'a', 'b'], 'one Kustomization at a time: unexpected "b"'],
    [['reconcile', 'ks', 'app', '--bogus'], 'Unknown argument: bogus'],
    [['suspend', 'hr', 'app', '--force'], 'Unknown argument: force'],
    // Named as typed, once: yargs would add the camel-cased form.
    [['reconcile', 'ks', 'app', '--with-sources'], 'Unknown argument: with-sources'],
    [['reconcile', 'ks', 'app', '--with-sources', '--bogus'], 'Unknown arguments: with-sources, bogus'],
    [['reconcile', 'ks', 'app', '-o', 'xml'], 'Invalid values: Argument: output, Given: "xml", Choices: "json", "yaml"'],
    [['reconcile', 'ks', 'app', '--timeout', 'soon'], '--timeout: expected a duration such as 90s or 5m, at most 1h, got "soon"'],
    [['reconcile', 'ks', 'app', '--timeout', '2h'], '--timeout: expected a duration such as 90s or 5m, at most 1h, got "2h"'],
    [['reconcile', 'ks', 'app', '-n', 'a', '-n', 'b'], '--namespace: give it once, with a value'],
    [['get', 'kustomizations'], 'fluxact get lists requests: "kustomizations" is not one (use fluxact get requests)'],
    [['describe'], 'Not enough non-option arguments: got 0, need at least 1'],
  ])('%j: %s', async (argv, message) => {
    const got = await usageError(argv);
    expect(got).toContain(message);
    expect(got).not.toContain('\n');
  });
});

describe('help and completion', () => {
  it('generates the help', async () => {
    const help = await parseCli(['--help']);
    expect(help.command === 'print' ? help.text : '').toMatchSnapshot();
  });

  it("generates reconcile's help, with the nouns and flags", async () => {
    const help = await parseCli(['reconcile', '--help']);
    expect(help.command === 'print' ? help.text : '').toMatchSnapshot();
  });

  it('prints a completion script that asks fluxact for completions', async () => {
    const script = await parseCli(['completion']);
    expect(script.command === 'print' ? script.text : '').toContain('fluxact --get-yargs-completions');
  });

  it('completes commands, nouns and source kinds', async () => {
    expect(completions(['re'])).toEqual(['reconcile', 'resume', 'reject']);
    expect(completions(['reconcile', 's'])).toEqual(['source']);
    expect(completions(['reconcile', 'source', ''])).toEqual(['git', 'oci', 'bucket', 'chart', 'helm']);
    expect(await parseCli(['--get-yargs-completions', 'fluxact', 'reconcile', 'h'])).toEqual({
      command: 'print',
      text: 'helmrelease\nhr\n',
    });
  });
});
