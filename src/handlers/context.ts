/**
 * What message handlers may use of their node. The node implements it; handlers stay free of
 * sockets and timers beyond their RequestContext.
 */
import type { Hits, LegacyQuery, LegacyResponse, Search } from '../protocol/messages.ts'
import type { Library } from '../node/library.ts'
import type { PeerTable } from '../node/peer-table.ts'
import type { RateLimiter } from '../node/rate-limiter.ts'

export interface NodeContext {
  /** Own peer id "host:port". */
  readonly id: string
  readonly peers: PeerTable
  readonly library: Library
  /** Upload limiter shared by FGET and RGET. */
  readonly limiter: RateLimiter
  /** A legacy QUER arrived (already ACKed). */
  onLegacyQuery(q: LegacyQuery): void
  /** A SRCH arrived; returns whether it was new or a duplicate (dropped). */
  onSearch(s: Search): 'new' | 'duplicate'
  /** HITS arrived; returns false when it answers no query this node sent (dropped). */
  onHits(h: Hits, remoteAddress: string): boolean
  /** RESP arrived; returns false when it answers no query this node sent (dropped). */
  onLegacyResponse(r: LegacyResponse, remoteAddress: string): boolean
  /** Count bytes of file data sent (for up-rate displays). */
  countUpload(bytes: number): void
  /** Features named in CAPS. */
  readonly features: string[]
}

/** "::ffff:127.0.0.1" → "127.0.0.1". */
export function normalizeAddress(a: string): string {
  return a.startsWith('::ffff:') ? a.slice(7) : a
}
