// Compact text views of pods and events for a model: the columns kubectl shows, without the noise.
// Pure functions of the objects and the time, so they are tested without a cluster.
import type * as k8s from '@kubernetes/client-node';

/** A duration as kubectl shows ages: 45s, 12m, 3h, 5d. */
export function age(from: Date | undefined, now: Date): string {
  if (!from) return '<unknown>';
  const seconds = Math.max(0, Math.floor((now.getTime() - from.getTime()) / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h`;
  return `${Math.floor(hours / 24)}d`;
}

/** Left-aligned columns separated by two spaces, like kubectl get. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export interface PodRow {
  name: string;
  /** ready/total containers */
  ready: string;
  /** The phase, or what holds the pod up (a container's waiting or terminated reason, Unschedulable). */
  status: string;
  restarts: number;
  node: string;
  age: string;
}

/** What a pod's STATUS column says: the most telling reason, else the phase (kubectl's rules, simplified). */
function podStatus(pod: k8s.V1Pod): string {
  if (pod.metadata?.deletionTimestamp) return 'Terminating';
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const s of statuses) {
    const reason =
      s.state?.waiting?.reason ?? (s.state?.terminated && s.state.terminated.exitCode !== 0 ? s.state.terminated.reason : undefined);
    if (reason) return reason;
  }
  const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unscheduled?.reason) return `${pod.status?.phase ?? 'Pending'} (${unscheduled.reason})`;
  return pod.status?.reason ?? pod.status?.phase ?? 'Unknown';
}

/** One row per pod: ready containers, status, restarts, node, age. */
export function podRows(pods: readonly k8s.V1Pod[], now: Date): PodRow[] {
  return pods.map((pod) => {
    const statuses = pod.status?.containerStatuses ?? [];
    const total = pod.spec?.containers.length ?? statuses.length;
    return {
      name: pod.metadata?.name ?? '',
      ready: `${statuses.filter((s) => s.ready).length}/${total}`,
      status: podStatus(pod),
      restarts: statuses.reduce((sum, s) => sum + s.restartCount, 0),
      node: pod.spec?.nodeName ?? '<none>',
      age: age(pod.metadata?.creationTimestamp, now),
    };
  });
}

export function podTable(rows: readonly PodRow[]): string {
  return table(
    ['NAME', 'READY', 'STATUS', 'RESTARTS', 'NODE', 'AGE'],
    rows.map((r) => [r.name, r.ready, r.status, String(r.restarts), r.node, r.age]),
  );
}

const validTimes = (candidates: readonly unknown[]): Date[] =>
  candidates.filter((t): t is Date => t instanceof Date && !Number.isNaN(t.getTime()));

/**
 * When an event was last seen: the newest of its occurrence times (series, lastTimestamp,
 * eventTime); failing those, when it was first seen or created. (Not the newest of all: an Event
 * object may be created long after what it reports.)
 */
export function lastSeen(event: k8s.CoreV1Event): Date | undefined {
  const occurred = validTimes([event.series?.lastObservedTime, event.lastTimestamp, event.eventTime]);
  if (occurred.length > 0) return new Date(Math.max(...occurred.map((t) => t.getTime())));
  return validTimes([event.firstTimestamp, event.metadata.creationTimestamp])[0];
}

/** Events, newest first; the first `limit` of them. */
export function newestEvents(events: readonly k8s.CoreV1Event[], limit: number): k8s.CoreV1Event[] {
  const time = (e: k8s.CoreV1Event): number => lastSeen(e)?.getTime() ?? 0;
  return [...events].sort((a, b) => time(b) - time(a)).slice(0, limit);
}

/** How many times an event happened (series count for events.k8s.io-style events). */
function countOf(event: k8s.CoreV1Event): number {
  return event.series?.count ?? event.count ?? 1;
}

/**
 * One line per event: last seen, type, reason, object, count, message. The object's namespace is
 * shown when the events come from more than one namespace.
 */
export function formatEvents(events: readonly k8s.CoreV1Event[], now: Date, withNamespace: boolean): string {
  return events
    .map((e) => {
      const o = e.involvedObject;
      const object = `${o.kind ?? '?'}/${withNamespace && (o.namespace ?? e.metadata.namespace) ? `${o.namespace ?? e.metadata.namespace}/` : ''}${o.name ?? '?'}`;
      const seen = lastSeen(e);
      const when = seen ? `${seen.toISOString()} (${age(seen, now)} ago)` : '<unknown>';
      const count = countOf(e);
      const message = (e.message ?? '').trim().replace(/\s*\n\s*/g, ' ');
      return `${when}  ${e.type ?? 'Normal'}  ${e.reason ?? ''}  ${object}${count > 1 ? ` (x${count})` : ''}: ${message}`;
    })
    .join('\n');
}
