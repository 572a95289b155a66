/**
 * Bounded, expiring set of query ids for duplicate suppression (Gnutella's GUID routing table;
 * docs/PROTOCOL.md §4.2). Oldest entries are evicted first when full.
 */
export class SeenSet {
  private readonly m = new Map<string, number>()

  /**
   * @param capacity most ids kept.
   * @param ttlMs how long an id is remembered, ms.
   */
  constructor(
    private readonly capacity: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now
  ) {}

  get size(): number {
    return this.m.size
  }

  /** Remember `id`; returns false when it was already there (a duplicate). */
  add(id: string): boolean {
    const t = this.now()
    const exp = this.m.get(id)
    if (exp !== undefined && exp > t) return false
    this.m.delete(id)
    // Map iterates in insertion order: the first entries are the oldest.
    for (const [k, e] of this.m) {
      if (this.m.size < this.capacity && e > t) break
      this.m.delete(k)
    }
    this.m.set(id, t + this.ttlMs)
    return true
  }

  has(id: string): boolean {
    const exp = this.m.get(id)
    return exp !== undefined && exp > this.now()
  }
}
