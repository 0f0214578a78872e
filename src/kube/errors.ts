// Reading errors from the Kubernetes API server: the HTTP status and the server's own message.
// The one place that knows how an API error looks (client-node's ApiException, a watch error),
// shared by the operator, the leader election and the MCP adapter.

interface StatusBody {
  message?: string;
  reason?: string;
}

/** The HTTP status of an API error (client-node's ApiException, a watch error, a fetch error), or undefined. */
export function statusCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

/** The API server's message for an error (the Status object's message), else the error's own. */
export function apiMessage(err: unknown): string {
  const body = bodyOf(err);
  if (body?.message) return body.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * A one-line description of an error for logs: `HTTP <status>: <the server's message>` for an API
 * error (client-node's own messages embed whole response bodies and headers), else its message.
 */
export function describeError(err: unknown): string {
  const code = statusCode(err);
  if (code === undefined) return err instanceof Error ? err.message : String(err);
  const message = bodyOf(err)?.message;
  return `HTTP ${code}${message ? `: ${message.slice(0, 200)}` : ''}`;
}

/** The Status object an API error carries, parsed when it came as text; a non-JSON text is the message. */
function bodyOf(err: unknown): StatusBody | undefined {
  if (typeof err !== 'object' || err === null || !('body' in err)) return undefined;
  const body = err.body;
  if (typeof body === 'string') {
    if (body === '') return undefined;
    try {
      const parsed: unknown = JSON.parse(body);
      return typeof parsed === 'object' && parsed !== null ? parsed : { message: body };
    } catch {
      return { message: body };
    }
  }
  if (typeof body === 'object' && body !== null) return body;
  return undefined;
}

export const isForbidden = (err: unknown): boolean => statusCode(err) === 403;
export const isNotFound = (err: unknown): boolean => statusCode(err) === 404;
/** 409: the object changed since it was read (Conflict), or it exists already (AlreadyExists). */
export const isConflict = (err: unknown): boolean => statusCode(err) === 409;
/** 422: the API server or its admission refused the object as invalid; its message says what to fix. */
export const isInvalid = (err: unknown): boolean => statusCode(err) === 422;

/**
 * A 403 whose RBAC message says a role a binding names was not found: the authorizer could not see
 * the rules at all, which is what a kube-apiserver answers in the seconds after it starts, before
 * its RBAC cache has loaded every role (or while a role is being installed after its binding). The
 * refusal says nothing yet about what the rules allow, so it is waited through like a 5xx.
 */
export function isRoleNotFound(err: unknown): boolean {
  return isForbidden(err) && /\b(?:cluster)?role\.rbac\.authorization\.k8s\.io "[^"]*" not found/.test(apiMessage(err));
}

/**
 * Whether an API error says to try again shortly rather than that the request is wrong: 429 (with
 * Retry-After; "storage is (re)initializing" right after a CRD is established), 5xx, and a 403 that
 * names a role the authorizer has not loaded (isRoleNotFound).
 */
export function isTransient(err: unknown): boolean {
  const code = statusCode(err);
  return code !== undefined && (code === 429 || code >= 500 || isRoleNotFound(err));
}

/** The reason of a failed connection (a system error's code and message), or undefined for any other error. */
export function connectionFailure(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^(E[A-Z_]+|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_TLS_)/.test(code)) return undefined;
  const reason = / reason: (.*)$/.exec(err.message)?.[1] ?? err.message;
  return reason.split('\n')[0]?.trim() ?? code;
}
