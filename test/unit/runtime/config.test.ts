import { describe, it, expect } from '@jest/globals';
import {
  ConfigError,
  OPERATOR_FLAGS,
  isHelpRequested,
  operatorHelp,
  parseOperatorConfig,
  type OperatorConfig,
} from '../../../src/runtime/config.js';

const defaults: OperatorConfig = {
  kubeconfig: undefined,
  namespace: 'fluxact-system',
  watchNamespace: undefined,
  crossNamespaceFrom: ['fluxact-system'],
  concurrency: 8,
  metricsAddr: ':8080',
  leaderElect: true,
  leaseName: 'flux-action-operator',
  logLevel: 'info',
};

/** The ConfigError message parse throws, or fails the test when it does not throw one. */
function errorOf(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parseOperatorConfig(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error(`expected ${JSON.stringify(argv)} to be refused`);
}

/** A valid raw value for each flag that differs from the case's value, used to show the flag wins. */
const defaultsAsRaw: Record<string, string> = {
  kubeconfig: '/other/kubeconfig',
  namespace: 'other',
  'watch-namespace': 'other',
  'cross-namespace-from': 'other',
  concurrency: '1',
  'metrics-addr': ':1234',
  'lease-name': 'other',
  'log-level': 'error',
};

// One row per flag: a valid value, the field it sets and the parsed result.
const flagCases: Array<{ flag: string; env?: string; value: string; field: keyof OperatorConfig; parsed: unknown }> = [
  { flag: 'kubeconfig', env: 'KUBECONFIG', value: '/tmp/kc.yaml', field: 'kubeconfig', parsed: '/tmp/kc.yaml' },
  { flag: 'namespace', env: 'FLUXACT_NAMESPACE', value: 'ops', field: 'namespace', parsed: 'ops' },
  { flag: 'watch-namespace', env: 'FLUXACT_WATCH_NAMESPACE', value: 'apps', field: 'watchNamespace', parsed: 'apps' },
  {
    flag: 'cross-namespace-from',
    env: 'FLUXACT_CROSS_NAMESPACE_FROM',
    value: 'flux-system, ops',
    field: 'crossNamespaceFrom',
    parsed: ['flux-system', 'ops'],
  },
  { flag: 'concurrency', env: 'FLUXACT_CONCURRENCY', value: '32', field: 'concurrency', parsed: 32 },
  { flag: 'metrics-addr', env: 'FLUXACT_METRICS_ADDR', value: '127.0.0.1:9090', field: 'metricsAddr', parsed: '127.0.0.1:9090' },
  { flag: 'leader-elect', env: 'FLUXACT_LEADER_ELECT', value: 'false', field: 'leaderElect', parsed: false },
  { flag: 'lease-name', value: 'my-lease', field: 'leaseName', parsed: 'my-lease' },
  { flag: 'log-level', env: 'FLUXACT_LOG_LEVEL', value: 'debug', field: 'logLevel', parsed: 'debug' },
];

describe('parseOperatorConfig', () => {
  it('uses the documented defaults when nothing is given', () => {
    expect(parseOperatorConfig([], {})).toEqual(defaults);
  });

  describe.each(flagCases)('--$flag', ({ flag, env, value, field, parsed }) => {
    it('is read from --flag=value', () => {
      expect(parseOperatorConfig([`--${flag}=${value}`], {})[field]).toEqual(parsed);
    });

    it('is read from --flag value', () => {
      expect(parseOperatorConfig([`--${flag}`, value], {})[field]).toEqual(parsed);
    });

    if (env) {
      it(`falls back to $${env}`, () => {
        expect(parseOperatorConfig([], { [env]: value })[field]).toEqual(parsed);
      });

      it(`wins over $${env}`, () => {
        const other = flag === 'leader-elect' ? 'true' : defaultsAsRaw[flag];
        const config = parseOperatorConfig([`--${flag}=${value}`], { [env]: other });
        expect(config[field]).toEqual(parsed);
      });
    }
  });

  it('treats an empty environment variable as unset', () => {
    expect(parseOperatorConfig([], { FLUXACT_CONCURRENCY: '', FLUXACT_NAMESPACE: '' })).toEqual(defaults);
  });

  it('lets the last of a repeated flag win', () => {
    expect(parseOperatorConfig(['--concurrency=2', '--concurrency=3'], {}).concurrency).toBe(3);
  });

  it('reads several flags in one command line', () => {
    const config = parseOperatorConfig(['--namespace', 'ops', '--concurrency=4', '--no-leader-elect', '--log-level', 'warn'], {});
    expect(config).toEqual({
      ...defaults,
      namespace: 'ops',
      crossNamespaceFrom: ['ops'],
      concurrency: 4,
      leaderElect: false,
      logLevel: 'warn',
    });
  });

  describe('as node:util parseArgs splits the command line', () => {
    it('keeps everything after the first "=" as the value', () => {
      expect(parseOperatorConfig(['--kubeconfig=/etc/kube=prod.yaml'], {}).kubeconfig).toBe('/etc/kube=prod.yaml');
    });

    it('takes a value that starts with a single dash', () => {
      expect(errorOf(['--concurrency', '-1'])).toBe('--concurrency: expected an integer from 1 to 256, got "-1"');
    });

    it('refuses a value flag given twice with the second missing its value', () => {
      expect(errorOf(['--namespace=ops', '--namespace'])).toBe('--namespace: missing value (expected --namespace <name>)');
    });

    it('takes "true"/"false" after a boolean only right after it', () => {
      expect(errorOf(['--leader-elect', '--concurrency=2', 'false'])).toBe('unexpected argument "false": only flags are taken');
    });
  });

  describe('namespace', () => {
    it('defaults to $POD_NAMESPACE', () => {
      expect(parseOperatorConfig([], { POD_NAMESPACE: 'from-pod' }).namespace).toBe('from-pod');
    });

    it('prefers $FLUXACT_NAMESPACE over $POD_NAMESPACE', () => {
      expect(parseOperatorConfig([], { POD_NAMESPACE: 'from-pod', FLUXACT_NAMESPACE: 'from-env' }).namespace).toBe('from-env');
    });

    it('prefers --namespace over both variables', () => {
      const env = { POD_NAMESPACE: 'from-pod', FLUXACT_NAMESPACE: 'from-env' };
      expect(parseOperatorConfig(['--namespace=from-flag'], env).namespace).toBe('from-flag');
    });
  });

  describe('cross-namespace-from', () => {
    it("defaults to the operator's own namespace, wherever that came from", () => {
      expect(parseOperatorConfig(['--namespace=ops'], {}).crossNamespaceFrom).toEqual(['ops']);
      expect(parseOperatorConfig([], { POD_NAMESPACE: 'pod-ns' }).crossNamespaceFrom).toEqual(['pod-ns']);
    });

    it('given empty on the command line, allows no namespace to cross', () => {
      expect(parseOperatorConfig(['--cross-namespace-from='], {}).crossNamespaceFrom).toEqual([]);
    });
  });

  describe('leader-elect', () => {
    it.each([
      [['--leader-elect'], true],
      [['--leader-elect=true'], true],
      [['--leader-elect=false'], false],
      [['--leader-elect', 'false'], false],
      [['--no-leader-elect'], false],
      [['--leader-elect=FALSE'], false],
      [['--leader-elect=0'], false],
    ])('%j gives %s', (argv, expected) => {
      expect(parseOperatorConfig(argv, {}).leaderElect).toBe(expected);
    });

    it('reads a bare --leader-elect as true even when the environment says false', () => {
      expect(parseOperatorConfig(['--leader-elect'], { FLUXACT_LEADER_ELECT: 'false' }).leaderElect).toBe(true);
    });

    it('does not take a following flag as its value', () => {
      const config = parseOperatorConfig(['--leader-elect', '--concurrency=2'], {});
      expect(config.leaderElect).toBe(true);
      expect(config.concurrency).toBe(2);
    });
  });

  describe('errors', () => {
    it.each([
      [['--concurrency=abc'], '--concurrency: expected an integer from 1 to 256, got "abc"'],
      [['--concurrency=0'], '--concurrency: expected an integer from 1 to 256, got "0"'],
      [['--concurrency=257'], '--concurrency: expected an integer from 1 to 256, got "257"'],
      [['--concurrency=2.5'], '--concurrency: expected an integer from 1 to 256, got "2.5"'],
      [['--concurrency=-1'], '--concurrency: expected an integer from 1 to 256, got "-1"'],
      [
        ['--namespace=Ops'],
        '--namespace: expected a namespace name (lowercase letters, digits and "-", starting and ending with a letter or digit), got "Ops"',
      ],
      [['--namespace=' + 'a'.repeat(64)], `--namespace: expected a namespace name of at most 63 characters, got "${'a'.repeat(64)}"`],
      [
        ['--watch-namespace=team_a'],
        '--watch-namespace: expected a namespace name (lowercase letters, digits and "-", starting and ending with a letter or digit), got "team_a"',
      ],
      [
        ['--cross-namespace-from=ops,Team_A'],
        '--cross-namespace-from: expected namespace names separated by commas ("Team_A" is not one), got "ops,Team_A"',
      ],
      [['--metrics-addr=8080'], '--metrics-addr: expected [host]:port, such as ":8080" or "127.0.0.1:8080", got "8080"'],
      [['--metrics-addr=:70000'], '--metrics-addr: port 70000 is out of range 0-65535, got ":70000"'],
      [['--leader-elect=maybe'], '--leader-elect: expected true or false, got "maybe"'],
      [['--lease-name=My_Lease'], '--lease-name: expected a Lease name (lowercase letters, digits, "-" and "."), got "My_Lease"'],
      [['--log-level=verbose'], '--log-level: expected one of trace, debug, info, warn, error, fatal, got "verbose"'],
      [['--kubeconfig='], '--kubeconfig: expected a path to a kubeconfig file, got ""'],
    ])('%j is refused with: %s', (argv, message) => {
      expect(errorOf(argv)).toBe(message);
    });

    it('names the environment variable and its flag when the value came from the environment', () => {
      expect(errorOf([], { FLUXACT_CONCURRENCY: 'abc' })).toBe(
        'FLUXACT_CONCURRENCY (--concurrency): expected an integer from 1 to 256, got "abc"',
      );
    });

    it('names POD_NAMESPACE when the bad namespace came from there', () => {
      expect(errorOf([], { POD_NAMESPACE: 'Bad' })).toMatch(/^POD_NAMESPACE \(default of --namespace\): expected a namespace name/);
    });

    it('does not look at the environment when the flag is given', () => {
      expect(parseOperatorConfig(['--concurrency=4'], { FLUXACT_CONCURRENCY: 'abc' }).concurrency).toBe(4);
    });

    it('refuses an unknown flag, suggesting a near one', () => {
      expect(errorOf(['--concurency=4'])).toBe('unknown flag --concurency (did you mean --concurrency?); run with --help for the list');
    });

    it('refuses an unknown flag with nothing near it', () => {
      expect(errorOf(['--default-timeout=5m'])).toBe('unknown flag --default-timeout; run with --help for the list');
    });

    it('refuses a single-dash flag', () => {
      expect(errorOf(['-v'])).toBe('unknown flag -v; run with --help for the list');
    });

    it('refuses grouped short flags, naming them as given', () => {
      expect(errorOf(['-vx'])).toBe('unknown flag -vx; run with --help for the list');
    });

    it('refuses "--" and what follows it, on one line', () => {
      expect(errorOf(['--', '--concurrency=2'])).toBe('unknown flag --; run with --help for the list');
    });

    it('refuses --no- on an unknown flag, suggesting a near one', () => {
      expect(errorOf(['--no-leader-elekt'])).toBe(
        'unknown flag --no-leader-elekt (did you mean --no-leader-elect?); run with --help for the list',
      );
    });

    it('refuses an empty value on a --no- flag', () => {
      expect(errorOf(['--no-leader-elect='])).toBe('--no-leader-elect: takes no value, got ""');
    });

    it('refuses a positional argument', () => {
      expect(errorOf(['extra'])).toBe('unexpected argument "extra": only flags are taken');
    });

    it('refuses a value flag without its value', () => {
      expect(errorOf(['--namespace'])).toBe('--namespace: missing value (expected --namespace <name>)');
      expect(errorOf(['--namespace', '--concurrency=2'])).toBe('--namespace: missing value (expected --namespace <name>)');
    });

    it('refuses --no- on a flag that is not a boolean', () => {
      expect(errorOf(['--no-concurrency'])).toMatch(/^unknown flag --no-concurrency/);
    });

    it('refuses a value on a --no- flag', () => {
      expect(errorOf(['--no-leader-elect=true'])).toBe('--no-leader-elect: takes no value, got "true"');
    });
  });
});

describe('operatorHelp', () => {
  it('lists every flag with its environment variable and default', () => {
    const help = operatorHelp();
    for (const flag of OPERATOR_FLAGS) {
      const line = help.split('\n').find((l) => l.trimStart().startsWith(`--${flag.name} `) || l.trim() === `--${flag.name}`);
      expect(line).toBeDefined();
      expect(line).toContain(`(default: ${flag.defaultText})`);
      if (flag.env) expect(line).toContain(`[$${flag.env}]`);
    }
    expect(help).toMatch(/^Usage: fluxact operator \[flags\]/);
  });

  it('has a row for every flag the parser accepts', () => {
    expect(OPERATOR_FLAGS.map((f) => f.name).sort()).toEqual(flagCases.map((c) => c.flag).sort());
  });
});

describe('isHelpRequested', () => {
  it('sees --help and -h anywhere', () => {
    expect(isHelpRequested(['--concurrency=2', '--help'])).toBe(true);
    expect(isHelpRequested(['-h'])).toBe(true);
    expect(isHelpRequested(['--concurrency=2'])).toBe(false);
  });
});
