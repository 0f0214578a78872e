import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import {
  apiMessage,
  describeError,
  isConflict,
  isForbidden,
  isInvalid,
  isNotFound,
  isRoleNotFound,
  isTransient,
  statusCode,
} from '../../../src/kube/errors.js';

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

describe('isTransient', () => {
  // What kube-apiserver answered in the seconds after a restart, before its RBAC cache held the roles.
  const restarting = status(
    403,
    'gitrepositories.source.toolkit.fluxcd.io is forbidden: User "system:serviceaccount:fluxact-system:fluxact-operator" cannot list resource "gitrepositories" in API group "source.toolkit.fluxcd.io" in the namespace "apps": rbac: RBAC: [clusterrole.rbac.authorization.k8s.io "system:basic-user" not found, clusterrole.rbac.authorization.k8s.io "fluxact-operator" not found]',
  );

  it('is true for 429 and 5xx', () => {
    expect(isTransient(status(429, 'storage is (re)initializing'))).toBe(true);
    expect(isTransient(status(503, 'unavailable'))).toBe(true);
  });

  it('is true for a 403 naming a role the authorizer has not found, as after an API server restart', () => {
    expect(isRoleNotFound(restarting)).toBe(true);
    expect(isTransient(restarting)).toBe(true);
    expect(
      isTransient(status(403, 'x is forbidden: User "u" cannot get resource "x": RBAC: role.rbac.authorization.k8s.io "reader" not found')),
    ).toBe(true);
  });

  it('is false for a 403 the rules decided, and for the other 4xx', () => {
    const decided = status(
      403,
      'kustomizations.kustomize.toolkit.fluxcd.io "app" is forbidden: User "system:serviceaccount:fluxact-system:limited" cannot patch resource "kustomizations" in API group "kustomize.toolkit.fluxcd.io" in the namespace "apps"',
    );
    expect(isRoleNotFound(decided)).toBe(false);
    expect(isTransient(decided)).toBe(false);
    expect(isTransient(status(404, 'clusterrole.rbac.authorization.k8s.io "x" not found'))).toBe(false);
    expect(isTransient(status(422, 'invalid'))).toBe(false);
  });
});
