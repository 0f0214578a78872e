import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { apiMessage, describeError, isConflict, isForbidden, isInvalid, isNotFound, statusCode } from '../../../src/kube/errors.js';

const status = (code: number, message: string): k8s.ApiException<string> =>
  new k8s.ApiException(code, 'Unsuccessful HTTP Request', JSON.stringify({ kind: 'Status', message, code }), {});

describe('statusCode', () => {
  it("reads client-node's ApiException, and errors carrying statusCode", () => {
    expect(statusCode(status(404, 'not found'))).toBe(404);
    expect(statusCode({ statusCode: 410 })).toBe(410);
  });

  it('is undefined for errors without an HTTP status (a system error code is not one)', () => {
    expect(statusCode(new Error('socket hang up'))).toBeUndefined();
    expect(statusCode(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBeUndefined();
    expect(statusCode(undefined)).toBeUndefined();
  });

  it('names each status the code base acts on', () => {
    expect(isForbidden(status(403, 'x'))).toBe(true);
    expect(isNotFound(status(404, 'x'))).toBe(true);
    expect(isConflict(status(409, 'x'))).toBe(true);
    expect(isInvalid(status(422, 'x'))).toBe(true);
    expect(isNotFound(status(403, 'x'))).toBe(false);
  });
});

describe('apiMessage', () => {
  it("answers the Status object's message, not client-node's message with headers", () => {
    expect(apiMessage(status(422, 'spec.action: Unsupported value'))).toBe('spec.action: Unsupported value');
  });

  it('answers a body that is not JSON as it is, and a plain error by its message', () => {
    expect(apiMessage(new k8s.ApiException(502, 'bad gateway', 'upstream connect error', {}))).toBe('upstream connect error');
    expect(apiMessage(new Error('socket hang up'))).toBe('socket hang up');
  });
});

describe('describeError', () => {
  it('describes an API error on one line by its status and message', () => {
    expect(describeError(status(409, 'the object has been modified'))).toBe('HTTP 409: the object has been modified');
    expect(describeError(new k8s.ApiException(404, 'Not Found', '', {}))).toBe('HTTP 404');
  });

  it('cuts a long body that is not a Status', () => {
    const line = describeError(new k8s.ApiException(503, 'unavailable', `<html>${'x'.repeat(1000)}</html>`, {}));
    expect(line.length).toBeLessThanOrEqual('HTTP 503: '.length + 200);
  });
});
