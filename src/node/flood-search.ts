/**
 * Flood search (docs/PROTOCOL.md §3.4, §4.2): SRCH with a query id and a TTL to p2ptube peers,
 * QUER to legacy ones (btpeer-wire.md "Query"), a seen-set so each node handles a query once,
 * HITS (or legacy RESP) straight back to the origin, and forwarding while the TTL lasts. An
 * indexed source (the tracker) is asked first when there is one.
 */
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { request, type Endpoint, type ExchangeOptions, type LocalEnd, type Payload } from '../net/client.ts'
import { normalizeAddress } from '../net/address.ts'
import {
  DEFAULT_TTL,
  LEGACY_REPEAT_MS,
  MAX_HITS,
  MAX_HOPS,
  MAX_LEGACY_RESPONSES,
  MAX_NAME_LENGTH,
  MAX_QUERY_LENGTH,
  MAX_TTL,
  MSG,
  QUERY_ID_BYTES,
  SEEN_SET_SIZE,
  SEEN_TTL_MS
} from '../protocol/constants.ts'
import { REQUEST_LIMITS } from '../protocol/table.ts'
import { P2PTubeError } from '../protocol/errors.ts'
import { formatHits, formatQuer, formatResp, formatSrch, parsePeerId, type Hits, type LegacyQuery, type LegacyResponse, type Search } from '../protocol/messages.ts'
import type { NodeContext } from './context.ts'
import type { Library, LibraryEntry } from './library.ts'
import { fitHits } from './hit-list.ts'
import { searchEntries } from './query.ts'
import type { SelfAddress } from './identity.ts'
import type { Lifecycle } from './lifecycle.ts'
import type { PeerInfo, PeerTable } from './peer-table.ts'
import { SeenSet } from './seen-set.ts'
import { errText, type Log, type NodeStats } from './stats.ts'
import { SearchHandle, legacyKeyOf, type SearchOptions, type SearchResult } from './search-handle.ts'

export { legacyKeyOf, SearchHandle, type SearchOptions, type SearchResult } from './search-handle.ts'

/** An index that answers at once (the tracker client), results without a query id. */
export interface IndexedSearch {
  search(q: string, cid?: string): Promise<Array<Omit<SearchResult, 'qid'>>>
}

/** What a FloodSearch is built from. */
export interface FloodSearchOptions {
  self: SelfAddress
  peers: PeerTable
  /** Whether a peer speaks SRCH (the PeerManager's CAPS probe). */
  probe(id: string): Promise<boolean | undefined>
  library: Library
  /** false: answer nothing (a group member without the publish right). */
  publishes(): boolean
  /** The index to ask first, if any. */
  indexed(): IndexedSearch | null
  stats: NodeStats
  /** How peers are dialled; carries the node's stop signal. */
  dial: ExchangeOptions
  /** Neighbour links (§4.10): SRCH and HITS go on them when open, else on their own connection. */
  links?: { request(to: Endpoint & { id?: string }, type: string, payload: Payload): Promise<unknown> }
  life: Lifecycle
  log: Log
}

/** Events: 'search' ({ qid, duplicate, hops }) for every SRCH that arrives. */
export class FloodSearch extends EventEmitter implements Pick<NodeContext, 'onSearch' | 'onLegacyQuery' | 'onHits' | 'onLegacyResponse'> {
  private readonly seen = new SeenSet(SEEN_SET_SIZE, SEEN_TTL_MS)
  private readonly legacySeen = new SeenSet(SEEN_SET_SIZE, LEGACY_REPEAT_MS)
  private readonly searches = new Map<string, SearchHandle>()

  constructor(private readonly opts: FloodSearchOptions) {
    super()
  }

  /**
   * Flood a search to every peer: SRCH to p2ptube peers, QUER to legacy ones.
   * Results arrive as 'result' events on the handle until `timeoutMs`.
   * @param query words, all of which must occur in a name (case-insensitive).
   * @throws P2PTubeError ERR_QUERY_TOO_LONG over MAX_QUERY_LENGTH bytes; AbortError ERR_ABORTED
   *   once the node is stopping.
   */
  search(query: string, opts: SearchOptions = {}): SearchHandle {
    const { life, log } = this.opts
    life.assertOpen('search')
    if (Buffer.byteLength(query) > MAX_QUERY_LENGTH) throw new P2PTubeError('ERR_QUERY_TOO_LONG', `a search may be at most ${MAX_QUERY_LENGTH} bytes`)
    const ttl = Math.max(1, Math.min(opts.ttl ?? DEFAULT_TTL, MAX_TTL))
    const qid = randomBytes(QUERY_ID_BYTES).toString('hex')
    const handle = new SearchHandle(qid, query, legacyKeyOf(query), opts.cid)
    this.searches.set(qid, handle)
    this.seen.add(qid)
    // origin '' = this node: each SRCH carries the address of the connection it leaves on.
    const s: Search = { qid, origin: '', q: query, ttl, hops: 0, ...(opts.cid ? { cid: opts.cid } : {}) }
    // Indexed results from the tracker first (at once); the flood finds what it does not know.
    const index = this.opts.indexed()
    if (index && (query.trim() || opts.cid)) {
      void life.track(index.search(query, opts.cid)).then(
        (rs) => rs.forEach((r) => !handle.done && this.addResult(handle, { qid, ...r })),
        (err) => log('debug', `tracker search failed: ${errText(err)}`)
      )
    }
    for (const p of this.opts.peers.list()) void this.sendSearch(p, s)
    life.later(opts.timeoutMs ?? 3000, () => this.finish(handle))
    if (opts.untilQuietMs !== undefined) this.endWhenQuiet(handle, opts.untilQuietMs)
    return handle
  }

  /**
   * Finish `h` once answers stop: each result pushes the end to now + max(quietMs, time since the
   * search began), so a network whose answers take long gets a long quiet period.
   */
  private endWhenQuiet(h: SearchHandle, quietMs: number): void {
    const t0 = performance.now()
    let timer: NodeJS.Timeout | null = null
    const arm = (): void => {
      if (timer) clearTimeout(timer)
      timer = setTimeout(() => this.finish(h), Math.max(quietMs, performance.now() - t0))
      timer.unref()
    }
    h.on('result', arm)
    h.once('done', () => timer && clearTimeout(timer))
  }

  /** End every open search now (their 'done' fires): the node is stopping. */
  finishAll(): void {
    for (const h of this.searches.values()) this.finish(h)
  }

  private finish(h: SearchHandle): void {
    if (h.done) return
    h.done = true
    this.searches.delete(h.qid)
    h.emit('done', h.results)
  }

  /**
   * One request of the flood, tracked (so a stop can wait for it) and never rejecting. SRCH and
   * HITS go on the neighbour's link when there is one (§4.10); legacy QUER and RESP never do.
   */
  private send(to: Endpoint & { id?: string }, type: string, payload: Payload, level: 'debug' | 'warn', what: string): Promise<void> {
    const links = this.opts.links
    const sent = links && (type === MSG.SRCH || type === MSG.HITS) ? links.request(to, type, payload) : request(to, type, payload, this.opts.dial)
    return this.opts.life.track(sent).then(
      () => {},
      (err) => this.opts.log(this.opts.life.stopped ? 'debug' : level, `${what} failed: ${errText(err)}`)
    )
  }

  private async sendSearch(p: PeerInfo, s: Search): Promise<void> {
    const extended = p.extended ?? (await this.opts.probe(p.id))
    const origin = (local: LocalEnd): string => s.origin || this.opts.self.idFor(local.address, local.remote)
    if (extended) {
      // `via` names this node on this connection, so the receiver does not send the query back.
      const srch = (local: LocalEnd): string => formatSrch({ ...s, origin: origin(local), via: this.opts.self.idFor(local.address, local.remote) })
      await this.send(p, MSG.SRCH, srch, 'debug', `search to ${p.id}`)
    } else if (extended === false && !s.cid) {
      const key = legacyKeyOf(s.q)
      if (key) await this.send(p, MSG.QUER, (local) => formatQuer({ returnId: origin(local), key, ttl: s.ttl }), 'debug', `search to ${p.id}`)
    }
  }

  /** @see NodeContext.onSearch */
  onSearch(s: Search): 'new' | 'duplicate' {
    const { stats } = this.opts
    if (!this.seen.add(s.qid)) {
      stats.searchesDuplicate++
      this.emit('search', { qid: s.qid, duplicate: true, hops: s.hops })
      return 'duplicate'
    }
    stats.searchesHandled++
    this.emit('search', { qid: s.qid, duplicate: false, hops: s.hops })
    const { matches, total } = this.match(s)
    if (matches.length) {
      const results = fitHits(matches, REQUEST_LIMITS.HITS)
      stats.hitsSent++
      const cut = total > results.length ? { total } : {}
      const holder = (local: LocalEnd): Hits => ({ qid: s.qid, holder: this.opts.self.idFor(local.address, local.remote), results, ...cut })
      void this.send(parsePeerId(s.origin), MSG.HITS, (local) => formatHits(holder(local)), 'warn', `HITS to ${s.origin}`)
    }
    // TTL counts the hops a query may still travel: forward while ttl-1 >= 1 (Gnutella).
    if (s.ttl - 1 >= 1 && s.hops < MAX_HOPS) {
      const fwd: Search = { ...s, ttl: s.ttl - 1, hops: s.hops + 1 }
      // Never back to the origin or to the peer this copy came from (Gnutella: not on the arrival connection).
      for (const p of this.opts.peers.list()) if (p.id !== s.origin && p.id !== s.via) void this.sendSearch(p, fwd)
    }
    return 'new'
  }

  /**
   * What this node answers to `s`: the entry of its content id, or the best MAX_HITS entries with
   * a content id for its query (query.ts, PROTOCOL.md §4.2.1); `total` = all that matched.
   */
  private match(s: Search): { matches: LibraryEntry[]; total: number } {
    const { library } = this.opts
    if (!this.opts.publishes()) return { matches: [], total: 0 }
    if (s.cid) {
      const e = library.getByCid(s.cid)
      return e && Buffer.byteLength(e.name) <= MAX_NAME_LENGTH ? { matches: [e], total: 1 } : { matches: [], total: 0 }
    }
    const hashed = library.entries().filter((e) => e.cid && Buffer.byteLength(e.name) <= MAX_NAME_LENGTH)
    const { results, total } = searchEntries(hashed, s.q, MAX_HITS)
    return { matches: results, total }
  }

  /** @see NodeContext.onLegacyQuery — legacy semantics: answer on a match, else forward with ttl-1. */
  onLegacyQuery(q: LegacyQuery): void {
    const { self, stats } = this.opts
    // Our own legacy query echoed back by a legacy peer (it forwards to every neighbour).
    if (self.isSelf(q.returnId)) return
    // Legacy queries carry no id: suppress repeats of the same origin+key for 10 s.
    if (!this.legacySeen.add(`${q.returnId}\n${q.key}`)) {
      stats.searchesDuplicate++
      return
    }
    stats.legacyQueriesHandled++
    const matches = (this.opts.publishes() ? this.opts.library.search(q.key, MAX_LEGACY_RESPONSES) : []).filter((e) => Buffer.byteLength(e.name) * 3 + 300 < REQUEST_LIMITS.RESP)
    if (matches.length) {
      const to = parsePeerId(q.returnId)
      for (const e of matches) void this.send(to, MSG.RESP, (local) => formatResp({ name: e.name, holder: self.idFor(local.address, local.remote) }), 'warn', `RESP to ${q.returnId}`)
      return
    }
    if (q.ttl > 0) {
      for (const p of this.opts.peers.list()) {
        if (p.id !== q.returnId) void this.send(p, MSG.QUER, formatQuer({ ...q, ttl: q.ttl - 1 }), 'debug', `QUER to ${p.id}`)
      }
    }
  }

  /** @see NodeContext.onHits */
  onHits(h: Hits, remoteAddress: string): boolean {
    const handle = this.searches.get(h.qid)
    if (!handle || parsePeerId(h.holder).host !== normalizeAddress(remoteAddress)) return false
    for (const r of h.results) {
      if (handle.cid && r.cid !== handle.cid) continue
      const extra = { ...(r.meta ? { meta: r.meta } : {}), ...(h.total ? { holderTotal: h.total } : {}) }
      this.addResult(handle, { qid: h.qid, name: r.name, size: r.size, contentId: r.cid, kind: r.kind, holder: h.holder, legacy: false, ...extra })
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
      if (
        h.cid ||
        !h.legacyKey ||
        !h.query
          .toLowerCase()
          .split(/\s+/)
          .filter(Boolean)
          .every((w) => name.includes(w))
      )
        continue
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
}
