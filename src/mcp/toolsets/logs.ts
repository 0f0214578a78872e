// get_kubernetes_logs: the logs of a pod, or of a workload's pods (Deployment, StatefulSet,
// DaemonSet, ReplicaSet, Job → the pods its selector matches), filtered by time and pattern, and
// capped in size with a note saying what was cut.
import * as k8s from '@kubernetes/client-node';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { parseDuration } from '../../api/duration.js';
import { bounded } from '../../kube/bounded.js';
import { apiMessage, isNotFound, statusCode } from '../../kube/errors.js';
import { registerTool, ToolError, type ToolContext, type ToolOutput } from '../tool.js';
import { DefaultTailLines, tailToFit } from './kubernetes.js';

export const WorkloadKinds = ['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'] as const;
export type WorkloadKind = (typeof WorkloadKinds)[number];
/** Pods of a workload whose logs are read, at most. */
export const MaxPods = 10;

/** A label selector as the API's labelSelector parameter writes it (kubectl's syntax). */
export function selectorString(selector: k8s.V1LabelSelector): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

/** The pods a name stands for: the pod itself, or those of the workload, with the selector used. */
async function podsOf(
  kc: k8s.KubeConfig,
  kind: WorkloadKind,
  namespace: string,
  name: string,
): Promise<{ pods: k8s.V1Pod[]; selector?: string }> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const notFound = `${kind} ${namespace}/${name} not found; list them with get_kubernetes_resources (kind ${kind}, namespace ${namespace})`;
  let selector: k8s.V1LabelSelector | undefined;
  try {
    if (kind === 'Pod') return { pods: [await core.readNamespacedPod({ name, namespace }, bounded())] };
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const batch = kc.makeApiClient(k8s.BatchV1Api);
    const workload =
      kind === 'Deployment'
        ? await apps.readNamespacedDeployment({ name, namespace }, bounded())
        : kind === 'StatefulSet'
          ? await apps.readNamespacedStatefulSet({ name, namespace }, bounded())
          : kind === 'DaemonSet'
            ? await apps.readNamespacedDaemonSet({ name, namespace }, bounded())
            : kind === 'ReplicaSet'
              ? await apps.readNamespacedReplicaSet({ name, namespace }, bounded())
              : await batch.readNamespacedJob({ name, namespace }, bounded());
    selector = workload.spec?.selector;
  } catch (err) {
    if (isNotFound(err)) throw new ToolError(notFound);
    throw err;
  }
  const labelSelector = selector ? selectorString(selector) : '';
  // An empty selector would match every pod of the namespace: never what a workload means.
  if (!labelSelector) throw new ToolError(`${kind} ${namespace}/${name} has no pod selector`);
  const list = await core.listNamespacedPod({ namespace, labelSelector }, bounded());
  return { pods: list.items, selector: labelSelector };
}

/** The containers of a pod whose log to read: the one asked for, the default one, or every main container. */
function containersOf(pod: k8s.V1Pod, container: string | undefined): string[] | { error: string } {
  const main = pod.spec?.containers.map((c) => c.name) ?? [];
  const all = [
    ...main,
    ...(pod.spec?.initContainers ?? []).map((c) => c.name),
    ...(pod.spec?.ephemeralContainers ?? []).map((c) => c.name),
  ];
  if (container) return all.includes(container) ? [container] : { error: `no container ${container}; its containers: ${all.join(', ')}` };
  const fallback = pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container'];
  return fallback && all.includes(fallback) ? [fallback] : main;
}

export interface LogsQuery {
  kind: WorkloadKind;
  name: string;
  namespace: string;
  container?: string | undefined;
  tail: number;
  since?: string | undefined;
  grep?: string | undefined;
  previous?: boolean | undefined;
}

interface Section {
  title: string;
  lines: string[];
  /** Why there are no lines (not scheduled, an API error). */
  problem?: string;
  /** Lines read before grep. */
  read: number;
}

/** A grep pattern as a case-insensitive regular expression; a ToolError for one that does not compile. */
function pattern(grep: string | undefined): RegExp | undefined {
  if (grep === undefined) return undefined;
  try {
    return new RegExp(grep, 'i');
  } catch (err) {
    throw new ToolError(`grep: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Reads the logs the query asks for and formats them within max characters. */
export async function readLogs(kc: k8s.KubeConfig, q: LogsQuery, max: number): Promise<ToolOutput> {
  const sinceMs = q.since === undefined ? undefined : parseDuration(q.since);
  if (q.since !== undefined && (sinceMs === undefined || sinceMs <= 0))
    throw new ToolError(`since ${q.since} is not a duration such as 30s, 5m or 2h`);
  const match = pattern(q.grep);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const { pods, selector } = await podsOf(kc, q.kind, q.namespace, q.name);
  const what = `${q.kind} ${q.namespace}/${q.name}`;
  if (pods.length === 0)
    return { text: `${what} has no pods (selector ${selector ?? ''}); see why with events_list (namespace ${q.namespace})`, isError: true };
  const shown = [...pods].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '')).slice(0, MaxPods);
  const sections: Section[] = [];
  for (const pod of shown) {
    const podName = pod.metadata?.name ?? '';
    const containers = containersOf(pod, q.container);
    if ('error' in containers) {
      sections.push({ title: `Pod ${q.namespace}/${podName}`, lines: [], problem: containers.error, read: 0 });
      continue;
    }
    for (const container of containers) {
      const title = `Pod ${q.namespace}/${podName}, container ${container}${q.previous ? ' (previous instance)' : ''}`;
      if (!pod.spec?.nodeName) {
        sections.push({ title, lines: [], problem: `not scheduled to a node (phase ${pod.status?.phase ?? 'Pending'}): no log`, read: 0 });
        continue;
      }
      try {
        const log = await core.readNamespacedPodLog(
          {
            name: podName,
            namespace: q.namespace,
            container,
            tailLines: q.tail,
            ...(sinceMs !== undefined ? { sinceSeconds: Math.max(1, Math.ceil(sinceMs / 1000)) } : {}),
            ...(q.previous ? { previous: true } : {}),
          },
          bounded(),
        );
        const lines = log === '' ? [] : log.replace(/\n$/, '').split('\n');
        sections.push({ title, lines: match ? lines.filter((l) => match.test(l)) : lines, read: lines.length });
      } catch (err) {
        const code = statusCode(err);
        sections.push({
          title,
          lines: [],
          problem: code === undefined ? String(err) : `the API answered ${code}: ${apiMessage(err)}`,
          read: 0,
        });
      }
    }
  }
  const filters = [
    `last ${q.tail} line${q.tail === 1 ? '' : 's'}${sections.length > 1 ? ' each' : ''}`,
    sinceMs !== undefined ? `since ${q.since}` : '',
    match ? `lines matching /${q.grep}/i` : '',
  ].filter(Boolean);
  const header = [
    `# ${what}${selector ? `: ${pods.length} pod${pods.length === 1 ? '' : 's'} (selector ${selector})` : ''}; ${filters.join(', ')}`,
    ...(pods.length > shown.length ? [`# only the first ${shown.length} pods by name are shown; read one pod with kind Pod`] : []),
  ].join('\n');
  // Each section gets an equal share of what is left under the cap; its oldest lines are cut first.
  const budget = Math.max(200, Math.floor((max - header.length - 200 * sections.length) / Math.max(1, sections.length)));
  const body = sections.map((s) => {
    const counts = match ? ` (${s.lines.length} of ${s.read} lines match)` : '';
    if (s.problem) return `## ${s.title}: ${s.problem}`;
    if (s.lines.length === 0) return `## ${s.title}${counts}\n(no lines${match ? ' match' : ''})`;
    const fit = tailToFit(s.lines.join('\n'), budget);
    const cut =
      fit.cut > 0
        ? `\n# the oldest ${fit.cut} of these lines were cut to fit the output cap; ask for a smaller tail, a since or a grep`
        : '';
    return `## ${s.title}${counts}${cut}\n${fit.text}`;
  });
  return {
    text: [header, ...body].join('\n'),
    structured: {
      pods: sections.map((s) => ({ section: s.title, lines: s.lines.length, ...(s.problem ? { problem: s.problem } : {}) })),
    },
    isError: sections.every((s) => s.problem !== undefined),
  };
}

/** Registers get_kubernetes_logs. */
export function registerLogsTool(server: McpServer, ctx: ToolContext, kc: k8s.KubeConfig): void {
  registerTool(server, ctx, {
    name: 'get_kubernetes_logs',
    title: 'Get Kubernetes logs',
    description:
      "Reads the logs of a pod, or of a workload's pods (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job: the pods its selector matches, at most 10, by name). " +
      'Every container of each pod unless container is given (or the pod names a default container). Filter with tail (lines per container, read from the end), since (a duration) and grep (a case-insensitive regular expression applied to those lines); ' +
      "previous reads the instance before the last restart. The answer is capped in size: each container's oldest lines are cut first, with a note saying so.",
    input: {
      kind: z.enum(WorkloadKinds).optional().describe('Kind of the object named by name (default Pod)'),
      name: z
        .string()
        .min(1)
        .max(253)
        .regex(/^(?!\.\.?$)[^/%]+$/, 'a Kubernetes object name')
        .describe('Name of the pod or workload'),
      namespace: z
        .string()
        .max(63)
        .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a namespace name (lowercase letters, digits and -)')
        .describe('Namespace of the pod or workload'),
      container: z.string().min(1).max(253).optional().describe('Only this container (default: every container of each pod)'),
      tail: z
        .number()
        .int()
        .min(1)
        .max(10_000)
        .optional()
        .describe(`How many of the last lines of each container to read (default ${DefaultTailLines}, at most 10000)`),
      since: z
        .string()
        .regex(/^(\d+(\.\d+)?(s|m|h))+$/, 'a duration such as 30s, 5m or 2h')
        .optional()
        .describe('Only lines written in this last period, e.g. 10m or 1h'),
      grep: z
        .string()
        .min(1)
        .max(500)
        .optional()
        .describe('Only lines matching this regular expression (case-insensitive), e.g. error|timeout'),
      previous: z
        .boolean()
        .optional()
        .describe('The log of the previous, terminated instance of each container (after a restart or crash)'),
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    handler: (a, c) => readLogs(kc, { ...a, kind: a.kind ?? 'Pod', tail: a.tail ?? DefaultTailLines }, c.maxOutput),
  });
}
