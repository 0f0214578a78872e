import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { isTransient } from '../../src/kube/errors.js';
import { backoffDelay, describeSyncFailure, syncFailureReason } from '../../src/operator/informers.js';
import { ByName } from '../../src/operator/by-name.js';

describe('isTransient', () => {
  it('waits through what the API server asks to retry: 429 and 5xx', () => {
    // What a LIST gets while a just-established CRD's watch cache initialises.
    expect(isTransient(new k8s.ApiException(429, 'storage is (re)initializing', '{"reason":"TooManyRequests"}', {}))).toBe(true);
    expect(isTransient(new k8s.ApiException(503, 'unavailable', '', {}))).toBe(true);
  });

  it('reports what will not change by retrying: 403, 404, and errors without a status code', () => {
    expect(isTransient(new k8s.ApiException(403, 'forbidden', '', {}))).toBe(false);
    expect(isTransient(new k8s.ApiException(404, 'not found', '', {}))).toBe(false);
    expect(isTransient(new Error('socket hang up'))).toBe(false);
    expect(isTransient(undefined)).toBe(false);
  });
});

describe('backoffDelay', () => {
  const none = (): number => 0;
  const most = (): number => 0.999;

  it('doubles from the base per failure up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => backoffDelay(n, 500, 30_000, none))).toEqual([
      500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
  });

  it('adds up to 20% jitter from the injected randomness, never beyond the cap', () => {
    expect(backoffDelay(1, 500, 30_000, most)).toBe(600);
    expect(backoffDelay(3, 500, 30_000, () => 0.5)).toBe(2200);
    expect(backoffDelay(7, 500, 30_000, most)).toBe(30_000);
  });

  it('stays finite after very many failures', () => {
    expect(backoffDelay(10_000, 500, 30_000, none)).toBe(30_000);
  });
});

describe('describeSyncFailure', () => {
  it('names the missing permission with the resource and namespace', () => {
    const err = new k8s.ApiException(
      403,
      'forbidden',
      '{"message":"fluxactionrequests.fluxaction.io is forbidden: User \\"x\\" cannot list"}',
      {},
    );
    expect(syncFailureReason(err)).toBe('Forbidden');
    expect(describeSyncFailure('fluxactionrequests.fluxaction.io', 'team-a', err)).toBe(
      'the operator may not list and watch fluxactionrequests.fluxaction.io in namespace team-a: grant it list and watch on fluxactionrequests.fluxaction.io (see config/rbac): fluxactionrequests.fluxaction.io is forbidden: User "x" cannot list',
    );
  });

  it('names the missing CRD', () => {
    const err = new k8s.ApiException(404, 'not found', '{"message":"the server could not find the requested resource"}', {});
    expect(syncFailureReason(err)).toBe('NotFound');
    expect(describeSyncFailure('fluxactionrequests.fluxaction.io', undefined, err)).toBe(
      'the API server does not serve fluxactionrequests.fluxaction.io: is its CustomResourceDefinition installed? (the server could not find the requested resource)',
    );
  });

  it('classifies what retrying may fix apart from what it will not', () => {
    expect(syncFailureReason(new k8s.ApiException(503, 'unavailable', '', {}))).toBe('Unavailable');
    expect(syncFailureReason(new k8s.ApiException(401, 'unauthorized', '', {}))).toBe('Unauthorized');
    expect(syncFailureReason(new Error('connect ECONNREFUSED 127.0.0.1:6443'))).toBe('Error');
  });
});

describe('ByName', () => {
  it('keeps a value per namespace and name, apart across namespaces, until deleted', () => {
    const byName = new ByName<string>();
    byName.set('apps', 'r-1', 'a');
    byName.set('web', 'r-1', 'b');
    byName.set('', 'r-1', 'c');
    expect([byName.get('apps', 'r-1'), byName.get('web', 'r-1'), byName.get('', 'r-1'), byName.get('apps', 'r-2')]).toEqual([
      'a',
      'b',
      'c',
      undefined,
    ]);
    byName.set('apps', 'r-1', 'd');
    expect([byName.get('apps', 'r-1'), byName.size]).toEqual(['d', 3]);
    byName.delete('apps', 'r-1');
    byName.delete('apps', 'r-9');
    expect([byName.get('apps', 'r-1'), byName.get('web', 'r-1'), byName.size]).toEqual([undefined, 'b', 2]);
  });
});
