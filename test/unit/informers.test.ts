import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { isTransient } from '../../src/kube/errors.js';

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
