// The reconciler's outcome hook for the audit trail: each finished request becomes one Flux event
// (flux-events.ts) handed to the poster (event-poster.ts). Nothing here waits on the reconcile path.
import type { Logger } from 'pino';
import type { FluxActionRequest } from '../api/types.js';
import type { Clock } from '../runtime/clock.js';
import { outcomeEvent, type FluxEvent } from './flux-events.js';

/** Told once about each request that reached its outcome (ReconcilerDeps.outcomes). */
export interface OutcomeListener {
  finished(request: FluxActionRequest): void;
}

/** A Flux object's coordinates, as the request's status.target records them. */
export interface TargetCoordinates {
  kind: string;
  apiVersion: string;
  namespace: string;
  name: string;
}

export interface OutcomeReporterOptions {
  poster: { post(event: FluxEvent): void };
  /** This operator replica (reportingInstance). */
  instance: string;
  clock: Clock;
  log: Logger;
  /**
   * Reads the target's annotations (from the operator's cache), so its event.toolkit.fluxcd.io/*
   * annotations ride along as Flux's controllers send them. Undefined or failing: sent without.
   */
  targetAnnotations?: (target: TargetCoordinates) => Promise<Readonly<Record<string, string>> | undefined>;
}

/** An OutcomeListener that posts each outcome as a Flux event. finished() returns at once and never throws. */
export function outcomeReporter(options: OutcomeReporterOptions): OutcomeListener {
  const { poster, instance, clock, log, targetAnnotations } = options;
  const send = (request: FluxActionRequest, annotations: Readonly<Record<string, string>> | undefined): void => {
    const event = outcomeEvent(request, { instance, now: clock.now(), ...(annotations ? { targetAnnotations: annotations } : {}) });
    if (event) poster.post(event);
  };
  return {
    finished(request) {
      try {
        const target = request.status?.target;
        // Only a target the request resolved is in the cache; one it never found has no annotations.
        if (!targetAnnotations || !target?.kind || !target.apiVersion || !target.name || target.namespace === undefined) {
          send(request, undefined);
          return;
        }
        const coordinates = { kind: target.kind, apiVersion: target.apiVersion, namespace: target.namespace, name: target.name };
        targetAnnotations(coordinates)
          .catch((err: unknown) => {
            log.debug({ err: err instanceof Error ? err.message : String(err) }, 'could not read the target for its event annotations');
            return undefined;
          })
          .then((annotations) => {
            send(request, annotations);
          })
          .catch((err: unknown) => {
            log.error({ err }, 'could not build an outcome event');
          });
      } catch (err) {
        log.error({ err }, 'could not build an outcome event');
      }
    },
  };
}
