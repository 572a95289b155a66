/**
 * The tracker's soft state (docs/PROTOCOL.md §7): who is online, what each peer announced, and
 * the indexes answering "holders of a content id" and keyword search. Rebuilt from announces
 * after a restart; nothing here is persisted. No sockets or timers: the clock is passed in.
 */
import { MAX_FILES_PER_PEER, TRACKER_HOLDERS_PER_RESULT } from '../protocol/constants.ts'
import { ProtocolError } from '../protocol/errors.ts'
import type { Announce, AnnounceReply, AnnouncedFile, TrackerHit } from '../protocol/tracker-messages.ts'
import { tokenize, TokenIndex } from './token-index.ts'

/** One name of one content id, and the peers announcing it under that name. */
export interface Title extends AnnouncedFile {
  /** Lower-cased name, for matching. */
  lower: string
  tokens: string[]
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
  registeredAt: number
  lastSeen: number
  /** Position in the sampling array. */
  slot: number
}

/** Index of online peers and their files. */
export class SwarmIndex {
  readonly peers = new Map<string, PeerRecord>()
  private readonly slots: PeerRecord[] = []
  private readonly titles = new Map<string, Title>()
  private readonly byCid = new Map<string, Set<Title>>()
  private readonly words = new TokenIndex<Title>()
  private readonly perHost = new Map<string, number>()
  private searchNo = 0

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
    return this.perHost.get(host) ?? 0
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
    const peer: PeerRecord = { id, host, port, ver: 0, files: new Map(), registeredAt: now, lastSeen: now, slot: this.slots.length }
    this.peers.set(id, peer)
    this.slots.push(peer)
    this.perHost.set(host, this.countHost(host) + 1)
    return { peer, fresh: true }
  }

  /**
   * Apply an announce from peer `id` (already rate-checked and parsed).
   * @returns the TANN reply (without `interval`, which the tracker adds).
   * @throws ProtocolError ERR_TOO_MANY_FILES when the peer would pass MAX_FILES_PER_PEER (nothing applied).
   */
  announce(id: string, a: Announce, now: number): AnnounceReply | { ok: true; seq: number } {
    const peer = this.peers.get(id)
    if (!peer) return { register: true }
    if (a.base === 0) {
      if (peer.ver !== 0 || peer.files.size) this.clearFiles(peer)
    } else if (a.base !== peer.ver) {
      peer.lastSeen = now
      return { resync: true, have: peer.ver }
    }
    if (peer.files.size + a.add.length > MAX_FILES_PER_PEER) {
      throw new ProtocolError('ERR_TOO_MANY_FILES', `Announce: more than ${MAX_FILES_PER_PEER} files from one peer`)
    }
    for (const cid of a.remove) {
      const t = peer.files.get(cid)
      if (t) this.unhold(peer, t)
    }
    for (const f of a.add) {
      const had = peer.files.get(f.cid)
      if (had && had.name === f.name) continue
      if (had) this.unhold(peer, had)
      const t = this.title(f)
      t.holders.add(peer)
      // Key by the title's own string: one copy of each content id, not one per announce.
      peer.files.set(t.cid, t)
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
    const left = this.countHost(peer.host) - 1
    if (left > 0) this.perHost.set(peer.host, left)
    else this.perHost.delete(peer.host)
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

  /** Every name of a content id with its holders (at most `max` peer ids each), most held first. */
  holders(cid: string, max: number): TrackerHit[] {
    const set = this.byCid.get(cid)
    if (!set) return []
    return [...set].sort((a, b) => b.holders.size - a.holders.size).map((t) => this.hit(t, max))
  }

  /**
   * Keyword search: every whitespace-separated word of `q` must occur in the name (substring,
   * case-insensitive, as a node's own search, PROTOCOL.md §4.2). Ranked by words that are whole
   * tokens of the name, then holder count, then shorter name.
   * @returns at most `max` hits with up to TRACKER_HOLDERS_PER_RESULT peer ids each.
   */
  search(q: string, max: number): TrackerHit[] {
    const words = q.toLowerCase().split(/\s+/).filter(Boolean)
    if (!words.length) return []
    // Candidates from the query token with the fewest postings; every word is then checked.
    const candidates = this.words.candidates(words.flatMap((w) => tokenize(w)))
    const mark = ++this.searchNo
    // Keep the best `max` in a sorted array (a full sort of thousands of candidates costs more).
    const best: Array<{ t: Title; exact: number }> = []
    const better = (a: { t: Title; exact: number }, b: { t: Title; exact: number }): number => b.exact - a.exact || b.t.holders.size - a.t.holders.size || a.t.name.length - b.t.name.length
    for (const t of candidates ?? this.titles.values()) {
      if (t.seen === mark) continue
      t.seen = mark
      if (!words.every((w) => t.lower.includes(w))) continue
      let exact = 0
      for (const w of words) if (t.tokens.includes(w)) exact++
      const s = { t, exact }
      if (best.length === max && better(s, best[max - 1]!) >= 0) continue
      let lo = 0
      let hi = best.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (better(s, best[mid]!) < 0) hi = mid
        else lo = mid + 1
      }
      best.splice(lo, 0, s)
      if (best.length > max) best.pop()
    }
    return best.map((s) => this.hit(s.t, TRACKER_HOLDERS_PER_RESULT))
  }

  private hit(t: Title, max: number): TrackerHit {
    const peers: string[] = []
    for (const p of t.holders) {
      if (peers.length >= max) break
      peers.push(p.id)
    }
    return { cid: t.cid, name: t.name, size: t.size, kind: t.kind, holders: t.holders.size, peers }
  }

  private title(f: AnnouncedFile): Title {
    const key = `${f.cid}\n${f.name}`
    let t = this.titles.get(key)
    if (t) return t
    const lower = f.name.toLowerCase()
    t = { cid: f.cid, name: f.name, size: f.size, kind: f.kind, lower, tokens: tokenize(lower), holders: new Set(), seen: 0 }
    this.titles.set(key, t)
    let set = this.byCid.get(f.cid)
    if (!set) this.byCid.set(f.cid, (set = new Set()))
    set.add(t)
    this.words.add(t, t.tokens)
    return t
  }

  private unhold(peer: PeerRecord, t: Title): void {
    peer.files.delete(t.cid)
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
