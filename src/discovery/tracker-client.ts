/**
 * A node's side of the tracker (docs/PROTOCOL.md §7, docs/TRACKER.md): register, announce the
 * library incrementally at the tracker's interval, bootstrap peers from it, ask it for holders
 * and keyword matches, unregister on a clean stop. A tracker that is down never stops the node:
 * it keeps its peers, retries every interval and registers again (with a full resend) when the
 * tracker answers that it does not know it.
 *
 * One file (over 300 lines): registration, incremental announces, re-registration, the mapped port
 * and the relayed/unreachable marks of search answers all depend on one registration state.
 * Candidate to move out next: the search-answer parsing (TFND/TWHO to SearchResult).
 */
import { EventEmitter } from 'node:events'
import { requestText, type Endpoint, type ExchangeOptions } from '../net/client.ts'
import type { Transport } from '../net/transport.ts'
import { isPublicAddress } from '../net/address.ts'
import { CONNECT_TIMEOUT_MS, MSG, TRACKER_PEERS_DEFAULT } from '../protocol/constants.ts'
import { errText, RemoteError } from '../protocol/errors.ts'
import { parsePeerId } from '../protocol/messages.ts'
import type { MediaMeta } from '../protocol/media-meta.ts'
import { formatAnnounce, parseAnnounceReply, parseHitList, parsePeerList, parseRegisterReply, type AnnouncedFile } from '../protocol/tracker-messages.ts'
import { announceDelta } from './announce-delta.ts'
import type { Discovery } from './discovery.ts'

/** What the client announces: the node's shared files and their change events. */
export interface SharedCatalog {
  /** Every shared file; entries without a content id yet are not announced. */
  entries(): Iterable<{ cid?: string | undefined; name: string; size: number; kind: string; meta?: MediaMeta | undefined }>
  /** 'added', 'hashed', 'removed' and 'meta' (tags read) fire when the catalog changes. */
  on(event: 'added' | 'hashed' | 'removed' | 'meta', listener: () => void): unknown
  off(event: 'added' | 'hashed' | 'removed' | 'meta', listener: () => void): unknown
}

/** What the client needs of its node. */
export interface TrackedNode {
  /** Own peer id "host:port". */
  readonly id: string
  /** Listening port. */
  readonly port: number
  /** The public id the home router maps to this node ("ip:port", port mapping), or null. */
  readonly identity?: { readonly mapped: string | null }
  readonly library: SharedCatalog
  readonly peers: { readonly full: boolean; has(id: string): boolean }
  readonly features: readonly string[]
  /** Is `id` this node (any of its addresses)? */
  isSelf(id: string): boolean
  /** The tracker reported seeing this node at `host`. */
  observedAs(host: string, by: string, trusted?: boolean): void
  /** The tracker said `peer` cannot be dialled (its dial-back check): try a route to it first (§7.10). */
  unreachable?(peer: string): void
  /** The tracker marked `peer` as reached through its relay (PROTOCOL.md §10.6), or a member's (§10.7). */
  relayedAt?(peer: string, relay: Endpoint): void
  /** Member relays this node holds a reservation on (peer ids), named in each TANN (§10.7). */
  relayIds?(): string[] | undefined
  /** The tracker listed member relays (peer ids) this node may reserve on (TANN reply, §10.7). */
  memberRelays?(relays: string[]): void
  /** Join a peer the tracker listed (one hop). */
  join(address: string, hops?: number, source?: 'tracker'): Promise<number>
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void
}

/** Client options; times in ms. */
export interface TrackerClientOptions {
  /** Register and announce (default true); false: only query (one-shot `search`/`fetch`). */
  register?: boolean
  /** Peers to ask for when bootstrapping (default 30). */
  bootstrapMax?: number
  /** Retry delay while the tracker is unreachable, before it told us an interval (default 5 000). */
  retryMs?: number
  connectTimeoutMs?: number
  idleTimeoutMs?: number
  /** How the tracker is dialled (group members: mutual TLS); default plain TCP. */
  transport?: Transport
  /**
   * Aborts every request in flight (register, announce, search, peer list: they reject with
   * AbortError) and stops the announce rounds; the node's stop signal. The unregister at stop()
   * does not carry it (it is bounded to 1 s on its own).
   */
  signal?: AbortSignal
}

/** A tracker result as a search result (see P2PNode SearchResult). */
export interface TrackerResult {
  name: string
  size: number
  contentId: string
  kind: string
  holder: string
  legacy: false
  /** The holder is reached through the tracker's relay (it cannot be dialled). */
  via?: 'relay'
  /** The tags the tracker holds for the file (§7.7). */
  meta?: MediaMeta
}

/** Connection state: `online` after a successful exchange, `down` after a failed one. */
export type TrackerState = 'idle' | 'online' | 'down' | 'stopped'

/**
 * Events: 'state' (TrackerState, reason), 'synced' (version: library fully announced),
 * 'registered' (the peer id the tracker gave: a control connection may be opened, §7.10).
 */
export class TrackerClient extends EventEmitter implements Discovery {
  readonly method = 'tracker'
  readonly endpoint: Endpoint
  state: TrackerState = 'idle'
  /** Announce interval the tracker asked for (ms); the retry delay until it has told us. */
  intervalMs: number
  /** Resolves once the first register/sync (or bootstrap query) attempt has finished. */
  ready: Promise<void> = Promise.resolve()
  private registered = false
  private ver = 0
  /** What the tracker holds for us (as far as we know): content id → file. */
  private readonly sent = new Map<string, AnnouncedFile>()
  private timer: NodeJS.Timeout | null = null
  private soon: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private stopping = false
  private readonly onLibrary = (): void => this.flushSoon()
  /** The port this node registered with (its peer id's port at the tracker); 0 before. */
  registeredPort = 0

  constructor(
    private readonly node: TrackedNode,
    readonly address: string,
    private readonly opts: TrackerClientOptions = {}
  ) {
    super()
    const a = parsePeerId(address)
    this.endpoint = { host: a.host, port: a.port }
    this.intervalMs = opts.retryMs ?? 5000
  }

  private get dial(): ExchangeOptions {
    const c = this.opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS
    return {
      connectTimeoutMs: c,
      idleTimeoutMs: this.opts.idleTimeoutMs ?? c * 2,
      ...(this.opts.transport ? { transport: this.opts.transport } : {}),
      ...(this.opts.signal ? { signal: this.opts.signal } : {})
    }
  }

  /**
   * The port peers dial this node on, as the tracker should record it (§7.2): the router's mapped
   * public port when the router maps one and the tracker is on the internet (it then sees the
   * router's address), else the listening port.
   */
  get advertisedPort(): number {
    const mapped = this.node.identity?.mapped
    if (mapped && isPublicAddress(this.endpoint.host)) return parsePeerId(mapped).port
    return this.node.port
  }

  /**
   * The port to advertise may have changed (a port mapping came or went): register again with
   * the new one (the old peer id is unregistered). Never throws.
   */
  portChanged(): void {
    if (!this.registered || this.advertisedPort === this.registeredPort || this.closed) return
    const old = this.registeredPort
    this.registered = false
    void requestText(this.endpoint, MSG.TBYE, JSON.stringify({ port: old }), this.dial).catch(() => {})
    void this.tick()
  }

  /** True once stop() has begun or the signal has aborted: no new round, no timer. */
  private get closed(): boolean {
    return this.state === 'stopped' || this.stopping || this.opts.signal?.aborted === true
  }

  /** Start: register + announce (or just bootstrap), then keep announcing. Never throws. */
  start(): void {
    if (this.opts.register === false) {
      this.ready = this.bootstrap().catch((err) => void (this.closed || this.setState('down', errText(err))))
      return
    }
    this.node.library.on('hashed', this.onLibrary)
    this.node.library.on('added', this.onLibrary)
    this.node.library.on('removed', this.onLibrary)
    this.node.library.on('meta', this.onLibrary)
    this.ready = this.tick()
  }

  /** Stop announcing; unregister at once when registered (bounded to 1 s). */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.stopping) return
    this.stopping = true
    this.node.library.off('hashed', this.onLibrary)
    this.node.library.off('added', this.onLibrary)
    this.node.library.off('removed', this.onLibrary)
    this.node.library.off('meta', this.onLibrary)
    if (this.timer) clearTimeout(this.timer)
    if (this.soon) clearTimeout(this.soon)
    this.timer = this.soon = null
    await this.running?.catch(() => {})
    const wasRegistered = this.registered
    this.registered = false
    this.setState('stopped', 'node stopping')
    if (wasRegistered) {
      await requestText(this.endpoint, MSG.TBYE, JSON.stringify({ port: this.registeredPort }), {
        connectTimeoutMs: 1000,
        idleTimeoutMs: 1000,
        ...(this.opts.transport ? { transport: this.opts.transport } : {})
      }).catch((err) => this.node.log('debug', `tracker: unregister failed: ${errText(err)}`))
    }
  }

  /**
   * Keyword search on the tracker (PROTOCOL.md §7.7), or holders of `cid` (§7.6).
   * @returns one result per (name, holder) for up to 5 holders of each match; self excluded.
   * @throws connection errors, RemoteError, ProtocolError for a bad reply.
   */
  async search(q: string, cid?: string): Promise<TrackerResult[]> {
    const text = cid ? await this.ask(MSG.TWHO, { cid }) : await this.ask(MSG.TFND, { q })
    const out: TrackerResult[] = []
    for (const h of parseHitList(Buffer.from(text), cid ? 'TWHO reply' : 'TFND reply')) {
      for (const p of h.unreachable ?? []) this.node.unreachable?.(p)
      for (const p of h.peers) {
        if (this.node.isSelf(p)) continue
        const member = h.via?.[p]
        const relayed = h.relayed?.includes(p) === true || member !== undefined
        if (relayed) this.node.relayedAt?.(p, member ? parsePeerId(member) : this.endpoint)
        out.push({ name: h.name, size: h.size, contentId: h.cid, kind: h.kind, holder: p, legacy: false, ...(relayed ? { via: 'relay' as const } : {}), ...(h.meta ? { meta: h.meta } : {}) })
      }
    }
    return out
  }

  /** Peer ids from the tracker (§7.5), self excluded. @throws as search(). */
  async peerList(max = this.opts.bootstrapMax ?? TRACKER_PEERS_DEFAULT): Promise<string[]> {
    const text = await this.ask(MSG.TPRS, this.registered ? { port: this.registeredPort, max } : { max })
    return parsePeerList(Buffer.from(text)).filter((p) => !this.node.isSelf(p))
  }

  private async ask(type: string, body: object | string): Promise<string> {
    try {
      const text = await requestText(this.endpoint, type, typeof body === 'string' ? body : JSON.stringify(body), this.dial)
      if (this.state === 'down' || this.state === 'idle') this.setState('online', 'answered')
      return text
    } catch (err) {
      if (!(err instanceof RemoteError) && !this.closed) this.setState('down', errText(err))
      throw err
    }
  }

  /** Join the tracker's peers we do not know yet (one hop each: the tracker already spreads them). */
  private async bootstrap(): Promise<void> {
    if (this.node.peers.full) return
    const ids = (await this.peerList()).filter((p) => !this.node.peers.has(p))
    await Promise.all(ids.map((p) => this.node.join(p, 1, 'tracker').catch((err) => this.node.log('debug', `tracker: cannot join ${p}: ${errText(err)}`))))
  }

  private schedule(ms: number): void {
    if (this.closed) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = setTimeout(() => void this.tick(), ms)
    this.timer.unref()
  }

  /** Announce within 250 ms (something the TANN carries changed: a member relay reservation, §10.7). */
  announceSoon(): void {
    this.flushSoon()
  }

  private flushSoon(): void {
    if (this.soon || this.closed || !this.registered) return
    this.soon = setTimeout(() => {
      this.soon = null
      void this.tick()
    }, 250)
    this.soon.unref()
  }

  /** One announce round; rounds never overlap. */
  private tick(): Promise<void> {
    if (this.running) return this.running
    if (this.closed) return Promise.resolve()
    this.running = this.round()
      .catch((err) => {
        if (!this.closed) this.setState('down', errText(err))
      })
      .finally(() => {
        this.running = null
        this.schedule(this.intervalMs)
      })
    return this.running
  }

  private async round(): Promise<void> {
    for (let attempt = 0; attempt < 64 && !this.closed; attempt++) {
      if (!this.registered) await this.register()
      const { add, remove } = announceDelta(this.node.library.entries(), this.sent)
      const relays = this.node.relayIds?.()
      const a = { port: this.registeredPort, base: this.ver, seq: add.length || remove.length ? this.ver + 1 : this.ver, add, remove, ...(relays ? { relays } : {}) }
      let text: string
      try {
        text = await this.ask(MSG.TANN, formatAnnounce(a))
      } catch (err) {
        if (err instanceof RemoteError && err.remoteCode === 'ERR_RATE_LIMITED') {
          await new Promise((r) => setTimeout(r, Math.min(this.intervalMs, 1000)))
          continue
        }
        throw err
      }
      const reply = parseAnnounceReply(Buffer.from(text))
      if ('register' in reply) {
        this.node.log('info', `tracker ${this.address} does not know us (restarted or expired us): registering again`)
        this.registered = false
        continue
      }
      if ('resync' in reply) {
        this.ver = 0
        this.sent.clear()
        continue
      }
      this.intervalMs = reply.interval
      if (reply.relays) this.node.memberRelays?.(reply.relays)
      // The tracker applies removes first, then adds (a rename is both).
      for (const c of remove) this.sent.delete(c)
      for (const f of add) this.sent.set(f.cid, f)
      this.ver = reply.seq
      const more = announceDelta(this.node.library.entries(), this.sent)
      if (!more.add.length && !more.remove.length) {
        this.emit('synced', this.ver)
        return
      }
    }
  }

  private async register(): Promise<void> {
    const port = this.advertisedPort
    const text = await this.ask(MSG.TREG, { port, features: this.node.features })
    const r = parseRegisterReply(Buffer.from(text))
    this.registered = true
    this.registeredPort = port
    this.ver = 0
    this.sent.clear()
    this.intervalMs = r.interval
    // The tracker names us by the address it sees (behind NAT: the router's): others dial that.
    if (!this.node.isSelf(r.peer)) this.node.log('info', `tracker ${this.address} sees this node as ${r.peer}: peers will dial ${r.peer}`)
    this.node.observedAs(parsePeerId(r.peer).host, `tracker ${this.address}`, true)
    this.node.log('info', `registered with tracker ${this.address} (announce every ${r.interval / 1000} s)`)
    this.emit('registered', r.peer)
    void this.bootstrap().catch((err) => this.node.log('debug', `tracker bootstrap failed: ${errText(err)}`))
  }

  private setState(state: TrackerState, reason: string): void {
    if (this.state === state || this.state === 'stopped') return
    const was = this.state
    this.state = state
    if (state === 'down') {
      this.node.log('warn', `tracker ${this.address} unreachable (${reason}); keeping current peers, retrying every ${this.intervalMs / 1000} s`)
    } else if (state === 'online' && was === 'down') this.node.log('info', `tracker ${this.address} is back`)
    this.emit('state', state, reason)
  }
}
