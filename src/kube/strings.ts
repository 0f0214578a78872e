// One copy of a string that many cached objects carry alike. JSON.parse makes a new string for every
// value of every object, so 10 000 requests of one namespace hold its name 10 000 times, and who
// asked, their groups and the kind they act on as often: a megabyte or more each. Times, tokens and
// outcome messages are many, but requests made together share them: the second a batch finished
// in, the token and outcome of requests that joined one reconcile.

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

/** Strings longer than this are not kept by a RecentStrings: a long message is rarely shared. */
const MaxRecentLength = 512;

/**
 * A pool for values of high cardinality that recur close together in time (see above): it keeps the
 * strings of its last two generations, each of at most `generation` strings. When the current one is
 * full it becomes the previous one, and the one before is forgotten; a value found in the previous
 * generation moves to the current one. So it holds at most 2·generation strings, and a value shared
 * by requests made within a generation of each other is kept once.
 */
export class RecentStrings {
  private current = new Map<string, string>();
  private previous = new Map<string, string>();

  constructor(private readonly generation: number) {}

  intern(value: string): string {
    const held = this.current.get(value);
    if (held !== undefined) return held;
    if (value.length > MaxRecentLength) return value;
    const kept = this.previous.get(value) ?? value;
    if (this.current.size >= this.generation) {
      this.previous = this.current;
      this.current = new Map<string, string>();
    }
    this.current.set(value, kept);
    return kept;
  }

  has(value: string): boolean {
    return this.current.has(value) || this.previous.has(value);
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }
}
