/**
 * The node's peer list (docs/PROTOCOL.md §3.1-3.3, btpeer-wire.md "Peer-list building"): join
 * and crawl (NAME → JOIN → LIST, recursing), the CAPS probe (§4.1), the stabilizer that drops
 * peers that stop answering, and QUIT to every peer when the node leaves. Owns the PeerTable and
 * turns its events into 'peer-added' and 'peer-removed'.
 */
import { EventEmitter } from 'node:events'
import PQueue from 'p-queue'
import { request, requestText, type Endpoint, type ExchangeOptions, type LocalEnd } from '../net/client.ts'
import { MAX_LIST_PEERS, MSG } from '../protocol/constants.ts'
import { parseErrorPayload } from '../protocol/errors.ts'
import { formatJoin, parseCaps, parseListLine, parsePeerId } from '../protocol/messages.ts'
import type { SelfAddress } from './identity.ts'
import type { Lifecycle } from './lifecycle.ts'
import { PeerTable, type PeerInfo, type PeerSource } from './peer-table.ts'
import { errText, type Log } from './stats.ts'

/** Peers a join crawls at once. */
export const CRAWL_CONCURRENCY = 8
/** A join ends by then, ms, with whatever peers it found (a crawl of hung peers cannot stall it). */
export const JOIN_DEADLINE_MS = 10_000

/** One join's crawl: its queue of branches, its dial options (deadline signal), addresses seen. */
interface CrawlRun {
  queue: PQueue
  dial: ExchangeOptions & { connectTimeoutMs: number }
  seen: Set<string>
}

/** What a PeerManager is built from. Times in ms. */
export interface PeerManagerOptions {
  self: SelfAddress
  /**
   * false: a one-shot client (search, fetch): learn peers through NAME and LIST but never JOIN,
   * so it takes no slot in anyone's peer table (default true).
   */
  announce?: boolean
  /** Most peers (0 = unlimited). */
  maxPeers: number
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

  constructor(private readonly opts: PeerManagerOptions) {
    super()
    this.peers = new PeerTable(opts.maxPeers)
    this.peers.on('added', (p: PeerInfo) => {
      opts.log('info', `peer ${p.id} added (${p.source})`)
      this.emit('peer-added', p)
    })
    this.peers.on('removed', (p: PeerInfo, reason: string) => {
      opts.log('info', `peer ${p.id} removed: ${reason}`)
      this.emit('peer-removed', p, reason)
    })
  }

  /** Check every peer each `everyMs` ms until the node stops (0 = never). */
  startStabilizer(everyMs: number): void {
    if (everyMs > 0) this.opts.life.every(everyMs, () => void this.stabilize())
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
    const { life, dial } = this.opts
    life.assertOpen('join')
    const a = parsePeerId(address)
    const before = this.peers.size
    // One deadline for the whole crawl, and every request bounded by the connect timeout: a
    // peer that accepts and never answers costs seconds, not the 30 s idle timeout.
    const deadline = new AbortController()
    const timer = setTimeout(() => deadline.abort(), this.opts.joinDeadlineMs ?? JOIN_DEADLINE_MS)
    const onStop = (): void => deadline.abort()
    life.signal.addEventListener('abort', onStop, { once: true })
    const run: CrawlRun = {
      queue: new PQueue({ concurrency: CRAWL_CONCURRENCY }),
      dial: { ...dial, idleTimeoutMs: dial.connectTimeoutMs, signal: deadline.signal },
      seen: new Set([`${a.host}:${a.port}`])
    }
    try {
      await life.track(this.crawl(a, hops, source, run, true))
      await life.track(run.queue.onIdle())
    } finally {
      clearTimeout(timer)
      life.signal.removeEventListener('abort', onStop)
      run.queue.clear()
    }
    return this.peers.size - before
  }

  private async crawl(to: Endpoint, hops: number, source: PeerSource, run: CrawlRun, first = false): Promise<void> {
    const { self, life, log } = this.opts
    const dial = run.dial
    if (this.peers.full || hops <= 0 || dial.signal?.aborted) return
    let id: string
    try {
      id = (await requestText(to, MSG.NAME, '', dial)).trim()
      parsePeerId(id)
    } catch (err) {
      if (first) throw err
      if (!dial.signal?.aborted) log('warn', `crawl: ${to.host}:${to.port} did not answer NAME: ${errText(err)}`)
      return
    }
    if (self.isSelf(id) || this.peers.has(id) || (this.peers.full && !first)) return
    const peer = parsePeerId(id)
    if (this.opts.announce !== false) {
      // The JOIN names this node by the address of this very connection: the interface that
      // reaches the peer, which is also the address the peer sees (and checks) on the socket.
      const joinAs = (local: LocalEnd): string => {
        const me = parsePeerId(self.idFor(local.address, local.remote))
        return formatJoin({ id: me.id, host: me.host, port: me.port })
      }
      const join = await request(to, MSG.JOIN, joinAs, dial).catch((err) => {
        if (first && life.stopped) throw err
        log('warn', `crawl: JOIN to ${id} failed: ${errText(err)}`)
        return null
      })
      const answer = join?.[0]
      if (!answer || dial.signal?.aborted) return
      const text = answer.payload.toString('utf8')
      const code = answer.type === MSG.ERRO ? parseErrorPayload(text).code : undefined
      if (answer.type === MSG.ERRO && code !== 'ERR_PEER_EXISTS') {
        // A full peer still knows others: its LIST is read below, so the joiner is not left alone.
        log(code === 'ERR_PEERS_FULL' ? 'info' : 'warn', `crawl: ${id} refused JOIN: ${text}`)
        if (code !== 'ERR_PEERS_FULL') return
      } else {
        const added = this.peers.add({ id, host: peer.host, port: peer.port }, source)
        if (added === 'added') void this.probe(id)
        // Filled meanwhile by a parallel branch of the crawl: leave, so neither side holds half a link.
        else if (added === 'full') void request(to, MSG.QUIT, (local) => self.idFor(local.address, local.remote), dial).catch(() => {})
      }
    } else if (this.peers.add({ id, host: peer.host, port: peer.port }, source) === 'added') void this.probe(id)
    if (!this.peers.has(id) && this.peers.full) return
    if (hops <= 1) return
    const frames = await request(to, MSG.LIST, '', dial).catch(() => [])
    for (const f of frames.slice(1, MAX_LIST_PEERS + 1)) {
      if (f.type !== MSG.REPL || dial.signal?.aborted) continue
      try {
        const next = parseListLine(f.payload.toString('utf8'))
        const key = `${next.host}:${next.port}`
        if (self.isSelf(next.id) || this.peers.has(next.id) || run.seen.has(key)) continue
        run.seen.add(key)
        // Branches run in parallel (CRAWL_CONCURRENCY at once) under the join's one deadline.
        void run.queue.add(() => this.crawl(next, hops - 1, 'crawl', run))
      } catch (err) {
        log('warn', `crawl: bad LIST line from ${id}: ${errText(err)}`)
      }
    }
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
      if (caps?.you) this.opts.self.observedAs(caps.you, id)
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
            await requestText(p, MSG.NAME, '', { ...dial, idleTimeoutMs: dial.connectTimeoutMs })
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
  }
}
