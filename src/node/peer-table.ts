/**
 * The peer table: known peers by peer id, bounded by `maxPeers` (0 = unlimited, the high water
 * mark of docs/PROTOCOL.md §3.9) and by `maxPerHost` entries per IP address (an eclipse defence:
 * one host cannot fill the table with many ports) (docs/PROTOCOL.md §3.2-3.3, §3.9,
 * btpeer-wire.md "Peer-list building").
 */
import { EventEmitter } from 'node:events'

/** Limits of a PeerTable besides `maxPeers`. */
export interface PeerTableLimits {
  /** Most entries with the same host (0 = unlimited). */
  maxPerHost?: number
  /** Hosts the per-host limit does not apply to (this machine's loopback, by default none). */
  exempt?(host: string): boolean
}

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
  /** true: its CAPS lists LINK, so SRCH, HITS and keepalives go on a persistent link (§4.10). */
  link?: boolean
  /** Its neighbour count, from the last LIST this node read from it (undefined: never read). */
  degree?: number
}

/** Events: 'added' (PeerInfo), 'removed' (PeerInfo, reason: string). */
export class PeerTable extends EventEmitter {
  private readonly peers = new Map<string, PeerInfo>()
  private readonly perHost = new Map<string, number>()

  constructor(
    readonly maxPeers: number,
    private readonly now: () => number = Date.now,
    private readonly limits: PeerTableLimits = {}
  ) {
    super()
  }

  /** Most entries per host (0 = unlimited). */
  get maxPerHost(): number {
    return this.limits.maxPerHost ?? 0
  }

  /** True when `host` already has its most entries (never for an exempt host). */
  hostFull(host: string): boolean {
    const max = this.maxPerHost
    return max > 0 && (this.perHost.get(host) ?? 0) >= max && !this.limits.exempt?.(host)
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
   * @returns 'added', 'exists', 'full' (the legacy peer checks "too many" first) or 'host-full'
   *   (its host has `maxPerHost` entries already).
   */
  add(p: { id: string; host: string; port: number }, source: PeerSource): 'added' | 'exists' | 'full' | 'host-full' {
    if (this.full) return this.peers.has(p.id) ? 'exists' : 'full'
    if (this.peers.has(p.id)) return 'exists'
    if (this.hostFull(p.host)) return 'host-full'
    const t = this.now()
    const info: PeerInfo = { id: p.id, host: p.host, port: p.port, source, addedAt: t, lastSeen: t }
    this.peers.set(p.id, info)
    this.perHost.set(p.host, (this.perHost.get(p.host) ?? 0) + 1)
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
    const n = (this.perHost.get(p.host) ?? 1) - 1
    if (n > 0) this.perHost.set(p.host, n)
    else this.perHost.delete(p.host)
    this.emit('removed', p, reason)
    return true
  }
}
