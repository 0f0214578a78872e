// What the operator keeps of an object in its caches: not the fields only the API server and kubectl
// use. managedFields alone is often larger than the rest of a small object, and a cache holds
// thousands of them.
import type { KubeObject } from './object.js';

/** kubectl apply's copy of the whole object, which nothing here reads. */
export const LastAppliedAnnotation = 'kubectl.kubernetes.io/last-applied-configuration';

/** The object without metadata.managedFields and the last-applied annotation; the same object when it has neither. */
export function withoutBookkeeping<T extends KubeObject>(obj: T): T {
  const metadata = obj.metadata;
  if (!metadata) return obj;
  const annotations = metadata.annotations;
  const lastApplied = annotations !== undefined && LastAppliedAnnotation in annotations;
  if (metadata.managedFields === undefined && !lastApplied) return obj;
  const { managedFields: _managedFields, ...rest } = metadata;
  if (lastApplied) {
    const { [LastAppliedAnnotation]: _lastApplied, ...kept } = annotations;
    rest.annotations = kept;
  }
  return { ...obj, metadata: rest };
}
