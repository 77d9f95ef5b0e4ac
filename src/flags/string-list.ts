/**
 * A fixed set of strings with a fast `has`: short lists are scanned with
 * `===` (a length or first-character mismatch rejects without hashing the
 * probe, which matters for fresh per-request strings such as user ids);
 * longer ones use a `Set`.
 */
export class StringList {
  private readonly list: readonly string[];
  private readonly set: ReadonlySet<string> | null;

  constructor(values: Iterable<string>) {
    const unique = [...new Set(values)];
    this.list = unique;
    this.set = unique.length > StringList.SCAN_LIMIT ? new Set(unique) : null;
  }

  /** Lists up to this length are scanned. */
  static readonly SCAN_LIMIT = 8;

  get size(): number {
    return this.list.length;
  }

  has(value: string): boolean {
    if (this.set !== null) return this.set.has(value);
    const list = this.list;
    for (let i = 0; i < list.length; i++) if (list[i] === value) return true;
    return false;
  }
}
