import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { FluxActionRequest } from '../../../src/api/types.js';
import type { FluxEvent } from '../../../src/audit/flux-events.js';
import { outcomeReporter, type TargetCoordinates } from '../../../src/audit/outcomes.js';
import { FakeClock, until } from '../runtime/fake-clock.js';

const K = 'kustomize.toolkit.fluxcd.io';

function finished(phase: 'Succeeded' | 'Failed' | 'Running', withTarget = true): FluxActionRequest {
  return {
    apiVersion: 'fluxaction.io/v1alpha1',
    kind: 'FluxActionRequest',
    metadata: { name: 'r1', namespace: 'apps', uid: 'u1' },
    spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } },
    status: {
      phase,
      message: 'm',
      conditions: [{ type: 'Ready', status: phase === 'Succeeded' ? 'True' : 'False', reason: phase }],
      ...(withTarget ? { target: { apiVersion: `${K}/v1`, kind: 'Kustomization', name: 'app', namespace: 'apps', uid: 'ks1' } } : {}),
    },
  };
}

function setup(targetAnnotations?: (t: TargetCoordinates) => Promise<Record<string, string> | undefined>) {
  const posted: FluxEvent[] = [];
  const reporter = outcomeReporter({
    poster: {
      post: (e) => {
        posted.push(e);
      },
    },
    instance: 'op-1',
    clock: new FakeClock(),
    log: pino({ level: 'silent' }),
    ...(targetAnnotations ? { targetAnnotations } : {}),
  });
  return { posted, reporter };
}

describe('outcomeReporter', () => {
  it('posts one event per finished request, at once without an annotation reader', () => {
    const { posted, reporter } = setup();
    reporter.finished(finished('Succeeded'));
    expect(posted).toHaveLength(1);
    expect(posted[0]?.involvedObject.name).toBe('app');
    expect(posted[0]?.reportingInstance).toBe('op-1');
  });

  it('posts nothing for a request that has not finished', () => {
    const { posted, reporter } = setup();
    reporter.finished(finished('Running'));
    expect(posted).toHaveLength(0);
  });

  it("adds the target's event annotations, reading the target by the coordinates the request recorded", async () => {
    const asked: TargetCoordinates[] = [];
    const { posted, reporter } = setup((t) => {
      asked.push(t);
      return Promise.resolve({ 'event.toolkit.fluxcd.io/env': 'prod' });
    });
    reporter.finished(finished('Failed'));
    await until('the event', () => posted.length === 1);
    expect(asked).toEqual([{ kind: 'Kustomization', apiVersion: `${K}/v1`, namespace: 'apps', name: 'app' }]);
    expect(posted[0]?.metadata?.['event.toolkit.fluxcd.io/env']).toBe('prod');
    expect(posted[0]?.severity).toBe('error');
  });

  it('still posts when the target cannot be read', async () => {
    const { posted, reporter } = setup(() => Promise.reject(new Error('cache not synced')));
    reporter.finished(finished('Succeeded'));
    await until('the event', () => posted.length === 1);
    expect(posted[0]?.metadata?.[`${K}/action`]).toBe('Reconcile');
  });

  it('does not read a target the request never resolved', () => {
    let reads = 0;
    const { posted, reporter } = setup(() => {
      reads++;
      return Promise.resolve(undefined);
    });
    reporter.finished(finished('Failed', false));
    expect(reads).toBe(0);
    expect(posted).toHaveLength(1);
  });

  it('never throws into the caller', () => {
    const reporter = outcomeReporter({
      poster: {
        post: () => {
          throw new Error('boom');
        },
      },
      instance: 'op-1',
      clock: new FakeClock(),
      log: pino({ level: 'silent' }),
    });
    expect(() => {
      reporter.finished(finished('Succeeded'));
    }).not.toThrow();
  });
});
