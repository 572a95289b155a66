/** What the handlers see of a node (NodeContext, src/node/context.ts), built from its parts. */
import type { NodeGroup } from '../group/node-group.ts'
import type { RateLimiter } from '../net/token-bucket.ts'
import type { NodeContext } from '../node/context.ts'
import type { FloodSearch } from '../node/flood-search.ts'
import type { Identity } from '../node/identity.ts'
import type { Library } from '../node/library.ts'
import type { PeerTable } from '../node/peer-table.ts'
import type { PeerManager } from '../node/peer-manager.ts'
import type { NodeStats } from '../node/stats.ts'
import type { UploadLog } from '../node/upload-log.ts'

/** The parts a handler context is made of (a P2PNode has them all). */
export interface ContextParts {
  readonly identity: Identity
  readonly flood: FloodSearch
  readonly peers: PeerTable
  readonly peerManager: Pick<PeerManager, 'makeRoom'>
  readonly library: Library
  readonly limiter: RateLimiter
  readonly features: readonly string[]
  readonly group: NodeGroup | null
  readonly stats: NodeStats
  readonly uploads?: UploadLog
}

/** The node's identity, its library, its upload limiter and the search part, for src/handlers. */
export function handlerContext(node: ContextParts): NodeContext {
  const { flood, identity } = node
  return {
    get id() {
      return identity.id
    },
    idFor: (local, remote) => identity.idFor(local, remote),
    isSelf: (id) => identity.isSelf(id),
    peers: node.peers,
    makeRoom: (dryRun) => node.peerManager.makeRoom(dryRun),
    library: node.library,
    limiter: node.limiter,
    features: node.features,
    group: node.group,
    countUpload: (bytes) => void (node.stats.bytesUp += bytes),
    uploaded: (u) => node.uploads?.record(u),
    onSearch: (s) => flood.onSearch(s),
    onLegacyQuery: (q) => flood.onLegacyQuery(q),
    onHits: (h, from) => flood.onHits(h, from),
    onLegacyResponse: (r, from) => flood.onLegacyResponse(r, from)
  }
}
