/**
 * A set of byte ranges [start, end), kept sorted and merged: which bytes of a file are present.
 */
export class RangeSet {
  private r: Array<[number, number]> = []

  /** @param ranges initial [start, end) pairs, any order. */
  constructor(ranges: Array<[number, number]> = []) {
    for (const [s, e] of ranges) this.add(s, e)
  }

  /** Total bytes covered. */
  get total(): number {
    let t = 0
    for (const [s, e] of this.r) t += e - s
    return t
  }

  /** The ranges, sorted and merged. */
  toJSON(): Array<[number, number]> {
    return this.r.map(([s, e]) => [s, e])
  }

  /** Add [start, end). */
  add(start: number, end: number): void {
    if (end <= start) return
    const out: Array<[number, number]> = []
    let placed = false
    for (const [s, e] of this.r) {
      if (e < start) out.push([s, e])
      else if (s > end) {
        if (!placed) {
          out.push([start, end])
          placed = true
        }
        out.push([s, e])
      } else {
        start = Math.min(start, s)
        end = Math.max(end, e)
      }
    }
    if (!placed) out.push([start, end])
    this.r = out
  }

  /** Remove [start, end). */
  remove(start: number, end: number): void {
    if (end <= start) return
    const out: Array<[number, number]> = []
    for (const [s, e] of this.r) {
      if (e <= start || s >= end) out.push([s, e])
      else {
        if (s < start) out.push([s, start])
        if (e > end) out.push([end, e])
      }
    }
    this.r = out
  }

  /** Bytes present contiguously from `offset` (0 when `offset` is missing). */
  contiguousFrom(offset: number): number {
    for (const [s, e] of this.r) {
      if (s <= offset && offset < e) return e - offset
      if (s > offset) break
    }
    return 0
  }

  /** True when [start, end) is fully present. */
  covers(start: number, end: number): boolean {
    return end <= start || this.contiguousFrom(start) >= end - start
  }

  /** First missing offset at or after `from` below `limit`, or null. */
  firstMissing(from: number, limit: number): number | null {
    let o = from
    for (const [s, e] of this.r) {
      if (e <= o) continue
      if (s > o) break
      o = e
    }
    return o < limit ? o : null
  }

  /** Start of the first present range after `offset`, or `limit`. */
  nextPresent(offset: number, limit: number): number {
    for (const [s] of this.r) if (s > offset) return Math.min(s, limit)
    return limit
  }
}
