/**
 * A p2ptube node, the composition root: it builds a node from its parts (src/node: PeerManager,
 * FloodSearch, DownloadManager, Library), its message handlers (src/handlers) and its discovery
 * methods (src/discovery), and owns their one lifecycle (src/node/lifecycle.ts): start() is all or
 * nothing, stop() starts nothing and aborts what is in flight (docs/PROTOCOL.md).
 * Interoperates with legacy btpeer peers (../shared/reference/btpeer-wire.md).
 */
import { EventEmitter } from 'node:events'
import { isIPv4, type Socket } from 'node:net'
import path from 'node:path'
import { FrameServer, logServerEvents } from '../net/server.ts'
import type { LogLimiter } from '../net/log-limiter.ts'
import { plainTransport, type Transport } from '../net/transport.ts'
import { RoutedTransport } from '../net/route.ts'
import { RateLimiter } from '../net/token-bucket.ts'
import { ANY_ADDRESS, ANY_IPV4, isLoopback } from '../net/address.ts'
import { NodeGroup } from '../group/node-group.ts'
import { PeerLimits } from '../group/peer-limits.ts'
import type { MdnsDiscovery } from '../discovery/mdns.ts'
import type { PortMapper } from '../discovery/port-mapping.ts'
import type { TrackerClient } from '../discovery/tracker-client.ts'
import { createHandlers } from '../handlers/registry.ts'
import type { Download, DownloadResult } from '../node/download.ts'
import { DownloadManager, type FetchRequest } from '../node/download-manager.ts'
import { FloodSearch, type SearchHandle, type SearchOptions } from '../node/flood-search.ts'
import { HashWorker } from '../node/hash-worker.ts'
import { Library } from '../node/library.ts'
import { Identity } from '../node/identity.ts'
import { Lifecycle } from '../node/lifecycle.ts'
import { DEFAULT_MAX_PEERS, PeerManager } from '../node/peer-manager.ts'
import { UploadLog } from '../node/upload-log.ts'
import type { PeerSource, PeerTable } from '../node/peer-table.ts'
import { errText, newStats, type NodeStats } from '../node/stats.ts'
import { CONNECT_TIMEOUT_MS, LINK_IDLE_MS, MSG } from '../protocol/constants.ts'
import { CAPS_FEATURES } from '../protocol/table.ts'

import { handlerContext } from './handler-context.ts'
import { NodeDiscovery } from './node-discovery.ts'
import { p2ptubeDirs } from './dirs.ts'
import { Reach } from './reach.ts'
import { NodeRelay } from './node-relay.ts'
import type { Endpoint } from '../net/client.ts'
import type { NodeOptions } from './options.ts'

/** What a relaying node announces (CAPS, TREG): the relay's request types besides the usual ones. */
const RELAY_FEATURES: readonly string[] = [...CAPS_FEATURES, 'RRES', 'RCON']

export { legacyKeyOf, SearchHandle, type SearchResult } from '../node/flood-search.ts'
export type { NodeStats } from '../node/stats.ts'
export type { NodeOptions } from './options.ts'

/** Re-emit `events` of a part as the node's own. */
function forward(from: EventEmitter, to: EventEmitter, events: string[]): void {
  for (const e of events) from.on(e, (...args: unknown[]) => to.emit(e, ...args))
}

/**
 * Events: 'log' ({ level, msg }), 'peer-added' (PeerInfo), 'peer-removed' (PeerInfo, reason),
 * 'search' ({ qid, duplicate, hops }), 'bad-input' (BadInput), 'download' (Download),
 * 'port-mapping' (PortMappingStatus), 'upload' (Upload: a peer took a file, node/upload-log.ts),
 * 'relay' (ReservationStatus).
 */
export class P2PNode extends EventEmitter {
  readonly host: string
  port = 0
  /** How this node names itself: per connection, or the advertised host (src/node/identity.ts). */
  readonly identity: Identity
  readonly library: Library
  readonly limiter: RateLimiter
  readonly stats: NodeStats = newStats()
  /** CAPS features and TREG features: a node that relays (`node --relay`) adds RRES and RCON (PROTOCOL.md §10.7). */
  get features(): readonly string[] {
    return this.relay.relay ? RELAY_FEATURES : CAPS_FEATURES
  }
  readonly downloadsDir: string
  /** SHA-256 worker thread shared by this node's downloads. */
  readonly hasher = new HashWorker()
  /** Group membership (transport, revocations, rights), when `group` is set. */
  readonly group: NodeGroup | null
  /** How this node dials and accepts: plain TCP, or the group's mutual TLS. */
  readonly transport: Transport
  readonly peerLimits: PeerLimits
  /** The peer list: join/crawl, CAPS probe, stabilizer. */
  readonly peerManager: PeerManager
  /** Flood search and the answers to other nodes' searches. */
  readonly flood: FloodSearch
  /** Every download of this node (iterable, `size`, `get(contentId)`); closed at stop. */
  readonly downloads: DownloadManager
  /** One 'upload' per file a peer took from this node (node/upload-log.ts), re-emitted by the node. */
  readonly uploads = new UploadLog()
  /** Tracker, mDNS and the group's revocation sync, stopped together. */
  readonly discovery: NodeDiscovery
  /** Routes to holders that cannot be dialled, and this node's own reachability (src/app/reach.ts). */
  readonly reach: Reach
  /** Reaching peers through relays, reservations on relays, and the relay service (`relay.serve`). */
  readonly relay: NodeRelay
  private readonly life = new Lifecycle()
  private readonly server: FrameServer
  /** Rate-limited log of bad input (its suppressed count is reported on stop). */
  private readonly badInputLog: LogLimiter
  private starting: Promise<void> | null = null
  /** The start-up steps themselves (stop() lets them settle: a listen in progress is closed after). */
  private launched: Promise<void> | null = null
  private stopping: Promise<void> | null = null

  constructor(readonly opts: NodeOptions = {}) {
    super()
    this.host = opts.listen ?? opts.host ?? ANY_ADDRESS
    this.identity = new Identity(opts.advertise ?? opts.host ?? null)
    const log = this.log.bind(this)
    const dataDir = opts.dataDir === undefined ? p2ptubeDirs().cache : opts.dataDir
    this.library = new Library({ cacheFile: dataDir ? path.join(dataDir, 'content-ids.json') : undefined, log, metadata: opts.metadata })
    this.limiter = new RateLimiter(opts.rateLimit ?? 0)
    this.downloadsDir = path.resolve(opts.downloadsDir ?? p2ptubeDirs().downloads)
    this.group = opts.group ? new NodeGroup(opts.group, { stateDir: dataDir }) : null
    this.group?.on('log', log)
    const inner = this.group?.transport ?? plainTransport
    // A relay circuit arrives raw: the transport's adopt (a group: TLS as server) comes first.
    this.relay = new NodeRelay(this, inner, (s) => this.server.adoptRaw(s), this.life.signal, opts.relay, opts.connectTimeoutMs)
    this.transport = inner
    // A member revoked later loses what it holds on this node's relay at once.
    this.group?.revocations.on('update', () => this.relay.relay?.closeRevoked((serial) => this.group!.revocations.has(serial)))
    this.peerLimits = new PeerLimits(opts.peerLimits)
    // One set of dial options for every outgoing request, carrying the node's stop signal.
    const connectTimeoutMs = opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS
    const dial = { connectTimeoutMs, idleTimeoutMs: opts.idleTimeoutMs, transport: this.transport, signal: this.life.signal }
    const life = this.life
    const reaching = {
      transport: this.transport,
      identity: this.identity,
      trackerEndpoint: () => this.discovery.tracker?.endpoint ?? null,
      adopt: (s: Socket) => this.server.adopt(s),
      adoptRaw: (s: Socket) => this.server.adoptRaw(s),
      log
    }
    this.reach = new Reach(reaching, { connectTimeoutMs, signal: life.signal })
    // The download path falls back to the relay after reversal and punching (src/net/route.ts).
    this.reach.routes.push(this.relay.route)
    this.peerManager = new PeerManager({
      self: this.identity,
      announce: opts.announce ?? true,
      maxPeers: opts.maxPeers ?? DEFAULT_MAX_PEERS,
      ...(opts.minPeers !== undefined ? { minPeers: opts.minPeers } : {}),
      ...(opts.maxPeersPerHost !== undefined ? { maxPeersPerHost: opts.maxPeersPerHost } : {}),
      ...(opts.limitLoopback ? { exemptHost: () => false } : {}),
      hops: opts.hops ?? 2,
      dial,
      life,
      log
    })
    const { library, stats, hasher } = this
    const publishes = (): boolean => this.publishes
    const links = this.peerManager.links
    this.flood = new FloodSearch({ self: this.identity, peers: this.peers, probe: (id) => this.peerManager.probe(id), library, publishes, indexed: () => this.tracker, stats, dial, links, life, log })
    // Peers seed what they have watched: a verified download joins the library at once.
    const onVerified = (d: Download, res: DownloadResult, cid: string): void => {
      if (!publishes()) return
      library.addVerified(res.path, cid, d.swarm?.hashes ?? null).then(
        (e) => e && log('info', `now sharing ${e.name} (downloaded)`),
        (err) => log('warn', `cannot share ${res.path}: ${errText(err)}`)
      )
    }
    // Downloads fall back to reversal and punching when a holder cannot be dialled (docs/NETWORK.md).
    const dataDial = { ...dial, transport: new RoutedTransport(this.transport, this.reach.routes, this.reach.cache) }
    this.downloads = new DownloadManager({ downloadsDir: this.downloadsDir, dial: dataDial, hasher, stats, life, onVerified })
    this.discovery = new NodeDiscovery(this, { connectTimeoutMs, register: opts.trackerRegister ?? true, signal: life.signal })
    forward(this.peerManager, this, ['peer-added', 'peer-removed'])
    forward(this.flood, this, ['search'])
    forward(this.downloads, this, ['download'])
    forward(this.uploads, this, ['upload'])
    const group = this.group
    const handlers = createHandlers(handlerContext(this))
    handlers.set(MSG.RVRS, this.reach.rvrsHandler())
    if (group) handlers.set(MSG.TREV, group.pushHandler())
    this.server = new FrameServer({
      handlers: new Map([...handlers, ...this.relay.handlers()]),
      requestTimeoutMs: opts.requestTimeoutMs,
      transport: this.transport,
      // Neighbour links (PROTOCOL.md §4.10): a LINK connection stays open for pipelined requests.
      session: { type: MSG.LINK, idleMs: LINK_IDLE_MS },
      guard: {
        connection: (addr, peer) => {
          stats.connectionsAccepted++
          return this.peerLimits.connection(addr, peer)
        },
        request: (type, addr, peer) => group?.request(type, peer) ?? this.peerLimits.request(type, addr, peer)
      }
    })
    this.badInputLog = logServerEvents(this.server, this)
  }

  /** The peer id for logs, mDNS and the start-up line ("" until the node listens); see `identity`. */
  get id(): string {
    return this.identity.id
  }

  /**
   * Listen on `host`; the any-address falls back to IPv4 alone on a machine without IPv6.
   * @returns the bound port. @throws the listen error.
   */
  private async listen(): Promise<number> {
    const port = this.opts.port ?? 0
    try {
      return await this.server.listen(port, this.host)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (this.host !== ANY_ADDRESS || (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL')) throw err
      this.log('info', `no IPv6 here (${code}): listening on IPv4 only`)
      return this.server.listen(port, ANY_IPV4)
    }
  }

  /** @see Identity.isSelf */
  isSelf(id: string): boolean {
    return this.identity.isSelf(id)
  }

  /** The tracker says `peer` cannot be dialled: requests to it start with connection reversal. */
  unreachable(peer: string): void {
    this.reach.hint(peer)
  }

  /** @see Identity.observedAs */
  observedAs(host: string, by: string, trusted?: boolean): void {
    this.identity.observedAs(host, by, trusted)
  }

  /** The peer table (owned by the PeerManager). */
  get peers(): PeerTable {
    return this.peerManager.peers
  }

  /** Emit a log line (the CLI and TUI decide where it goes). */
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    this.emit('log', { level, msg })
  }

  /** Group nodes only publish (answer searches, announce, serve) with the publish right. */
  private get publishes(): boolean {
    return this.group?.publish ?? true
  }

  /**
   * Listen, index the shares (content ids are computed in the background), start the stabilizer
   * and the discovery methods. All or nothing: on failure everything started is stopped (the
   * port released) and the node cannot be started again. Once only.
   * @throws the listen error; P2PTubeError ERR_SHARE_NOT_FOUND for a missing share; AbortError
   *   ERR_ABORTED when stop() came first.
   */
  start(): Promise<void> {
    if (!this.starting) {
      const launched = this.launch()
      this.launched = launched
      this.starting = launched.catch(async (err: unknown) => {
        await this.stop()
        throw err
      })
    }
    return this.starting
  }

  private async launch(): Promise<void> {
    this.life.assertOpen('start')
    // Revocations known from an earlier run hold before the first connection is accepted.
    await this.group?.loadSaved()
    this.port = await this.listen()
    this.identity.port = this.port
    for (const s of this.opts.shares ?? []) {
      this.life.assertOpen('start')
      await this.library.addShare(s, { background: true })
    }
    // The saved state (app/state.ts): shares added at run time and downloaded files, then followed.
    const state = this.opts.state
    if (state) {
      await state.restoreShares(this)
      this.life.assertOpen('start')
      await state.attach(this)
    }
    this.life.assertOpen('start')
    this.peerManager.startStabilizer(this.opts.stabilizeIntervalMs ?? 10_000)
    this.log('info', `listening as ${this.id}, sharing ${this.library.size} files`)
    await this.relay.start(this.host)
    if (this.opts.tracker) this.discovery.useTracker(this.opts.tracker)?.on('registered', (peer: string) => this.relay.onRegistered(peer, this.tracker!.endpoint))
    if (this.opts.mdns) this.discovery.startMdns(this.opts.mdns === true ? {} : this.opts.mdns)
    const pm = this.opts.portMapping
    if (pm && !isLoopback(this.host)) this.discovery.startPortMapping(pm === true ? {} : pm, isIPv4(this.host) ? this.host : undefined)
  }

  /** The tracker this node uses (from `tracker`, or found over mDNS), if any. */
  get tracker(): TrackerClient | null {
    return this.discovery.tracker
  }

  /** LAN discovery, when `mdns` is on. */
  get mdns(): MdnsDiscovery | null {
    return this.discovery.mdns
  }

  /** Port mapping on the home router, when `portMapping` is on (its `status` says how it stands). */
  get portMapper(): PortMapper | null {
    return this.discovery.portMapper
  }

  /**
   * Leave cleanly, starting nothing: the state written (`state`), timers (stabilizer, search timeouts) cleared first, then the
   * node's signal aborted (every request in flight and every download ends at once), open
   * searches finished, discoveries stopped together, QUIT to every peer (bounded to 1 s), every
   * download closed, the server closed. Idempotent; never rejects.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // State first: the downloads the stop cancels stay saved as unfinished (resumed next start).
      await this.opts.state?.detach()
      this.life.stop()
      await this.launched?.catch(() => {})
      this.flood.finishAll()
      await this.discovery.stop()
      await this.relay.stop()
      await this.peerManager.quitAll()
      await this.life.settled()
      await this.downloads.close()
      await this.library.stop()
      await this.hasher.stop()
      await this.server.close()
      this.uploads.stop()
      this.badInputLog.summary()
      await this.group?.saved()
    })()
    return this.stopping
  }

  // Delegations kept for callers (CLI, TUI, web, tests): the work is in the parts.

  /** The tracker said `peer` is reached through its relay (TFND/TWHO `relayed`, PROTOCOL.md §10.6). */
  relayedAt(peer: string, relay: Endpoint): void {
    this.relay.route.learn(peer, relay)
    // Downloads from it skip the direct dial. A node the tracker can dial lets the holder connect
    // to it (reversal: nothing through the relay, which stays the fallback); others go straight
    // to the relay.
    const dialable = this.reach.reachability === 'direct' || this.reach.reachability === 'mapped'
    if (!dialable) this.reach.cache.set(peer, 'relay')
    else if (!this.reach.cache.get(peer)) this.reach.cache.set(peer, 'reversal')
  }

  /** Member relays this node is reserved on, for its announces (PROTOCOL.md §10.7). */
  relayIds(): string[] | undefined {
    return this.relay.relayIds()
  }

  /** The tracker listed member relays (§10.7). */
  memberRelays(relays: string[]): void {
    this.relay.onMemberRelays(relays)
  }

  /** @see PeerManager.join */
  join(address: string, hops?: number, source?: PeerSource): Promise<number> {
    return this.peerManager.join(address, hops, source)
  }

  /** @see PeerManager.probe */
  probe(id: string): Promise<boolean | undefined> {
    return this.peerManager.probe(id)
  }

  /** @see PeerManager.stabilize */
  stabilize(): Promise<string[]> {
    return this.peerManager.stabilize()
  }

  /** @see PeerManager.removePeer */
  removePeer(id: string): boolean {
    return this.peerManager.removePeer(id)
  }

  /** @see FloodSearch.search */
  search(query: string, opts?: SearchOptions): SearchHandle {
    return this.flood.search(query, opts)
  }

  /** @see DownloadManager.fetch */
  fetch(r: FetchRequest): Download {
    return this.downloads.fetch(r)
  }
}
