// One copy of a string that many cached objects carry alike. JSON.parse makes a new string for every
// value of every object, so 10 000 requests of one namespace hold its name 10 000 times, and who
// asked, their groups and the kind they act on as often: a megabyte or more each.

/** Strings longer than this are not pooled: values that long are rarely shared. */
const MaxPooledLength = 256;

/**
 * A pool of strings, each kept once: intern() gives the pooled copy of a value it has seen. Only for
 * fields of low cardinality (namespaces, users, kinds), and bounded: once it holds capacity strings
 * it pools no more (values it already holds are still shared), so a field of high cardinality
 * costs at most that.
 */
export class StringPool {
  private readonly strings = new Map<string, string>();

  constructor(private readonly capacity: number) {}

  intern(value: string): string {
    const pooled = this.strings.get(value);
    if (pooled !== undefined) return pooled;
    if (this.strings.size < this.capacity && value.length <= MaxPooledLength) this.strings.set(value, value);
    return value;
  }

  has(value: string): boolean {
    return this.strings.has(value);
  }

  get size(): number {
    return this.strings.size;
  }
}
