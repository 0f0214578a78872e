// Deadlines for API calls: a connection that stops answering must not hold whoever waits on it (a
// worker, an informer's list, discovery) for good.
import * as k8s from '@kubernetes/client-node';

/** How long one API call may take before it is abandoned (the caller retries). */
export const ApiCallTimeoutMs = 30_000;
/** How long a LIST may take: a large namespace's list is longer to send than one object. */
export const ListTimeoutMs = 60_000;

/**
 * Call options that abort an API call after timeoutMs (default ApiCallTimeoutMs) or when signal
 * aborts, whichever comes first.
 */
export function bounded(signal?: AbortSignal, timeoutMs = ApiCallTimeoutMs): k8s.ConfigurationOptions {
  const middleware: k8s.ObservableMiddleware = {
    pre: (context) => {
      const limit = AbortSignal.timeout(timeoutMs);
      context.setSignal(signal ? AbortSignal.any([signal, limit]) : limit);
      return new k8s.Observable(Promise.resolve(context));
    },
    post: (response) => new k8s.Observable(Promise.resolve(response)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}
