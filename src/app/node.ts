/**
 * A p2ptube node, the composition root: it builds a node from its parts (src/node), its message
 * handlers (src/handlers) and its discovery methods (src/discovery), and owns their lifecycle
 * (docs/PROTOCOL.md). Interoperates with legacy btpeer peers (../shared/reference/btpeer-wire.md).
 */
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import os from 'node:os'
import path from 'node:path'
import { request, requestText, type Endpoint } from '../net/client.ts'
import { FrameServer, type BadInput } from '../net/server.ts'
import { plainTransport, type Transport } from '../net/transport.ts'
import type { GroupCredential } from '../group/credential.ts'
import { NodeGroup } from '../group/node-group.ts'
import { PeerLimits, type PeerLimitOptions } from '../group/peer-limits.ts'
import { createHandlers } from '../handlers/registry.ts'
import { normalizeAddress } from '../net/address.ts'
import type { NodeContext } from '../node/context.ts'
import { CONNECT_TIMEOUT_MS, DEFAULT_TTL, LEGACY_REPEAT_MS, MAX_HITS, MAX_HOPS, MAX_LEGACY_RESPONSES, MAX_LIST_PEERS, MAX_NAME_LENGTH, MAX_QUERY_LENGTH, MAX_TTL, MSG, QUERY_ID_BYTES, SEEN_SET_SIZE, SEEN_TTL_MS } from '../protocol/constants.ts'
import { CAPS_FEATURES, REQUEST_LIMITS } from '../protocol/table.ts'
import { P2PTubeError } from '../protocol/errors.ts'
import {
  formatHits,
  formatJoin,
  formatPeerId,
  formatQuer,
  formatResp,
  formatSrch,
  parseCaps,
  parseListLine,
  parsePeerId,
  type Hits,
  type LegacyQuery,
  type LegacyResponse,
  type Search
} from '../protocol/messages.ts'
import { Download, type DownloadOptions } from '../node/download.ts'
import { HashWorker } from '../node/hash-worker.ts'
import { Library } from '../node/library.ts'
import { MdnsDiscovery, type MdnsFound, type MdnsOptions } from '../discovery/mdns.ts'
import { PeerTable, type PeerInfo, type PeerSource } from '../node/peer-table.ts'
import { RateLimiter } from '../net/token-bucket.ts'
import { SeenSet } from '../node/seen-set.ts'
import { TrackerClient } from '../discovery/tracker-client.ts'

/** Node options. Sizes in bytes, times in ms. */
export interface NodeOptions {
  /** Address to listen on and to put in the peer id (default 127.0.0.1; never looked up). */
  host?: string
  /** Port (default 0: any free port). */
  port?: number
  /** Most peers (0 = unlimited; default 5, as the legacy UI). */
  maxPeers?: number
  /** Crawl depth when joining (default 2, as the legacy peer at start-up). */
  hops?: number
  shares?: string[]
  /** Where fetched files go (default ./downloads). */
  downloadsDir?: string
  /** Where the content id cache lives (default ~/.cache/p2ptube); null = no cache. */
  dataDir?: string | null
  /** Upload cap, bytes/s (0 = none). */
  rateLimit?: number
  /** How often peers are checked for liveness (default 10 000; 0 = never). */
  stabilizeIntervalMs?: number
  connectTimeoutMs?: number
  idleTimeoutMs?: number
  requestTimeoutMs?: number
  /** Tracker "host:port" to register and announce with, bootstrap from and search first (docs/TRACKER.md). */
  tracker?: string
  /** false: only query the tracker (one-shot search/fetch), never register (default true). */
  trackerRegister?: boolean
  /** Publish and browse on the LAN over mDNS (true = default options). */
  mdns?: boolean | MdnsOptions
  /** Private group credential: speak only mutual TLS with members, enforce publish rights (PROTOCOL.md §8). */
  group?: GroupCredential
  /** Per-peer connection and query rate limits (defaults in PeerLimits). */
  peerLimits?: PeerLimitOptions
}

/** One search result. `contentId` and `size` are null for answers from a legacy peer. */
export interface SearchResult {
  qid: string
  name: string
  size: number | null
  contentId: string | null
  kind: string | null
  holder: string
  legacy: boolean
}

/** An open search. Events: 'result' (SearchResult), 'done' (SearchResult[]). */
export class SearchHandle extends EventEmitter {
  readonly results: SearchResult[] = []
  done = false
  /** Resolves with every result when the search times out. */
  readonly finished: Promise<SearchResult[]>
  constructor(
    readonly qid: string,
    readonly query: string,
    /** Word sent to legacy peers (they match one case-sensitive key). */
    readonly legacyKey: string,
    readonly cid: string | undefined
  ) {
    super()
    this.finished = new Promise((resolve) => this.once('done', resolve))
  }
}

/** Counters for tests and the TUI. */
export interface NodeStats {
  searchesHandled: number
  searchesDuplicate: number
  legacyQueriesHandled: number
  hitsSent: number
  badInput: number
  /** File bytes sent to and received from peers since start. */
  bytesUp: number
  bytesDown: number
}

/**
 * The one key a legacy peer can match (it takes a single whitespace-free word): the longest word
 * of the query, the last of equally long ones (people type general → specific).
 */
export function legacyKeyOf(query: string): string {
  return query.split(/\s+/).filter(Boolean).reduce((a, b) => (b.length >= a.length ? b : a), '')
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/**
 * Events: 'log' ({ level, msg }), 'peer-added' (PeerInfo), 'peer-removed' (PeerInfo, reason),
 * 'search' ({ qid, duplicate, hops }), 'bad-input' (BadInput), 'download' (Download).
 */
export class P2PNode extends EventEmitter implements NodeContext {
  readonly host: string
  port = 0
  id = ''
  readonly peers: PeerTable
  readonly library: Library
  readonly limiter: RateLimiter
  readonly stats: NodeStats = { searchesHandled: 0, searchesDuplicate: 0, legacyQueriesHandled: 0, hitsSent: 0, badInput: 0, bytesUp: 0, bytesDown: 0 }
  readonly features = CAPS_FEATURES
  readonly downloads = new Map<string, Download>()
  readonly downloadsDir: string
  /** SHA-256 worker thread shared by this node's downloads. */
  readonly hasher = new HashWorker()
  private readonly server: FrameServer
  private readonly seen = new SeenSet(SEEN_SET_SIZE, SEEN_TTL_MS)
  private readonly legacySeen = new SeenSet(SEEN_SET_SIZE, LEGACY_REPEAT_MS)
  private readonly searches = new Map<string, SearchHandle>()
  private stabilizer: NodeJS.Timeout | null = null
  private readonly timers = new Set<NodeJS.Timeout>()
  private started = false
  /** The tracker this node uses (from `tracker`, or found over mDNS), if any. */
  tracker: TrackerClient | null = null
  /** LAN discovery, when `mdns` is on. */
  mdns: MdnsDiscovery | null = null
  /** Group membership (transport, revocations, rights), when `group` is set. */
  readonly group: NodeGroup | null
  /** How this node dials and accepts: plain TCP, or the group's mutual TLS. */
  readonly transport: Transport
  readonly peerLimits: PeerLimits

  constructor(readonly opts: NodeOptions = {}) {
    super()
    this.host = opts.host ?? '127.0.0.1'
    this.peers = new PeerTable(opts.maxPeers ?? 5)
    const dataDir = opts.dataDir === undefined ? path.join(os.homedir(), '.cache', 'p2ptube') : opts.dataDir
    this.library = new Library({ cacheFile: dataDir ? path.join(dataDir, 'content-ids.json') : undefined, log: (level, msg) => this.log(level, msg) })
    this.limiter = new RateLimiter(opts.rateLimit ?? 0)
    this.downloadsDir = path.resolve(opts.downloadsDir ?? 'downloads')
    this.group = opts.group ? new NodeGroup(opts.group) : null
    this.group?.on('log', (level: 'debug' | 'info' | 'warn', msg: string) => this.log(level, msg))
    this.transport = this.group?.transport ?? plainTransport
    this.peerLimits = new PeerLimits(opts.peerLimits)
    const group = this.group
    this.server = new FrameServer({
      handlers: this.group ? new Map([...createHandlers(this), [MSG.TREV, this.group.pushHandler()]]) : createHandlers(this),
      requestTimeoutMs: opts.requestTimeoutMs,
      transport: this.transport,
      guard: {
        connection: (addr, peer) => this.peerLimits.connection(addr, peer),
        request: (type, addr, peer) => group?.request(type, peer) ?? this.peerLimits.request(type, addr, peer)
      }
    })
    this.server.on('bad-input', (b: BadInput) => {
      this.stats.badInput++
      this.log('warn', `bad input from ${b.remoteAddress}: ${b.code}: ${b.message}`)
      this.emit('bad-input', b)
    })
    this.server.on('request-failed', (b: BadInput) => this.log('warn', `request from ${b.remoteAddress} failed: ${b.code}: ${b.message}`))
    this.server.on('handler-error', (err: Error) => this.log('error', `handler failed: ${err.stack ?? err.message}`))
    this.peers.on('added', (p: PeerInfo) => {
      this.log('info', `peer ${p.id} added (${p.source})`)
      this.emit('peer-added', p)
    })
    this.peers.on('removed', (p: PeerInfo, reason: string) => {
      this.log('info', `peer ${p.id} removed: ${reason}`)
      this.emit('peer-removed', p, reason)
    })
  }

  /** @see NodeContext.countUpload */
  countUpload(bytes: number): void {
    this.stats.bytesUp += bytes
  }

  /** Emit a log line (the CLI and TUI decide where it goes). */
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    this.emit('log', { level, msg })
  }

  private get dialOpts(): { connectTimeoutMs: number; idleTimeoutMs: number | undefined; transport: Transport } {
    return { connectTimeoutMs: this.opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, idleTimeoutMs: this.opts.idleTimeoutMs, transport: this.transport }
  }

  /** Group nodes only publish (answer searches, announce, serve) with the publish right. */
  private get publishes(): boolean {
    return this.group?.publish ?? true
  }

  /**
   * Listen, index the shares (content ids are computed in the background), start the stabilizer.
   * @throws the listen error; P2PTubeError ERR_SHARE_NOT_FOUND for a missing share.
   */
  async start(): Promise<void> {
    this.port = await this.server.listen(this.opts.port ?? 0, this.host)
    this.id = formatPeerId(this.host, this.port)
    this.started = true
    for (const s of this.opts.shares ?? []) await this.library.addShare(s)
    const every = this.opts.stabilizeIntervalMs ?? 10_000
    if (every > 0) {
      this.stabilizer = setInterval(() => void this.stabilize(), every)
      this.stabilizer.unref()
    }
    this.log('info', `listening as ${this.id}, sharing ${this.library.size} files`)
    if (this.opts.tracker) this.useTracker(this.opts.tracker)
    if (this.opts.mdns) this.startMdns(this.opts.mdns === true ? {} : this.opts.mdns)
  }

  /** Start using a tracker (once; a later call is ignored). @throws ProtocolError for a bad address. */
  useTracker(address: string): TrackerClient {
    if (this.tracker) return this.tracker
    this.tracker = new TrackerClient(this, address, { register: this.opts.trackerRegister ?? true, connectTimeoutMs: this.dialOpts.connectTimeoutMs, transport: this.transport })
    this.tracker.start()
    const tc = this.tracker
    this.group?.startSync(() => requestText(tc.endpoint, MSG.TREV, '', this.dialOpts), () => tc.intervalMs)
    return this.tracker
  }

  private startMdns(o: MdnsOptions): void {
    this.mdns = new MdnsDiscovery({ role: 'node', peerId: this.id, port: this.port }, o)
    this.mdns.on('status', (st: { state: string; reason: string }) => this.log(st.state === 'ok' || st.state === 'off' ? 'info' : 'warn', `mDNS ${st.state}: ${st.reason}`))
    // A found node is joined like a --peer; a found tracker is used like --tracker.
    this.mdns.on('found', (f: MdnsFound) => {
      if (f.role === 'tracker') void this.useTracker(f.id)
      else if (!this.peers.has(f.id) && f.id !== this.id) void this.join(f.id, 1, 'mdns').catch((err) => this.log('debug', `mDNS: cannot join ${f.id}: ${errText(err)}`))
    })
    this.mdns.start()
  }

  /**
   * Leave cleanly: QUIT to every peer (in parallel, bounded by the connect timeout), stop
   * downloads, close the server.
   */
  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    if (this.stabilizer) clearInterval(this.stabilizer)
    this.group?.stop()
    for (const t of this.timers) clearTimeout(t)
    for (const s of this.searches.values()) this.finishSearch(s)
    for (const d of this.downloads.values()) d.cancel()
    await Promise.allSettled([this.tracker?.stop(), this.mdns?.stop()])
    await Promise.allSettled(this.peers.list().map((p) => request(p, MSG.QUIT, this.id, { connectTimeoutMs: 1000, idleTimeoutMs: 1000, transport: this.transport })))
    await Promise.allSettled([...this.downloads.values()].map(async (d) => {
      await d.start().catch(() => {})
      await d.close()
    }))
    await this.library.stop()
    await this.hasher.stop()
    await this.server.close()
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t)
      fn()
    }, ms)
    this.timers.add(t)
  }

  // ------------------------------------------------------------------ peer list (§3.1-3.3)

  /**
   * Join the network through a known address: NAME → JOIN → LIST, recursing into the listed
   * peers up to `hops` levels (btpeer's buildpeers), stopping at maxPeers.
   * @param address "host:port"
   * @returns peers added.
   * @throws ProtocolError for a malformed address; connect errors of the first peer.
   */
  async join(address: string, hops = this.opts.hops ?? 2, source: PeerSource = 'bootstrap'): Promise<number> {
    const a = parsePeerId(address)
    const before = this.peers.size
    await this.crawl(a, hops, source, true)
    return this.peers.size - before
  }

  private async crawl(to: Endpoint, hops: number, source: PeerSource, first = false): Promise<void> {
    if (this.peers.full || hops <= 0) return
    let id: string
    try {
      id = (await requestText(to, MSG.NAME, '', this.dialOpts)).trim()
      parsePeerId(id)
    } catch (err) {
      if (first) throw err
      this.log('warn', `crawl: ${to.host}:${to.port} did not answer NAME: ${errText(err)}`)
      return
    }
    if (id === this.id || this.peers.has(id)) return
    const join = await request(to, MSG.JOIN, formatJoin({ id: this.id, host: this.host, port: this.port }), this.dialOpts).catch((err) => {
      this.log('warn', `crawl: JOIN to ${id} failed: ${errText(err)}`)
      return null
    })
    const answer = join?.[0]
    if (!answer) return
    const text = answer.payload.toString('utf8')
    if (answer.type === MSG.ERRO && !text.includes('already inserted')) {
      this.log('warn', `crawl: ${id} refused JOIN: ${text}`)
      return
    }
    const peer = parsePeerId(id)
    if (this.peers.add({ id, host: peer.host, port: peer.port }, source) !== 'added') return
    void this.probe(id)
    const frames = await request(to, MSG.LIST, '', this.dialOpts).catch(() => [])
    for (const f of frames.slice(1, MAX_LIST_PEERS + 1)) {
      if (f.type !== MSG.REPL) continue
      try {
        const next = parseListLine(f.payload.toString('utf8'))
        if (next.id !== this.id && !this.peers.has(next.id)) await this.crawl(next, hops - 1, 'crawl')
      } catch (err) {
        this.log('warn', `crawl: bad LIST line from ${id}: ${errText(err)}`)
      }
    }
  }

  /**
   * Find out whether a peer speaks the p2ptube extensions (CAPS); a legacy peer closes without
   * replying (PROTOCOL.md §4.1). Caches the answer in the peer table.
   */
  async probe(id: string): Promise<boolean | undefined> {
    const p = this.peers.get(id)
    if (!p) return undefined
    if (p.extended !== undefined) return p.extended
    try {
      const frames = await request(p, MSG.CAPS, '', this.dialOpts)
      const f = frames[0]
      p.extended = f !== undefined && f.type === MSG.REPL && parseCaps(f.payload).proto === 'p2ptube'
    } catch (err) {
      this.log('debug', `probe of ${id} failed: ${errText(err)}`)
      return undefined
    }
    return p.extended
  }

  /**
   * Check every peer (NAME with the connect timeout); drop the ones that do not answer.
   * @returns ids of the peers dropped.
   */
  async stabilize(): Promise<string[]> {
    const dropped: string[] = []
    await Promise.all(
      this.peers.list().map(async (p) => {
        try {
          await requestText(p, MSG.NAME, '', { ...this.dialOpts, idleTimeoutMs: this.dialOpts.connectTimeoutMs })
          this.peers.touch(p.id)
          if (p.extended === undefined) void this.probe(p.id)
        } catch (err) {
          if (this.peers.remove(p.id, `not answering: ${errText(err)}`)) dropped.push(p.id)
        }
      })
    )
    return dropped
  }

  /** Remove a peer by id (the UI's "remove"). */
  removePeer(id: string): boolean {
    return this.peers.remove(id, 'removed by user')
  }

  // ------------------------------------------------------------------ search (§3.4, §4.2)

  /**
   * Flood a search to every peer: SRCH to p2ptube peers, QUER to legacy ones.
   * Results arrive as 'result' events on the handle until `timeoutMs`.
   * @param query words, all of which must occur in a name (case-insensitive).
   * @param opts ttl (default 4, capped at 7), timeoutMs (default 3000), cid: find holders of a content id.
   * @throws P2PTubeError ERR_QUERY_TOO_LONG over MAX_QUERY_LENGTH bytes.
   */
  search(query: string, opts: { ttl?: number; timeoutMs?: number; cid?: string } = {}): SearchHandle {
    if (Buffer.byteLength(query) > MAX_QUERY_LENGTH) throw new P2PTubeError('ERR_QUERY_TOO_LONG', `a search may be at most ${MAX_QUERY_LENGTH} bytes`)
    const ttl = Math.max(1, Math.min(opts.ttl ?? DEFAULT_TTL, MAX_TTL))
    const qid = randomBytes(QUERY_ID_BYTES).toString('hex')
    const handle = new SearchHandle(qid, query, legacyKeyOf(query), opts.cid)
    this.searches.set(qid, handle)
    this.seen.add(qid)
    const s: Search = { qid, origin: this.id, q: query, ttl, hops: 0, ...(opts.cid ? { cid: opts.cid } : {}) }
    // Indexed results from the tracker first (at once); the flood finds what it does not know.
    if (this.tracker && (query.trim() || opts.cid)) {
      void this.tracker.search(query, opts.cid).then(
        (rs) => rs.forEach((r) => !handle.done && this.addResult(handle, { qid, ...r })),
        (err) => this.log('debug', `tracker search failed: ${errText(err)}`)
      )
    }
    for (const p of this.peers.list()) void this.sendSearch(p, s)
    this.later(opts.timeoutMs ?? 3000, () => this.finishSearch(handle))
    return handle
  }

  private finishSearch(h: SearchHandle): void {
    if (h.done) return
    h.done = true
    this.searches.delete(h.qid)
    h.emit('done', h.results)
  }

  private async sendSearch(p: PeerInfo, s: Search): Promise<void> {
    try {
      const extended = p.extended ?? (await this.probe(p.id))
      if (extended) {
        await request(p, MSG.SRCH, formatSrch(s), this.dialOpts)
      } else if (extended === false && !s.cid) {
        const key = legacyKeyOf(s.q)
        if (key) await request(p, MSG.QUER, formatQuer({ returnId: s.origin, key, ttl: s.ttl }), this.dialOpts)
      }
    } catch (err) {
      this.log('debug', `search to ${p.id} failed: ${errText(err)}`)
    }
  }

  /** @see NodeContext.onSearch */
  onSearch(s: Search): 'new' | 'duplicate' {
    if (!this.seen.add(s.qid)) {
      this.stats.searchesDuplicate++
      this.emit('search', { qid: s.qid, duplicate: true, hops: s.hops })
      return 'duplicate'
    }
    this.stats.searchesHandled++
    this.emit('search', { qid: s.qid, duplicate: false, hops: s.hops })
    const found = !this.publishes ? [] : s.cid ? [this.library.getByCid(s.cid)] : this.library.search(s.q, MAX_HITS, true)
    const matches = found.filter((e) => e?.cid && Buffer.byteLength(e.name) <= MAX_NAME_LENGTH)
    if (matches.length) {
      // Keep the payload under the receiver's HITS limit (§2): drop results that do not fit.
      const results: Hits['results'] = []
      let bytes = 200
      for (const e of matches) {
        const r = { name: e!.name, size: e!.size, cid: e!.cid as string, kind: e!.kind }
        bytes += Buffer.byteLength(JSON.stringify(r)) + 1
        if (bytes > REQUEST_LIMITS.HITS) break
        results.push(r)
      }
      const hits: Hits = { qid: s.qid, holder: this.id, results }
      const origin = parsePeerId(s.origin)
      this.stats.hitsSent++
      void request(origin, MSG.HITS, formatHits(hits), this.dialOpts).catch((err) => this.log('warn', `HITS to ${s.origin} failed: ${errText(err)}`))
    }
    // TTL counts the hops a query may still travel: forward while ttl-1 >= 1 (Gnutella).
    if (s.ttl - 1 >= 1 && s.hops < MAX_HOPS) {
      const fwd: Search = { ...s, ttl: s.ttl - 1, hops: s.hops + 1 }
      for (const p of this.peers.list()) if (p.id !== s.origin) void this.sendSearch(p, fwd)
    }
    return 'new'
  }

  /** @see NodeContext.onLegacyQuery — legacy semantics: answer on a match, else forward with ttl-1. */
  onLegacyQuery(q: LegacyQuery): void {
    // Our own legacy query echoed back by a legacy peer (it forwards to every neighbour).
    if (q.returnId === this.id) return
    // Legacy queries carry no id: suppress repeats of the same origin+key for 10 s.
    if (!this.legacySeen.add(`${q.returnId}\n${q.key}`)) {
      this.stats.searchesDuplicate++
      return
    }
    this.stats.legacyQueriesHandled++
    const matches = (this.publishes ? this.library.search(q.key, MAX_LEGACY_RESPONSES) : []).filter((e) => Buffer.byteLength(e.name) * 3 + 300 < REQUEST_LIMITS.RESP)
    if (matches.length) {
      const to = parsePeerId(q.returnId)
      for (const e of matches) {
        void request(to, MSG.RESP, formatResp({ name: e.name, holder: this.id }), this.dialOpts).catch((err) => this.log('warn', `RESP to ${q.returnId} failed: ${errText(err)}`))
      }
      return
    }
    if (q.ttl > 0) {
      for (const p of this.peers.list()) {
        if (p.id === q.returnId) continue
        void request(p, MSG.QUER, formatQuer({ ...q, ttl: q.ttl - 1 }), this.dialOpts).catch((err) => this.log('debug', `QUER to ${p.id} failed: ${errText(err)}`))
      }
    }
  }

  /** @see NodeContext.onHits */
  onHits(h: Hits, remoteAddress: string): boolean {
    const handle = this.searches.get(h.qid)
    if (!handle || parsePeerId(h.holder).host !== normalizeAddress(remoteAddress)) return false
    for (const r of h.results) {
      if (handle.cid && r.cid !== handle.cid) continue
      this.addResult(handle, { qid: h.qid, name: r.name, size: r.size, contentId: r.cid, kind: r.kind, holder: h.holder, legacy: false })
    }
    return true
  }

  /** @see NodeContext.onLegacyResponse */
  onLegacyResponse(r: LegacyResponse, remoteAddress: string): boolean {
    if (parsePeerId(r.holder).host !== normalizeAddress(remoteAddress)) return false
    const name = r.name.toLowerCase()
    let accepted = false
    for (const h of this.searches.values()) {
      // A legacy peer matched one key; the result must still contain every word of the query.
      if (h.cid || !h.legacyKey || !h.query.toLowerCase().split(/\s+/).filter(Boolean).every((w) => name.includes(w))) continue
      accepted = true
      this.addResult(h, { qid: h.qid, name: r.name, size: null, contentId: null, kind: null, holder: r.holder, legacy: true })
    }
    return accepted
  }

  private addResult(h: SearchHandle, r: SearchResult): void {
    if (h.results.some((x) => x.holder === r.holder && x.name === r.name)) return
    if (h.results.length >= 1000) return
    h.results.push(r)
    h.emit('result', r)
  }

  // ------------------------------------------------------------------ fetch (§3.7, §4.4)

  /**
   * Start (or resume) a download. A search result is the usual input; `holders` are more holders
   * of the same content id, all used as sources (swarm; ignored for a legacy download).
   * @returns the Download; call `start()` on it to run it (it is also registered in `downloads`).
   * @throws P2PTubeError ERR_NO_CONTENT_ID for a p2ptube holder without a content id, ERR_BUSY
   *   when another download is writing the same partial file.
   */
  fetch(r: { name: string; holder: string; holders?: string[]; contentId?: string | null; size?: number | null; legacy?: boolean; dir?: string }): Download {
    const holder = parsePeerId(r.holder)
    const opts: DownloadOptions = {
      name: r.name,
      holder,
      legacy: r.legacy ?? !r.contentId,
      dir: r.dir ? path.resolve(r.dir) : this.downloadsDir,
      connectTimeoutMs: this.dialOpts.connectTimeoutMs,
      idleTimeoutMs: this.opts.idleTimeoutMs,
      transport: this.transport
    }
    if (r.contentId) opts.cid = r.contentId
    if (typeof r.size === 'number') opts.size = r.size
    const key = r.contentId ?? `${r.holder}/${r.name}`
    const addHolders = (d: Download): Download => {
      for (const h of r.holders ?? []) if (h !== r.holder) d.addSource(parsePeerId(h))
      return d
    }
    const existing = this.downloads.get(key)
    if (existing && (existing.state === 'downloading' || existing.state === 'queued')) return addHolders(existing)
    opts.hasher = this.hasher
    const d = new Download(opts)
    for (const other of this.downloads.values()) {
      if (other.partPath === d.partPath && (other.state === 'downloading' || other.state === 'verifying')) {
        throw new P2PTubeError('ERR_BUSY', `${other.fileName} is already being downloaded into ${other.partPath}`)
      }
    }
    addHolders(d)
    d.on('data', (_pos: number, n: number) => (this.stats.bytesDown += n))
    // Peers seed what they have watched: a verified download joins the library at once.
    d.once('done', (res: { path: string; sha256: string }) => {
      if (!r.contentId || !this.started || !this.publishes) return
      this.library.addVerified(res.path, r.contentId, d.swarm?.hashes ?? null).then(
        (e) => e && this.log('info', `now sharing ${e.name} (downloaded)`),
        (err) => this.log('warn', `cannot share ${res.path}: ${errText(err)}`)
      )
    })
    this.downloads.set(key, d)
    this.emit('download', d)
    return d
  }
}

export { P2PTubeError }
