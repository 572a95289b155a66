/**
 * One crawl of the peer graph (docs/PROTOCOL.md §3.3, §3.9; btpeer's buildpeers): NAME → JOIN →
 * LIST, recursing into listed peers, in parallel (CRAWL_CONCURRENCY at once) under one deadline
 * for the whole run, every request bounded by the connect timeout. A join runs one from its
 * bootstrap address; a repair runs one from the LISTs of the current neighbours. A peer that
 * refuses the JOIN as full is passed through at no hop's cost, so a newcomer whose bootstrap
 * and its neighbours are full still finds room. The run stops adding peers at its target.
 */
import { setMaxListeners } from 'node:events'
import PQueue from 'p-queue'
import { request, requestText, type Endpoint, type ExchangeOptions, type LocalEnd } from '../net/client.ts'
import { MAX_LIST_PEERS, MSG } from '../protocol/constants.ts'
import { parseErrorPayload } from '../protocol/errors.ts'
import { formatJoin, parseListLine, parsePeerId } from '../protocol/messages.ts'
import type { SelfAddress } from './identity.ts'
import type { Lifecycle } from './lifecycle.ts'
import type { PeerSource, PeerTable } from './peer-table.ts'
import { errText, type Log } from './stats.ts'

/** Peers a crawl dials at once. */
export const CRAWL_CONCURRENCY = 8
/** A crawl ends by then, ms, with whatever peers it found (a crawl of hung peers cannot stall it). */
export const JOIN_DEADLINE_MS = 10_000

/** What a crawl works with (the PeerManager's parts). */
export interface CrawlParts {
  self: SelfAddress
  peers: PeerTable
  /** false: a one-shot client: learn peers without JOIN. */
  announce: boolean
  dial: ExchangeOptions & { connectTimeoutMs: number }
  life: Lifecycle
  log: Log
  /** Remember an address seen in a LIST (for later repair). */
  remember(key: string): void
}

/** One crawl run. */
export class Crawl {
  readonly queue = new PQueue({ concurrency: CRAWL_CONCURRENCY })
  /** Addresses ("host:port") dialled or queued in this run: each once. */
  readonly seen = new Set<string>()
  readonly dial: ExchangeOptions & { connectTimeoutMs: number }
  private readonly deadline = new AbortController()
  private readonly timer: NodeJS.Timeout
  private readonly onStop = (): void => this.deadline.abort()

  /**
   * @param target table size at which the run stops adding peers (0 = only when the table is full).
   * @param deadlineMs the whole run's deadline.
   */
  constructor(
    private readonly parts: CrawlParts,
    readonly target: number,
    deadlineMs = JOIN_DEADLINE_MS
  ) {
    setMaxListeners(0, this.deadline.signal) // CRAWL_CONCURRENCY requests at once
    this.timer = setTimeout(this.onStop, deadlineMs)
    parts.life.signal.addEventListener('abort', this.onStop, { once: true })
    this.dial = { ...parts.dial, idleTimeoutMs: parts.dial.connectTimeoutMs, signal: this.deadline.signal }
  }

  /** Wait for every branch (tracked by the node's lifecycle). */
  async done(): Promise<void> {
    await this.parts.life.track(this.queue.onIdle())
  }

  /** Release the deadline timer and drop queued branches. */
  end(): void {
    clearTimeout(this.timer)
    this.parts.life.signal.removeEventListener('abort', this.onStop)
    this.queue.clear()
  }

  /** Does the run stop adding peers now? */
  enough(): boolean {
    return this.parts.peers.full || (this.target > 0 && this.parts.peers.size >= this.target)
  }

  /**
   * Crawl from `to` with `hops` levels left (`first`: the join's own address, whose errors are
   * thrown and which is joined even when the run has enough).
   * @throws only for `first`: its NAME error; AbortError once the node is stopping.
   */
  async crawl(to: Endpoint, hops: number, source: PeerSource, first = false): Promise<void> {
    const { self, life, log } = this.parts
    const dial = this.dial
    // The first peer of a join is always joined (unless the table is full); the crawl's others up to the run's target.
    if ((!first && this.enough()) || hops <= 0 || dial.signal?.aborted) return
    let id: string
    try {
      id = (await requestText(to, MSG.NAME, '', dial)).trim()
      parsePeerId(id)
    } catch (err) {
      if (first) throw err
      if (!dial.signal?.aborted) log('warn', `crawl: ${to.host}:${to.port} did not answer NAME: ${errText(err)}`)
      return
    }
    if (self.isSelf(id) || (!first && (this.parts.peers.has(id) || this.enough())) || (this.parts.peers.full && !this.parts.peers.has(id))) return
    const peer = parsePeerId(id)
    if (this.parts.peers.has(id)) {
      // Joining a known neighbour again: only its LIST is read (its degree, its neighbours).
    } else if (this.parts.peers.hostFull(peer.host)) {
      // Peers per host (an eclipse defence): no JOIN to one more port of that host; its LIST may still lead elsewhere.
      log('debug', `crawl: not joining ${id}: ${this.parts.peers.maxPerHost} peers at ${peer.host} already`)
    } else if (this.parts.announce !== false) {
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
        const full = code === 'ERR_PEERS_FULL' || code === 'ERR_TOO_MANY_PEERS'
        log(full ? 'info' : 'warn', `crawl: ${id} refused JOIN: ${text}`)
        if (!full) return
        // Passing through a full peer costs no hop: the crawl goes on to its neighbours until it
        // finds room (each address once, under the run's deadline, until the target is met).
        return this.enough() ? undefined : this.expand(to, id, hops)
      } else {
        const added = this.parts.peers.add({ id, host: peer.host, port: peer.port }, source)
        // Filled meanwhile by a parallel branch of the crawl: leave, so neither side holds half a link.
        if (added === 'full' || added === 'host-full') void request(to, MSG.QUIT, (local) => self.idFor(local.address, local.remote), dial).catch(() => {})
      }
    } else this.parts.peers.add({ id, host: peer.host, port: peer.port }, source)
    // The first peer's LIST is read even when the run has enough: its degree and addresses serve pruning and repair.
    if (hops <= 1 || (this.enough() && !first)) return
    await this.expand(to, id, hops - 1)
  }

  /**
   * Read the LIST of `to` (peer id `id`): note its degree, remember the addresses, and crawl
   * the ones not known yet with `hops` left, in parallel under the run's deadline.
   */
  async expand(to: Endpoint, id: string, hops: number): Promise<void> {
    const { self, log } = this.parts
    const dial = this.dial
    const frames = await request(to, MSG.LIST, '', dial).catch(() => [])
    const lines = frames.slice(1, MAX_LIST_PEERS + 1).filter((f) => f.type === MSG.REPL)
    const known = this.parts.peers.get(id)
    if (known && frames[0]?.type === MSG.REPL) known.degree = lines.length
    for (const f of lines) {
      if (dial.signal?.aborted) return
      try {
        const next = parseListLine(f.payload.toString('utf8'))
        const key = `${next.host}:${next.port}`
        if (self.isSelf(next.id)) continue
        this.parts.remember(key)
        if (this.parts.peers.has(next.id) || this.seen.has(key)) continue
        this.seen.add(key)
        // Branches run in parallel (CRAWL_CONCURRENCY at once) under the run's one deadline.
        void this.queue.add(() => this.crawl(next, hops, 'crawl'))
      } catch (err) {
        log('warn', `crawl: bad LIST line from ${id}: ${errText(err)}`)
      }
    }
  }
}
