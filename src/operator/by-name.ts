// A map by namespace and name, for what the operator keeps of every cached object. It holds no
// `namespace/name` string of its own: its keys are the strings the cached objects hold already, so an
// entry of a cache of 10 000 requests costs a slot, not a string of 60 bytes as well.

export class ByName<V> {
  private readonly byNamespace = new Map<string, Map<string, V>>();

  get(namespace: string, name: string): V | undefined {
    return this.byNamespace.get(namespace)?.get(name);
  }

  set(namespace: string, name: string, value: V): void {
    let names = this.byNamespace.get(namespace);
    if (!names) this.byNamespace.set(namespace, (names = new Map<string, V>()));
    names.set(name, value);
  }

  delete(namespace: string, name: string): void {
    const names = this.byNamespace.get(namespace);
    if (!names?.delete(name)) return;
    if (names.size === 0) this.byNamespace.delete(namespace);
  }

  get size(): number {
    let size = 0;
    for (const names of this.byNamespace.values()) size += names.size;
    return size;
  }
}
