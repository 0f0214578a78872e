// The benchmark's settings: command-line flags, each with an environment variable as fallback
// (flags win), bounded so a typo cannot start an unbounded run.
import { parseArgs } from 'node:util';

/** How the operator under test runs. */
export type OperatorMode = 'child' | 'in-process';

export interface BenchOptions {
  /** FluxActionRequests created (default 1000). */
  requests: number;
  /** Kustomizations the requests are spread over, round-robin (default 100). */
  targets: number;
  /** The operator's --concurrency (default 8). */
  concurrency: number;
  /** How long one simulated Flux reconcile takes, in ms (default 0). */
  simDelayMs: number;
  /** Creates (and baseline patches) in flight at once (default 32). */
  parallelism: number;
  /** Merge patches per baseline run (default 500). */
  baselinePatches: number;
  /**
   * Rounds of baselinePatches for the baseline over the targets, the one the write ratio is measured
   * against (default 10): its rate is that of all rounds together.
   */
  baselineRounds: number;
  /**
   * Requests run (one after another, on a Kustomization of their own) after the operator starts and
   * before the timed load, so the load meets a warm operator (default 0: the load meets a cold one).
   */
  warmup: number;
  /** Longest wait for every request to finish, in seconds (default 300). */
  timeoutSeconds: number;
  /** child (default): `fluxact operator` as its own process, so its RSS is its own; in-process: startOperator(). */
  operator: OperatorMode;
  /** The child operator's --log-level (default info: its start and each finished request are logged). */
  operatorLogLevel: string;
  /**
   * Open-loop phases after the burst, each at this percentage of the burst's measured throughput
   * (default none). Requests are created on a fixed schedule whatever the operator does.
   */
  ratePercents: number[];
  /** An open-loop phase at this many requests per second (default 0: none); with --requests 0 the only load. */
  rate: number;
  /** How long each open-loop phase creates requests, in seconds (default 20). */
  rateSeconds: number;
  /**
   * Seconds of kube-apiserver CPU profile taken from the start of the replay, the burst and the closed
   * loop (default 0: none), one file each in .cache/bench for `go tool pprof`; the API server must
   * serve /debug/pprof (`cluster.sh up --profiling`).
   */
  apiserverProfileSeconds: number;
  /**
   * Dry-run creates of a request per segment of the admission-cost measure (default 0: none), taken
   * before the load in eight segments, the admission policies enforced and lifted in turn: the
   * kube-apiserver CPU they add to a create.
   */
  admissionCost: number;
  /** ttlSecondsAfterFinished of the requests (default: none, so they stay). */
  ttlSeconds: number | undefined;
  /** How often the operator's heap is sampled from its /metrics, in seconds (default 5). */
  heapSampleSeconds: number;
  /**
   * The `fluxact` entry point run as the child operator (default: this clone's dist/src/cli/main.js):
   * another build, such as the previous commit's, benchmarked under the same load.
   */
  operatorMain: string | undefined;
  /** Node.js options of the child operator, space-separated (default none), e.g. V8's --max-semi-space-size=2. */
  operatorNodeOptions: string[];
  /**
   * Who creates the load and plays Flux: serviceaccount (default), a ServiceAccount of the bench's
   * namespace, which API Priority and Fairness queues like the operator and Flux's controllers;
   * admin, the kubeconfig's own user (system:masters, which it exempts from queueing).
   */
  loadAs: LoadUser;
  /**
   * After the load, the child operator writes a V8 heap snapshot (which collects garbage first) to
   * .cache/bench, and the report gives its live heap: what stays alive, without the garbage the heap
   * samples include (default off).
   */
  heapSnapshot: boolean;
  /**
   * After the load, a second operator started on the namespace as it is then (every request of the
   * run finished, still there without a TTL): how long it takes to go idle and the memory it needs
   * for that state, apart from the load's.
   */
  restart: boolean;
  /**
   * After the yardstick, the closed loop's writes replayed without the operator, in a namespace of
   * their own (default off): how far the API server takes that write mix (replay.ts).
   */
  replay: boolean;
  /**
   * The run without the project's admission policies (default off: they are installed and enforced,
   * as the tests install them): their bindings deleted for the run, as an install with Helm's
   * admission.enabled=false has none (admission.ts).
   */
  withoutAdmission: boolean;
  /**
   * The Node.js options and environment of each restarted operator, one restart per entry, in order
   * (default: one restart with operatorNodeOptions): several settings compared on the same finished
   * requests.
   */
  restartVariants: RestartVariant[];
}

/** What one restarted operator runs with: its Node.js options, and variables added to its environment. */
export interface RestartVariant {
  nodeOptions: string[];
  env: Record<string, string>;
}

/** An environment variable's assignment in a restart variant, such as MALLOC_ARENA_MAX=2. */
const EnvAssignment = /^([A-Z_][A-Z0-9_]*)=(.*)$/;

/** Who creates the load and plays Flux. */
export type LoadUser = 'serviceaccount' | 'admin';

interface IntSetting {
  flag: keyof BenchOptions;
  name: string;
  env: string;
  def: number;
  min: number;
  max: number;
}

const intSettings: IntSetting[] = [
  { flag: 'requests', name: 'requests', env: 'BENCH_REQUESTS', def: 1000, min: 0, max: 100_000 },
  { flag: 'targets', name: 'targets', env: 'BENCH_TARGETS', def: 100, min: 1, max: 10_000 },
  { flag: 'concurrency', name: 'concurrency', env: 'BENCH_CONCURRENCY', def: 8, min: 1, max: 256 },
  { flag: 'simDelayMs', name: 'sim-delay-ms', env: 'BENCH_SIM_DELAY_MS', def: 0, min: 0, max: 60_000 },
  { flag: 'parallelism', name: 'parallelism', env: 'BENCH_PARALLELISM', def: 32, min: 1, max: 256 },
  { flag: 'baselinePatches', name: 'baseline-patches', env: 'BENCH_BASELINE_PATCHES', def: 500, min: 0, max: 100_000 },
  { flag: 'baselineRounds', name: 'baseline-rounds', env: 'BENCH_BASELINE_ROUNDS', def: 10, min: 1, max: 100 },
  { flag: 'warmup', name: 'warmup', env: 'BENCH_WARMUP', def: 0, min: 0, max: 100 },
  { flag: 'timeoutSeconds', name: 'timeout-seconds', env: 'BENCH_TIMEOUT_SECONDS', def: 300, min: 1, max: 3600 },
  { flag: 'rate', name: 'rate', env: 'BENCH_RATE', def: 0, min: 0, max: 1000 },
  { flag: 'rateSeconds', name: 'rate-seconds', env: 'BENCH_RATE_SECONDS', def: 20, min: 1, max: 7200 },
  { flag: 'heapSampleSeconds', name: 'heap-sample-seconds', env: 'BENCH_HEAP_SAMPLE_SECONDS', def: 5, min: 1, max: 600 },
  { flag: 'apiserverProfileSeconds', name: 'apiserver-profile-seconds', env: 'BENCH_APISERVER_PROFILE_SECONDS', def: 0, min: 0, max: 120 },
  { flag: 'admissionCost', name: 'admission-cost', env: 'BENCH_ADMISSION_COST', def: 0, min: 0, max: 100_000 },
];

/** The container image's NODE_OPTIONS (the Dockerfile's ENV), which the child operator runs with unless told otherwise. */
export const ImageNodeOptions = '--max-semi-space-size=1';

/**
 * The child operator's environment: the bench's, as the container image has it. NODE_ENV as the
 * Dockerfile sets it; without NODE_OPTIONS (the image's are passed as arguments) and without
 * NODE_EXTRA_CA_CERTS, which the image does not set (node would load the certificates it names into
 * the operator's memory; the operator trusts its kubeconfig's CA). extra: a restart's variables.
 */
export function operatorEnv(env: NodeJS.ProcessEnv, extra: Record<string, string>): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _options, NODE_EXTRA_CA_CERTS: _extraCerts, ...kept } = env;
  return { ...kept, NODE_ENV: 'production', ...extra };
}

export const usage = `npm run bench [-- flags]   (or: node dist/test/bench/bench.js [flags])

Benchmarks the operator against the test cluster ($KUBECONFIG, else .cache/cluster/kubeconfig):
N Reconcile requests over M Kustomizations, answered by the Flux simulator (a test double),
with the API server's raw merge-patch rate as the baseline.

Flags (environment variable in brackets):
${intSettings.map((s) => `  --${s.name.padEnd(18)} default ${String(s.def).padEnd(6)} [${s.env}]`).join('\n')}
  --operator           default child  [BENCH_OPERATOR]  child | in-process
  --operator-log-level default info   [BENCH_OPERATOR_LOG_LEVEL]
  --rates              default none   [BENCH_RATES]  a closed loop of N requests (one per target
                                      at a time), then open-loop phases at these percentages of its
                                      throughput, e.g. 25,50,80
  --ttl-seconds        default none   [BENCH_TTL_SECONDS]  ttlSecondsAfterFinished of the requests
  --operator-main      default dist/bundle/main.js  [BENCH_OPERATOR_MAIN]  the fluxact build run as
                                      the child operator: by default the bundle the image runs
                                      (hack/bundle.mjs); dist/src/cli/main.js runs the compiled modules
                                      from node_modules; another clone's, for a before/after
  --operator-node-options  default ${ImageNodeOptions}  [BENCH_OPERATOR_NODE_OPTIONS]  node
                                      options of the child: by default the image's NODE_OPTIONS;
                                      "" for none
  --load-as            default serviceaccount  [BENCH_LOAD_AS]  who creates the requests and
                                      plays Flux: serviceaccount (a ServiceAccount, queued by API
                                      Priority and Fairness like the operator) or admin (the
                                      kubeconfig's user, system:masters, exempt from queueing)
  --restart            default off    [BENCH_RESTART=1]  after the load, a new operator on the
                                      finished requests: time to idle, its peak RSS and heap
  --restart-node-options  default: the operator's  [BENCH_RESTART_NODE_OPTIONS]  node options
                                      added for each restarted operator, one restart per value,
                                      separated by | (implies --restart). With an option's value
                                      starting with --, use =: --restart-node-options="|--x"
                                      restarts twice: as the operator ran, then with --x added;
                                      NAME=value in a value sets an environment variable of that
                                      restart: --restart-node-options="|MALLOC_ARENA_MAX=2"
  --replay             default off    [BENCH_REPLAY=1]  after the baseline, the closed loop's
                                      writes replayed without the operator or the simulator, in a
                                      namespace of their own: the write rate and ratio of that mix
  --without-admission  default off    [BENCH_WITHOUT_ADMISSION=1]  the run without the admission
                                      policies' bindings (as Helm's admission.enabled=false
                                      installs it), created again after it
  --heap-snapshot      default off    [BENCH_HEAP_SNAPSHOT=1]  after the load, a heap snapshot of
                                      the child operator (after a full collection) in .cache/bench,
                                      and its live heap in the report
  (--apiserver-profile-seconds N, above: N seconds of kube-apiserver CPU profile from the start of
                                      the replay, the burst and the closed loop, a file each in
                                      .cache/bench, to read with go tool pprof; the local control
                                      plane serves it after cluster.sh up --profiling)
  (--admission-cost N, above: before the load, N dry-run creates of a request in each of eight
                                      segments, the admission policies enforced and lifted in
                                      turn: the kube-apiserver CPU per create with and without
                                      them, on the local control plane)
  --help
`;

export class UsageError extends Error {}

/** Parses argv (without node and the script) with env as fallback. Throws UsageError on bad input. */
export function parseBenchOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...Object.fromEntries(intSettings.map((s) => [s.name, { type: 'string' as const }])),
      operator: { type: 'string' },
      'operator-log-level': { type: 'string' },
      rates: { type: 'string' },
      'operator-main': { type: 'string' },
      'operator-node-options': { type: 'string' },
      'ttl-seconds': { type: 'string' },
      'load-as': { type: 'string' },
      'heap-snapshot': { type: 'boolean' },
      restart: { type: 'boolean' },
      'restart-node-options': { type: 'string' },
      replay: { type: 'boolean' },
      'without-admission': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values['help']) return 'help';
  const given = values as Record<string, string | boolean | undefined>;
  const options: Record<string, number | string> = {};
  for (const s of intSettings) {
    const raw = given[s.name] ?? env[s.env];
    const text = typeof raw === 'string' && raw !== '' ? raw : undefined;
    if (text === undefined) {
      options[s.flag] = s.def;
      continue;
    }
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < s.min || n > s.max)
      throw new UsageError(`--${s.name} (${s.env}): expected an integer from ${s.min} to ${s.max}, got "${text}"`);
    options[s.flag] = n;
  }
  const mode = stringValue(values['operator']) ?? env['BENCH_OPERATOR'] ?? 'child';
  if (mode !== 'child' && mode !== 'in-process')
    throw new UsageError(`--operator (BENCH_OPERATOR): expected child or in-process, got "${mode}"`);
  const logLevel = stringValue(values['operator-log-level']) ?? env['BENCH_OPERATOR_LOG_LEVEL'] ?? 'info';
  const ratesText = stringValue(values['rates']) ?? stringValue(env['BENCH_RATES']);
  const ratePercents = ratesText === undefined ? [] : ratesText.split(',').map((t) => t.trim());
  for (const p of ratePercents)
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 200)
      throw new UsageError(`--rates (BENCH_RATES): expected percentages from 1 to 200 separated by commas, got "${ratesText}"`);
  const ttlText = stringValue(values['ttl-seconds']) ?? stringValue(env['BENCH_TTL_SECONDS']);
  if (ttlText !== undefined && (!/^\d+$/.test(ttlText) || Number(ttlText) > 86_400))
    throw new UsageError(`--ttl-seconds (BENCH_TTL_SECONDS): expected an integer from 0 to 86400, got "${ttlText}"`);
  const loadAs = stringValue(values['load-as']) ?? stringValue(env['BENCH_LOAD_AS']) ?? 'serviceaccount';
  if (loadAs !== 'serviceaccount' && loadAs !== 'admin')
    throw new UsageError(`--load-as (BENCH_LOAD_AS): expected serviceaccount or admin, got "${loadAs}"`);
  const ints = options as Omit<
    BenchOptions,
    | 'operator'
    | 'operatorLogLevel'
    | 'ratePercents'
    | 'ttlSeconds'
    | 'operatorMain'
    | 'operatorNodeOptions'
    | 'loadAs'
    | 'heapSnapshot'
    | 'restart'
    | 'restartVariants'
    | 'replay'
    | 'withoutAdmission'
  >;
  // "" is a value here: no node options at all.
  const nodeOptionsGiven = values['operator-node-options'] ?? env['BENCH_OPERATOR_NODE_OPTIONS'];
  const nodeOptions = typeof nodeOptionsGiven === 'string' ? nodeOptionsGiven : undefined;
  const operatorNodeOptions = (nodeOptions ?? ImageNodeOptions).split(/\s+/).filter((o) => o !== '');
  for (const o of operatorNodeOptions)
    if (!o.startsWith('--')) throw new UsageError(`--operator-node-options (BENCH_OPERATOR_NODE_OPTIONS): "${o}" is not an option`);
  const operatorMain = stringValue(values['operator-main']) ?? stringValue(env['BENCH_OPERATOR_MAIN']);
  if (operatorMain !== undefined && mode !== 'child') throw new UsageError('--operator-main needs --operator child');
  if (values['heap-snapshot'] === true && mode !== 'child') throw new UsageError('--heap-snapshot needs --operator child');
  const restartVariants = stringValue(values['restart-node-options']) ?? stringValue(env['BENCH_RESTART_NODE_OPTIONS']);
  const variants = (restartVariants?.split('|') ?? ['']).map((variant): RestartVariant => {
    const extra: string[] = [];
    const variables: Record<string, string> = {};
    for (const o of variant.split(/\s+/).filter((w) => w !== '')) {
      const assignment = EnvAssignment.exec(o);
      if (assignment) variables[assignment[1]!] = assignment[2]!;
      else if (o.startsWith('--')) extra.push(o);
      else
        throw new UsageError(
          `--restart-node-options (BENCH_RESTART_NODE_OPTIONS): "${o}" is neither an option (--name) nor an environment variable (NAME=value)`,
        );
    }
    return { nodeOptions: [...operatorNodeOptions, ...extra], env: variables };
  });
  const restart = values['restart'] === true || env['BENCH_RESTART'] === '1' || restartVariants !== undefined;
  if (restart && mode !== 'child') throw new UsageError('--restart needs --operator child');
  if (ratePercents.length > 0 && ints.requests === 0)
    throw new UsageError(
      '--rates needs the closed loop (--requests above 0) to measure the throughput it is a percentage of; use --rate instead',
    );
  if (ints.requests === 0 && ints.rate === 0) throw new UsageError('nothing to run: --requests 0 needs --rate');
  return {
    ...ints,
    operator: mode,
    operatorLogLevel: logLevel,
    ratePercents: ratePercents.map(Number),
    ttlSeconds: ttlText === undefined ? undefined : Number(ttlText),
    operatorMain,
    operatorNodeOptions,
    loadAs,
    heapSnapshot: values['heap-snapshot'] === true || env['BENCH_HEAP_SNAPSHOT'] === '1',
    restart,
    restartVariants: variants,
    replay: values['replay'] === true || env['BENCH_REPLAY'] === '1',
    withoutAdmission: values['without-admission'] === true || env['BENCH_WITHOUT_ADMISSION'] === '1',
  };
}

function stringValue(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
