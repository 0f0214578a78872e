// FluxActionRequests as MCP resources, fluxaction://NAMESPACE/NAME: listed, read, and subscribed to
// (resources/subscribe), so a client is told (notifications/resources/updated) when a request it
// filed changes or finishes. Each subscription follows its request through a watch that ends when
// the request finished, when its lifetime ran out, on resources/unsubscribe, or when the session closes.
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, McpError, SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { isFinished } from '../api/conditions.js';
import type { FluxActionRequest } from '../api/types.js';
import type { RequestService } from '../client/requests.js';
import { isNotFound } from '../kube/errors.js';
import { describeProgress } from './progress.js';
import { describeFailure } from './tool.js';
import { describeOutcome } from './toolsets/flux-actions.js';

export const ResourceScheme = 'fluxaction:';

/** The resource URI of a request. */
export function requestUri(namespace: string, name: string): string {
  return `fluxaction://${namespace}/${name}`;
}

/** Namespace and name of a fluxaction:// URI; undefined when it is not one. */
export function parseRequestUri(uri: string): { namespace: string; name: string } | undefined {
  const m = /^fluxaction:\/\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(uri);
  return m?.[1] && m[3] ? { namespace: m[1], name: m[3] } : undefined;
}

/** At most this many requests listed, newest first. */
export const MaxListed = 200;
/** At most this many subscriptions a session holds at once. */
export const MaxSubscriptions = 100;

export interface RequestResourceOptions {
  requests: RequestService;
  log: Logger;
  /** How long a subscription follows a request that does not finish, in ms. */
  subscriptionLifetimeMs: number;
}

/** The resource's content: the request's outcome as the tools give it, plus where it stands now. */
export function requestContent(request: FluxActionRequest): string {
  const outcome = describeOutcome(request);
  return JSON.stringify({ ...outcome.structured, progress: describeProgress(request) }, null, 2);
}

/** Registers the fluxaction:// resource template (list, read) and the subscribe/unsubscribe handlers. */
export function registerRequestResources(server: McpServer, options: RequestResourceOptions): void {
  const { requests, log } = options;
  server.server.registerCapabilities({ resources: { subscribe: true } });
  server.registerResource(
    'flux-action-request',
    new ResourceTemplate('fluxaction://{namespace}/{name}', {
      list: async () => {
        const listed = await requests.list(undefined);
        const newest = listed.requests
          .sort((a, b) => String(b.metadata.creationTimestamp ?? '').localeCompare(String(a.metadata.creationTimestamp ?? '')))
          .slice(0, MaxListed);
        return {
          resources: newest.map((r) => ({
            uri: requestUri(r.metadata.namespace ?? '', r.metadata.name),
            name: `${r.metadata.namespace ?? ''}/${r.metadata.name}`,
            description: describeProgress(r),
            mimeType: 'application/json',
          })),
        };
      },
    }),
    {
      title: 'FluxActionRequest',
      description:
        'A FluxActionRequest: its action, target, phase, Flux outcome, who asked and what it awaits (approval). Subscribe to be told when it changes or finishes.',
      mimeType: 'application/json',
    },
    async (uri) => {
      const ref = parseRequestUri(uri.href);
      if (!ref) throw new McpError(ErrorCode.InvalidParams, `${uri.href} is not fluxaction://NAMESPACE/NAME`);
      try {
        const request = await requests.get(ref.namespace, ref.name);
        return { contents: [{ uri: uri.href, mimeType: 'application/json', text: requestContent(request) }] };
      } catch (err) {
        throw resourceError(uri.href, err);
      }
    },
  );

  const subscriptions = new Map<string, AbortController>();
  server.server.setRequestHandler(SubscribeRequestSchema, async (req) => {
    const uri = req.params.uri;
    const ref = parseRequestUri(uri);
    if (!ref)
      throw new McpError(
        ErrorCode.InvalidParams,
        `${uri} is not fluxaction://NAMESPACE/NAME: only FluxActionRequests can be subscribed to`,
      );
    if (subscriptions.has(uri)) return {};
    if (subscriptions.size >= MaxSubscriptions)
      throw new McpError(
        ErrorCode.InvalidRequest,
        `this session holds ${MaxSubscriptions} subscriptions already; unsubscribe from some first`,
      );
    let request: FluxActionRequest;
    try {
      request = await requests.get(ref.namespace, ref.name);
    } catch (err) {
      throw resourceError(uri, err);
    }
    // A finished request does not change any more: nothing to follow.
    if (isFinished(request.status?.phase)) return {};
    const controller = new AbortController();
    subscriptions.set(uri, controller);
    void requests
      .follow(request, {
        timeoutMs: options.subscriptionLifetimeMs,
        signal: controller.signal,
        onUpdate: () => {
          void server.server.sendResourceUpdated({ uri }).catch(() => undefined);
        },
      })
      .then(
        (last) => {
          const reason = controller.signal.aborted
            ? String(controller.signal.reason)
            : isFinished(last.status?.phase)
              ? 'the request finished'
              : 'its lifetime (--subscription-timeout) ran out';
          log.info({ uri, reason }, 'subscription ended');
        },
        (err: unknown) => {
          log.info({ uri, reason: describeFailure(err) }, 'subscription ended');
        },
      )
      .finally(() => {
        if (subscriptions.get(uri) === controller) subscriptions.delete(uri);
      });
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, (req) => {
    subscriptions.get(req.params.uri)?.abort('unsubscribed');
    subscriptions.delete(req.params.uri);
    return {};
  });
  // The session closed: stop every watch it held.
  const previous = server.server.onclose;
  server.server.onclose = () => {
    for (const controller of subscriptions.values()) controller.abort('the session closed');
    subscriptions.clear();
    previous?.();
  };
}

/** An MCP error for a request that cannot be read: not found (-32002, as the spec says) or why. */
function resourceError(uri: string, err: unknown): McpError {
  if (isNotFound(err)) return new McpError(-32002, `resource not found: ${uri}`);
  return new McpError(ErrorCode.InternalError, `${uri}: ${describeFailure(err)}`);
}
