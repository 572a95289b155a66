/**
 * The peer table: known peers by peer id, bounded by `maxPeers` (0 = unlimited)
 * (docs/PROTOCOL.md §3.2-3.3, btpeer-wire.md "Peer-list building").
 */
import { EventEmitter } from 'node:events'

/** How a peer came to be known. */
export type PeerSource = 'bootstrap' | 'crawl' | 'joined' | 'mdns' | 'tracker'

/** One known peer. Times are epoch ms. */
export interface PeerInfo {
  id: string
  host: string
  port: number
  source: PeerSource
  addedAt: number
  lastSeen: number
  /** true: speaks p2ptube extensions; false: legacy btpeer; undefined: not probed yet. */
  extended?: boolean
}

/** Events: 'added' (PeerInfo), 'removed' (PeerInfo, reason: string). */
export class PeerTable extends EventEmitter {
  private readonly peers = new Map<string, PeerInfo>()

  constructor(
    readonly maxPeers: number,
    private readonly now: () => number = Date.now
  ) {
    super()
  }

  get size(): number {
    return this.peers.size
  }

  /** True when no more peers may be added. */
  get full(): boolean {
    return this.maxPeers > 0 && this.peers.size >= this.maxPeers
  }

  has(id: string): boolean {
    return this.peers.has(id)
  }

  get(id: string): PeerInfo | undefined {
    return this.peers.get(id)
  }

  list(): PeerInfo[] {
    return [...this.peers.values()]
  }

  /**
   * Add a peer.
   * @returns 'added', 'exists' or 'full' (the legacy peer checks "too many" first).
   */
  add(p: { id: string; host: string; port: number }, source: PeerSource): 'added' | 'exists' | 'full' {
    if (this.full) return this.peers.has(p.id) ? 'exists' : 'full'
    if (this.peers.has(p.id)) return 'exists'
    const t = this.now()
    const info: PeerInfo = { id: p.id, host: p.host, port: p.port, source, addedAt: t, lastSeen: t }
    this.peers.set(p.id, info)
    this.emit('added', info)
    return 'added'
  }

  /** Mark a peer as alive now. */
  touch(id: string): void {
    const p = this.peers.get(id)
    if (p) p.lastSeen = this.now()
  }

  /** Remove a peer; returns whether it was there. */
  remove(id: string, reason: string): boolean {
    const p = this.peers.get(id)
    if (!p) return false
    this.peers.delete(id)
    this.emit('removed', p, reason)
    return true
  }
}
