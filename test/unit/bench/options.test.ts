// The benchmark's child operator runs as the image does, and its flags are read as documented.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ImageNodeOptions, operatorEnv, parseBenchOptions, usage } from '../../bench/options.js';
import { repoRoot } from '../../support/kube.js';

describe('the child operator', () => {
  it("runs with the image's NODE_OPTIONS (the Dockerfile's ENV)", () => {
    const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
    expect(/^ENV NODE_OPTIONS=(.*)$/m.exec(dockerfile)?.[1]).toBe(ImageNodeOptions);
    const options = parseBenchOptions([], {});
    expect(options !== 'help' && options.operatorNodeOptions).toEqual(ImageNodeOptions.split(' '));
  });

  it("runs in the bench's environment as the image has it: NODE_ENV from the Dockerfile, no NODE_OPTIONS or extra CA certificates", () => {
    const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
    const env = operatorEnv(
      { PATH: '/bin', HOME: '/home/u', NODE_OPTIONS: '--inspect', NODE_EXTRA_CA_CERTS: '/etc/ca.pem', NODE_ENV: 'test' },
      { MALLOC_ARENA_MAX: '2' },
    );
    expect(env).toEqual({ PATH: '/bin', HOME: '/home/u', NODE_ENV: /^ENV NODE_ENV=(.*)$/m.exec(dockerfile)?.[1], MALLOC_ARENA_MAX: '2' });
    // A restart's variant may still set them.
    expect(operatorEnv({}, { NODE_EXTRA_CA_CERTS: '/etc/ca.pem' })['NODE_EXTRA_CA_CERTS']).toBe('/etc/ca.pem');
  });

  it('runs with other node options, or none, when told', () => {
    const other = parseBenchOptions(['--operator-node-options=--max-old-space-size=128 --max-semi-space-size=2'], {});
    expect(other !== 'help' && other.operatorNodeOptions).toEqual(['--max-old-space-size=128', '--max-semi-space-size=2']);
    const none = parseBenchOptions([], { BENCH_OPERATOR_NODE_OPTIONS: '' });
    expect(none !== 'help' && none.operatorNodeOptions).toEqual([]);
  });
});

describe('the load', () => {
  it('is created by a ServiceAccount unless told to use the admin', () => {
    const byDefault = parseBenchOptions([], {});
    expect(byDefault !== 'help' && byDefault.loadAs).toBe('serviceaccount');
    const admin = parseBenchOptions(['--load-as', 'admin'], {});
    expect(admin !== 'help' && admin.loadAs).toBe('admin');
    expect(() => parseBenchOptions([], { BENCH_LOAD_AS: 'root' })).toThrow(
      '--load-as (BENCH_LOAD_AS): expected serviceaccount or admin, got "root"',
    );
  });
});

describe('the heap snapshot', () => {
  it('is off unless asked for, and needs the child operator', () => {
    const byDefault = parseBenchOptions([], {});
    expect(byDefault !== 'help' && byDefault.heapSnapshot).toBe(false);
    const asked = parseBenchOptions(['--heap-snapshot'], {});
    expect(asked !== 'help' && asked.heapSnapshot).toBe(true);
    expect(() => parseBenchOptions(['--heap-snapshot', '--operator', 'in-process'], {})).toThrow('--heap-snapshot needs --operator child');
  });
});

describe('the restart phase', () => {
  it('is off unless asked for (flag or BENCH_RESTART=1), and needs the child operator', () => {
    const byDefault = parseBenchOptions([], {});
    expect(byDefault !== 'help' && byDefault.restart).toBe(false);
    const asked = parseBenchOptions(['--restart'], {});
    expect(asked !== 'help' && asked.restart).toBe(true);
    const fromEnv = parseBenchOptions([], { BENCH_RESTART: '1' });
    expect(fromEnv !== 'help' && fromEnv.restart).toBe(true);
    expect(() => parseBenchOptions(['--restart', '--operator', 'in-process'], {})).toThrow('--restart needs --operator child');
  });

  it("restarts once with the operator's node options, or once per | -separated variant added to them", () => {
    const once = parseBenchOptions(['--restart', '--operator-node-options=--max-semi-space-size=2'], {});
    expect(once !== 'help' && once.restartVariants).toEqual([{ nodeOptions: ['--max-semi-space-size=2'], env: {} }]);
    const variants = parseBenchOptions(['--restart-node-options=|--heap-growing-percent=20 --optimize-for-size'], {});
    expect(variants !== 'help' && variants.restart).toBe(true);
    expect(variants !== 'help' && variants.restartVariants).toEqual([
      { nodeOptions: ['--max-semi-space-size=1'], env: {} },
      { nodeOptions: ['--max-semi-space-size=1', '--heap-growing-percent=20', '--optimize-for-size'], env: {} },
    ]);
    const fromEnv = parseBenchOptions([], { BENCH_RESTART_NODE_OPTIONS: '--a|--b' });
    expect(fromEnv !== 'help' && fromEnv.restartVariants.length).toBe(2);
    expect(() => parseBenchOptions(['--restart-node-options', 'heap'], {})).toThrow(
      '"heap" is neither an option (--name) nor an environment variable (NAME=value)',
    );
  });

  it("sets a restart's environment variables from NAME=value in its variant", () => {
    const options = parseBenchOptions(['--restart-node-options=|MALLOC_ARENA_MAX=2 --x GLIBC_TUNABLES=glibc.malloc.trim_threshold=0'], {});
    expect(options !== 'help' && options.restartVariants).toEqual([
      { nodeOptions: ['--max-semi-space-size=1'], env: {} },
      { nodeOptions: ['--max-semi-space-size=1', '--x'], env: { MALLOC_ARENA_MAX: '2', GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=0' } },
    ]);
  });
});

describe('the baseline the write ratio is measured against', () => {
  it('is measured in 10 rounds unless told otherwise, and in at least one', () => {
    const byDefault = parseBenchOptions([], {});
    expect(byDefault !== 'help' && [byDefault.baselinePatches, byDefault.baselineRounds]).toEqual([500, 10]);
    const one = parseBenchOptions(['--baseline-rounds', '1'], {});
    expect(one !== 'help' && one.baselineRounds).toBe(1);
    const fromEnv = parseBenchOptions([], { BENCH_BASELINE_ROUNDS: '4' });
    expect(fromEnv !== 'help' && fromEnv.baselineRounds).toBe(4);
    expect(() => parseBenchOptions(['--baseline-rounds', '0'], {})).toThrow(
      '--baseline-rounds (BENCH_BASELINE_ROUNDS): expected an integer from 1 to 100, got "0"',
    );
  });
});

describe('the replay of the write mix', () => {
  it('is off unless asked for (flag or BENCH_REPLAY=1)', () => {
    const byDefault = parseBenchOptions([], {});
    expect(byDefault !== 'help' && byDefault.replay).toBe(false);
    const asked = parseBenchOptions(['--replay'], {});
    expect(asked !== 'help' && asked.replay).toBe(true);
    const fromEnv = parseBenchOptions([], { BENCH_REPLAY: '1' });
    expect(fromEnv !== 'help' && fromEnv.replay).toBe(true);
  });
});

describe('the run without the admission policies', () => {
  it('keeps them unless asked (flag or BENCH_WITHOUT_ADMISSION=1), and says so in --help', () => {
    const byDefault = parseBenchOptions([], {});
    expect(byDefault !== 'help' && byDefault.withoutAdmission).toBe(false);
    const asked = parseBenchOptions(['--without-admission'], {});
    expect(asked !== 'help' && asked.withoutAdmission).toBe(true);
    const fromEnv = parseBenchOptions([], { BENCH_WITHOUT_ADMISSION: '1' });
    expect(fromEnv !== 'help' && fromEnv.withoutAdmission).toBe(true);
    expect(usage).toContain('--without-admission');
  });

  it('measures what the policies cost a create only when asked (--admission-cost N or BENCH_ADMISSION_COST), and says so in --help', () => {
    const byDefault = parseBenchOptions([], {});
    expect(byDefault !== 'help' && byDefault.admissionCost).toBe(0);
    const asked = parseBenchOptions(['--admission-cost', '2000'], {});
    expect(asked !== 'help' && asked.admissionCost).toBe(2000);
    const fromEnv = parseBenchOptions([], { BENCH_ADMISSION_COST: '500' });
    expect(fromEnv !== 'help' && fromEnv.admissionCost).toBe(500);
    expect(() => parseBenchOptions(['--admission-cost', 'many'], {})).toThrow(/admission-cost/);
    expect(usage).toContain('--admission-cost');
  });
});
