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
  /** With more than one round: how many, and the slowest and fastest round's rate. */
  rounds?: { count: number; minPerSecond: number; maxPerSecond: number };
  /** The API server's CPU per patch and its share of the machine's (measured for the spread baseline). */
  apiServerCpu?: ApiServerCpu;
}

/**
 * Merge-patches annotation `bench.fluxaction.io/patch` `count` times, `inFlight` at once, on the
 * named Kustomizations in turn (one name: always the same object); `rounds` times over, one round
 * after another, the rate being all patches over all rounds' time. A round of 500 patches lasts
 * about a second, and kube-apiserver's Go garbage collector runs every few seconds under this load,
 * so one round's rate depends on whether a collection fell into it (twice as fast without, on
 * this project's development machine); rounds make the rate that of a span the collector's cycles
 * average over, as the burst's own does.
 */
export async function measurePatchRate(
  kc: k8s.KubeConfig,
  namespace: string,
  names: readonly string[],
  count: number,
  inFlight: number,
  label: string,
  rounds = 1,
): Promise<PatchRate> {
  const row = fluxKind('Kustomization')!;
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const latencies: number[] = [];
  const roundRates: number[] = [];
  let errors = 0;
  let seconds = 0;
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    const errorsBefore = errors;
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
            body: { metadata: { annotations: { 'bench.fluxaction.io/patch': `${label}-${round}-${i}` } } },
          },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        );
        latencies.push(performance.now() - t);
      } catch {
        errors += 1;
      }
    });
    const roundSeconds = (performance.now() - started) / 1000;
    seconds += roundSeconds;
    roundRates.push((count - (errors - errorsBefore)) / roundSeconds);
  }
  const patches = count * rounds;
  return {
    patches,
    inFlight,
    errors,
    seconds,
    patchesPerSecond: (patches - errors) / seconds,
    latencyMs: summarize(latencies),
    ...(rounds > 1 ? { rounds: { count: rounds, minPerSecond: Math.min(...roundRates), maxPerSecond: Math.max(...roundRates) } } : {}),
  };
}
