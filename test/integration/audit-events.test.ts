// The audit trail to notification-controller: with --events-addr, the operator posts each request's
// outcome once, as a Flux event. The receiver is a plain HTTP server standing where
// notification-controller's event endpoint would be; each payload is checked against a schema
// mirroring Flux's event type (github.com/fluxcd/pkg/apis/event/v1beta1 Event).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { z } from 'zod';
import type { FluxActionRequest } from '../../src/api/types.js';
import { parseOperatorConfig } from '../../src/runtime/config.js';
import { SimAnnotation } from '../simulator/flux-simulator.js';
import { createFluxObject, startOperatorEnvironment, waitForPhase, type OperatorEnvironment } from '../support/harness.js';
import { randomSuffix, waitFor } from '../support/kube.js';
import { bindRole, createRequestAs, impersonatedKubeConfig, refusal } from '../support/users.js';

// corev1.ObjectReference: every field optional, all strings (k8s.io/api/core/v1 types.go).
const ObjectReferenceSchema = z.strictObject({
  kind: z.string().optional(),
  namespace: z.string().optional(),
  name: z.string().optional(),
  uid: z.string().optional(),
  apiVersion: z.string().optional(),
  resourceVersion: z.string().optional(),
  fieldPath: z.string().optional(),
});

// v1beta1.Event, field by field (fluxcd/pkg apis/event/v1beta1/event.go): +required on all but
// metadata and reportingInstance (omitempty); severity an enum; timestamp a metav1.Time (RFC 3339,
// whole seconds when Go marshals it); message at most 39000 characters; metadata values strings.
const FluxEventSchema = z.strictObject({
  involvedObject: ObjectReferenceSchema,
  severity: z.enum(['trace', 'info', 'error']),
  timestamp: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/),
  message: z.string().max(39000),
  reason: z.string(),
  metadata: z.record(z.string(), z.string()).optional(),
  reportingController: z.string(),
  reportingInstance: z.string().optional(),
});
type FluxEvent = z.infer<typeof FluxEventSchema>;

interface Received {
  contentType: string | undefined;
  method: string | undefined;
  body: unknown;
}

const K = 'kustomize.toolkit.fluxcd.io';
const received: Received[] = [];
let receiver: Server;
let env: OperatorEnvironment;
let alice: k8s.KubeConfig;
const aliceName = `alice-${randomSuffix()}`;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      received.push({ contentType: req.headers['content-type'], method: req.method, body: JSON.parse(body) as unknown });
      // notification-controller answers 202 Accepted.
      res.writeHead(202);
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;
  // Through the flag's own parser, as `fluxact operator --events-addr <url>` reads it.
  const { eventsAddr } = parseOperatorConfig(['--events-addr', url], {});
  env = await startOperatorEnvironment('audit', { eventsAddr });
  alice = impersonatedKubeConfig(env.kc, aliceName);
  await bindRole(env.kc, env.ns, aliceName, { kind: 'ClusterRole', name: 'fluxact-requester' });
  await createFluxObject(env.kc, 'Kustomization', env.ns, 'app', {
    annotations: { 'event.toolkit.fluxcd.io/team': 'platform', [SimAnnotation.revision]: 'main@sha1:0a1b2c3d' },
  });
  await createFluxObject(env.kc, 'Kustomization', env.ns, 'broken', {
    annotations: { [SimAnnotation.outcome]: 'Failed', [SimAnnotation.message]: 'kustomize build failed' },
  });
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed
  await env?.stop();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when beforeAll failed
  if (receiver) {
    receiver.closeAllConnections();
    await new Promise<void>((resolve) => {
      receiver.close(() => {
        resolve();
      });
    });
  }
});

/** The events received for a request, by its <group>/request metadata. */
function eventsFor(request: string): Received[] {
  return received.filter((r) => {
    const metadata = (r.body as { metadata?: Record<string, unknown> }).metadata ?? {};
    return metadata[`${K}/request`] === `${env.ns}/${request}`;
  });
}

/** Waits for the request's outcome event and checks it against Flux's event type. */
async function outcomeEventOf(request: string): Promise<{ event: FluxEvent; raw: Received }> {
  const raw = await waitFor(`the outcome event of ${request}`, () => eventsFor(request)[0]);
  expect(raw.method).toBe('POST');
  expect(raw.contentType).toBe('application/json');
  return { event: FluxEventSchema.parse(raw.body), raw };
}

async function kustomizationUid(name: string): Promise<string | undefined> {
  const obj = (await env.kc.makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({
    group: K,
    version: 'v1',
    plural: 'kustomizations',
    namespace: env.ns,
    name,
  })) as k8s.KubernetesObject;
  return obj.metadata?.uid;
}

function seconds(time: string | undefined): string {
  return `${new Date(Date.parse(time ?? '')).toISOString().slice(0, 19)}Z`;
}

describe('with --events-addr, each outcome is posted as a Flux event', () => {
  let succeeded: FluxActionRequest;
  let failed: FluxActionRequest;

  it('reports a request that succeeded: info, about the target, with who asked and the revision', async () => {
    await createRequestAs(alice, env.ns, 'reconcile-app', {
      spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'app' } },
    });
    succeeded = await waitForPhase(env.kc, env.ns, 'reconcile-app', 'Succeeded');
    const { event } = await outcomeEventOf('reconcile-app');
    expect(event).toEqual({
      involvedObject: {
        kind: 'Kustomization',
        namespace: env.ns,
        name: 'app',
        apiVersion: `${K}/v1`,
        uid: await kustomizationUid('app'),
      },
      severity: 'info',
      timestamp: seconds(succeeded.status?.completionTime),
      message: succeeded.status?.message,
      reason: 'Succeeded',
      metadata: {
        [`${K}/action`]: 'Reconcile',
        [`${K}/requester`]: aliceName,
        [`${K}/request`]: `${env.ns}/reconcile-app`,
        [`${K}/revision`]: 'main@sha1:0a1b2c3d',
        [`${K}/token`]: `${succeeded.status?.token}/${succeeded.metadata.uid}`,
        // The target's event annotations ride along, as Flux's controllers send them.
        'event.toolkit.fluxcd.io/team': 'platform',
      },
      reportingController: 'flux-action-operator',
      reportingInstance: env.operator.operator.identity,
    });
    expect(succeeded.status?.message).toContain('main@sha1:0a1b2c3d');
  });

  it("reports a request that failed: error, with the failure reason and Flux's message", async () => {
    await createRequestAs(alice, env.ns, 'reconcile-broken', {
      spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: 'broken' } },
    });
    failed = await waitForPhase(env.kc, env.ns, 'reconcile-broken', 'Failed');
    const { event } = await outcomeEventOf('reconcile-broken');
    expect(event.severity).toBe('error');
    expect(event.reason).toBe('ReconciliationFailed');
    expect(event.message).toBe(failed.status?.message);
    expect(event.message).toContain('kustomize build failed');
    expect(event.involvedObject).toEqual({
      kind: 'Kustomization',
      namespace: env.ns,
      name: 'broken',
      apiVersion: `${K}/v1`,
      uid: await kustomizationUid('broken'),
    });
    expect(event.metadata).toEqual({
      [`${K}/action`]: 'Reconcile',
      [`${K}/requester`]: aliceName,
      [`${K}/request`]: `${env.ns}/reconcile-broken`,
      [`${K}/token`]: `${failed.status?.token}/${failed.metadata.uid}`,
    });
    expect(event.timestamp).toBe(seconds(failed.status?.completionTime));
  });

  it('reports a request whose target does not exist, about the target it named', async () => {
    await createRequestAs(alice, env.ns, 'reconcile-missing', {
      spec: { action: 'Suspend', target: { kind: 'HelmRelease', name: 'missing' } },
    });
    await waitForPhase(env.kc, env.ns, 'reconcile-missing', 'Failed');
    const raw = await waitFor('the outcome event of reconcile-missing', () =>
      received.find(
        (r) =>
          (r.body as { metadata?: Record<string, string> }).metadata?.['helm.toolkit.fluxcd.io/request'] === `${env.ns}/reconcile-missing`,
      ),
    );
    const event = FluxEventSchema.parse(raw.body);
    expect(event.involvedObject).toEqual({
      kind: 'HelmRelease',
      namespace: env.ns,
      name: 'missing',
      apiVersion: 'helm.toolkit.fluxcd.io/v2',
    });
    expect(event.severity).toBe('error');
    expect(event.reason).toBe('TargetNotFound');
    expect(event.metadata?.['helm.toolkit.fluxcd.io/action']).toBe('Suspend');
  });

  it('posts each outcome once, and counts them in fluxact_audit_events_total', async () => {
    const text = await (await fetch(`http://127.0.0.1:${env.operator.operator.port}/metrics`)).text();
    expect(text).toMatch(/fluxact_audit_events_total\{result="accepted"\} 3\b/);
    expect(text).toMatch(/fluxact_audit_events_dropped_total 0\b/);
    expect(eventsFor('reconcile-app')).toHaveLength(1);
    expect(eventsFor('reconcile-broken')).toHaveLength(1);
    expect(received).toHaveLength(3);
  });
});

describe('the README example Alert and Provider', () => {
  const custom = (): k8s.CustomObjectsApi => env.kc.makeApiClient(k8s.CustomObjectsApi);
  const dryRun = (plural: string, body: object) =>
    custom().createNamespacedCustomObject({
      group: 'notification.toolkit.fluxcd.io',
      version: 'v1beta3',
      plural,
      namespace: env.ns,
      body,
      dryRun: 'All',
    });
  const alert = (...kinds: string[]): object => ({
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Alert',
    metadata: { name: 'flux-actions', namespace: env.ns },
    spec: { providerRef: { name: 'slack' }, eventSeverity: 'info', eventSources: kinds.map((kind) => ({ kind, name: '*' })) },
  });

  it("are accepted by the cluster's Flux CRDs, selecting Flux target kinds in eventSources", async () => {
    await expect(
      dryRun('providers', {
        apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
        kind: 'Provider',
        metadata: { name: 'slack', namespace: env.ns },
        spec: { type: 'slack', channel: 'flux-actions', secretRef: { name: 'slack-webhook' } },
      }),
    ).resolves.toBeDefined();
    await expect(dryRun('alerts', alert('Kustomization', 'HelmRelease'))).resolves.toBeDefined();
  });

  it("cannot select a kind outside the Alert CRD's enum, such as ResourceSet", async () => {
    const refused = await refusal(dryRun('alerts', alert('ResourceSet')));
    expect(refused.code).toBe(422);
    expect(refused.message).toContain('spec.eventSources[0].kind: Unsupported value: "ResourceSet"');
  });
});
