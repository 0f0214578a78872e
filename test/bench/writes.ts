// API writes during a phase of the benchmark, by writer, from the API server's own request counts
// (apiserver_request_total differences, "VERB resource[/subresource] code"). In the benchmark's
// namespace only three clients write: the load (creates of requests), the Flux simulator (status
// patches of the Kustomizations) and the operator (request status updates, Events, patches of the
// Kustomizations, TTL deletes). Other writers on the cluster (the controller-manager's Leases and
// the like) are counted apart.

export interface WriteCounts {
  /** The operator's: status writes of requests, Events, patches of Flux objects, TTL deletes. */
  operator: { statusWrites: number; events: number; patches: number; deletes: number; total: number };
  /** The Flux simulator's status patches. */
  simulator: number;
  /** Requests created by the load. */
  creates: number;
  /** Every other write the API server took meanwhile (not the benchmark's). */
  other: number;
  /** All writes together. */
  total: number;
}

const WriteVerbs = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY', 'DELETECOLLECTION']);

/** Sorts the API server's write counts of a phase by writer (see the module comment). */
export function writeCounts(counts: readonly (readonly [string, number])[]): WriteCounts {
  const operator = { statusWrites: 0, events: 0, patches: 0, deletes: 0, total: 0 };
  let simulator = 0;
  let creates = 0;
  let other = 0;
  for (const [key, n] of counts) {
    const [verb = '', resource = ''] = key.split(' ');
    if (!WriteVerbs.has(verb)) continue;
    if (resource === 'fluxactionrequests/status' && (verb === 'PUT' || verb === 'PATCH')) operator.statusWrites += n;
    else if (resource === 'events' && verb === 'POST') operator.events += n;
    else if (resource === 'kustomizations' && verb === 'PATCH') operator.patches += n;
    else if (resource === 'fluxactionrequests' && verb === 'DELETE') operator.deletes += n;
    else if (resource === 'kustomizations/status' && verb === 'PATCH') simulator += n;
    else if (resource === 'fluxactionrequests' && verb === 'POST') creates += n;
    else other += n;
  }
  operator.total = operator.statusWrites + operator.events + operator.patches + operator.deletes;
  return { operator, simulator, creates, other, total: operator.total + simulator + creates + other };
}
