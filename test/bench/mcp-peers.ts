// npm run bench:mcp-peers: the project's MCP server (`fluxact mcp`) beside the Flux Operator MCP
// server (`flux-operator-mcp serve`), both over stdio through the SDK's client, against the same
// real Flux objects of the local control plane (cluster.sh up --with-flux).
//
// 1. The seed workflow, driven by a scripted agent: Flux's health, a Kustomization's status, a
//    reconcile with its source, verifying it, and a failing reconcile followed until the agent knows
//    it failed and why, then its Events. For each step: tool calls, bytes of text the answers put in
//    front of a model (a proxy for tokens), and time.
// 2. Documentation search: the project's relevance set (test/support/docs-relevance.ts) through
//    both servers' search_flux_docs, hit@1 and hit@3.
import { parseArgs } from 'node:util';
import { ensureInstalled } from '../support/harness.js';
import { relevanceSet } from '../support/docs-relevance.js';
import { adminKubeConfig, createNamespace, deleteNamespace, testKubeconfigPath } from '../support/kube.js';
import { connectStdio, type McpConnection } from '../support/mcp.js';
import {
  bytesOf,
  callTool,
  callToolTexts,
  KustomizationApiVersion,
  reconcileOurs,
  reconcileState,
  reconcileTheirs,
  theirHitAnswers,
  type Call,
} from './mcp-agent.js';
import { startOperatorUnderTest, type OperatorUnderTest } from './operator-process.js';
import {
  connectFluxOperatorMcp,
  helpRequested,
  intFlag,
  machine,
  peerBinaries,
  say,
  seconds,
  setUpFixture,
  table,
  versions,
} from './peers-common.js';

const usage = `npm run bench:mcp-peers -- [options]
  --poll-seconds 2    how often the agent reads the object after the Flux Operator MCP server's reconcile (BENCH_PEERS_POLL_SECONDS)
  --wait-seconds 60   longest wait for a reconcile's outcome, both servers (BENCH_PEERS_FLUX_TIMEOUT)
  --no-workflow       only the documentation search
  --no-docs           only the workflow`;

interface Options {
  pollSeconds: number;
  waitSeconds: number;
  workflow: boolean;
  docs: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      'poll-seconds': { type: 'string', default: process.env.BENCH_PEERS_POLL_SECONDS ?? '2' },
      'wait-seconds': { type: 'string', default: process.env.BENCH_PEERS_FLUX_TIMEOUT ?? '60' },
      'no-workflow': { type: 'boolean', default: false },
      'no-docs': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  helpRequested(values.help, usage);
  const int = intFlag;
  return {
    pollSeconds: int('poll-seconds', values['poll-seconds'], 1, 60),
    waitSeconds: int('wait-seconds', values['wait-seconds'], 5, 900),
    workflow: !values['no-workflow'],
    docs: !values['no-docs'],
  };
}

/** One step of the workflow on one server. */
interface Step {
  calls: Call[];
  /** What the agent learnt, in a few words. */
  learnt: string;
}

interface StepRow {
  step: string;
  ours: Step;
  theirs: Step;
}

/** The status fields both servers are asked for (both take JSONPath field lists). */
const statusFields = ['status.conditions', 'status.lastAppliedRevision', 'status.lastAttemptedRevision'];

function firstLine(text: string, max = 100): string {
  return (text.split('\n').find((l) => l.trim() && l.trim() !== '---') ?? '').trim().slice(0, max);
}

async function workflow(ours: McpConnection, theirs: McpConnection, ns: string, options: Options): Promise<StepRow[]> {
  const rows: StepRow[] = [];
  const both = async (step: string, run: (conn: McpConnection, which: 'ours' | 'theirs') => Promise<Step>): Promise<void> => {
    const o = await run(ours, 'ours');
    const t = await run(theirs, 'theirs');
    rows.push({ step, ours: o, theirs: t });
    say(`${step}: fluxact ${o.calls.length} calls ${bytesOf(o.calls)} B; flux-operator-mcp ${t.calls.length} calls ${bytesOf(t.calls)} B`);
  };

  await both('1. Flux health', async (conn) => {
    const call = await callTool(conn, 'get_flux_instance', {});
    return { calls: [call], learnt: `${call.isError ? 'error: ' : ''}${firstLine(call.text)}` };
  });

  await both('2. status of Kustomization app', async (conn, which) => {
    const call = await callTool(conn, which === 'ours' ? 'resources_get' : 'get_kubernetes_resources', {
      apiVersion: KustomizationApiVersion,
      kind: 'Kustomization',
      name: 'app',
      namespace: ns,
      fields: statusFields,
    });
    const ready = call.isError ? undefined : reconcileState(call.text, 'app')?.ready;
    return {
      calls: [call],
      learnt: call.isError ? `error: ${firstLine(call.text)}` : `Ready=${ready?.status ?? '?'} ${ready?.reason ?? ''}`,
    };
  });

  // 3 and 4: the reconcile, then what it takes to know the revision was applied.
  const good = {
    ours: await reconcileOurs(ours, 'reconcile_flux_kustomization', 'app', ns, options.waitSeconds),
    theirs: await reconcileTheirs(theirs, 'app', ns, options.pollSeconds * 1000, options.waitSeconds * 1000),
  };
  rows.push({
    step: '3. reconcile app with source',
    ours: { calls: good.ours.calls, learnt: `${good.ours.outcome}: ${good.ours.message.slice(0, 90)}` },
    theirs: { calls: good.theirs.calls.slice(0, 1), learnt: firstLine(good.theirs.calls[0]?.text ?? '') },
  });
  rows.push({
    step: '4. verify the reconcile',
    ours: { calls: [], learnt: 'in the reconcile answer (phase, applied revision)' },
    theirs: { calls: good.theirs.calls.slice(1), learnt: `${good.theirs.outcome}: ${good.theirs.message.slice(0, 90)}` },
  });

  const broken = {
    ours: await reconcileOurs(ours, 'reconcile_flux_kustomization', 'broken', ns, options.waitSeconds),
    theirs: await reconcileTheirs(theirs, 'broken', ns, options.pollSeconds * 1000, options.waitSeconds * 1000),
  };
  rows.push({
    step: '5. reconcile broken: until failed + why',
    ours: { calls: broken.ours.calls, learnt: `${broken.ours.outcome}: ${broken.ours.message.slice(0, 90)}` },
    theirs: { calls: broken.theirs.calls, learnt: `${broken.theirs.outcome}: ${broken.theirs.message.slice(0, 90)}` },
  });

  await both('6. troubleshoot: its Events', async (conn, which) => {
    const call =
      which === 'ours'
        ? await callTool(conn, 'events_list', { namespace: ns, involvedObjectKind: 'Kustomization', involvedObjectName: 'broken' })
        : await callTool(conn, 'get_kubernetes_events', { kind: 'Kustomization', name: 'broken', namespace: ns });
    const names = /ConfigMap\/\S*broken/.test(call.text) ? 'names the refused ConfigMap' : 'does not name the refused ConfigMap';
    return { calls: [call], learnt: call.isError ? `error: ${firstLine(call.text)}` : names };
  });
  return rows;
}

function renderWorkflow(rows: StepRow[]): string {
  const ms = (calls: readonly Call[]): string => seconds(calls.reduce((n, c) => n + c.ms, 0));
  const body = rows.map((r) => [
    r.step,
    String(r.ours.calls.length),
    String(bytesOf(r.ours.calls)),
    ms(r.ours.calls),
    String(r.theirs.calls.length),
    String(bytesOf(r.theirs.calls)),
    ms(r.theirs.calls),
  ]);
  const all = (w: 'ours' | 'theirs'): Call[] => rows.flatMap((r) => r[w].calls);
  body.push([
    'total',
    String(all('ours').length),
    String(bytesOf(all('ours'))),
    ms(all('ours')),
    String(all('theirs').length),
    String(bytesOf(all('theirs'))),
    ms(all('theirs')),
  ]);
  const learnt = rows
    .map((r) => `  ${r.step}\n    fluxact:           ${r.ours.learnt}\n    flux-operator-mcp: ${r.theirs.learnt}`)
    .join('\n');
  return `${table(['step', 'fluxact calls', 'bytes', 's', 'flux-operator-mcp calls', 'bytes', 's'], body)}\n\nWhat the agent learnt:\n${learnt}`;
}

/** Where a search ranked the expected answer: 1-based, or undefined when not in the top 3. */
interface Ranked {
  query: string;
  expected: string;
  oursRank: number | undefined;
  theirsRank: number | undefined;
  oursTop: string;
  theirsTop: string;
  oursBytes: number;
  theirsBytes: number;
}

async function docsRelevance(ours: McpConnection, theirs: McpConnection): Promise<Ranked[]> {
  const ranked: Ranked[] = [];
  for (const [query, expected] of relevanceSet) {
    const o = await callTool(ours, 'search_flux_docs', { query, limit: 3 });
    const hits = ((o.structured ?? {}) as { hits?: { kind: string; path: string }[] }).hits ?? [];
    const oursIndex = hits.map((h) => `${h.kind} ${h.path}`).indexOf(expected);
    const t = await callToolTexts(theirs, 'search_flux_docs', { query, limit: 3 });
    const theirsIndex = t.texts.findIndex((hit) => theirHitAnswers(hit, expected));
    const theirTitle = (hit: string | undefined): string =>
      hit ? `${/^Title: (.*)$/m.exec(hit)?.[1] ?? '?'} (${/^Path: (\S+)/m.exec(hit)?.[1] ?? '?'})` : '(none)';
    ranked.push({
      query,
      expected,
      oursRank: oursIndex < 0 ? undefined : oursIndex + 1,
      theirsRank: theirsIndex < 0 ? undefined : theirsIndex + 1,
      oursTop: hits[0] ? `${hits[0].kind} ${hits[0].path}` : '(none)',
      theirsTop: theirTitle(t.texts[0]),
      oursBytes: o.bytes,
      theirsBytes: t.call.bytes,
    });
  }
  return ranked;
}

function renderDocs(ranked: Ranked[]): string {
  const n = ranked.length;
  const at = (w: 'oursRank' | 'theirsRank', k: number): string => {
    const hits = ranked.filter((r) => r[w] !== undefined && r[w] <= k).length;
    return `${hits}/${n} (${((100 * hits) / n).toFixed(1)}%)`;
  };
  const avg = (w: 'oursBytes' | 'theirsBytes'): string => String(Math.round(ranked.reduce((s, r) => s + r[w], 0) / n));
  const summary = table(
    ['search_flux_docs', 'hit@1', 'hit@3', 'bytes per answer (3 hits)'],
    [
      ['fluxact', at('oursRank', 1), at('oursRank', 3), avg('oursBytes')],
      ['flux-operator-mcp', at('theirsRank', 1), at('theirsRank', 3), avg('theirsBytes')],
    ],
  );
  const misses = ranked
    .filter((r) => r.oursRank !== 1 || r.theirsRank !== 1)
    .map((r) => [
      r.query,
      r.expected,
      r.oursRank ? String(r.oursRank) : '>3',
      r.oursTop,
      r.theirsRank ? String(r.theirsRank) : '>3',
      r.theirsTop,
    ]);
  return `${summary}\n\nQueries not answered first by both:\n${table(['query', 'expected', 'fluxact rank', 'fluxact first hit', 'flux-operator-mcp rank', 'flux-operator-mcp first hit'], misses)}`;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const kc = adminKubeConfig();
  const binaries = await peerBinaries();
  const info = { machine: machine(), versions: await versions(binaries) };
  say(`machine ${JSON.stringify(info.machine)}; versions ${JSON.stringify(info.versions)}`);
  await ensureInstalled();
  const ns = options.workflow ? await createNamespace(kc, 'mcp-peers') : undefined;
  let ours: McpConnection | undefined;
  let theirs: McpConnection | undefined;
  let operator: OperatorUnderTest | undefined;
  try {
    if (ns) {
      await setUpFixture(kc, ns, 0);
      operator = await startOperatorUnderTest({
        mode: 'child',
        admin: kc,
        watchNamespace: ns,
        concurrency: 8,
        logLevel: 'info',
        startTimeoutMs: 60_000,
      });
    }
    ours = await connectStdio();
    theirs = await connectFluxOperatorMcp(binaries.mcp, testKubeconfigPath());
    const steps = ns ? await workflow(ours, theirs, ns, options) : [];
    const ranked = options.docs ? await docsRelevance(ours, theirs) : [];
    if (steps.length > 0) {
      console.log(
        `\nThe seed workflow (a scripted agent; flux-operator-mcp's reconcile is followed by a read every ${options.pollSeconds} s):\n`,
      );
      console.log(renderWorkflow(steps));
    }
    if (ranked.length > 0) {
      console.log(`\nDocumentation search, ${ranked.length} questions (test/support/docs-relevance.ts), top 3 hits each:\n`);
      console.log(renderDocs(ranked));
    }
    console.log(
      `\nbytes: UTF-8 bytes of the text content of the tool answers.\nmachine: ${JSON.stringify(info.machine)}\nversions: ${JSON.stringify(info.versions)}`,
    );
    const json = {
      ...info,
      options,
      workflow: steps.map((s) => ({
        step: s.step,
        ours: { calls: s.ours.calls.map((c) => ({ tool: c.tool, bytes: c.bytes, ms: Math.round(c.ms) })), learnt: s.ours.learnt },
        theirs: { calls: s.theirs.calls.map((c) => ({ tool: c.tool, bytes: c.bytes, ms: Math.round(c.ms) })), learnt: s.theirs.learnt },
      })),
      docs: ranked,
    };
    console.log(`MCP_PEERS_JSON ${JSON.stringify(json)}`);
  } finally {
    await theirs?.close().catch(() => undefined);
    await ours?.close().catch(() => undefined);
    await operator?.stop().catch(() => undefined);
    if (ns) await deleteNamespace(kc, ns);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:mcp-peers: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
