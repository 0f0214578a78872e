// The Host header names the HTTP transport's /mcp answers to (DNS-rebinding protection).
import { describe, expect, it } from '@jest/globals';
import { allowedHostnames } from '../../../src/mcp/transports.js';

describe('allowedHostnames', () => {
  it('bound to loopback: only the loopback names', () => {
    expect(allowedHostnames('127.0.0.1')).toEqual(['127.0.0.1', 'localhost', '[::1]']);
    expect(allowedHostnames('::1')).toEqual(['127.0.0.1', 'localhost', '[::1]']);
  });

  it('bound elsewhere: also the bound address, IPv6 in brackets as in a Host header', () => {
    expect(allowedHostnames('10.0.0.7')).toContain('10.0.0.7');
    expect(allowedHostnames('::')).toContain('[::]');
  });

  it('takes extra names as hostnames: lowercased, without a port', () => {
    expect(allowedHostnames('0.0.0.0', ['MCP.Example.com:443', 'fluxact-mcp.flux-system.svc'])).toEqual([
      '127.0.0.1',
      'localhost',
      '[::1]',
      '0.0.0.0',
      'mcp.example.com',
      'fluxact-mcp.flux-system.svc',
    ]);
  });
});
