import { describe, expect, it } from '@jest/globals';
import { InvalidObjectError } from '../../../src/api/parse.js';
import { describeFailure } from '../../../src/mcp/tool.js';

describe('describeFailure', () => {
  it('names the bad field of an object that does not parse, and what to check', () => {
    const err = new InvalidObjectError('FluxActionRequest apps/r', 'status.phase', 'Invalid option: expected one of "Pending"|"Running"');
    expect(describeFailure(err)).toBe(
      'FluxActionRequest apps/r does not parse: status.phase: Invalid option: expected one of "Pending"|"Running". The object does not have the shape this server reads: is the installed CRD a version it knows?',
    );
  });
});
