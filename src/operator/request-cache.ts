// What the operator keeps of a request in its informer's cache. A finished request stays there
// (without a TTL, for good), and the operator reads of it only its outcome: phase, message,
// conditions and times (its outcome Event, its TTL, rate limits, schedules' history) — not what it
// recorded of each object it acted on. The strings requests carry alike are kept once, and so are
// the times, tokens and messages of requests made together.
import { isFinished } from '../api/conditions.js';
import { isRecord, type KubeObject } from '../kube/object.js';
import { withoutBookkeeping } from '../kube/slim.js';
import { RecentStrings, StringPool } from '../kube/strings.js';

/** The pools a request's strings are taken from (see shareStrings). */
export interface RequestStringPools {
  /** Values of low cardinality: kinds, namespaces, who asked, phases, reasons. */
  alike: StringPool;
  /** Values requests made together share: times, tokens, messages. */
  recent: RecentStrings;
}

/** The pools of every request cache of the process. */
const requestStrings: RequestStringPools = { alike: new StringPool(4096), recent: new RecentStrings(4096) };

type Json = Record<string, unknown>;

const record = (value: unknown): Json | undefined => (isRecord(value) ? value : undefined);

/** Takes the string values of keys in holder, a copy of our own, from the pool. */
function intern(holder: Json, keys: readonly string[], pool: StringPool | RecentStrings): void {
  for (const key of keys) {
    const v = holder[key];
    if (typeof v === 'string') holder[key] = pool.intern(v);
  }
}

/**
 * A copy of value with the string values of keys (all its keys: 'all') taken from the pool. A spread
 * copy, not Object.assign: it keeps the original's layout, every field inside the object.
 */
function sharing(value: Json, keys: readonly string[] | 'all', pool: StringPool): Json {
  const copy: Json = { ...value };
  intern(copy, keys === 'all' ? Object.keys(copy) : keys, pool);
  return copy;
}

/**
 * The request with the strings many requests carry alike taken from the alike pool: its apiVersion
 * and kind, namespace, annotations (who asked, their groups) and labels, action and target kind,
 * phase, who asked as recorded in status, and conditions' type, status and reason. Its times, token
 * and messages are taken from the recent pool. Names, uids and resourceVersions are left as they are.
 */
function shareStrings(obj: KubeObject, { alike, recent }: RequestStringPools): KubeObject {
  const shared = sharing(obj, ['apiVersion', 'kind'], alike);
  const metadata = record(shared['metadata']);
  if (metadata) {
    const m = sharing(metadata, ['namespace'], alike);
    intern(m, ['creationTimestamp'], recent);
    for (const key of ['annotations', 'labels']) {
      const values = record(m[key]);
      if (values) m[key] = sharing(values, 'all', alike);
    }
    shared['metadata'] = m;
  }
  const spec = record(shared['spec']);
  if (spec) {
    const s = sharing(spec, ['action'], alike);
    const target = record(s['target']);
    if (target) s['target'] = sharing(target, ['apiVersion', 'kind', 'namespace'], alike);
    shared['spec'] = s;
  }
  const status = record(shared['status']);
  if (status) {
    const st = sharing(status, ['phase', 'requestedBy'], alike);
    intern(st, ['startTime', 'completionTime', 'token', 'message'], recent);
    const conditions = st['conditions'];
    if (Array.isArray(conditions))
      st['conditions'] = conditions.map((c: unknown) => {
        const condition = record(c);
        if (!condition) return c;
        const shared = sharing(condition, ['type', 'status', 'reason'], alike);
        intern(shared, ['message', 'lastTransitionTime'], recent);
        // The Ready condition's message is the status message, however long: kept once.
        if (typeof st['message'] === 'string' && shared['message'] === st['message']) shared['message'] = st['message'];
        return shared;
      });
    shared['status'] = st;
  }
  return shared;
}

/**
 * The request without its object records (status target, source, chartSource and steps), which the
 * operator never reads again once it finished (for finished requests only); the same object when it
 * has none.
 */
function withoutRecords(obj: KubeObject): KubeObject {
  const status = record(obj['status']);
  if (!status) return obj;
  const { target, source, chartSource, steps, ...kept } = status;
  if (target === undefined && source === undefined && chartSource === undefined && steps === undefined) return obj;
  return { ...obj, status: kept };
}

/**
 * The request without managedFields and the last-applied annotation, and, once finished, without its
 * object records; its strings pooled (pools: tests). A finished request, held for good, is laid out
 * again as JSON.parse lays out an object: an object copied without some of its fields keeps those
 * past the fourth outside itself, in an array of their own (V8), 50 bytes more for each of its
 * metadata and status.
 */
export function cachedRequest(obj: KubeObject, pools: RequestStringPools = requestStrings): KubeObject {
  const slim = withoutBookkeeping(obj);
  if (!isFinished(requestPhase(slim))) return shareStrings(slim, pools);
  return shareStrings(JSON.parse(JSON.stringify(withoutRecords(slim))) as KubeObject, pools);
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
