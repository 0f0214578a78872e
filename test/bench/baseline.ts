// The baseline: how fast this API server takes single merge-patches of an annotation on one custom
// object, from one client with the same library the operator uses. The operator's own work is at
// least one such patch per Flux token plus status writes and Events per request, so this is the
// yardstick its throughput is measured against.
import * as k8s from '@kubernetes/client-node';
import { fluxKind } from '../../src/flux/kinds.js';
import type { ApiServerCpu } from './host.js';
import { runBounded, summarize, type Summary } from './stats.js';

export interface PatchRate {
  patches: number;
  inFlight: number;
  errors: number;
  seconds: number;
  patchesPerSecond: number;
  /** Per-patch latency, ms. */
  latencyMs: Summary;
  /** The API server's CPU per patch and its share of the machine's (measured for the spread baseline). */
  apiServerCpu?: ApiServerCpu;
}

/**
 * Merge-patches annotation `bench.fluxaction.io/patch` `count` times, `inFlight` at once, on the
 * named Kustomizations in turn (one name: always the same object).
 */
export async function measurePatchRate(
  kc: k8s.KubeConfig,
  namespace: string,
  names: readonly string[],
  count: number,
  inFlight: number,
  label: string,
): Promise<PatchRate> {
  const row = fluxKind('Kustomization')!;
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  await runBounded(count, inFlight, async (i) => {
    const t = performance.now();
    try {
      await custom.patchNamespacedCustomObject(
        {
          group: row.group,
          version: row.versions[0]!,
          plural: row.plural,
          namespace,
          name: names[i % names.length]!,
          body: { metadata: { annotations: { 'bench.fluxaction.io/patch': `${label}-${i}` } } },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      latencies.push(performance.now() - t);
    } catch {
      errors += 1;
    }
  });
  const seconds = (performance.now() - started) / 1000;
  return { patches: count, inFlight, errors, seconds, patchesPerSecond: (count - errors) / seconds, latencyMs: summarize(latencies) };
}
