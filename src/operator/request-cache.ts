// What the operator keeps of a request in its informer's cache. A finished request stays there
// (without a TTL, for good), and the operator reads of it only its outcome: phase, message,
// conditions and times (its outcome Event, its TTL, rate limits, schedules' history) — not what it
// recorded of each object it acted on.
import { isFinished } from '../api/conditions.js';
import type { KubeObject } from '../kube/object.js';
import { withoutBookkeeping } from '../kube/slim.js';

/** The status fields of a finished request that the operator never reads again. */
const FinishedOnlyRecorded = ['target', 'source', 'chartSource', 'steps'] as const;

/** The request without managedFields and the last-applied annotation, and, once finished, without its object records. */
export function cachedRequest(obj: KubeObject): KubeObject {
  const slim = withoutBookkeeping(obj);
  const status = slim['status'];
  if (typeof status !== 'object' || status === null) return slim;
  const record = status as Record<string, unknown>;
  if (!isFinished(typeof record['phase'] === 'string' ? record['phase'] : undefined)) return slim;
  if (!FinishedOnlyRecorded.some((k) => k in record)) return slim;
  const kept = Object.fromEntries(Object.entries(record).filter(([k]) => !(FinishedOnlyRecorded as readonly string[]).includes(k)));
  return { ...slim, status: kept };
}

/** The name of the object a cached request targets (unparsed: the cache's index key), if it names one. */
export function requestTargetName(obj: KubeObject): string | undefined {
  const name = (obj as { spec?: { target?: { name?: unknown } } }).spec?.target?.name;
  return typeof name === 'string' ? name : undefined;
}
