/**
 * What message handlers may use of their node: the complete, narrow contract between a node's
 * parts and src/handlers. The node (src/app/node.ts) builds it from its parts (the search
 * answers are FloodSearch's); handlers stay free of sockets and timers beyond their
 * RequestContext, and never see the concrete node class.
 */
import type { UploadRecord } from './upload-log.ts'
import type { RateLimiter } from '../net/token-bucket.ts'
import type { NodeGroup } from '../group/node-group.ts'
import type { Hits, LegacyQuery, LegacyResponse, Search } from '../protocol/messages.ts'
import type { Library } from './library.ts'
import type { PeerTable } from './peer-table.ts'

export interface NodeContext {
  /** Own peer id "host:port" for logs; answers use `idFor` (one machine has an id per interface). */
  readonly id: string
  /**
   * The own peer id to send on a connection whose local end is `localAddress` and remote end
   * `remoteAddress` (NAME, CAPS): the port-mapped public id for a peer on the internet.
   */
  idFor(localAddress: string, remoteAddress?: string): string
  /** Is `id` this node (any of its addresses with its port)? */
  isSelf(id: string): boolean
  readonly peers: PeerTable
  /**
   * At the high water mark, prune the least useful neighbour to admit a newcomer (PeerManager.makeRoom).
   * @param dryRun only tell whether one could be pruned. @returns whether there is (now) room.
   */
  makeRoom(dryRun?: boolean): boolean
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
  /** One FGET/RGET reply ended (served in full or cut short): for the upload log (upload-log.ts). */
  uploaded?(u: UploadRecord): void
  /** Features named in CAPS. */
  readonly features: readonly string[]
  /** Private group membership (JOIN/QUIT member checks), or null for a plain node. */
  readonly group: Pick<NodeGroup, 'isMemberAt'> | null
}
