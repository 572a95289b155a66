/**
 * Which pieces to fetch next, from which holder (docs/PROTOCOL.md §4.8): the decisions of the
 * swarm, without sockets, timers or events, so they can be tested on their own. Each piece is
 * missing, in flight (in a run, or received and being checked) or had. A run is a contiguous
 * span of missing pieces for one holder (one RGET). A reader's (the player's) piece goes first;
 * otherwise runs continue in order from where the last one ended, so one holder streams the file
 * front to back, and several holders split what is left between their slots.
 * End game (BitTorrent's, BEP 3 "End Game"): once no piece is missing, a holder with a free slot
 * asks again for what another holder's run still owes (duplicate()), at most two copies a piece;
 * the first checked copy wins and the swarm cancels the other run.
 * Times (`now`) are performance.now() ms, passed in by the caller.
 */

/** Pieces in one run (one RGET) at most: 64 MiB (a run costs the holder ~3 ms to set up; streaming cuts runs as the player needs). */
export const RUN_PIECES = 1024
/** Runs in flight per holder (pipelined ranges, so latency does not cap speed). */
export const RUNS_PER_SOURCE = 2
/** A download counts as being watched this long after a player's read was prioritized, ms. */
export const STREAMING_MS = 10_000

const MISSING = 0
const INFLIGHT = 1
const HAVE = 2
/** Runs asking for one piece at most (the run that owes it and one end-game duplicate). */
export const MAX_COPIES = 2

/** What the picker reads of a run in flight (the swarm's run objects satisfy it). */
export interface PickerRun {
  /** First piece index. */
  readonly first: number
  /** Pieces in the run. */
  readonly count: number
  /** Next piece index expected from the holder. */
  readonly next: number
  /** Why the run was stopped; null while it is live. */
  readonly reason: string | null
}

/** A run to start: holder index (in the order given to assign()), first piece, piece count. */
export interface Assignment {
  holder: number
  first: number
  count: number
}

/**
 * What the swarm does for a reader's priority: stop the runs in `cut` (their unreceived pieces
 * are released), stop `cutAfter.run` once its next piece reaches `cutAfter.at`, then start runs
 * (assign) when `pump`.
 */
export interface PriorityPlan<R extends PickerRun> {
  cut: R[]
  cutAfter: { run: R; at: number } | null
  pump: boolean
}

/** The piece map of one download and the picking rules. */
export class PiecePicker {
  /** Pieces in the file (0 until the size is known). */
  pieceCount = 0
  /** A slot lent to a priority while a protected run ends (see prioritize); 0 or 1. */
  extraSlots = 0
  private state = new Uint8Array(0)
  /** Runs holding each in-flight piece (1, or MAX_COPIES in the end game). */
  private copies = new Uint8Array(0)
  /** Piece a reader asked for, picked first by the next pick(). */
  private priority: number | null = null
  /** Where the next run starts looking (the end of the last one). */
  private cursor = 0
  private lastPriorityAt = -Infinity

  /** The file has `count` pieces, all missing (a priority asked for before stays). */
  setPieceCount(count: number): void {
    this.pieceCount = count
    this.state = new Uint8Array(count)
    this.copies = new Uint8Array(count)
  }

  /** Mark `count` pieces from `first` as had (on disk and checked). */
  markHave(first: number, count = 1): void {
    for (let i = first; i < first + count; i++) this.state[i] = HAVE
  }

  has(index: number): boolean {
    return this.state[index] === HAVE
  }

  inFlight(index: number): boolean {
    return this.state[index] === INFLIGHT
  }

  /** Every piece in [first, first + count) is had. */
  allHave(first: number, count: number): boolean {
    for (let i = first; i < first + count; i++) if (this.state[i] !== HAVE) return false
    return true
  }

  /** Runs asking for piece `index` now (0 unless in flight). */
  copiesOf(index: number): number {
    return this.state[index] === INFLIGHT ? (this.copies[index] as number) : 0
  }

  /**
   * A run holding pieces [from, end) lets go of them (a stopped run's unreceived pieces, an ended
   * run's rest): each is missing again unless another run still asks for it.
   */
  release(from: number, end: number): void {
    for (let i = from; i < end; i++) {
      if (this.state[i] !== INFLIGHT) continue
      const left = Math.max(0, (this.copies[i] as number) - 1)
      this.copies[i] = left
      if (left === 0) this.state[i] = MISSING
    }
  }

  /** A run ended (its checks done): what it left in flight is missing again; a lent slot is returned. */
  runEnded(first: number, count: number): void {
    this.release(first, first + count)
    this.extraSlots = 0
  }

  /** The first missing piece at or after `from`, or null. */
  firstMissing(from: number): number | null {
    for (let i = from; i < this.pieceCount; i++) if (this.state[i] === MISSING) return i
    return null
  }

  /** No piece is missing (some may still be in flight). */
  complete(): boolean {
    return this.firstMissing(0) === null
  }

  /** A player is reading: a prioritize in the last STREAMING_MS before `now`. */
  streaming(now: number): boolean {
    return now - this.lastPriorityAt < STREAMING_MS
  }

  /**
   * Runs per holder now: while a player is reading, one (two while a protected run ends), so the
   * run the player waits for gets the holder's whole bandwidth instead of half; else
   * RUNS_PER_SOURCE, so setup round trips never idle a holder.
   */
  slots(now: number): number {
    return this.streaming(now) ? 1 + this.extraSlots : RUNS_PER_SOURCE
  }

  /**
   * The next run for a holder when `sources` holders are in use, its pieces marked in flight;
   * null when no piece is missing. It starts at the first missing piece from the reader's
   * priority (once), else from the cursor, else from 0, and spans contiguous missing pieces: up
   * to RUN_PIECES with one holder; with several, the missing pieces ahead shared over all their
   * slots, at least 4 a run.
   */
  pick(sources: number): { first: number; count: number } | null {
    let p: number | null = null
    if (this.priority !== null) {
      p = this.firstMissing(this.priority)
      this.priority = null
    }
    p ??= this.firstMissing(this.cursor) ?? this.firstMissing(0)
    if (p === null) return null
    let cap = RUN_PIECES
    if (sources > 1) {
      let missing = 0
      for (let i = p; i < this.pieceCount && missing < RUN_PIECES * sources * RUNS_PER_SOURCE; i++) if (this.state[i] === MISSING) missing++
      cap = Math.max(4, Math.min(RUN_PIECES, Math.ceil(missing / (sources * RUNS_PER_SOURCE))))
    }
    let count = 1
    while (count < cap && p + count < this.pieceCount && this.state[p + count] === MISSING) count++
    for (let i = p; i < p + count; i++) {
      this.state[i] = INFLIGHT
      this.copies[i] = 1
    }
    this.cursor = p + count
    return { first: p, count }
  }

  /**
   * End game: when no piece is missing, a duplicate of what one of `runs` (other holders' runs,
   * in the order to try: slowest holder first) still owes: from the first piece at or after its
   * `next` that only that run asks for, the contiguous pieces so (up to RUN_PIECES), now asked
   * twice. Null while any piece is missing, or when every owed piece already has MAX_COPIES.
   */
  duplicate(runs: Iterable<PickerRun>): { first: number; count: number } | null {
    if (!this.complete()) return null
    const single = (i: number): boolean => this.state[i] === INFLIGHT && (this.copies[i] as number) < MAX_COPIES
    for (const r of runs) {
      if (r.reason) continue
      const end = Math.min(r.first + r.count, this.pieceCount)
      let p = Math.max(r.next, r.first)
      while (p < end && !single(p)) p++
      if (p >= end) continue
      let count = 1
      while (count < RUN_PIECES && p + count < end && single(p + count)) count++
      for (let i = p; i < p + count; i++) this.copies[i] = (this.copies[i] as number) + 1
      return { first: p, count }
    }
    return null
  }

  /**
   * Fill the free slots of the holders in use, in the order given (fastest first): `live[i]` is
   * how many live runs holder i has. Stops at the first holder that finds nothing to pick.
   */
  assign(live: readonly number[], now: number): Assignment[] {
    const out: Assignment[] = []
    for (let h = 0; h < live.length; h++) {
      for (let n = live[h] as number; n < this.slots(now); n++) {
        const r = this.pick(live.length)
        if (!r) return out
        out.push({ holder: h, ...r })
      }
    }
    return out
  }

  /**
   * A reader needs byte `offset` (`pieceSize` bytes a piece) at time `now`. When its piece is
   * had, or is at most 3 pieces ahead on a live run, nothing changes (apart from the cuts made
   * before that run was found). Else a live run holding it is cut, it becomes the priority and the
   * cursor, and streaming starts. When no run was cut and the fastest holder's slots are full,
   * its live run farthest from the piece is cut, except a run whose next piece another reader
   * waits for (`waiting`: piece indices): that one is cut after delivering it, and the priority
   * gets one extra slot meanwhile. Before the size is known, the piece is only remembered.
   * @param runs every run in flight, of every holder; `fastestRuns`: the fastest holder's runs
   *   (null when no holder is in use).
   */
  prioritize<R extends PickerRun>(offset: number, pieceSize: number, now: number, runs: Iterable<R>, fastestRuns: Iterable<R> | null, waiting: readonly number[]): PriorityPlan<R> {
    const plan: PriorityPlan<R> = { cut: [], cutAfter: null, pump: false }
    if (!this.pieceCount) {
      this.priority = Math.floor(offset / pieceSize)
      return plan
    }
    const p = Math.min(Math.floor(offset / pieceSize), this.pieceCount - 1)
    if (this.state[p] === HAVE) return plan
    const live = (r: R): boolean => !r.reason && !plan.cut.includes(r)
    for (const r of runs) {
      if (!live(r) || p < r.first || p >= r.first + r.count) continue
      if (p - r.next < 4) return plan // about to arrive
      plan.cut.push(r) // p is picked again at once
    }
    this.priority = p
    this.cursor = p
    this.lastPriorityAt = now
    const fastLive = fastestRuns ? [...fastestRuns].filter(live) : []
    if (!plan.cut.length && fastestRuns && fastLive.length >= this.slots(now)) {
      // A run whose very next piece another reader waits for is cut only after delivering it
      // (mpv reads an MP4's tail, its moov, and its head at once: cutting one for the other would
      // starve it).
      const serving = (r: R): boolean => waiting.some((w) => w !== p && w === r.next)
      const byDistance = (a: R, b: R): number => Math.abs(b.next - p) - Math.abs(a.next - p)
      const far = fastLive.filter((r) => !serving(r)).sort(byDistance)[0]
      if (far) {
        plan.cut.push(far)
      } else {
        const later = fastLive.sort(byDistance)[0]
        if (later) plan.cutAfter = { run: later, at: later.next + 1 }
        this.extraSlots = 1
      }
    }
    plan.pump = true
    return plan
  }
}
