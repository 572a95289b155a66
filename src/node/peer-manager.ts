/**
 * The node's peer list (docs/PROTOCOL.md §3.1-3.3, §3.9, btpeer-wire.md "Peer-list building"):
 * join and crawl (NAME → JOIN → LIST, recursing), the CAPS probe of every peer as it is added
 * (§4.1), the stabilizer that drops peers that stop answering, neighbour management between a
 * low and a high water mark (dial more below the low mark, repair the graph when a neighbour
 * leaves, prune the least useful neighbour to admit a newcomer at the high mark: the libp2p
 * connection manager's and Gnutella ultrapeers' idea), and QUIT to every peer when the node
 * leaves. Owns the PeerTable and turns its events into 'peer-added' and 'peer-removed'.
 */
import { EventEmitter } from 'node:events'
import { request, requestText, type ExchangeOptions } from '../net/client.ts'
import { MSG } from '../protocol/constants.ts'
import { parseCaps, parsePeerId } from '../protocol/messages.ts'
import { Crawl, JOIN_DEADLINE_MS } from './crawl.ts'
import { LinkManager } from './links.ts'
import type { SelfAddress } from './identity.ts'
import type { Lifecycle } from './lifecycle.ts'
import { PeerTable, type PeerInfo, type PeerSource } from './peer-table.ts'
import { errText, type Log } from './stats.ts'
import { isLoopback } from '../net/address.ts'

/** Neighbours a node dials on its own (the low water mark, PROTOCOL.md §3.9). */
export const DEFAULT_MIN_PEERS = 4
/** Most neighbours; JOINs are accepted up to it (the high water mark, PROTOCOL.md §3.9). */
export const DEFAULT_MAX_PEERS = 12
/** Most peer-table entries with one IP address (an eclipse defence, PROTOCOL.md §3.9). */
export const DEFAULT_MAX_PEERS_PER_HOST = 4
/** Addresses remembered from LISTs, for repair when every neighbour is gone. */
const KNOWN_ADDRESSES = 256

/** What a PeerManager is built from. Times in ms. */
export interface PeerManagerOptions {
  self: SelfAddress
  /**
   * false: a one-shot client (search, fetch): learn peers through NAME and LIST but never JOIN,
   * so it takes no slot in anyone's peer table (default true).
   */
  announce?: boolean
  /** Most peers, the high water mark (0 = unlimited). */
  maxPeers: number
  /** Neighbours to keep, the low water mark: join stops adding there, repair dials up to it (default DEFAULT_MIN_PEERS; 0 = join fills the table, no repair). */
  minPeers?: number
  /** Most entries per IP address (default DEFAULT_MAX_PEERS_PER_HOST; 0 = unlimited). */
  maxPeersPerHost?: number
  /** Hosts exempt from maxPeersPerHost (default: loopback, this machine's own processes). */
  exemptHost?(host: string): boolean
  /** Default crawl depth of join(). */
  hops: number
  /** A join's overall deadline (default JOIN_DEADLINE_MS). */
  joinDeadlineMs?: number
  /** How peers are dialled; carries the node's stop signal. */
  dial: ExchangeOptions & { connectTimeoutMs: number }
  life: Lifecycle
  log: Log
}

/** Events: 'peer-added' (PeerInfo), 'peer-removed' (PeerInfo, reason: string). */
export class PeerManager extends EventEmitter {
  readonly peers: PeerTable
  /** Persistent links to the neighbours that list LINK (§4.10): SRCH, HITS and the keepalive. */
  readonly links: LinkManager
  /** The low water mark (0 = none). */
  readonly minPeers: number
  /** Addresses seen in LISTs and joined through, newest last (repair's last resort). */
  private readonly known = new Set<string>()
  private repairing: Promise<number> | null = null

  constructor(private readonly opts: PeerManagerOptions) {
    super()
    this.minPeers = opts.minPeers ?? DEFAULT_MIN_PEERS
    this.peers = new PeerTable(opts.maxPeers, Date.now, { maxPerHost: opts.maxPeersPerHost ?? DEFAULT_MAX_PEERS_PER_HOST, exempt: opts.exemptHost ?? isLoopback })
    this.links = new LinkManager({ peers: this.peers, dial: opts.dial, life: opts.life, log: opts.log, enabled: opts.announce !== false })
    // A link that closes under the node: one NAME on a new connection says whether the neighbour is gone.
    this.links.on('link-lost', (id: string, why: string) => void this.check(id, `link lost (${why})`))
    this.peers.on('added', (p: PeerInfo) => {
      opts.log('info', `peer ${p.id} added (${p.source})`)
      // CAPS at once, on both sides of a JOIN: the first search does not wait for a probe.
      void this.probe(p.id)
      this.emit('peer-added', p)
    })
    this.peers.on('removed', (p: PeerInfo, reason: string) => {
      opts.log('info', `peer ${p.id} removed: ${reason}`)
      this.emit('peer-removed', p, reason)
      // Graph repair: a neighbour that left (QUIT, failed keepalive) is replaced from the others' LISTs.
      if (reason !== 'removed by user' && reason !== 'pruned' && this.below) this.opts.life.later(0, () => void this.repair().catch(() => {}))
    })
  }

  /** Fewer neighbours than the low water mark (and the node joins others: not a one-shot client). */
  private get below(): boolean {
    return this.opts.announce !== false && this.minPeers > 0 && this.peers.size < this.minPeers && !this.opts.life.stopped
  }

  /** Check every peer each `everyMs` ms until the node stops (0 = never); then dial more when below the low water mark. */
  startStabilizer(everyMs: number): void {
    if (everyMs > 0)
      this.opts.life.every(everyMs, () => {
        void this.stabilize().then(() => {
          if (this.below) void this.repair().catch(() => {})
        })
      })
  }

  /** Remember an address for repair (bounded, oldest forgotten first). */
  private remember(key: string): void {
    this.known.delete(key)
    this.known.add(key)
    if (this.known.size > KNOWN_ADDRESSES) this.known.delete(this.known.values().next().value as string)
  }

  /** A crawl run that stops adding peers at `target` (0: when the table is full). */
  private newCrawl(target: number): Crawl {
    const { self, dial, life, log } = this.opts
    const parts = { self, peers: this.peers, announce: this.opts.announce !== false, dial, life, log, remember: (key: string) => this.remember(key) }
    return new Crawl(parts, target, this.opts.joinDeadlineMs ?? JOIN_DEADLINE_MS)
  }

  /** Where a join's crawl stops adding peers: the low water mark (a one-shot client: the table's size). */
  private get joinTarget(): number {
    return this.opts.announce === false || this.minPeers === 0 ? 0 : this.minPeers
  }

  /**
   * Dial more neighbours until the low water mark: the LISTs of the current neighbours first
   * (in parallel, CRAWL_CONCURRENCY at once, under one JOIN_DEADLINE_MS deadline), then the
   * addresses remembered from earlier LISTs when no neighbour is left. One repair at a time.
   * @returns peers added.
   */
  repair(): Promise<number> {
    this.repairing ??= this.runRepair().finally(() => (this.repairing = null))
    return this.repairing
  }

  private async runRepair(): Promise<number> {
    const { self } = this.opts
    if (!this.below) return 0
    const before = this.peers.size
    const run = this.newCrawl(this.minPeers)
    try {
      for (const p of this.peers.list()) run.seen.add(`${p.host}:${p.port}`)
      for (const p of this.peers.list()) void run.queue.add(() => run.expand(p, p.id, 1))
      await run.done()
      if (this.below) {
        for (const key of [...this.known].reverse()) {
          if (run.seen.has(key) || self.isSelf(key)) continue
          run.seen.add(key)
          void run.queue.add(() => run.crawl(parsePeerId(key), 2, 'crawl'))
        }
        await run.done()
      }
    } finally {
      run.end()
    }
    const added = this.peers.size - before
    if (added > 0) this.opts.log('info', `repair: ${added} neighbours added (${this.peers.size} now)`)
    return added
  }

  /**
   * Make room for a newcomer's JOIN at the high water mark by pruning the least useful
   * neighbour: the one with the most neighbours of its own (known from its LIST), which keeps
   * more than the low water mark without this node; QUIT tells it. Never prunes a peer whose
   * LIST this node has not read (it might have no other neighbour).
   * @param dryRun only tell whether a peer could be pruned.
   * @returns whether there is (now) room.
   */
  makeRoom(dryRun = false): boolean {
    if (!this.peers.full) return true
    let victim: PeerInfo | undefined
    for (const p of this.peers.list()) {
      if (p.degree === undefined || p.degree <= Math.max(this.minPeers, 1)) continue
      if (!victim || p.degree > (victim.degree as number) || (p.degree === victim.degree && p.lastSeen < victim.lastSeen)) victim = p
    }
    if (!victim) return false
    if (dryRun) return true
    this.peers.remove(victim.id, 'pruned')
    const { self, dial } = this.opts
    const o = {
      connectTimeoutMs: dial.connectTimeoutMs,
      idleTimeoutMs: dial.connectTimeoutMs,
      ...(dial.transport ? { transport: dial.transport } : {}),
      ...(dial.signal ? { signal: dial.signal } : {})
    }
    void this.opts.life.track(request(victim, MSG.QUIT, (local) => self.idFor(local.address, local.remote), o)).catch(() => {})
    return true
  }

  /**
   * Join the network through a known address: NAME → JOIN → LIST, recursing into the listed
   * peers up to `hops` levels (btpeer's buildpeers), stopping at maxPeers.
   * @param address "host:port"
   * @returns peers added.
   * @throws ProtocolError for a malformed address; connect errors of the first peer; AbortError
   *   ERR_ABORTED once the node is stopping (also for a join in flight when it stops).
   */
  async join(address: string, hops = this.opts.hops, source: PeerSource = 'bootstrap'): Promise<number> {
    const { life } = this.opts
    life.assertOpen('join')
    const a = parsePeerId(address)
    const before = this.peers.size
    // One deadline for the whole crawl, and every request bounded by the connect timeout: a
    // peer that accepts and never answers costs seconds, not the 30 s idle timeout.
    const run = this.newCrawl(this.joinTarget)
    run.seen.add(`${a.host}:${a.port}`)
    this.remember(`${a.host}:${a.port}`)
    try {
      await life.track(run.crawl(a, hops, source, true))
      await run.done()
    } finally {
      run.end()
    }
    return this.peers.size - before
  }

  /**
   * Find out whether a peer speaks the p2ptube extensions (CAPS); a legacy peer closes without
   * replying (PROTOCOL.md §4.1). Caches the answer in the peer table.
   * @returns undefined for an unknown peer, a failed probe, or once the node is stopping.
   */
  async probe(id: string): Promise<boolean | undefined> {
    const p = this.peers.get(id)
    if (!p) return undefined
    if (p.extended !== undefined) return p.extended
    if (this.opts.life.stopped) return undefined
    try {
      const frames = await this.opts.life.track(request(p, MSG.CAPS, '', this.opts.dial))
      const f = frames[0]
      const caps = f !== undefined && f.type === MSG.REPL ? parseCaps(f.payload) : null
      p.extended = caps?.proto === 'p2ptube'
      p.link = caps?.features.includes(MSG.LINK) === true
      if (caps?.you) this.opts.self.observedAs(caps.you, id)
      if (p.link) void this.links.open(p)
    } catch (err) {
      this.opts.log('debug', `probe of ${id} failed: ${errText(err)}`)
      return undefined
    }
    return p.extended
  }

  /**
   * Check every peer (NAME with the connect timeout); drop the ones that do not answer. Nothing
   * once the node is stopping (a check cut short by the stop drops nobody).
   * @returns ids of the peers dropped.
   */
  async stabilize(): Promise<string[]> {
    const { dial, life } = this.opts
    const dropped: string[] = []
    if (life.stopped) return dropped
    await life.track(
      Promise.all(
        this.peers.list().map(async (p) => {
          try {
            // The keepalive: NAME on the neighbour's link (§4.10), or on a new connection.
            if (!(p.link && (await this.links.keepalive(p)))) await requestText(p, MSG.NAME, '', { ...dial, idleTimeoutMs: dial.connectTimeoutMs })
            this.peers.touch(p.id)
            if (p.extended === undefined) void this.probe(p.id)
          } catch (err) {
            if (!life.stopped && this.peers.remove(p.id, `not answering: ${errText(err)}`)) dropped.push(p.id)
          }
        })
      )
    )
    return dropped
  }

  /** Check one neighbour now (NAME on a new connection): drop it when it does not answer, else reopen its link. */
  private async check(id: string, why: string): Promise<void> {
    const { dial, life } = this.opts
    const p = this.peers.get(id)
    if (!p || life.stopped) return
    try {
      await life.track(requestText(p, MSG.NAME, '', { ...dial, idleTimeoutMs: dial.connectTimeoutMs }))
      this.peers.touch(id)
      void this.links.open(p)
    } catch (err) {
      if (!life.stopped) this.peers.remove(id, `${why}; not answering: ${errText(err)}`)
    }
  }

  /** Remove a peer by id (the UI's "remove"). */
  removePeer(id: string): boolean {
    return this.peers.remove(id, 'removed by user')
  }

  /**
   * Leave: QUIT to every peer in parallel, each bounded to `boundMs` (its own short timeouts: the
   * node's signal is already aborted when it leaves). Never rejects.
   */
  async quitAll(boundMs = 1000): Promise<void> {
    const { self, dial } = this.opts
    if (this.opts.announce === false) return // a one-shot client never joined anyone
    const o = { connectTimeoutMs: boundMs, idleTimeoutMs: boundMs, ...(dial.transport ? { transport: dial.transport } : {}) }
    await Promise.allSettled(this.peers.list().map((p) => request(p, MSG.QUIT, (local) => self.idFor(local.address, local.remote), o)))
    this.links.closeAll()
  }
}
