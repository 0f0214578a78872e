// The replay (--replay): the closed loop's API writes without the operator and without the
// simulator. Each of `parallelism` clients owns a share of the targets and, for each of its
// requests, makes one after another the eight writes a request costs there — the load's create,
// the operator's status write (the token), Requested Event, patch of the Kustomization, the
// simulator's two status writes, the operator's status write (the outcome) and outcome Event —
// while four watches receive what they cause, as the operator, the simulator and the bench watch
// them. Set against the yardstick, it says how far this API server takes this write mix with
// nothing but the writes to make: the ratio a client doing the operator's work could reach. The
// operator's writes name its field manager, as its User-Agent does in the closed loop, so the
// requests and Kustomizations carry two managers there as here; its status writes carry the
// operator's status field for field.
import * as k8s from '@kubernetes/client-node';
import { Group, Plural, RequestedByAnnotation, Version } from '../../src/api/types.js';
import { fluxKind } from '../../src/flux/kinds.js';
import { customObjectPath } from '../../src/kube/client.js';
import { apiServerCpu, startCpuMeasure, type ApiServerCpu, type CpuReport } from './host.js';
import { runBounded } from './stats.js';

/** The writes one replayed request makes. */
export const ReplayWritesPerRequest = 8;

export interface ReplayFigures {
  requests: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
  writesPerSecond: number;
  watchEvents: number;
  cpu: CpuReport;
  apiServerCpu: ApiServerCpu;
}

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * Replays `count` requests over `targets` (Kustomizations in `namespace`, which nothing else
 * watches or reconciles), `parallelism` clients at once, as `kc`; the watches as `watcher`.
 */
export async function replayWriteMix(
  kc: k8s.KubeConfig,
  watcher: k8s.KubeConfig,
  namespace: string,
  targets: readonly string[],
  count: number,
  parallelism: number,
): Promise<ReplayFigures> {
  const ks = fluxKind('Kustomization')!;
  const ksPath = { group: ks.group, version: ks.versions[0]!, plural: ks.plural, namespace };
  const requestPath = { group: Group, version: Version, plural: Plural, namespace };
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
  // The field manager of the operator's writes (its User-Agent names it in the closed loop).
  const operator = { fieldManager: 'flux-action-operator' };

  let watchEvents = 0;
  const watch = new k8s.Watch(watcher);
  // Two on the requests (the operator's, the bench's), two on the Kustomizations (the operator's, the simulator's).
  const paths = [requestPath, requestPath, ksPath, ksPath].map((ref) => customObjectPath(ref));
  const watches = await Promise.all(
    paths.map((p) =>
      watch.watch(
        p,
        {},
        () => {
          watchEvents += 1;
        },
        () => undefined,
      ),
    ),
  );

  const event = async (request: k8s.KubernetesObject, reason: string, message: string): Promise<void> => {
    const { name, uid } = request.metadata ?? {};
    await core.createNamespacedEvent({
      ...operator,
      namespace,
      body: {
        metadata: { generateName: `${name ?? 'request'}.`, namespace },
        involvedObject: { apiVersion: `${Group}/${Version}`, kind: 'FluxActionRequest', name, namespace, uid },
        reason,
        message,
        type: 'Normal',
        source: { component: 'flux-action-operator' },
        firstTimestamp: new Date(),
        lastTimestamp: new Date(),
        count: 1,
      },
    });
  };

  type Request = k8s.KubernetesObject & { status?: Record<string, unknown> };
  // The operator's status write: the whole request back, with the status it sets.
  const writeStatus = async (request: Request, status: Record<string, unknown>): Promise<Request> =>
    (await custom.replaceNamespacedCustomObjectStatus({
      ...requestPath,
      ...operator,
      name: request.metadata?.name ?? '',
      body: { ...request, status },
    })) as Request;

  const condition = (status: string, reason: string, message: string): Record<string, unknown> => ({
    type: 'Ready',
    status,
    reason,
    message,
    lastTransitionTime: now(),
    observedGeneration: 1,
  });

  // What the operator's cache holds of each Kustomization, for its record of the target: read once
  // here, then what the replayed reconciles wrote.
  const kustomizations = new Map<
    string,
    { uid?: string; generation?: number; message?: string; revision?: string; lastHandled?: string }
  >();
  const listed = (await custom.listNamespacedCustomObject(ksPath)) as { items: k8s.KubernetesObject[] };
  for (const k of listed.items) kustomizations.set(k.metadata?.name ?? '', { uid: k.metadata?.uid, generation: k.metadata?.generation });

  const replayOne = async (i: number, target: string): Promise<void> => {
    const name = `replay-${i}`;
    let request = (await custom.createNamespacedCustomObject({
      ...requestPath,
      body: {
        apiVersion: `${Group}/${Version}`,
        kind: 'FluxActionRequest',
        metadata: { name, namespace },
        spec: { action: 'Reconcile', target: { kind: 'Kustomization', name: target } },
      },
    })) as Request;
    const token = `${now()}-${i}`;
    const asked = `Kustomization ${namespace}/${target}: asked Flux to reconcile`;
    // The operator's record of the target, field for field (src/flux/protocol.ts snapshotOf), and who asked.
    const kustomization = kustomizations.get(target);
    const targetStatus = {
      apiVersion: `${ks.group}/${ks.versions[0]!}`,
      kind: 'Kustomization',
      name: target,
      namespace,
      suspended: false,
      uid: kustomization?.uid,
      generation: kustomization?.generation,
      ready: 'True',
      reason: 'ReconciliationSucceeded',
      message: kustomization?.message,
      revision: kustomization?.revision,
      lastHandledReconcileAt: kustomization?.lastHandled,
      token,
    };
    request = await writeStatus(request, {
      phase: 'Running',
      observedGeneration: 1,
      startTime: now(),
      token,
      requestedBy: request.metadata?.annotations?.[RequestedByAnnotation],
      target: targetStatus,
      message: asked,
      conditions: [condition('Unknown', 'Progressing', asked)],
    });
    await event(request, 'Requested', `Reconcile of Kustomization ${namespace}/${target} requested`);
    await custom.patchNamespacedCustomObject(
      { ...ksPath, ...operator, name: target, body: { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': token } } } },
      merge,
    );
    const revision = `main@sha1:${String(i).padStart(40, '0')}`;
    await custom.patchNamespacedCustomObjectStatus(
      { ...ksPath, name: target, body: { status: { conditions: [condition('Unknown', 'Progressing', 'Reconciliation in progress')] } } },
      merge,
    );
    await custom.patchNamespacedCustomObjectStatus(
      {
        ...ksPath,
        name: target,
        body: {
          status: {
            lastHandledReconcileAt: token,
            lastAppliedRevision: revision,
            lastAttemptedRevision: revision,
            conditions: [condition('True', 'ReconciliationSucceeded', `Applied revision: ${revision}`)],
          },
        },
      },
      merge,
    );
    const applied = `Kustomization ${namespace}/${target}: applied revision ${revision}`;
    const message = `Applied revision: ${revision}`;
    kustomizations.set(target, { ...kustomization, message, revision, lastHandled: token });
    request = await writeStatus(request, {
      ...request.status,
      phase: 'Succeeded',
      completionTime: now(),
      message: applied,
      target: { ...targetStatus, ready: 'True', reason: 'ReconciliationSucceeded', message, revision, lastHandledReconcileAt: token },
      conditions: [condition('True', 'Succeeded', applied)],
    });
    await event(request, 'Succeeded', applied);
  };

  let errors = 0;
  const cpuMeasure = startCpuMeasure({ bench: process.pid });
  const started = performance.now();
  // Client c replays requests c, c + parallelism, …, in turn on the targets of its own share.
  await runBounded(parallelism, parallelism, async (c) => {
    const share = targets.filter((_, t) => t % parallelism === c);
    if (share.length === 0) share.push(targets[c % targets.length]!);
    for (let i = c, k = 0; i < count; i += parallelism, k++) {
      await replayOne(i, share[k % share.length]!).catch(() => {
        errors += 1;
      });
    }
  });
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuMeasure();
  for (const w of watches) w.abort();
  const finished = count - errors;
  return {
    requests: count,
    errors,
    seconds,
    requestsPerSecond: finished / seconds,
    writesPerSecond: (finished * ReplayWritesPerRequest) / seconds,
    watchEvents,
    cpu,
    apiServerCpu: apiServerCpu(cpu, finished * ReplayWritesPerRequest),
  };
}
