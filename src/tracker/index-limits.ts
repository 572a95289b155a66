/**
 * What a tracker's index may hold (docs/PROTOCOL.md §7.3): names per peer, per host address and
 * in all, and their bytes, and the check an announce passes before anything of it is applied.
 */
import { MAX_FILES_PER_PEER, TRACKER_NAME_BYTES_MAX, TRACKER_NAME_BYTES_PER_HOST, TRACKER_NAMES_MAX, TRACKER_NAMES_PER_HOST } from '../protocol/constants.ts'
import { ProtocolError } from '../protocol/errors.ts'
import type { Announce, AnnouncedFile } from '../protocol/tracker-messages.ts'

/**
 * What one announced file costs the byte caps: the UTF-8 bytes of its name, plus those of its
 * tags as JSON (§7.3: tags count as name bytes, so a host's 16 MiB holds names and tags).
 */
export function announcedBytes(f: Pick<AnnouncedFile, 'name' | 'meta'>): number {
  return Buffer.byteLength(f.name) + (f.meta ? Buffer.byteLength(JSON.stringify(f.meta)) : 0)
}

/** What checkRoom needs of a peer (a SwarmIndex PeerRecord): its host and the names it holds by content id. */
export interface Holdings {
  host: string
  files: ReadonlyMap<string, { bytes: number }>
  bytes: number
}

/**
 * Caps on what the index holds (0 = none). A "name" is one (peer, file) entry: what a peer
 * announced, counted at every peer that holds it; bytes are the UTF-8 bytes of those names.
 */
export interface IndexLimits {
  namesPerHost: number
  nameBytesPerHost: number
  names: number
  nameBytes: number
}

/** The defaults of constants.ts (PROTOCOL.md §7.3). */
export const DEFAULT_INDEX_LIMITS: IndexLimits = {
  namesPerHost: TRACKER_NAMES_PER_HOST,
  nameBytesPerHost: TRACKER_NAME_BYTES_PER_HOST,
  names: TRACKER_NAMES_MAX,
  nameBytes: TRACKER_NAME_BYTES_MAX
}

/**
 * Refuse an announce that would take its peer, its host or the whole index past a cap (nothing
 * is applied then). Only growth is refused: an announce that removes or renames always passes.
 * @param use what the peer's host holds now; @param total what the index holds now.
 * @throws ProtocolError ERR_TOO_MANY_FILES (peer or host cap), ERR_INDEX_FULL (total cap).
 */
export function checkRoom(peer: Holdings, a: Announce, use: { names: number; bytes: number }, total: { names: number; bytes: number }, L: IndexLimits): void {
  const fresh = a.base === 0
  const held = (cid: string): { bytes: number } | undefined => (fresh ? undefined : peer.files.get(cid))
  // What the peer holds after the announce (duplicates in `add` count twice: an upper bound).
  let files = fresh ? 0 : peer.files.size
  let bytes = fresh ? 0 : peer.bytes
  const removed = new Set<string>()
  for (const cid of a.remove) {
    const t = held(cid)
    if (!t || removed.has(cid)) continue
    removed.add(cid)
    files--
    bytes -= t.bytes
  }
  for (const f of a.add) {
    const b = announcedBytes(f)
    const had = removed.has(f.cid) ? undefined : held(f.cid)
    if (had) bytes += b - had.bytes
    else {
      files++
      bytes += b
    }
  }
  const dn = files - peer.files.size
  const db = bytes - peer.bytes
  if (dn <= 0 && db <= 0) return
  if (files > MAX_FILES_PER_PEER) throw new ProtocolError('ERR_TOO_MANY_FILES', `Announce: more than ${MAX_FILES_PER_PEER} files from one peer`)
  if (L.namesPerHost && dn > 0 && use.names + dn > L.namesPerHost) {
    throw new ProtocolError('ERR_TOO_MANY_FILES', `Announce: host ${peer.host} would have ${use.names + dn} names indexed, at most ${L.namesPerHost} per host`)
  }
  if (L.nameBytesPerHost && db > 0 && use.bytes + db > L.nameBytesPerHost) {
    throw new ProtocolError('ERR_TOO_MANY_FILES', `Announce: host ${peer.host} would have ${use.bytes + db} bytes of names indexed, at most ${L.nameBytesPerHost} per host`)
  }
  if ((L.names && dn > 0 && total.names + dn > L.names) || (L.nameBytes && db > 0 && total.bytes + db > L.nameBytes)) {
    throw new ProtocolError('ERR_INDEX_FULL', `Announce: the tracker index is full (${total.names} names, ${total.bytes} bytes; at most ${L.names} names, ${L.nameBytes} bytes)`)
  }
}
