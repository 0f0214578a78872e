// What progress notifications and fluxaction:// resources say of a request, and the helpers of
// identity over HTTP (RFC 9728 metadata, WWW-Authenticate).
import { describe, expect, it } from '@jest/globals';
import { ApiVersion, Kind, type FluxActionRequest, type RequestStatus } from '../../../src/api/types.js';
import { describeProgress } from '../../../src/mcp/progress.js';
import { parseRequestUri, requestUri } from '../../../src/mcp/resources.js';
import { metadataPath, protectedResourceMetadata, wwwAuthenticate } from '../../../src/mcp/auth.js';

function request(status: RequestStatus, spec: Partial<FluxActionRequest['spec']> = {}): FluxActionRequest {
  return {
    apiVersion: ApiVersion,
    kind: Kind,
    metadata: { name: 'r1', namespace: 'apps' },
    spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'web' }, ...spec },
    status,
  };
}

const cond = (type: string, status: string, reason: string) => ({
  type,
  status,
  reason,
  message: '',
  lastTransitionTime: '2026-01-01T00:00:00Z',
});

describe('describeProgress', () => {
  it('says the source was fetched and the target is being reconciled', () => {
    expect(
      describeProgress(
        request({
          phase: 'Running',
          conditions: [cond('Reconciling', 'True', 'Progressing')] as RequestStatus['conditions'],
          source: { kind: 'GitRepository', name: 'repo', ready: 'True', revision: 'main@sha1:cafe' },
          target: { kind: 'Kustomization', name: 'web', ready: 'Unknown', reason: 'Progressing', message: 'health check in progress' },
        }),
      ),
    ).toBe(
      'Reconcile Kustomization apps/web: Running (Progressing); source GitRepository/repo ready, revision main@sha1:cafe; target Kustomization/web in progress, Progressing: health check in progress',
    );
  });

  it('says the revision applied once it succeeded', () => {
    expect(
      describeProgress(
        request({
          phase: 'Succeeded',
          conditions: [cond('Ready', 'True', 'Succeeded')] as RequestStatus['conditions'],
          target: { kind: 'Kustomization', name: 'web', ready: 'True', revision: 'main@sha1:beef', reason: 'ReconciliationSucceeded' },
        }),
      ),
    ).toBe(
      'Reconcile Kustomization apps/web: Succeeded (Succeeded); target Kustomization/web ready, revision main@sha1:beef, ReconciliationSucceeded',
    );
  });

  it('says what approval is awaited, from whom and until when', () => {
    expect(
      describeProgress(
        request({
          phase: 'Pending',
          conditions: [
            cond('Reconciling', 'True', 'AwaitingApproval'),
            cond('Approved', 'Unknown', 'AwaitingApproval'),
          ] as RequestStatus['conditions'],
          policy: { kind: 'FluxActionPolicy', namespace: 'apps', name: 'prod', rule: 'helm', effect: 'RequireApproval' },
          approval: { expiresAt: '2026-01-02T00:00:00Z' },
        }),
      ),
    ).toContain(
      'awaits approval: FluxActionPolicy apps/prod rule helm requires a person with verb approve on fluxactionrequests in namespace apps, not the requester, by 2026-01-02T00:00:00Z',
    );
  });

  it("names a chain's current step", () => {
    expect(
      describeProgress(
        request({
          phase: 'Running',
          steps: [
            { role: 'Dependency', kind: 'Kustomization', namespace: 'apps', name: 'base', phase: 'Succeeded' },
            { role: 'Target', kind: 'Kustomization', namespace: 'apps', name: 'web', phase: 'Running', reason: 'Progressing' },
          ],
        }),
      ),
    ).toBe('Reconcile Kustomization apps/web: Running; step 2/2 Target Kustomization apps/web: Running (Progressing)');
  });
});

describe('fluxaction:// URIs', () => {
  it('round-trip namespace and name, and refuse anything else', () => {
    expect(parseRequestUri(requestUri('apps', 'reconcile-web-x1'))).toEqual({ namespace: 'apps', name: 'reconcile-web-x1' });
    for (const bad of ['fluxaction://apps', 'fluxaction://Apps/x', 'file:///etc/passwd', 'fluxaction://apps/x/y'])
      expect(parseRequestUri(bad)).toBeUndefined();
  });
});

describe('protected-resource metadata', () => {
  it('lives under /.well-known/oauth-protected-resource followed by the resource path (RFC 9728 §3.1)', () => {
    expect(metadataPath(new URL('https://mcp.example.com/mcp'))).toBe('/.well-known/oauth-protected-resource/mcp');
    expect(metadataPath(new URL('https://mcp.example.com/'))).toBe('/.well-known/oauth-protected-resource');
  });

  it('names the resource and its authorization servers', () => {
    expect(protectedResourceMetadata(new URL('https://mcp.example.com/mcp'), ['https://login.example.com'])).toEqual({
      resource: 'https://mcp.example.com/mcp',
      authorization_servers: ['https://login.example.com'],
      bearer_methods_supported: ['header'],
      resource_name: 'flux-action-operator MCP server',
    });
  });

  it('is pointed to by WWW-Authenticate, with the error when a token was refused', () => {
    const url = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp';
    expect(wwwAuthenticate(url)).toBe(`Bearer resource_metadata="${url}"`);
    expect(wwwAuthenticate(url, { code: 'invalid_token', description: 'the "token" expired' })).toBe(
      `Bearer error="invalid_token", error_description="the 'token' expired", resource_metadata="${url}"`,
    );
    expect(wwwAuthenticate(undefined)).toBe('Bearer');
  });
});
