// Reading errors from the API server: the HTTP status and the server's own message.

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
  if (typeof err === 'object' && err !== null && 'body' in err) {
    const body = err.body;
    const parsed = parseBody(body);
    if (parsed?.message) return parsed.message;
  }
  return err instanceof Error ? err.message : String(err);
}

function parseBody(body: unknown): StatusBody | undefined {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as StatusBody;
    } catch {
      return { message: body };
    }
  }
  if (typeof body === 'object' && body !== null) return body;
  return undefined;
}

export const isNotFound = (err: unknown): boolean => statusCode(err) === 404;
export const isConflict = (err: unknown): boolean => statusCode(err) === 409;
export const isForbidden = (err: unknown): boolean => statusCode(err) === 403;
