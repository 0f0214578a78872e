// The operator's Prometheus metrics on a registry of their own (not prom-client's global one), so
// tests and several operators in one process never collide.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { WorkQueueHooks } from './workqueue.js';

/** Labels of the request counters: the action, the target kind and the outcome (a phase or reason). */
export type RequestLabel = 'action' | 'kind' | 'result';

/** The registry and the operator's instruments. */
export interface OperatorMetrics {
  registry: Registry;
  /** fluxact_requests_total{action,kind,result}: FluxActionRequests finished. */
  requestsTotal: Counter<RequestLabel>;
  /** fluxact_request_duration_seconds{action,kind,result}: from request creation to its outcome. */
  requestDuration: Histogram<RequestLabel>;
  /** fluxact_workqueue_depth: keys waiting for a worker. */
  workqueueDepth: Gauge;
  /** fluxact_workqueue_retries_total: keys requeued after a failure. */
  workqueueRetries: Counter;
  /** fluxact_leader: 1 while this replica holds the leader Lease. */
  leader: Gauge;
  /** fluxact_informer_sync_failing{resource,reason}: 1 while an informer cannot list or watch its resource. */
  informerSyncFailing: Gauge<'resource' | 'reason'>;
}

/**
 * Histogram buckets from 50 ms to 1 h: a request without wait ends in well under a second, a wait
 * for Flux takes seconds to minutes, and the CRD's longest timeout is an hour.
 */
export const REQUEST_DURATION_BUCKETS: readonly number[] = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600];

export interface MetricsOptions {
  /** Also collect Node.js process metrics (CPU, memory, event loop lag, ...). Default true. */
  defaultMetrics?: boolean;
}

/** Creates a fresh registry holding the process metrics (unless disabled) and the operator's instruments. */
export function createMetrics(options: MetricsOptions = {}): OperatorMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const labelNames: RequestLabel[] = ['action', 'kind', 'result'];
  return {
    registry,
    requestsTotal: new Counter({
      name: 'fluxact_requests_total',
      help: 'FluxActionRequests finished, by action, target kind and result.',
      labelNames,
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: 'fluxact_request_duration_seconds',
      help: 'Time from a FluxActionRequest being created to its outcome, by action, target kind and result.',
      labelNames,
      buckets: [...REQUEST_DURATION_BUCKETS],
      registers: [registry],
    }),
    workqueueDepth: new Gauge({
      name: 'fluxact_workqueue_depth',
      help: 'Keys in the work queue waiting for a worker.',
      registers: [registry],
    }),
    workqueueRetries: new Counter({
      name: 'fluxact_workqueue_retries_total',
      help: 'Keys requeued with backoff after a failed reconcile.',
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'fluxact_leader',
      help: '1 while this replica holds the leader election Lease, 0 otherwise.',
      registers: [registry],
    }),
    informerSyncFailing: new Gauge({
      name: 'fluxact_informer_sync_failing',
      help: '1 while an informer cannot list or watch its resource (plural.group), by reason: Forbidden, NotFound (CRD missing), Unauthorized, Unavailable, Error.',
      labelNames: ['resource', 'reason'],
      registers: [registry],
    }),
  };
}

/**
 * A callback for startInformer's onSyncFailing that keeps fluxact_informer_sync_failing current:
 * one series at 1 per failing resource, with the latest reason; removed once it syncs again.
 */
export function informerSyncHook(metrics: OperatorMetrics): (resource: string, reason: string | undefined) => void {
  const current = new Map<string, string>();
  return (resource, reason) => {
    const previous = current.get(resource);
    if (previous !== undefined) metrics.informerSyncFailing.remove({ resource, reason: previous });
    current.delete(resource);
    if (reason === undefined) return;
    current.set(resource, reason);
    metrics.informerSyncFailing.set({ resource, reason }, 1);
  };
}

/** Work queue hooks that keep fluxact_workqueue_depth and fluxact_workqueue_retries_total current. */
export function workQueueMetricsHooks(metrics: OperatorMetrics): WorkQueueHooks {
  return {
    onDepth: (depth) => {
      metrics.workqueueDepth.set(depth);
    },
    onRetry: () => {
      metrics.workqueueRetries.inc();
    },
  };
}
