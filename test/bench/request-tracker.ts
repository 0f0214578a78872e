// Follows the benchmark's requests through a list+watch informer (no polling) and records when each
// is first seen finished, with its phase, reason and token.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isFinished } from '../../src/api/conditions.js';
import { Group, Plural, Version, type FluxActionRequest } from '../../src/api/types.js';
import type { KubeObject } from '../../src/kube/object.js';
import { startInformer, type InformerHandle } from '../../src/operator/informers.js';
import { realClock } from '../../src/runtime/clock.js';

export interface Finished {
  /** performance.now() when the watch delivered the finished request. */
  at: number;
  phase: string;
  reason: string | undefined;
  token: string | undefined;
  message: string | undefined;
}

export class RequestTracker {
  readonly finished = new Map<string, Finished>();
  /** Watch events seen per request (add + updates). */
  readonly events = new Map<string, number>();
  private informer: InformerHandle<KubeObject> | undefined;
  private listeners: ((name: string) => void)[] = [];

  constructor(
    private readonly kc: k8s.KubeConfig,
    private readonly namespace: string,
    private readonly log: Logger,
  ) {}

  /** Starts the informer; resolves once its first list is loaded. */
  async start(): Promise<void> {
    const custom = this.kc.makeApiClient(k8s.CustomObjectsApi);
    const ns = this.namespace;
    this.informer = startInformer<KubeObject>({
      kc: this.kc,
      path: `/apis/${Group}/${Version}/namespaces/${ns}/${Plural}`,
      list: async () =>
        (await custom.listNamespacedCustomObject({
          group: Group,
          version: Version,
          namespace: ns,
          plural: Plural,
        })) as k8s.KubernetesListObject<KubeObject>,
      log: this.log,
      clock: realClock,
      onChange: (obj, event) => {
        if (event === 'delete') return;
        this.observe(obj as unknown as FluxActionRequest);
      },
    });
    // Through the informer's retries: right after the CRD is (re)applied the API server answers 429
    // "storage is (re)initializing" for a moment.
    await this.informer.whenSynced(false);
  }

  /** Calls `listener` with the name of every request that finishes. */
  onFinished(listener: (name: string) => void): void {
    this.listeners.push(listener);
  }

  /** How many requests exist now (the operator's cache holds as many): fewer than finished with a TTL. */
  existing(): number {
    return this.informer?.list(this.namespace).length ?? 0;
  }

  /** Unfinished requests as the cache holds them now. */
  unfinished(): FluxActionRequest[] {
    return (this.informer?.list(this.namespace) ?? [])
      .map((o) => o as unknown as FluxActionRequest)
      .filter((r) => !this.finished.has(r.metadata.name));
  }

  async stop(): Promise<void> {
    await this.informer?.stop();
  }

  private observe(request: FluxActionRequest): void {
    const at = performance.now();
    const name = request.metadata.name;
    this.events.set(name, (this.events.get(name) ?? 0) + 1);
    const status = request.status;
    if (this.finished.has(name) || !isFinished(status?.phase)) return;
    this.finished.set(name, {
      at,
      phase: status!.phase!,
      reason: status?.conditions?.find((c) => c.type === 'Ready')?.reason,
      token: status?.token,
      message: status?.message,
    });
    for (const listener of this.listeners) listener(name);
  }
}
