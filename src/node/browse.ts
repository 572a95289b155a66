/**
 * Browsing a library (docs/PROTOCOL.md §4.9): the holder's side. The hashed entries sorted by
 * name (UTF-16 code unit order, the order of the `after` cursor) are kept as one snapshot, made
 * again only after the library changed, so a peer paging through 100 000 entries costs one sort
 * and a binary search per page.
 */
import { BROWSE_PAGE_DEFAULT, BROWSE_PAGE_MAX, MAX_CONTROL_REPLY, MAX_NAME_LENGTH } from '../protocol/constants.ts'
import type { BrowseReply, BrowseRequest } from '../protocol/messages.ts'
import { fitHits } from './hit-list.ts'
import type { Library, LibraryEntry } from './library.ts'

/** JSON bytes a reply needs besides its entries: `total`, `next` (a name of ≤ 1 024 B, escaped up to 6×) and braces. */
const REPLY_OVERHEAD = 100 + 6 * MAX_NAME_LENGTH

/** One node's library in name order, for BRWS pages. */
export class BrowseIndex {
  private sorted: LibraryEntry[] | null = null

  constructor(private readonly library: Library) {
    const stale = (): void => {
      this.sorted = null
    }
    library.on('added', stale)
    library.on('hashed', stale)
    library.on('removed', stale)
  }

  private snapshot(): LibraryEntry[] {
    this.sorted ??= this.library
      .entries()
      .filter((e) => e.cid && Buffer.byteLength(e.name) <= MAX_NAME_LENGTH)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    return this.sorted
  }

  /**
   * The page after `r.after`: up to `r.max` (default 200, at most 500) entries, fewer when their
   * JSON would pass the 65 536-B control reply; `next` when more follow.
   */
  page(r: BrowseRequest): BrowseReply {
    const all = this.snapshot()
    let lo = 0
    if (r.after !== undefined) {
      // First entry whose name is greater than `after`.
      let hi = all.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (all[mid]!.name <= r.after) lo = mid + 1
        else hi = mid
      }
    }
    const max = Math.min(r.max ?? BROWSE_PAGE_DEFAULT, BROWSE_PAGE_MAX)
    const entries = fitHits(all.slice(lo, lo + max), MAX_CONTROL_REPLY, REPLY_OVERHEAD)
    const more = lo + entries.length < all.length && entries.length > 0
    return { total: all.length, entries, ...(more ? { next: entries[entries.length - 1]!.name } : {}) }
  }
}
