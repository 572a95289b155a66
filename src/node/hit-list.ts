/** Library entries as they travel in HITS and BRWS replies (docs/PROTOCOL.md §4.3, §4.9). */
import type { Hit } from '../protocol/messages.ts'
import type { LibraryEntry } from './library.ts'

/** The wire form of a hashed entry (name, size in bytes, content id, kind, and its metadata when known). */
export function toHit(e: LibraryEntry): Hit {
  return { name: e.name, size: e.size, cid: e.cid as string, kind: e.kind, ...(e.meta ? { meta: e.meta } : {}) }
}

/**
 * The leading entries of `entries` (in order) whose JSON fits in `limit` bytes, counting
 * `overhead` bytes for the rest of the message and each entry's JSON length + 1 (§4.3): the
 * first entry that does not fit and all after it are left out.
 * @param limit bytes: the receiver's request limit (REQUEST_LIMITS.HITS) or reply limit.
 */
export function fitHits(entries: readonly LibraryEntry[], limit: number, overhead = 200): Hit[] {
  const out: Hit[] = []
  let bytes = overhead
  for (const e of entries) {
    const h = toHit(e)
    bytes += Buffer.byteLength(JSON.stringify(h)) + 1
    if (bytes > limit) break
    out.push(h)
  }
  return out
}
