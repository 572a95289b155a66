/**
 * The tracker (docs/TRACKER.md, PROTOCOL.md §7): a group admin's index of who is online and what
 * they share. Soft state (SwarmIndex) is rebuilt from announces; the tracker's identity and the
 * registry of every peer ever registered survive restarts in a TrackerStore under `dataDir`.
 */
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { FrameServer, logServerEvents, type Handler } from '../net/server.ts'
import type { LogLimiter } from '../net/log-limiter.ts'
import { MdnsDiscovery, type MdnsOptions } from '../discovery/mdns.ts'
import {
  ANNOUNCE_BURST,
  ANNOUNCE_EXPIRY_INTERVALS,
  ANNOUNCE_REFILL_PER_S,
  DEFAULT_ANNOUNCE_INTERVAL_MS,
  MIN_ANNOUNCE_INTERVAL_MS,
  MSG,
  SEARCH_BURST,
  SEARCH_REFILL_PER_S
} from '../protocol/constants.ts'
import { formatPeerId } from '../protocol/messages.ts'
import { P2PTubeError } from '../protocol/errors.ts'
import type { TrackerStatus } from '../protocol/tracker-messages.ts'
import { TokenBuckets } from '../net/token-bucket.ts'
import { isWildcard, primaryAddress } from '../net/address.ts'
import { plainTransport } from '../net/transport.ts'
import { ControlChannels } from './control.ts'
import { SwarmIndex, type IndexLimits } from './swarm-index.ts'
import { TrackerStore, type Json } from './store.ts'
import type { TrackerGroup } from '../group/tracker-group.ts'
import { Relay, type RelayOptions } from '../relay/relay.ts'
import { MemberRelays } from './member-relays.ts'

/** Tracker options; times in ms. */
export interface TrackerOptions {
  /** Listen address (default 127.0.0.1). */
  host?: string
  /** Port (default 0: any free port). */
  port?: number
  /** Folder of the persistent store; null keeps nothing (tests, benches). */
  dataDir: string | null
  /** Announce interval told to nodes (default 30 000, at least 1 000). */
  announceIntervalMs?: number
  /** Most peers online from one host (0 = unlimited; default 64). */
  maxPeersPerHost?: number
  /** Publish the tracker on the LAN over mDNS. */
  mdns?: MdnsOptions | false
  /** Announce rate limit per peer: burst and refill per second (defaults in constants.ts). */
  announceBurst?: number
  announceRefillPerS?: number
  /** Caps on names indexed per host address and in all (defaults in constants.ts; 0 = none). */
  limits?: Partial<IndexLimits>
  /** TFND/TWHO rate limit per host address: burst and refill per second (0 = unlimited). */
  searchBurst?: number
  searchRefillPerS?: number
  now?: () => number
  random?: () => number
  /** Private group (PROTOCOL.md §8): members only over mutual TLS, only publishers indexed, TREV. */
  group?: TrackerGroup
  /** Connections served at once, sessions included; more are refused at accept (default 4096). */
  maxConnections?: number
  /** A requester that reads nothing of its replies for this long is disconnected (default IDLE_TIMEOUT_MS). */
  writeTimeoutMs?: number
  /** Relay for members that cannot be dialled (PROTOCOL.md §10; `tracker --relay`, on by default for a group's tracker). */
  relay?: RelayOptions | false
}

/** The tracker's handler table, built for one tracker (createTrackerHandlers in handlers.ts). */
export type TrackerHandlers = (tr: Tracker) => Map<string, Handler>

/** Default connection cap: sessions of gateways plus one-shot announces of every node. */
const TRACKER_MAX_CONNECTIONS = 4096

/**
 * Counters; `rejected` counts refused registrations, announces and searches (rate, host cap);
 * `searchWork` the work units TFND searches spent (SwarmIndex.query).
 */
export interface TrackerStats {
  announces: number
  registrations: number
  searches: number
  searchWork: number
  rejected: number
  badInput: number
  expired: number
}

/**
 * Events: 'log' ({ level, msg }), 'peer-registered' (id), 'peer-left' (id), 'peer-expired' (id),
 * 'bad-input' (BadInput).
 */
export class Tracker extends EventEmitter {
  readonly index: SwarmIndex
  readonly limiter: TokenBuckets
  /** TFND/TWHO per host address; null when unlimited. */
  readonly searchLimiter: TokenBuckets | null
  readonly stats: TrackerStats = { announces: 0, registrations: 0, searches: 0, searchWork: 0, rejected: 0, badInput: 0, expired: 0 }
  readonly intervalMs: number
  readonly expiryMs: number
  readonly maxPeersPerHost: number
  readonly now: () => number
  readonly random: () => number
  /** Persistent tracker id (random, kept in the store). */
  id = ''
  port = 0
  mdns: MdnsDiscovery | null = null
  readonly server: FrameServer
  /** Rate-limited log of bad input (its suppressed count is reported on stop). */
  private readonly badInputLog: LogLimiter
  /** The relay service, when on: RRES and RCON on the tracker's port, its own data port. */
  readonly relay: Relay | null
  /** Is a peer id reached through this tracker's relay? (TFND/TWHO mark such holders, §10.6.) */
  readonly relayed: ((peer: string) => boolean) | undefined
  private readonly store: TrackerStore | null
  private sweeper: NodeJS.Timeout | null = null
  private readonly startedAt: number
  /** Announces per second over the last 10 s: a ring of per-second counts. */
  private readonly ring = new Array<number>(10).fill(0)
  private ringSecond = 0
  private knownPeersMemory = new Set<string>()
  /** Control connections, dial-back checks, reversal and punching (PROTOCOL.md §7.10-§7.11). */
  readonly control: ControlChannels
  /** Members that relay (`node --relay`) and the holders reserved on them (PROTOCOL.md §10.7). */
  readonly memberRelays: MemberRelays

  /**
   * @param makeHandlers the message table (passed in, not imported, so handlers.ts may depend on
   *   this class without an import circle; createTracker in create.ts wires the two).
   */
  constructor(
    readonly opts: TrackerOptions,
    makeHandlers: TrackerHandlers
  ) {
    super()
    this.now = opts.now ?? Date.now
    this.random = opts.random ?? Math.random
    this.intervalMs = Math.max(MIN_ANNOUNCE_INTERVAL_MS, opts.announceIntervalMs ?? DEFAULT_ANNOUNCE_INTERVAL_MS)
    this.expiryMs = this.intervalMs * ANNOUNCE_EXPIRY_INTERVALS
    this.maxPeersPerHost = opts.maxPeersPerHost ?? 64
    this.limiter = new TokenBuckets(opts.announceBurst ?? ANNOUNCE_BURST, opts.announceRefillPerS ?? ANNOUNCE_REFILL_PER_S)
    const searchRate = opts.searchRefillPerS ?? SEARCH_REFILL_PER_S
    this.searchLimiter = searchRate > 0 ? new TokenBuckets(opts.searchBurst ?? SEARCH_BURST, searchRate) : null
    this.index = new SwarmIndex(opts.limits)
    this.store = opts.dataDir ? new TrackerStore({ dir: opts.dataDir, log: (level, msg) => this.log(level, msg) }) : null
    this.startedAt = this.now()
    this.relay = opts.relay ? new Relay(opts.relay) : null
    const relay = this.relay
    this.relayed = relay ? (peer) => relay.has(peer) : undefined
    const handlers = makeHandlers(this)
    if (relay) {
      for (const [type, h] of relay.handlers()) handlers.set(type, h)
      relay.on('log', (level: 'info' | 'warn', msg: string) => this.log(level, msg))
      // A revoked member's reservations and circuits end with its other connections.
      opts.group?.revocations.on('update', () => relay.closeRevoked((serial) => opts.group!.revocations.has(serial)))
    }
    if (opts.group) {
      handlers.set(MSG.TREV, opts.group.trevHandler())
      opts.group.on('log', (level: 'info' | 'warn', msg: string) => this.log(level, msg))
      // A revoked member's peers leave the index at once (its connections are closed by the transport).
      opts.group.on('revoked', (ids: string[]) => ids.forEach((id) => this.index.remove(id) && this.emit('peer-left', id)))
    }
    this.control = new ControlChannels({ isRegistered: (id) => this.index.peers.has(id), now: this.now, transport: opts.group?.transport ?? plainTransport, log: (level, msg) => this.log(level, msg) })
    for (const [type, h] of this.control.handlers()) handlers.set(type, h)
    this.memberRelays = new MemberRelays((id) => this.control.reachOf(id))
    for (const e of ['peer-left', 'peer-expired'])
      this.on(e, (id: string) => {
        this.control.drop(id)
        this.memberRelays.drop(id)
      })
    // Sessions (§7.1) stay open while their peers announce: the idle limit is the expiry time.
    this.server = new FrameServer({
      handlers,
      session: { type: MSG.TSES, idleMs: this.expiryMs },
      maxConnections: opts.maxConnections ?? TRACKER_MAX_CONNECTIONS,
      backlog: 4096,
      ...(opts.writeTimeoutMs ? { writeTimeoutMs: opts.writeTimeoutMs } : {}),
      ...(opts.group ? { transport: opts.group.transport } : {})
    })
    this.badInputLog = logServerEvents(this.server, this)
  }

  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    this.emit('log', { level, msg })
  }

  /**
   * Open the store (creating the tracker id on first start), listen, start expiring peers, and
   * publish over mDNS when asked.
   * @throws the store's open error or the listen error.
   */
  async start(): Promise<void> {
    if (this.store) {
      await this.store.open()
      const meta = this.store.get('meta', 'identity') as { id?: string } | undefined
      if (typeof meta?.id === 'string') this.id = meta.id
      else {
        this.id = randomBytes(8).toString('hex')
        this.store.put('meta', 'identity', { id: this.id, createdAt: this.now() })
        await this.store.flush()
      }
    } else this.id = randomBytes(8).toString('hex')
    const host = this.opts.host ?? '127.0.0.1'
    this.port = await this.server.listen(this.opts.port ?? 0, host)
    if (this.relay) {
      await this.relay.listen(host)
      this.log('info', `relay on: data port ${this.relay.dataPort}`)
    }
    this.opts.group?.start()
    this.sweeper = setInterval(() => this.sweep(), Math.max(250, Math.floor(this.intervalMs / 2)))
    this.sweeper.unref()
    if (this.opts.mdns) {
      this.mdns = new MdnsDiscovery({ role: 'tracker', peerId: formatPeerId(isWildcard(host) ? primaryAddress() : host, this.port), port: this.port }, this.opts.mdns)
      this.mdns.on('status', (s: { state: string; reason: string }) => this.log(s.state === 'ok' || s.state === 'off' ? 'info' : 'warn', `mDNS ${s.state}: ${s.reason}`))
      this.mdns.start()
    }
    this.log('info', `tracker ${this.id} listening on ${formatPeerId(host, this.port)}, announce interval ${this.intervalMs / 1000} s, ${this.knownPeers} known peers`)
  }

  /** Stop: mDNS goodbye, close the server, write the store's snapshot. */
  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper)
    this.sweeper = null
    this.opts.group?.stop()
    await this.mdns?.stop()
    await this.relay?.stop()
    await this.server.close()
    this.badInputLog.summary()
    await this.store?.close()
  }

  /** Peers ever registered (persistent registry). */
  get knownPeers(): number {
    return this.store ? this.store.count('peers') : this.knownPeersMemory.size
  }

  /** Registry row of a peer id, or undefined. */
  knownPeer(id: string): Json | undefined {
    return this.store?.get('peers', id)
  }

  /**
   * A registration: fresh soft state, and a durable registry row.
   * @returns resolves once the row is on disk (acknowledge the peer only then).
   * @throws P2PTubeError ERR_STORE when the store cannot write it (disk full...); the row is
   *   written again with the next write.
   */
  async onRegister(host: string, port: number, id: string): Promise<void> {
    const t = this.now()
    const { fresh } = this.index.register(host, port, id, t)
    this.stats.registrations++
    const row = (this.store?.get('peers', id) ?? null) as { firstSeen?: number; registrations?: number } | null
    const value = { firstSeen: row?.firstSeen ?? t, lastSeen: t, registrations: (row?.registrations ?? 0) + 1 }
    if (this.store) this.store.put('peers', id, value)
    else this.knownPeersMemory.add(id)
    if (fresh) this.emit('peer-registered', id)
    try {
      await this.store?.committed()
    } catch (err) {
      throw new P2PTubeError('ERR_STORE', `Register: the tracker could not save the registration: ${(err as Error).message}`, { cause: err })
    }
  }

  /** Count one accepted announce (for announces/s). */
  countAnnounce(): void {
    this.stats.announces++
    const sec = Math.floor(this.now() / 1000)
    this.advanceRing(sec)
    this.ring[sec % this.ring.length]!++
  }

  private advanceRing(sec: number): void {
    if (sec === this.ringSecond) return
    const gap = Math.min(sec - this.ringSecond, this.ring.length)
    for (let i = 1; i <= gap; i++) this.ring[(this.ringSecond + i) % this.ring.length] = 0
    this.ringSecond = sec
  }

  /** Accepted announces per second over the last full 10 s. */
  announcesPerSecond(): number {
    const sec = Math.floor(this.now() / 1000)
    this.advanceRing(sec)
    let sum = 0
    for (let i = 1; i < this.ring.length; i++) sum += this.ring[(sec - i + this.ring.length * 2) % this.ring.length]!
    return sum / (this.ring.length - 1)
  }

  /** Drop peers that missed ANNOUNCE_EXPIRY_INTERVALS announces. @returns their ids. */
  sweep(): string[] {
    const t = this.now()
    const gone = this.index.expire(t - this.expiryMs)
    for (const id of gone) {
      this.stats.expired++
      this.emit('peer-expired', id)
      const row = this.store?.get('peers', id)
      if (row && typeof row === 'object' && !Array.isArray(row)) this.store?.putSoft('peers', id, { ...row, lastSeen: t })
    }
    this.limiter.sweep(t)
    this.searchLimiter?.sweep(t)
    if (gone.length) this.log('info', `expired ${gone.length} peer(s) silent for ${this.expiryMs / 1000} s`)
    return gone
  }

  /** What TSTA answers and `p2ptube tracker status` prints. */
  status(): TrackerStatus {
    return {
      tracker: this.id,
      uptimeMs: this.now() - this.startedAt,
      peers: this.index.peers.size,
      files: this.index.files,
      names: this.index.names,
      announces: this.stats.announces,
      announcesPerSecond: Math.round(this.announcesPerSecond() * 10) / 10,
      searches: this.stats.searches,
      rejected: this.stats.rejected,
      rssBytes: process.memoryUsage.rss(),
      knownPeers: this.knownPeers,
      interval: this.intervalMs,
      reach: this.control.peers(),
      ...this.relayStatus()
    }
  }

  /** TSTA's relay figures (§10, §10.7): the own relay's, member relays' when any registered. */
  private relayStatus(): Pick<TrackerStatus, 'relay' | 'memberRelays'> {
    const r = this.relay?.status()
    const m = this.memberRelays.counts()
    return {
      ...(r ? { relay: { reservations: r.reservations, circuits: r.circuits, spliced: r.spliced, bytesRelayed: r.bytesRelayed, refused: r.refused } } : {}),
      ...(m.relays ? { memberRelays: m } : {})
    }
  }
}
