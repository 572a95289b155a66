/**
 * What one announce (TANN, docs/PROTOCOL.md §7.3) carries: the shared files the tracker lacks (with
 * their tags once read) and the content ids it should drop, within the announce's limits. Pure.
 */
import { MAX_ANNOUNCE_ENTRIES } from '../protocol/constants.ts'
import { REQUEST_LIMITS } from '../protocol/table.ts'
import type { MediaMeta } from '../protocol/media-meta.ts'
import type { AnnouncedFile } from '../protocol/tracker-messages.ts'

/** Bytes of a TANN payload the entries may use (the rest is the envelope). */
const ANNOUNCE_BUDGET = REQUEST_LIMITS.TANN - 512

/**
 * The next announce's worth of changes.
 * @param entries every shared file; those without a content id yet are left out.
 * @param sent what the tracker holds for this node, content id → file.
 * @returns at most MAX_ANNOUNCE_ENTRIES additions (fitting ANNOUNCE_BUDGET bytes) and removals.
 */
export function announceDelta(
  entries: Iterable<{ cid?: string | undefined; name: string; size: number; kind: string; meta?: MediaMeta | undefined }>,
  sent: ReadonlyMap<string, AnnouncedFile>
): { add: AnnouncedFile[]; remove: string[] } {
  const want = new Map<string, AnnouncedFile>()
  for (const e of entries) {
    if (e.cid && !want.has(e.cid)) want.set(e.cid, { cid: e.cid, name: e.name, size: e.size, kind: e.kind, ...(e.meta ? { meta: e.meta } : {}) })
  }
  const remove: string[] = []
  for (const [cid, f] of sent) {
    const w = want.get(cid)
    // New tags (read after the file was announced) are sent as a rename is: remove, then add.
    if (!w || !same(w, f)) remove.push(cid)
    if (remove.length >= MAX_ANNOUNCE_ENTRIES) break
  }
  const add: AnnouncedFile[] = []
  let bytes = 200 + remove.length * 70
  for (const [cid, f] of want) {
    const s = sent.get(cid)
    if (s && same(s, f)) continue
    bytes += Buffer.byteLength(JSON.stringify(f)) + 1
    if (add.length >= MAX_ANNOUNCE_ENTRIES || bytes > ANNOUNCE_BUDGET) break
    add.push(f)
  }
  return { add, remove }
}

/** Same name and same tags (the tags are one object per entry until read again: compared as JSON only when they differ). */
function same(a: AnnouncedFile, b: AnnouncedFile): boolean {
  return a.name === b.name && (a.meta === b.meta || JSON.stringify(a.meta) === JSON.stringify(b.meta))
}
