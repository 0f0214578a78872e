// Parsing what comes off the wire: an object that does not match its schema is named, with the
// first field that is wrong, instead of being taken for a missing one.
import type { z } from 'zod';

/** An object read from the API server that does not match the schema the code relies on. */
export class InvalidObjectError extends Error {
  override readonly name = 'InvalidObjectError';

  /**
   * @param object what was read, e.g. `Kustomization apps/web`
   * @param field the path of the first wrong field, e.g. `status.conditions[0].status`
   * @param problem what is wrong with it
   */
  constructor(
    readonly object: string,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${object} does not parse: ${field}: ${problem}`);
  }
}

/** `a.b[0].c` for a zod issue path; `(root)` for the object itself. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

/** The error naming the first wrong field of a failed parse of `object`. */
export function invalidObject(object: string, error: z.ZodError): InvalidObjectError {
  const issue = error.issues[0];
  return new InvalidObjectError(object, issue ? fieldPath(issue.path) : '(root)', issue?.message ?? error.message);
}

/** Parses raw with schema; throws an InvalidObjectError naming `object` and its first wrong field. */
export function parseObject<T>(schema: z.ZodType<T>, raw: unknown, object: string): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw invalidObject(object, parsed.error);
  return parsed.data;
}
