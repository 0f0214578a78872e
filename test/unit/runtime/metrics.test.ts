import { describe, it, expect } from '@jest/globals';
import { createMetrics, informerSyncHook, REQUEST_DURATION_BUCKETS, workQueueMetricsHooks } from '../../../src/runtime/metrics.js';
import { WorkQueue } from '../../../src/runtime/workqueue.js';
import { FakeClock, settle, until } from './fake-clock.js';

describe('createMetrics', () => {
  it('registers the operator metrics with their types', async () => {
    const text = await createMetrics().registry.metrics();
    expect(text).toContain('# TYPE fluxact_requests_total counter');
    expect(text).toContain('# TYPE fluxact_request_duration_seconds histogram');
    expect(text).toContain('# TYPE fluxact_workqueue_depth gauge');
    expect(text).toContain('# TYPE fluxact_workqueue_retries_total counter');
    expect(text).toContain('# TYPE fluxact_leader gauge');
  });

  it('includes the Node.js process metrics unless disabled', async () => {
    expect(await createMetrics().registry.metrics()).toContain('process_resident_memory_bytes');
    expect(await createMetrics({ defaultMetrics: false }).registry.metrics()).not.toContain('process_resident_memory_bytes');
  });

  it('labels requests by action, kind and result', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const labels = { action: 'Suspend', kind: 'HelmRelease', result: 'Succeeded' };
    m.requestsTotal.inc(labels);
    m.requestDuration.observe(labels, 0.2);
    const text = await m.registry.metrics();
    expect(text).toContain('fluxact_requests_total{action="Suspend",kind="HelmRelease",result="Succeeded"} 1');
    expect(text).toContain('fluxact_request_duration_seconds_bucket{le="0.25",action="Suspend",kind="HelmRelease",result="Succeeded"} 1');
  });

  it('buckets durations from 50 ms to one hour', () => {
    expect(REQUEST_DURATION_BUCKETS[0]).toBe(0.05);
    expect(REQUEST_DURATION_BUCKETS[REQUEST_DURATION_BUCKETS.length - 1]).toBe(3600);
    expect([...REQUEST_DURATION_BUCKETS].sort((a, b) => a - b)).toEqual(REQUEST_DURATION_BUCKETS);
  });

  it('gives each call its own registry, so two never collide', async () => {
    const a = createMetrics({ defaultMetrics: false });
    const b = createMetrics({ defaultMetrics: false });
    a.leader.set(1);
    expect(await b.registry.getSingleMetricAsString('fluxact_leader')).toContain('fluxact_leader 0');
  });
});

describe('workQueueMetricsHooks', () => {
  it('makes the depth gauge follow the queue and counts retries', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const clock = new FakeClock();
    const queue = new WorkQueue({ clock, hooks: workQueueMetricsHooks(m) });
    queue.add('a');
    queue.add('b');
    expect((await m.workqueueDepth.get()).values[0]?.value).toBe(2);

    let calls = 0;
    queue.start(() => {
      calls++;
      return Promise.reject(new Error('boom'));
    });
    await until('both keys tried', () => calls === 2);
    await settle();
    expect((await m.workqueueDepth.get()).values[0]?.value).toBe(0);
    expect((await m.workqueueRetries.get()).values[0]?.value).toBe(2);
    await queue.shutdown();
  });
});

describe('informerSyncHook', () => {
  it('keeps one fluxact_informer_sync_failing series per failing resource, with its latest reason, and drops it once synced', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const hook = informerSyncHook(m);
    hook('fluxactionrequests.fluxaction.io', 'NotFound');
    hook('kustomizations.kustomize.toolkit.fluxcd.io', 'Forbidden');
    let text = await m.registry.metrics();
    expect(text).toContain('fluxact_informer_sync_failing{resource="fluxactionrequests.fluxaction.io",reason="NotFound"} 1');
    expect(text).toContain('fluxact_informer_sync_failing{resource="kustomizations.kustomize.toolkit.fluxcd.io",reason="Forbidden"} 1');
    hook('fluxactionrequests.fluxaction.io', 'Forbidden');
    hook('kustomizations.kustomize.toolkit.fluxcd.io', undefined);
    text = await m.registry.metrics();
    expect(text).not.toContain('reason="NotFound"');
    expect(text).toContain('fluxact_informer_sync_failing{resource="fluxactionrequests.fluxaction.io",reason="Forbidden"} 1');
    expect(text).not.toContain('resource="kustomizations.kustomize.toolkit.fluxcd.io"');
  });
});
