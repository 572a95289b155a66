/**
 * The tracker's soft state (docs/PROTOCOL.md §7): who is online, what each peer announced, and
 * the indexes answering "holders of a content id" and keyword search. Rebuilt from announces
 * after a restart; nothing here is persisted. No sockets or timers: the clock is passed in.
 * Over 300 lines since search speaks the node's language (issue #12): query() is the candidate
 * to move out next, into a file of its own taking the titles and the token index.
 */
import { MAX_QUERY_WORDS, SEARCH_WORK_BUDGET, TRACKER_HOLDERS_PER_RESULT, TRACKER_RESULTS_MAX } from '../protocol/constants.ts'
import { announcedBytes, checkRoom, DEFAULT_INDEX_LIMITS, type IndexLimits } from './index-limits.ts'
import { fold, isEmptyQuery, matches, parseQuery, score, TEXT_FILTERS } from '../node/query.ts'
import { ProtocolError } from '../protocol/errors.ts'
import type { Announce, AnnounceReply, AnnouncedFile, TrackerHit } from '../protocol/tracker-messages.ts'
import { queryWords, tokenize, TokenIndex } from './token-index.ts'

export { DEFAULT_INDEX_LIMITS, type IndexLimits } from './index-limits.ts'

/**
 * One name of one content id, and the peers announcing it under that name, with the tags the
 * first of them announced (tags are a function of the content; a later holder's differ only if
 * it lies, and then the first one stands).
 */
export interface Title extends AnnouncedFile {
  /** The folded name and tags, '\n'-separated (what a free word must occur in, as query.ts matches). */
  text: string
  /** Tokens of `text`. */
  tokens: string[]
  /** UTF-8 bytes of the name and tags (what the per-host and total byte caps count, announcedBytes). */
  bytes: number
  /** The tags as announced (JSON), to notice a holder announcing new ones. */
  metaKey: string
  holders: Set<PeerRecord>
  /** Last search that looked at this title (de-duplicates candidates without a Set). */
  seen: number
}

/** One online peer; `id` is "socket-host:announced-port". Times are epoch ms. */
export interface PeerRecord {
  id: string
  host: string
  port: number
  /** Library version held for this peer (0 = empty). */
  ver: number
  files: Map<string, Title>
  /** UTF-8 bytes of the names in `files`. */
  bytes: number
  registeredAt: number
  lastSeen: number
  /** Position in the sampling array. */
  slot: number
}

/** A keyword search's answer and what it cost. */
export interface SearchResult {
  hits: TrackerHit[]
  /** Work units spent: vocabulary tokens compared plus (candidate × word) checks. */
  work: number
  /** The work budget ran out: the hits are the best of the names looked at, not of all. */
  partial: boolean
}

interface HostUse {
  peers: number
  names: number
  bytes: number
}

/** Index of online peers and their files. */
export class SwarmIndex {
  readonly peers = new Map<string, PeerRecord>()
  private readonly slots: PeerRecord[] = []
  private readonly titles = new Map<string, Title>()
  private readonly byCid = new Map<string, Set<Title>>()
  private readonly words = new TokenIndex<Title>()
  private readonly perHost = new Map<string, HostUse>()
  private searchNo = 0
  /** (peer, name) entries held, and their UTF-8 bytes, over every peer. */
  private entries = 0
  private entryBytes = 0
  readonly limits: IndexLimits

  constructor(limits: Partial<IndexLimits> = {}) {
    this.limits = { ...DEFAULT_INDEX_LIMITS, ...limits }
  }

  /** (peer, name) entries held, over every peer (what the `names` cap counts). */
  get heldNames(): number {
    return this.entries
  }

  /** UTF-8 bytes of those entries. */
  get heldNameBytes(): number {
    return this.entryBytes
  }

  /** Entries and name bytes held for the peers of one host. */
  hostUse(host: string): { names: number; bytes: number } {
    const u = this.perHost.get(host)
    return { names: u?.names ?? 0, bytes: u?.bytes ?? 0 }
  }

  /** Distinct content ids indexed. */
  get files(): number {
    return this.byCid.size
  }

  /** Distinct (content id, name) pairs indexed. */
  get names(): number {
    return this.titles.size
  }

  /** Peers online on one host. */
  countHost(host: string): number {
    return this.perHost.get(host)?.peers ?? 0
  }

  /**
   * Register (or re-register) a peer: it starts from version 0 with no files.
   * @returns the record and whether it was new.
   */
  register(host: string, port: number, id: string, now: number): { peer: PeerRecord; fresh: boolean } {
    const old = this.peers.get(id)
    if (old) {
      this.clearFiles(old)
      old.ver = 0
      old.lastSeen = now
      return { peer: old, fresh: false }
    }
    const peer: PeerRecord = { id, host, port, ver: 0, files: new Map(), bytes: 0, registeredAt: now, lastSeen: now, slot: this.slots.length }
    this.peers.set(id, peer)
    this.slots.push(peer)
    const use = this.perHost.get(host)
    if (use) use.peers++
    else this.perHost.set(host, { peers: 1, names: 0, bytes: 0 })
    return { peer, fresh: true }
  }

  /**
   * Apply an announce from peer `id` (already rate-checked and parsed).
   * @returns the TANN reply (without `interval`, which the tracker adds).
   * @throws ProtocolError ERR_TOO_MANY_FILES when the peer would pass MAX_FILES_PER_PEER or its
   *   host its names/bytes cap, ERR_INDEX_FULL when the index would pass its total cap (nothing
   *   applied in either case).
   */
  announce(id: string, a: Announce, now: number): AnnounceReply | { ok: true; seq: number } {
    const peer = this.peers.get(id)
    if (!peer) return { register: true }
    if (a.base !== 0 && a.base !== peer.ver) {
      peer.lastSeen = now
      return { resync: true, have: peer.ver }
    }
    checkRoom(peer, a, this.hostUse(peer.host), { names: this.entries, bytes: this.entryBytes }, this.limits)
    if (a.base === 0) this.clearFiles(peer)
    for (const cid of a.remove) {
      const t = peer.files.get(cid)
      if (t) this.unhold(peer, t)
    }
    for (const f of a.add) {
      const had = peer.files.get(f.cid)
      if (had && had.name === f.name && had.metaKey === metaKeyOf(f)) continue
      if (had) this.unhold(peer, had)
      this.hold(peer, this.title(f))
    }
    peer.ver = a.seq
    peer.lastSeen = now
    return { ok: true, seq: peer.ver }
  }

  /** Mark a peer alive without an announce. */
  touch(id: string, now: number): void {
    const p = this.peers.get(id)
    if (p) p.lastSeen = now
  }

  /** Remove a peer and everything only it held. @returns whether it was online. */
  remove(id: string): boolean {
    const peer = this.peers.get(id)
    if (!peer) return false
    this.clearFiles(peer)
    this.peers.delete(id)
    const use = this.perHost.get(peer.host)
    if (use && --use.peers <= 0) this.perHost.delete(peer.host)
    const last = this.slots.pop() as PeerRecord
    if (last !== peer) {
      this.slots[peer.slot] = last
      last.slot = peer.slot
    }
    return true
  }

  /** Remove peers not seen since `before` (epoch ms). @returns their ids. */
  expire(before: number): string[] {
    const gone: string[] = []
    for (const p of this.peers.values()) if (p.lastSeen < before) gone.push(p.id)
    for (const id of gone) this.remove(id)
    return gone
  }

  /**
   * Up to `max` online peer ids, a random sample (so load spreads), without `exclude`.
   * @param random a function like Math.random (injected for tests).
   */
  sample(max: number, exclude: string | undefined, random: () => number = Math.random): string[] {
    const n = this.slots.length
    if (n <= max + 1)
      return this.slots
        .filter((p) => p.id !== exclude)
        .slice(0, max)
        .map((p) => p.id)
    const out = new Set<string>()
    for (let tries = 0; out.size < max && tries < max * 4; tries++) {
      const p = this.slots[Math.floor(random() * n)] as PeerRecord
      if (p.id !== exclude) out.add(p.id)
    }
    return [...out]
  }

  /**
   * Every name of a content id with its holders (at most `max` peer ids each), most held first;
   * at most TRACKER_RESULTS_MAX names (what a TWHO reply carries).
   */
  holders(cid: string, max: number): TrackerHit[] {
    const set = this.byCid.get(cid)
    if (!set) return []
    return [...set]
      .sort((a, b) => b.holders.size - a.holders.size)
      .slice(0, TRACKER_RESULTS_MAX)
      .map((t) => this.hit(t, max))
  }

  /** Keyword search's hits only (see query). @throws as query. */
  search(q: string, max: number): TrackerHit[] {
    return this.query(q, max).hits
  }

  /**
   * Search in the node's language (PROTOCOL.md §4.2.1, §7.7): words, `-word`, field filters
   * (`artist:` `album:` `title:` `genre:`), `kind:`, `cid:`, `dur>10m`, `size<1G`, `year:`,
   * matched case- and accent-insensitively against the name and the announced tags; ranked as a
   * node ranks (query.ts score: exact title, artist, album, file name first) plus
   * WHOLE_TOKEN_SCORE per word that is a whole token of the name or tags (a folder named
   * "Holiday 2024" counts for `holiday`), then by holder count, then shorter name. The score
   * is computed for the best RANK_POOL × `max` matches by whole tokens, holders and name length
   * only (with more matches than that, an exact title among the rest can be missed). The work is bounded: at most half of `budget` units go to picking candidates in the
   * vocabulary (tokens of the folded names and tags, one unit per token compared), the rest to
   * checking them (one unit per candidate and term); when the budget runs out the best hits found
   * so far are returned with `partial`. A query of filters only (`kind:audio`) has no token to
   * pick with: it checks every title, within the budget.
   * @returns at most `max` hits with up to TRACKER_HOLDERS_PER_RESULT peer ids each.
   * @throws ProtocolError ERR_TOO_MANY_WORDS: more than MAX_QUERY_WORDS distinct words (words,
   *   `-words` and field values together).
   */
  query(q: string, max: number, budget = SEARCH_WORK_BUDGET): SearchResult {
    const parsed = parseQuery(q)
    const positive = [...parsed.words, ...TEXT_FILTERS.flatMap((k) => parsed.fields[k] ?? [])]
    const words = queryWords([...positive, ...parsed.not].join(' '))
    if (words.length > MAX_QUERY_WORDS) throw new ProtocolError('ERR_TOO_MANY_WORDS', `Find: ${words.length} distinct words, at most ${MAX_QUERY_WORDS}`)
    if (isEmptyQuery(parsed)) return { hits: [], work: 0, partial: false }
    // Candidates from the query token with the fewest postings; every term is then checked.
    const meter = { work: 0, budget: Math.floor(budget / 2) }
    const picked = this.words.candidates(
      positive.flatMap((w) => tokenize(w)),
      meter
    )
    let partial = picked.partial
    const mark = ++this.searchNo
    const cost = Math.max(1, words.length)
    // Free words alone (the common query) are checked on the title's own folded text, as the
    // tracker always did; filters, ranges and -words go through the node's matcher too.
    const plain = !parsed.not.length && !parsed.kind && !parsed.cid && !Object.keys(parsed.fields).length && !Object.keys(parsed.ranges).length
    // Keep the best `max` in a sorted array (a full sort of thousands of candidates costs more).
    // Two stages: the best `keep` by whole tokens, holders and name length (cheap), then those
    // ranked by the node's score plus whole tokens. score() costs about as much as the rest of
    // a search (regexes, folded fields): computing it for every match doubled a search's time.
    const keep = max * RANK_POOL
    const best: Array<{ t: Title; s: number }> = []
    const better = (a: { t: Title; s: number }, b: { t: Title; s: number }): number => b.s - a.s || b.t.holders.size - a.t.holders.size || a.t.name.length - b.t.name.length
    for (const t of picked.items ?? this.titles.values()) {
      if (meter.work >= budget) {
        partial = true
        break
      }
      meter.work += cost
      if (t.seen === mark) continue
      t.seen = mark
      if (!parsed.words.every((w) => t.text.includes(w)) || (!plain && !matches(parsed, t))) continue
      let whole = 0
      for (const w of parsed.words) if (t.tokens.includes(w)) whole++
      const s = { t, s: WHOLE_TOKEN_SCORE * whole }
      if (best.length === keep && better(s, best[keep - 1]!) >= 0) continue
      let lo = 0
      let hi = best.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (better(s, best[mid]!) < 0) hi = mid
        else lo = mid + 1
      }
      best.splice(lo, 0, s)
      if (best.length > keep) best.pop()
    }
    for (const s of best) s.s += score(parsed, s.t)
    const ranked = best.sort(better).slice(0, max)
    return { hits: ranked.map((s) => this.hit(s.t, TRACKER_HOLDERS_PER_RESULT)), work: meter.work, partial }
  }

  private hit(t: Title, max: number): TrackerHit {
    const peers: string[] = []
    for (const p of t.holders) {
      if (peers.length >= max) break
      peers.push(p.id)
    }
    return { cid: t.cid, name: t.name, size: t.size, kind: t.kind, ...(t.meta ? { meta: t.meta } : {}), holders: t.holders.size, peers }
  }

  private title(f: AnnouncedFile): Title {
    const key = `${f.cid}\n${f.name}`
    let t = this.titles.get(key)
    if (t) return t
    const m = f.meta
    const text = fold([f.name, m?.title, m?.artist, m?.albumArtist, m?.album, m?.genre].filter(Boolean).join('\n'))
    t = { cid: f.cid, name: f.name, size: f.size, kind: f.kind, ...(m ? { meta: m } : {}), metaKey: metaKeyOf(f), text, tokens: tokenize(text), bytes: announcedBytes(f), holders: new Set(), seen: 0 }
    this.titles.set(key, t)
    let set = this.byCid.get(f.cid)
    if (!set) this.byCid.set(f.cid, (set = new Set()))
    set.add(t)
    this.words.add(t, t.tokens)
    return t
  }

  /** Peer `peer` holds title `t` (one name per content id per peer). */
  private hold(peer: PeerRecord, t: Title): void {
    t.holders.add(peer)
    // Key by the title's own string: one copy of each content id, not one per announce.
    peer.files.set(t.cid, t)
    this.account(peer, 1, t.bytes)
  }

  private account(peer: PeerRecord, names: number, bytes: number): void {
    peer.bytes += bytes
    this.entries += names
    this.entryBytes += bytes
    const use = this.perHost.get(peer.host)
    if (use) {
      use.names += names
      use.bytes += bytes
    }
  }

  private unhold(peer: PeerRecord, t: Title): void {
    if (!peer.files.delete(t.cid)) return
    this.account(peer, -1, -t.bytes)
    t.holders.delete(peer)
    if (t.holders.size) return
    this.titles.delete(`${t.cid}\n${t.name}`)
    const set = this.byCid.get(t.cid)
    set?.delete(t)
    if (set && !set.size) this.byCid.delete(t.cid)
    this.words.remove(t, t.tokens)
  }

  private clearFiles(peer: PeerRecord): void {
    for (const t of [...peer.files.values()]) this.unhold(peer, t)
  }
}

/** Matches kept per result asked for, by the cheap rank, before the node's score ranks them (SwarmIndex.query). */
const RANK_POOL = 4

/** Rank added per query word that is a whole token of a title's name or tags (a word of the file name alone is worth 20 + 5 in score()). */
const WHOLE_TOKEN_SCORE = 30

/** The tags of an announced file as a comparable string ('' without tags). */
function metaKeyOf(f: AnnouncedFile): string {
  return f.meta ? JSON.stringify(f.meta) : ''
}
