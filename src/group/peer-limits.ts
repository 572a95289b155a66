/**
 * Per-peer rate limits of a node (docs/SECURITY.md "Rate limits"): token buckets for accepted
 * connections and for search queries (SRCH, QUER), keyed by the member's certificate serial in a
 * group and by the remote address otherwise. A peer over its rate gets ERRO ERR_RATE_LIMITED
 * and nothing else; other peers are not affected.
 */
import type { Refusal } from '../net/server.ts'
import type { PeerIdentity } from '../net/transport.ts'
import { normalizeAddress } from '../net/address.ts'
import { TokenBuckets } from '../net/token-bucket.ts'
import { QUERY_TYPES } from '../protocol/table.ts'

/** Limits: bursts in requests, rates per second. */
export interface PeerLimitOptions {
  /** Connections a peer may open at once (default 512: a swarm download opens one per 4 MiB run). */
  connectionBurst?: number
  /** Connections per second after the burst (default 256). */
  connectionsPerS?: number
  /** Search queries at once (default 64). */
  queryBurst?: number
  /** Search queries per second after the burst (default 32). */
  queriesPerS?: number
}

/** The buckets of one node. */
export class PeerLimits {
  private readonly conns: TokenBuckets
  private readonly queries: TokenBuckets
  /** Requests refused so far. */
  refused = 0

  constructor(
    opts: PeerLimitOptions = {},
    private readonly now: () => number = Date.now
  ) {
    this.conns = new TokenBuckets(opts.connectionBurst ?? 512, opts.connectionsPerS ?? 256)
    this.queries = new TokenBuckets(opts.queryBurst ?? 64, opts.queriesPerS ?? 32)
  }

  private key(remoteAddress: string, peer: PeerIdentity | undefined): string {
    return peer ? `member:${peer.serial}` : normalizeAddress(remoteAddress)
  }

  private take(b: TokenBuckets, key: string, what: string): Refusal | undefined {
    const t = this.now()
    if (b.size > 4096) b.sweep(t)
    if (b.take(key, t)) return undefined
    this.refused++
    return { code: 'ERR_RATE_LIMITED', message: `too many ${what} from ${key}, retry in ${b.waitMs(key, t)} ms` }
  }

  /** Take a connection token. @returns a refusal when over the rate. */
  connection(remoteAddress: string, peer: PeerIdentity | undefined): Refusal | undefined {
    return this.take(this.conns, this.key(remoteAddress, peer), 'connections')
  }

  /** Take a query token for SRCH/QUER (other types are not counted). */
  request(type: string, remoteAddress: string, peer: PeerIdentity | undefined): Refusal | undefined {
    return QUERY_TYPES.has(type) ? this.take(this.queries, this.key(remoteAddress, peer), 'queries') : undefined
  }
}
