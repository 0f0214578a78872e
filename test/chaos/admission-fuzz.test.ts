// Scenario e: invalid requests generated from the CRD's schema (fast-check) sent to the real API
// server. Every one must be refused at admission (HTTP 422, before any operator sees it), with a
// message that names the field or repeats the rule that was broken.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import fc from 'fast-check';
import { ApiVersion, Group, Kind, Plural, Version } from '../../src/api/types.js';
import { ensureInstalled } from '../support/harness.js';
import { adminKubeConfig, createNamespace, deleteNamespace } from '../support/kube.js';
import { invalidRequests } from './support/invalid-requests.js';
import { printFigures, sizes } from './support/sizes.js';

let kc: k8s.KubeConfig;
let ns: string;

beforeAll(async () => {
  await ensureInstalled();
  kc = adminKubeConfig();
  ns = await createNamespace(kc, 'chaos-admission');
});

afterAll(async () => {
  if (ns) await deleteNamespace(kc, ns);
});

interface Outcome {
  code: number | 'accepted' | 'error';
  message: string;
}

describe('invalid requests generated from the CRD schema', () => {
  it(
    `are all refused at admission with a message (${sizes.invalid} requests)`,
    async () => {
      const custom = kc.makeApiClient(k8s.CustomObjectsApi);
      // Every constraint gets its share of the runs.
      const arbitraries = invalidRequests();
      const constraints = arbitraries.length;
      const runs = Math.ceil(sizes.invalid / constraints);
      const byConstraint = new Map<string, number>();
      const bad: string[] = [];
      const examples = new Map<string, string>();
      let sent = 0;
      let failures = 0;
      const started = performance.now();
      for (const arbitrary of arbitraries) {
        await fc
          .assert(
            fc.asyncProperty(arbitrary, async (invalid) => {
              const name = `invalid-${sent++}`;
              let outcome: Outcome;
              try {
                await custom.createNamespacedCustomObject({
                  group: Group,
                  version: Version,
                  plural: Plural,
                  namespace: ns,
                  body: { apiVersion: ApiVersion, kind: Kind, metadata: { name, namespace: ns }, spec: invalid.spec },
                });
                outcome = { code: 'accepted', message: '' };
              } catch (err) {
                if (err instanceof k8s.ApiException) {
                  const body = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as { message?: string } | null;
                  outcome = { code: err.code, message: body?.message ?? '' };
                } else outcome = { code: 'error', message: err instanceof Error ? err.message : String(err) };
              }
              byConstraint.set(invalid.constraint, (byConstraint.get(invalid.constraint) ?? 0) + 1);
              if (!examples.has(invalid.constraint)) examples.set(invalid.constraint, outcome.message.split('\n')[0]!.slice(0, 200));
              const ok = outcome.code === 422 && outcome.message.includes(invalid.expect);
              if (!ok) failures += 1;
              if (!ok && bad.length < 10)
                bad.push(`${invalid.constraint} ${JSON.stringify(invalid.spec)}: ${outcome.code} ${outcome.message.slice(0, 300)}`);
              return ok;
            }),
            { numRuns: runs, endOnFailure: true },
          )
          .catch(() => undefined);
      }
      const seconds = (performance.now() - started) / 1000;
      printFigures('e-admission-fuzz', {
        'invalid requests sent': sent,
        'constraints drawn from the CRD': constraints,
        'constraints exercised': byConstraint.size,
        'refused with 422 and the expected message': sent - failures,
        'per second': (sent / seconds).toFixed(0),
        'example messages': Object.fromEntries([...examples].slice(0, 8)),
        ...(bad.length > 0 ? { violations: bad } : {}),
      });
      expect(bad).toEqual([]);
      expect(sent).toBeGreaterThanOrEqual(sizes.invalid);
      expect(byConstraint.size).toBe(constraints);
    },
    sizes.invalid * 200 + 60_000,
  );
});
