// Where the CPU went during the load: the machine as a whole (/proc/stat) and, when the test
// cluster is this clone's local control plane, its etcd and kube-apiserver (their pid files); and
// what the API server was asked (its apiserver_request_total). Every component shares the same
// cores, so an API server that is slow because it is busy shows here.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { clusterDir } from '../support/kube.js';

/** utime + stime of a process in seconds (/proc/<pid>/stat, USER_HZ = 100), or undefined. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and is in parentheses).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

interface MachineTimes {
  busy: number;
  total: number;
}

function machineTimes(): MachineTimes | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** The local control plane's processes this clone started (none when the tests use another cluster). */
function clusterPids(): Record<string, number> {
  const pids: Record<string, number> = {};
  for (const name of ['etcd', 'kube-apiserver']) {
    const file = path.join(clusterDir(), 'run', `${name}.pid`);
    if (!existsSync(file)) continue;
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(pid) && processCpuSeconds(pid) !== undefined) pids[name] = pid;
  }
  return pids;
}

export interface CpuReport {
  cores: number;
  /** Load average (1 min) when the measure started: other work on the machine shows here. */
  loadAverageAtStart: number;
  /** Share of all cores busy over the interval, percent. */
  machineBusyPercent: number | undefined;
  /** CPU seconds all processes used over the interval. */
  machineBusySeconds: number | undefined;
  /** CPU seconds used by processes not measured here (other work on the machine, the kernel, kube-controller-manager). */
  otherSeconds: number | undefined;
  /** CPU seconds per process over the interval. */
  processSeconds: Record<string, number>;
}

/** Starts measuring CPU use; call the result to get the figures since then. */
export function startCpuMeasure(extra: Record<string, number> = {}): () => CpuReport {
  const pids = { ...clusterPids(), ...extra };
  const loadAverageAtStart = Math.round(loadavg()[0]! * 100) / 100;
  const before = machineTimes();
  const processBefore = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processCpuSeconds(pid) ?? 0]));
  return () => {
    const after = machineTimes();
    const processSeconds: Record<string, number> = {};
    for (const [name, pid] of Object.entries(pids)) {
      const now = processCpuSeconds(pid);
      if (now !== undefined) processSeconds[name] = Math.round((now - (processBefore[name] ?? 0)) * 100) / 100;
    }
    const machineBusyPercent =
      before && after && after.total > before.total
        ? Math.round(((after.busy - before.busy) / (after.total - before.total)) * 1000) / 10
        : undefined;
    const machineBusySeconds = before && after ? (after.busy - before.busy) / 100 : undefined;
    const ours = Object.values(processSeconds).reduce((a, b) => a + b, 0);
    const otherSeconds = machineBusySeconds !== undefined ? Math.round((machineBusySeconds - ours) * 100) / 100 : undefined;
    return { cores: cpus().length, loadAverageAtStart, machineBusyPercent, machineBusySeconds, otherSeconds, processSeconds };
  };
}

/** The API server's CPU over a phase: per call it answered, and its share of the machine's busy time. */
export interface ApiServerCpu {
  msPerCall: number | undefined;
  shareOfBusyPercent: number | undefined;
}

/**
 * The API server's CPU per call and its share of all CPU used over a phase of `calls` calls: set
 * against the baseline's, it tells whether a lower rate comes from dearer calls or from less CPU
 * left to the API server by the other processes.
 */
export function apiServerCpu(cpu: CpuReport, calls: number): ApiServerCpu {
  const seconds = cpu.processSeconds['kube-apiserver'];
  const busy = cpu.machineBusySeconds;
  return {
    msPerCall: seconds !== undefined && calls > 0 ? Math.round((seconds * 1000 * 100) / calls) / 100 : undefined,
    shareOfBusyPercent: seconds !== undefined && busy ? Math.round((seconds / busy) * 1000) / 10 : undefined,
  };
}

/** GETs path from kc's API server as kc's user: the answer's status and body, or why there was none. */
async function apiServerGet(kc: k8s.KubeConfig, path: string): Promise<{ status: number | undefined; body: Buffer } | { error: string }> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) return { error: 'the kubeconfig names no server' };
  const options: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  return new Promise((resolve) => {
    const req = https.get(`${server}${path}`, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
      });
      res.on('end', () => {
        resolve({ status: res.statusCode, body: Buffer.concat(chunks) });
      });
    });
    req.on('error', (err) => {
      resolve({ error: err.message });
    });
  });
}

/** apiserver_request_total summed by "VERB resource[/subresource] code", from the API server's /metrics. */
export async function apiServerRequestCounts(kc: k8s.KubeConfig): Promise<Map<string, number> | undefined> {
  const got = await apiServerGet(kc, '/metrics');
  if ('error' in got || got.status !== 200) return undefined;
  const text = got.body.toString('utf8');
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m): [string, string] => [m[1] ?? '', m[2] ?? '']));
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const resource = labels['subresource'] ? `${labels['resource'] ?? ''}/${labels['subresource']}` : labels['resource'];
    const key = `${labels['verb'] ?? ''} ${resource || '-'} ${labels['code'] ?? ''}`;
    counts.set(key, (counts.get(key) ?? 0) + value);
  }
  return counts;
}

/** The differences of two counts (after - before), largest first, zeros left out. */
export function countsSince(before: Map<string, number> | undefined, after: Map<string, number> | undefined): [string, number][] {
  if (!before || !after) return [];
  return [...after.entries()]
    .map(([k, v]): [string, number] => [k, v - (before.get(k) ?? 0)])
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1]);
}

/**
 * Takes `seconds` of kube-apiserver CPU profile (/debug/pprof/profile, which `cluster.sh up
 * --profiling` turns on) and writes it to `file`. Resolves with the file, or with why there is none.
 */
export async function apiServerProfile(kc: k8s.KubeConfig, seconds: number, file: string): Promise<{ file: string } | { error: string }> {
  const got = await apiServerGet(kc, `/debug/pprof/profile?seconds=${seconds}`);
  if ('error' in got) return { error: `GET /debug/pprof/profile: ${got.error}` };
  if (got.status !== 200)
    return { error: `GET /debug/pprof/profile: ${got.status} (start the local control plane with cluster.sh up --profiling)` };
  writeFileSync(file, got.body);
  return { file };
}
