// Deadlines for the API calls the MCP server and the CLI make through @kubernetes/client-node: a
// connection that stops answering must not hold whoever waits on it for good. (The operator's own
// client, src/kube/client.ts, bounds its calls itself, with the same deadline.)
import * as k8s from '@kubernetes/client-node';
import type { Clock, Timer } from '../runtime/clock.js';
import { ApiCallTimeoutMs, unrefTimer } from './client.js';

/**
 * Call options that abort an API call after timeoutMs (default ApiCallTimeoutMs) or when signal
 * aborts, whichever comes first. The deadline covers the answer's body too, and is cleared once the
 * body is read: a busy operator does not hold a timer for every call of the last timeoutMs. One
 * call per options object. The deadline runs on clock when one is given (tests), else on an unref'd
 * timer that does not keep the process running.
 */
export function bounded(signal?: AbortSignal, timeoutMs = ApiCallTimeoutMs, clock?: Clock): k8s.ConfigurationOptions {
  let timer: Timer | undefined;
  const done = (): void => {
    timer?.cancel();
  };
  const middleware: k8s.ObservableMiddleware = {
    pre: (context) => {
      const limit = new AbortController();
      const expire = (): void => {
        limit.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
      };
      timer = clock ? clock.setTimer(expire, timeoutMs) : unrefTimer(expire, timeoutMs);
      context.setSignal(signal ? AbortSignal.any([signal, limit.signal]) : limit.signal);
      return new k8s.Observable(Promise.resolve(context));
    },
    post: (response) =>
      new k8s.Observable(
        Promise.resolve(
          new k8s.ResponseContext(response.httpStatusCode, response.headers, {
            text: () => response.body.text().finally(done),
            binary: () => response.body.binary().finally(done),
          }),
        ),
      ),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}
