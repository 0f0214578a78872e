// Read-only Kubernetes tools: objects of any kind as YAML, pods, events and pod logs. They read the
// cluster directly, as the adapter's ServiceAccount; what it may not read comes back as a refusal.
import * as k8s from '@kubernetes/client-node';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { isNotFound } from '../../kube/errors.js';
import type { KubeObject } from '../../kube/object.js';
import { KubeReader, resourcePath, type ResolvedResource } from '../kube-reader.js';
import { fieldsArg, selectObjects } from '../fields.js';
import { formatEvents, newestEvents, podRows, podTable } from '../listing.js';
import { toYaml } from '../output.js';
import { registerTool, ToolError, type ToolContext } from '../tool.js';

const readOnly = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

export const DefaultListLimit = 100;
export const DefaultTailLines = 100;
export const DefaultEventLimit = 50;
/** Events read from the API before sorting; a namespace with more is summarised by its newest pages. */
const MaxEventsRead = 5_000;

export interface ResourceQuery {
  apiVersion: string;
  kind: string;
  name?: string;
  namespace?: string;
  selector?: string;
  limit: number;
}

export interface ResourceResult {
  resource: ResolvedResource;
  objects: KubeObject[];
  /** More objects matched than the limit allowed. */
  more: boolean;
  /** How many more, when the API server says. */
  remaining?: number;
}

/** Where an object is, for messages: ns/name, or name for cluster-scoped objects. */
function where(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** Items of a list carry no apiVersion and kind for built-in types: give them theirs (Secret masking needs the kind). */
function withType(resource: ResolvedResource, obj: KubeObject): KubeObject {
  return { apiVersion: resource.apiVersion, kind: resource.kind, ...obj };
}

/** Objects of any kind: one by name, or those matching a namespace and selector, up to limit. */
export async function getResources(reader: KubeReader, q: ResourceQuery): Promise<ResourceResult> {
  const resource = await reader.resolve(q.apiVersion, q.kind);
  const namespace = resource.namespaced ? q.namespace : undefined;
  if (q.name && (namespace || !resource.namespaced) && !q.selector) {
    try {
      const obj = (await reader.get(resourcePath(resource, namespace, q.name))) as KubeObject;
      return { resource, objects: [withType(resource, obj)], more: false };
    } catch (err) {
      if (isNotFound(err)) {
        throw new ToolError(
          `${resource.kind} ${where(namespace, q.name)} not found; list them with get_kubernetes_resources (apiVersion ${resource.apiVersion}, kind ${resource.kind}${namespace ? `, namespace ${namespace}` : ''}) without a name`,
        );
      }
      throw err;
    }
  }
  const list = await reader.list(resourcePath(resource, namespace), {
    labelSelector: q.selector,
    fieldSelector: q.name ? `metadata.name=${q.name}` : undefined,
    limit: q.limit,
  });
  const remaining = list.metadata?.remainingItemCount;
  return {
    resource,
    objects: list.items.map((o) => withType(resource, o)),
    more: Boolean(list.metadata?.continue),
    ...(remaining !== undefined ? { remaining } : {}),
  };
}

/** The text of a get_kubernetes_resources answer: a comment line saying what was found, then YAML. */
export function describeResources(q: ResourceQuery, result: ResourceResult): string {
  const { resource, objects } = result;
  const scope = [
    resource.namespaced ? (q.namespace ? `in namespace ${q.namespace}` : 'in any namespace') : '',
    q.selector ? `matching ${q.selector}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  if (objects.length === 0) {
    if (q.name)
      throw new ToolError(
        `${resource.kind} ${q.name} not found${scope ? ` ${scope}` : ''}; list them with get_kubernetes_resources without a name`,
      );
    return `No ${resource.kind} (${resource.apiVersion}) found${scope ? ` ${scope}` : ''}.`;
  }
  const more = result.more
    ? `\n# more match than limit ${q.limit}${result.remaining !== undefined ? ` (${result.remaining} more)` : ''}: raise limit (at most 1000) or narrow with namespace or selector`
    : '';
  return `# ${objects.length} ${resource.kind} (${resource.apiVersion})${scope ? ` ${scope}` : ''}${more}\n${toYaml(objects)}`;
}

/** One object by name; for a namespaced kind without a namespace, the only one of that name in the cluster. */
export async function getResource(
  reader: KubeReader,
  q: { apiVersion: string; kind: string; name: string; namespace?: string },
): Promise<KubeObject> {
  const result = await getResources(reader, { ...q, limit: 10 });
  const [first, ...others] = result.objects;
  if (!first) throw new ToolError(`${result.resource.kind} ${q.name} not found in any namespace; list them with get_kubernetes_resources`);
  if (others.length > 0) {
    const namespaces = result.objects.map((o) => o.metadata?.namespace).join(', ');
    throw new ToolError(`there is a ${result.resource.kind} named ${q.name} in several namespaces (${namespaces}): give the namespace`);
  }
  return first;
}

/** Pods of a namespace, as rows. */
export async function listPods(core: k8s.CoreV1Api, namespace: string, labelSelector?: string): Promise<k8s.V1Pod[]> {
  const list = await core.listNamespacedPod({ namespace, ...(labelSelector ? { labelSelector } : {}) });
  return list.items;
}

export interface EventFilter {
  namespace?: string;
  involvedObjectKind?: string;
  involvedObjectName?: string;
  involvedObjectApiVersion?: string;
  type?: string;
}

/** The field selector for an event filter (the API server filters; we only sort). */
export function eventFieldSelector(f: EventFilter): string | undefined {
  const parts = [
    f.involvedObjectKind ? `involvedObject.kind=${f.involvedObjectKind}` : '',
    f.involvedObjectName ? `involvedObject.name=${f.involvedObjectName}` : '',
    f.involvedObjectApiVersion ? `involvedObject.apiVersion=${f.involvedObjectApiVersion}` : '',
    f.type ? `type=${f.type}` : '',
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(',') : undefined;
}

/** Events matching a filter, read page by page (bounded), newest first. */
export async function listEvents(core: k8s.CoreV1Api, filter: EventFilter, limit: number): Promise<k8s.CoreV1Event[]> {
  const fieldSelector = eventFieldSelector(filter);
  const events: k8s.CoreV1Event[] = [];
  let token: string | undefined;
  do {
    const page: k8s.CoreV1EventList = filter.namespace
      ? await core.listNamespacedEvent({ namespace: filter.namespace, fieldSelector, limit: 500, _continue: token })
      : await core.listEventForAllNamespaces({ fieldSelector, limit: 500, _continue: token });
    events.push(...page.items);
    token = page.metadata?._continue;
  } while (token && events.length < MaxEventsRead);
  return newestEvents(events, limit);
}

export interface LogQuery {
  name: string;
  namespace: string;
  container?: string;
  tail: number;
  previous?: boolean;
}

/** The container whose log to read: the one asked for, the only one, or the pod's default container. */
function pickContainer(pod: k8s.V1Pod, q: LogQuery): string {
  const main = pod.spec?.containers.map((c) => c.name) ?? [];
  const init = pod.spec?.initContainers?.map((c) => c.name) ?? [];
  const ephemeral = pod.spec?.ephemeralContainers?.map((c) => c.name) ?? [];
  const all = [...main, ...init, ...ephemeral];
  const pod_ = `Pod ${q.namespace}/${q.name}`;
  const choices = `${main.join(', ')}${init.length > 0 ? ` (init containers: ${init.join(', ')})` : ''}`;
  if (q.container) {
    if (!all.includes(q.container)) throw new ToolError(`${pod_} has no container ${q.container}; its containers: ${choices}`);
    return q.container;
  }
  const fallback = pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container'];
  if (fallback && all.includes(fallback)) return fallback;
  const [only] = main;
  if (main.length === 1 && only !== undefined) return only;
  throw new ToolError(`${pod_} has ${main.length} containers: give container, one of ${choices}`);
}

/** The last lines of a container's log. A pod not on a node has none: that is an error that says so. */
export async function readPodLog(core: k8s.CoreV1Api, q: LogQuery): Promise<{ container: string; log: string }> {
  let pod: k8s.V1Pod;
  try {
    pod = await core.readNamespacedPod({ name: q.name, namespace: q.namespace });
  } catch (err) {
    if (isNotFound(err))
      throw new ToolError(`Pod ${q.namespace}/${q.name} not found; list the pods with pods_list_in_namespace (namespace ${q.namespace})`);
    throw err;
  }
  const container = pickContainer(pod, q);
  if (!pod.spec?.nodeName) {
    // The API server answers an empty log for such a pod: say why instead.
    const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    const why = unscheduled ? `: ${unscheduled.reason ?? 'Unschedulable'}${unscheduled.message ? ` (${unscheduled.message})` : ''}` : '';
    throw new ToolError(
      `Pod ${q.namespace}/${q.name} has no logs: it is not scheduled to a node (phase ${pod.status?.phase ?? 'Pending'}${why}). ` +
        `See why with events_list (namespace ${q.namespace}, involvedObjectKind Pod, involvedObjectName ${q.name}).`,
    );
  }
  const log = await core.readNamespacedPodLog({
    name: q.name,
    namespace: q.namespace,
    container,
    tailLines: q.tail,
    ...(q.previous ? { previous: true } : {}),
  });
  return { container, log };
}

/** Keeps the newest lines of a log within max characters (the oldest are cut, unlike other output). */
export function tailToFit(log: string, max: number): { text: string; cut: number } {
  const lines = log.replace(/\n$/, '').split('\n');
  let size = 0;
  let keep = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    size += (lines[i] ?? '').length + 1;
    if (size > max) break;
    keep++;
  }
  return { text: lines.slice(lines.length - keep).join('\n'), cut: lines.length - keep };
}

// Arguments become REST path segments: they must be names, never '..' or a path.
const apiVersionArg = z
  .string()
  .max(253)
  .regex(
    /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?v[0-9]+((alpha|beta)[0-9]+)?$/,
    'an apiVersion such as v1, apps/v1 or kustomize.toolkit.fluxcd.io/v1',
  )
  .describe('apiVersion of the kind, e.g. v1, apps/v1, kustomize.toolkit.fluxcd.io/v1');
const kindArg = z
  .string()
  .max(100)
  .regex(/^[A-Za-z][A-Za-z0-9]*$/, 'a kind such as Pod or Kustomization')
  .describe('Kind, e.g. Pod, Deployment, Kustomization (the plural or short name also works)');
const nameArg = (description: string) =>
  z
    .string()
    .min(1)
    .max(253)
    .regex(/^(?!\.\.?$)[^/%]+$/, 'a Kubernetes object name')
    .describe(description);
const namespaceArg = (description: string) =>
  z
    .string()
    .max(63)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a namespace name (lowercase letters, digits and -)')
    .describe(description);
const selectorArg = z.string().min(1).max(1000).describe('Label selector, e.g. app=web,tier!=cache');

/** Registers get_kubernetes_resources, resources_get, pods_list_in_namespace, events_list and pods_log. */
export function registerKubernetesTools(server: McpServer, ctx: ToolContext, kc: k8s.KubeConfig): void {
  const reader = new KubeReader(kc);
  const core = kc.makeApiClient(k8s.CoreV1Api);

  registerTool(server, ctx, {
    name: 'get_kubernetes_resources',
    title: 'Get Kubernetes resources',
    description:
      'Lists objects of any kind (Flux objects, Deployments, ConfigMaps, ...) as YAML, or one object by name. Use it to inspect spec and status. ' +
      'managedFields and the last-applied annotation are left out and Secret values are shown as ***. At most limit objects (default 100); the text is capped in size. ' +
      "Only kinds the MCP server's ServiceAccount may read are available.",
    input: {
      apiVersion: apiVersionArg,
      kind: kindArg,
      name: nameArg('Name of one object (default: all that match)').optional(),
      namespace: namespaceArg('Namespace (default: all namespaces; ignored for cluster-scoped kinds)').optional(),
      selector: selectorArg.optional(),
      limit: z.number().int().min(1).max(1000).optional().describe(`Most objects to return (default ${DefaultListLimit}, at most 1000)`),
      fields: fieldsArg,
    },
    annotations: readOnly,
    handler: async (a) => {
      const q: ResourceQuery = { ...a, limit: a.limit ?? DefaultListLimit };
      const result = await getResources(reader, q);
      const selected = selectObjects(result.objects, a.fields);
      return { text: `${selected.note}${describeResources(q, { ...result, objects: selected.objects })}` };
    },
  });

  registerTool(server, ctx, {
    name: 'resources_get',
    title: 'Get one Kubernetes resource',
    description:
      'Reads one object of any kind by name, as YAML (managedFields and last-applied left out, Secret values shown as ***). ' +
      'For a namespaced kind give the namespace; without it, the object is found if its name is unique in the cluster.',
    input: {
      apiVersion: apiVersionArg,
      kind: kindArg,
      name: nameArg('Name of the object'),
      namespace: namespaceArg('Namespace of the object (omit for cluster-scoped kinds)').optional(),
      fields: fieldsArg,
    },
    annotations: readOnly,
    handler: async (a) => {
      const selected = selectObjects([await getResource(reader, a)], a.fields);
      return { text: `${selected.note}${toYaml(selected.objects)}` };
    },
  });

  registerTool(server, ctx, {
    name: 'pods_list_in_namespace',
    title: 'List pods in a namespace',
    description:
      'Lists the pods of a namespace as a table: ready/total containers, status (phase, or what holds the pod up such as CrashLoopBackOff or Unschedulable), restarts, node and age. ' +
      "Use it to find a Flux controller's or an application's pods before reading their logs with pods_log.",
    input: {
      namespace: namespaceArg('Namespace of the pods'),
      labelSelector: selectorArg.optional(),
    },
    annotations: readOnly,
    handler: async (a, c) => {
      const rows = podRows(await listPods(core, a.namespace, a.labelSelector), new Date());
      if (rows.length === 0)
        return {
          text: `No pods in namespace ${a.namespace}${a.labelSelector ? ` matching ${a.labelSelector}` : ''}.`,
          structured: { pods: [] },
        };
      const text = podTable(rows);
      // The structured rows are not capped like the text: leave them out when the text is cut.
      return text.length <= c.maxOutput ? { text, structured: { pods: rows } } : { text };
    },
  });

  registerTool(server, ctx, {
    name: 'events_list',
    title: 'List Kubernetes events',
    description:
      'Lists Kubernetes events, newest first: last seen, type, reason, object, count and message. Filter by namespace and by the object they are about ' +
      "(e.g. a Kustomization's events say why it failed). Bounded: the newest limit events (default 50, at most 200).",
    input: {
      namespace: namespaceArg('Only events in this namespace (default: all namespaces)').optional(),
      involvedObjectKind: z.string().min(1).max(100).optional().describe('Only events about objects of this kind, e.g. Kustomization'),
      involvedObjectName: z.string().min(1).max(253).optional().describe('Only events about objects of this name'),
      involvedObjectApiVersion: z
        .string()
        .min(1)
        .max(253)
        .optional()
        .describe('Only events about objects of this apiVersion, e.g. kustomize.toolkit.fluxcd.io/v1'),
      type: z.enum(['Normal', 'Warning']).optional().describe('Only events of this type'),
      limit: z
        .number()
        .int()
        .min(1)
        .max(200)
        .optional()
        .describe(`How many of the newest events to return (default ${DefaultEventLimit}, at most 200)`),
    },
    annotations: readOnly,
    handler: async (a) => {
      const events = await listEvents(core, a, a.limit ?? DefaultEventLimit);
      if (events.length === 0) return { text: 'No events found.' };
      return { text: formatEvents(events, new Date(), !a.namespace) };
    },
  });

  registerTool(server, ctx, {
    name: 'pods_log',
    title: "Read a pod's log",
    description:
      "Returns the last lines of a container's log (default 100), or of its previous instance after a restart. Give container when the pod has several. " +
      'A pod that is not running on a node has no log: the answer says so. When the log is larger than the output cap, the oldest lines are cut.',
    input: {
      name: nameArg('Name of the pod'),
      namespace: namespaceArg('Namespace of the pod'),
      container: z
        .string()
        .min(1)
        .max(253)
        .optional()
        .describe("Container name (default: the only container, or the pod's default container)"),
      tail: z
        .number()
        .int()
        .min(1)
        .max(10_000)
        .optional()
        .describe(`How many of the last lines to return (default ${DefaultTailLines}, at most 10000)`),
      previous: z.boolean().optional().describe('The log of the previous, terminated instance of the container (after a restart or crash)'),
    },
    annotations: readOnly,
    handler: async (a, c) => {
      const tail = a.tail ?? DefaultTailLines;
      const { container, log } = await readPodLog(core, { ...a, tail });
      const header = `# Pod ${a.namespace}/${a.name}, container ${container}${a.previous ? ' (previous instance)' : ''}: last ${tail} line${tail === 1 ? '' : 's'}`;
      if (log.trim() === '') return { text: `${header}\n(the log is empty)` };
      const fit = tailToFit(log, c.maxOutput - header.length - 200);
      const note = fit.cut > 0 ? `\n# the oldest ${fit.cut} lines were cut to fit the output cap; ask for a smaller tail` : '';
      return { text: `${header}${note}\n${fit.text}` };
    },
  });
}
