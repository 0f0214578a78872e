// The compact views of pods and events: columns, ordering, ages.
import { describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { age, formatEvents, lastSeen, newestEvents, podRows, podTable } from '../../../src/mcp/listing.js';
import { eventFieldSelector, tailToFit } from '../../../src/mcp/toolsets/kubernetes.js';

const now = new Date('2026-01-10T12:00:00Z');
const ago = (seconds: number): Date => new Date(now.getTime() - seconds * 1000);

function event(name: string, init: Partial<k8s.CoreV1Event>): k8s.CoreV1Event {
  return {
    metadata: { name, namespace: 'apps' },
    involvedObject: { kind: 'Kustomization', name: 'web', namespace: 'apps' },
    ...init,
  };
}

describe('age', () => {
  it('reads like kubectl: seconds, minutes, hours, days', () => {
    expect(age(ago(45), now)).toBe('45s');
    expect(age(ago(12 * 60), now)).toBe('12m');
    expect(age(ago(3 * 3600), now)).toBe('3h');
    expect(age(ago(5 * 86400), now)).toBe('5d');
    expect(age(undefined, now)).toBe('<unknown>');
  });
});

describe('events', () => {
  it('are last seen at the newest of their timestamps (series, lastTimestamp, eventTime)', () => {
    expect(lastSeen(event('a', { firstTimestamp: ago(100), lastTimestamp: ago(10) }))).toEqual(ago(10));
    expect(lastSeen(event('b', { eventTime: ago(30), series: { count: 4, lastObservedTime: ago(5) } }))).toEqual(ago(5));
    expect(lastSeen(event('c', { metadata: { name: 'c', creationTimestamp: ago(60) } }))).toEqual(ago(60));
    expect(lastSeen(event('d', { metadata: { name: 'd', creationTimestamp: ago(1) }, firstTimestamp: ago(900) }))).toEqual(ago(900));
  });

  it('are not as new as the Event object that reports them, when that was created later', () => {
    expect(lastSeen(event('a', { metadata: { name: 'a', creationTimestamp: ago(1) }, lastTimestamp: ago(600) }))).toEqual(ago(600));
  });

  it('are sorted newest first and cut to the limit', () => {
    const events = [
      event('old', { lastTimestamp: ago(300) }),
      event('newest', { eventTime: ago(1) }),
      event('middle', { lastTimestamp: ago(60) }),
      event('unknown', {}),
    ];
    expect(newestEvents(events, 3).map((e) => e.metadata.name)).toEqual(['newest', 'middle', 'old']);
    expect(events[0]!.metadata.name).toBe('old');
  });

  it('read as one line each: when, type, reason, object, count and message', () => {
    const e = event('x', {
      type: 'Warning',
      reason: 'ReconciliationFailed',
      count: 3,
      lastTimestamp: ago(120),
      message: 'kustomize build failed:\n  no kustomization.yaml',
    });
    expect(formatEvents([e], now, false)).toBe(
      '2026-01-10T11:58:00.000Z (2m ago)  Warning  ReconciliationFailed  Kustomization/web (x3): kustomize build failed: no kustomization.yaml',
    );
    expect(formatEvents([e], now, true)).toContain('Kustomization/apps/web (x3)');
  });

  it('are filtered by the API server through a field selector', () => {
    expect(eventFieldSelector({ involvedObjectKind: 'Kustomization', involvedObjectName: 'web', type: 'Warning' })).toBe(
      'involvedObject.kind=Kustomization,involvedObject.name=web,type=Warning',
    );
    expect(eventFieldSelector({ namespace: 'apps' })).toBeUndefined();
  });
});

describe('pods', () => {
  const pending: k8s.V1Pod = {
    metadata: { name: 'web-1', creationTimestamp: ago(90) },
    spec: { containers: [{ name: 'app' }, { name: 'sidecar' }] },
    status: { phase: 'Pending' },
  };
  const crashing: k8s.V1Pod = {
    metadata: { name: 'api-7' },
    spec: { nodeName: 'node-a', containers: [{ name: 'app' }, { name: 'proxy' }] },
    status: {
      phase: 'Running',
      containerStatuses: [
        { name: 'app', image: 'app', imageID: '', ready: false, restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff' } } },
        { name: 'proxy', image: 'proxy', imageID: '', ready: true, restartCount: 1 },
      ],
    },
  };
  const unschedulable: k8s.V1Pod = {
    metadata: { name: 'big' },
    spec: { containers: [{ name: 'app' }] },
    status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] },
  };

  it('show ready/total containers, the telling status, restarts summed, node and age', () => {
    expect(podRows([pending, crashing, unschedulable], now)).toEqual([
      { name: 'web-1', ready: '0/2', status: 'Pending', restarts: 0, node: '<none>', age: '90s' },
      { name: 'api-7', ready: '1/2', status: 'CrashLoopBackOff', restarts: 5, node: 'node-a', age: '<unknown>' },
      { name: 'big', ready: '0/1', status: 'Pending (Unschedulable)', restarts: 0, node: '<none>', age: '<unknown>' },
    ]);
  });

  it('as a table with aligned columns', () => {
    expect(podTable(podRows([pending, crashing], now)).split('\n')).toEqual([
      'NAME   READY  STATUS            RESTARTS  NODE    AGE',
      'web-1  0/2    Pending           0         <none>  90s',
      'api-7  1/2    CrashLoopBackOff  5         node-a  <unknown>',
    ]);
  });
});

describe('pod logs', () => {
  it('keep the newest lines when cut to fit', () => {
    const log = ['one', 'two', 'three', 'four', ''].join('\n');
    expect(tailToFit(log, 100)).toEqual({ text: 'one\ntwo\nthree\nfour', cut: 0 });
    expect(tailToFit(log, 11)).toEqual({ text: 'three\nfour', cut: 2 });
  });
});
