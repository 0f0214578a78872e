import { describe, expect, it } from '@jest/globals';
import { writeCounts } from '../../bench/writes.js';

describe('the benchmark counts writes by writer', () => {
  it("sorts the API server's counts into the operator's, the simulator's, the load's and the rest, reads left out", () => {
    const counts = writeCounts([
      ['PUT fluxactionrequests/status 200', 20],
      ['PUT fluxactionrequests/status 409', 1],
      ['POST events 201', 12],
      ['PATCH kustomizations 200', 4],
      ['DELETE fluxactionrequests 200', 2],
      ['PATCH kustomizations/status 200', 8],
      ['POST fluxactionrequests 201', 10],
      ['PUT leases 200', 3],
      ['GET kustomizations 200', 50],
      ['WATCH events 200', 5],
    ]);
    expect(counts).toEqual({
      operator: { statusWrites: 21, events: 12, patches: 4, deletes: 2, total: 39 },
      simulator: 8,
      creates: 10,
      other: 3,
      total: 60,
    });
  });
});
