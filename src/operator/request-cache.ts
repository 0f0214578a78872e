// What the operator keeps of a request in its informer's cache. A finished request stays there
// (without a TTL, for good), and the operator reads of it only its outcome: phase, message,
// conditions and times (its outcome Event, its TTL, rate limits, schedules' history) — not what it
// recorded of each object it acted on. The strings requests carry alike are kept once.
import { isFinished } from '../api/conditions.js';
import { isRecord, type KubeObject } from '../kube/object.js';
import { withoutBookkeeping } from '../kube/slim.js';
import { StringPool } from '../kube/strings.js';

/** The status fields of a finished request that the operator never reads again. */
const FinishedOnlyRecorded = ['target', 'source', 'chartSource', 'steps'] as const;

/** The strings requests share (see shareStrings), for every request cache of the process. */
const requestStrings = new StringPool(4096);

type Json = Record<string, unknown>;

const record = (value: unknown): Json | undefined => (isRecord(value) ? value : undefined);

/** A copy of value with the string values of keys (all its keys: 'all') taken from the pool. */
function sharing(value: Json, keys: readonly string[] | 'all', pool: StringPool): Json {
  const copy: Json = Object.assign({}, value);
  for (const key of keys === 'all' ? Object.keys(copy) : keys) {
    const v = copy[key];
    if (typeof v === 'string') copy[key] = pool.intern(v);
  }
  return copy;
}

/**
 * The request with the strings many requests carry alike taken from the pool: its apiVersion and
 * kind, namespace, annotations (who asked, their groups) and labels, action and target kind, phase,
 * who asked as recorded in status, and conditions' type, status and reason. Within the request, equal
 * times and a condition's message equal to the status message are kept once. Names, uids and the
 * other times and messages are left as they are.
 */
function shareStrings(obj: KubeObject, pool: StringPool): KubeObject {
  const shared = sharing(obj, ['apiVersion', 'kind'], pool);
  const metadata = record(shared['metadata']);
  if (metadata) {
    const m = sharing(metadata, ['namespace'], pool);
    for (const key of ['annotations', 'labels']) {
      const values = record(m[key]);
      if (values) m[key] = sharing(values, 'all', pool);
    }
    shared['metadata'] = m;
  }
  const spec = record(shared['spec']);
  if (spec) {
    const s = sharing(spec, ['action'], pool);
    const target = record(s['target']);
    if (target) s['target'] = sharing(target, ['apiVersion', 'kind', 'namespace'], pool);
    shared['spec'] = s;
  }
  const status = record(shared['status']);
  if (status) {
    const st = sharing(status, ['phase', 'requestedBy'], pool);
    // Times of one request often fall in one second: one string for equal ones.
    const times = new Map<string, string>();
    const time = (holder: Json, key: string): void => {
      const v = holder[key];
      if (typeof v !== 'string') return;
      const seen = times.get(v);
      if (seen === undefined) times.set(v, v);
      else holder[key] = seen;
    };
    if (metadata && typeof metadata['creationTimestamp'] === 'string')
      times.set(metadata['creationTimestamp'], metadata['creationTimestamp']);
    time(st, 'startTime');
    time(st, 'completionTime');
    const conditions = st['conditions'];
    if (Array.isArray(conditions))
      st['conditions'] = conditions.map((c: unknown) => {
        const condition = record(c);
        if (!condition) return c;
        const shared = sharing(condition, ['type', 'status', 'reason'], pool);
        // The Ready condition's message is the status message: kept once.
        if (typeof st['message'] === 'string' && shared['message'] === st['message']) shared['message'] = st['message'];
        time(shared, 'lastTransitionTime');
        return shared;
      });
    shared['status'] = st;
  }
  return shared;
}

/**
 * The request without managedFields and the last-applied annotation, and, once finished, without its
 * object records; the strings it shares with other requests pooled (pool: tests).
 */
export function cachedRequest(obj: KubeObject, pool: StringPool = requestStrings): KubeObject {
  const slim = shareStrings(withoutBookkeeping(obj), pool);
  const status = record(slim['status']);
  if (!status) return slim;
  if (!isFinished(requestPhase(slim))) return slim;
  if (!FinishedOnlyRecorded.some((k) => k in status)) return slim;
  const kept = Object.fromEntries(Object.entries(status).filter(([k]) => !(FinishedOnlyRecorded as readonly string[]).includes(k)));
  return { ...slim, status: kept };
}

/** The phase a cached request's status records (unparsed), if any. */
export function requestPhase(obj: object): string | undefined {
  const phase = (obj as { status?: { phase?: unknown } }).status?.phase;
  return typeof phase === 'string' ? phase : undefined;
}

/** Whether a cached request has a status with anything in it (unparsed): it started, or a policy held it. */
export function requestHasStatus(obj: object): boolean {
  const status = (obj as { status?: unknown }).status;
  return isRecord(status) && Object.keys(status).length > 0;
}

/** The name of the object a cached request targets (unparsed: the cache's index key), if it names one. */
export function requestTargetName(obj: KubeObject): string | undefined {
  const name = (obj as { spec?: { target?: { name?: unknown } } }).spec?.target?.name;
  return typeof name === 'string' ? name : undefined;
}
