/**
 * The multi-source scheduler of a p2ptube download (docs/PROTOCOL.md §4.8): pieces of
 * PIECE_SIZE bytes are fetched in runs (one RGET of up to RUN_PIECES pieces) from every holder,
 * several runs in flight per holder (p-queue), each piece checked against the hash list (itself
 * checked against the content id) before it is written. The newest player offset goes first, to the fastest holder; a holder that
 * stalls or disappears has its runs re-assigned; a holder that sends a bad piece is dropped.
 * Slow holders cannot hold a download hostage (#11 item 6): a run slower than MIN_RUN_RATE, or
 * SLOW_RATIO times slower than another holder, over SLOW_WINDOW_MS is cut and its holder benched
 * (no new runs while a faster holder is in use; not blamed, not dropped), and in the end game
 * the last pieces are asked of a second, faster holder too: the first checked copy wins, the
 * other run is cancelled. A holder that closes a run early is asked again after a back-off
 * (RETRY_BASE_MS, doubling), MAX_RETRIES times without progress, before it is dropped.
 * The choices are PiecePicker's (piece-picker.ts); the requests are fetchHashes (hash-client.ts)
 * and RangeRequest (range-client.ts). This file drives them: holders, timers, outcomes.
 *
 * One file (over 300 lines): run assignment, slow-holder benching, retries and the end game all
 * read and write the same per-holder state (in-flight runs, rates, rest timers) inside one pump();
 * split apart they would pass that state back and forth. Candidate to move out next: the retry and
 * bench timers (a per-holder health object).
 */
import { EventEmitter } from 'node:events'
import PQueue from 'p-queue'
import type { Endpoint } from '../net/client.ts'
import type { Transport } from '../net/transport.ts'
import { PIECE_SIZE } from '../protocol/constants.ts'
import { AbortError, IntegrityError, P2PTubeError, RemoteError } from '../protocol/errors.ts'
import { fetchHashes } from './hash-client.ts'
import { PiecePicker, RUN_PIECES, RUNS_PER_SOURCE, STREAMING_MS } from './piece-picker.ts'
import { BATCH_PIECES, RangeRequest, type Run as RangeRun } from './range-client.ts'

export { BATCH_PIECES, RUN_PIECES, RUNS_PER_SOURCE, STREAMING_MS }

/** A run that delivers nothing for this long is re-assigned, ms. */
export const STALL_MS = 5000
/** A run's rate is measured over windows this long, ms. */
export const SLOW_WINDOW_MS = 3000
/** A run slower than this over a window (bytes/s: a 64 KiB piece in 4 s) is slow when another holder does better. */
export const MIN_RUN_RATE = 16 * 1024
/** A run this many times slower than another holder's rate over a window is slow. */
export const SLOW_RATIO = 8
/** First back-off after a holder closed a run early, ms; it doubles at each retry. */
export const RETRY_BASE_MS = 250
/** Early closes in a row (no verified piece between) before the holder is dropped. */
export const MAX_RETRIES = 3
/** Failures that may pass (a restart, a dropped link): the holder is asked again after a back-off. */
const TRANSIENT = new Set(['ERR_CONNECTION_CLOSED', 'ERR_TRUNCATED_FRAME', 'ERR_NO_REPLY', 'ERR_TIMEOUT', 'ECONNRESET', 'EPIPE'])

/** One holder of the content. `rate` is an EWMA in bytes/s. */
export interface Source extends Endpoint {
  id: string
  queue: PQueue
  runs: Set<Run>
  rate: number
  received: number
  /** Verified pieces this holder delivered first (the copy written). */
  pieces: number
  failures: number
  /** Benched for slowness: no new runs while a holder that is not is in use. */
  slow: boolean
  /** performance.now() before which it gets no run (a back-off after an early close), ms. */
  restUntil: number
  dropped: string | null
  /** Dropped for sending a piece that failed its hash check. */
  corrupt: boolean
}

/** A run and the holder it is asked from. */
interface Run extends RangeRun {
  source: Source
  /** Start of the current rate window (performance.now(), ms) and `bytes` then. */
  windowAt: number
  windowBytes: number
}

/** What the swarm needs from its download. */
export interface SwarmHost {
  readonly cid: string
  /**
   * Check `count` consecutive pieces from piece `first`, packed in `buf[0, len)`, against
   * `expected` (32-byte SHA-256 each) and write the good ones; resolves to how many pieces, from
   * the first, were good and written (count when all were).
   */
  verifyAndWrite(first: number, count: number, buf: Buffer, len: number, expected: Buffer): Promise<number>
  /** Distinct piece indices that readers wait for now (while any, pieces go one by one). */
  waitingPieces?(): number[]
  /** A buffer of BATCH_PIECES × PIECE_SIZE bytes that owns its ArrayBuffer (pooled by the host). */
  allocBatch(): Buffer
  connectTimeoutMs?: number
  idleTimeoutMs?: number
  /** How holders are dialled (group members: mutual TLS); default plain TCP. */
  transport?: Transport
}

/**
 * Events: 'source-added' (id), 'source-dropped' (id, reason), 'bad-piece' (id, piece index),
 * 'bad-hash-list' (id), 'size' (bytes), 'size-corrected' (bytes given, bytes checked),
 * 'source-slow' (id, bytes/s of the window that benched it), 'source-retry' (id, attempt,
 * back-off ms, reason), 'run-cut' (id, 'slow' | 'duplicate', first piece, end piece: pieces
 * [first, end) of that holder's run left to other holders).
 */
export class Swarm extends EventEmitter {
  readonly sources = new Map<string, Source>()
  size = 0
  hashes: Buffer | null = null
  private readonly picker = new PiecePicker()
  private done: { resolve: () => void; reject: (e: Error) => void } | null = null
  private lastError: Error | null = null
  private failed: Error | null = null
  private ticker: NodeJS.Timeout | null = null
  private stopped = false
  private lastTick = performance.now()
  private readonly lastReceived = new Map<string, number>()
  private readonly retryTimers = new Set<NodeJS.Timeout>()

  constructor(private readonly host: SwarmHost) {
    super()
  }

  /** Pieces in the file (0 until loadHashes()). */
  get pieceCount(): number {
    return this.picker.pieceCount
  }

  /** Add a holder; it starts taking runs at once when the swarm is running. */
  addSource(p: Endpoint & { id: string }): void {
    if (this.sources.has(p.id) || this.stopped) return
    this.sources.set(p.id, {
      ...p,
      queue: new PQueue({ concurrency: RUNS_PER_SOURCE }),
      runs: new Set(),
      rate: 0,
      received: 0,
      pieces: 0,
      failures: 0,
      slow: false,
      restUntil: 0,
      dropped: null,
      corrupt: false
    })
    this.emit('source-added', p.id)
    if (this.done) this.pump()
  }

  /** Holders still in use, fastest first. */
  usable(): Source[] {
    return [...this.sources.values()].filter((s) => !s.dropped).sort((a, b) => b.rate - a.rate)
  }

  /**
   * Get the size and the piece hash list from the first holder whose answer to HASH gives the
   * content id (PROTOCOL.md §4.8): a holder that cannot answer is dropped; one whose list does
   * not match the content id is dropped as corrupt (`bad-hash-list`), never blaming the others.
   * The size comes with the checked list (the content id commits to it): a different
   * `knownSize` (a search result's, a stale chunk map's) gives way.
   * @throws the last holder's error when none answers; P2PTubeError ERR_NO_SOURCES when none is known.
   */
  async loadHashes(knownSize?: number): Promise<void> {
    for (const s of this.usable()) {
      try {
        const { size, hashes } = await fetchHashes(s, this.host.cid, this.host)
        if (knownSize !== undefined && size !== knownSize) this.emit('size-corrected', knownSize, size)
        this.size = size
        this.hashes = hashes
        this.picker.setPieceCount(Math.ceil(size / PIECE_SIZE))
        this.emit('size', size)
        return
      } catch (err) {
        this.lastError = err as Error
        if ((err as P2PTubeError).code === 'ERR_BAD_HASH_LIST') {
          s.corrupt = true
          this.emit('bad-hash-list', s.id)
        }
        this.drop(s, `no hash list: ${(err as Error).message}`)
      }
    }
    throw this.lastError ?? new P2PTubeError('ERR_NO_SOURCES', 'no holder to fetch from')
  }

  /** Mark a piece already on disk (a resume). */
  markHave(index: number): void {
    this.picker.markHave(index)
  }

  has(index: number): boolean {
    return this.picker.has(index)
  }

  /**
   * Fetch every missing piece. Resolves when all are written; rejects with IntegrityError when
   * every holder sent corrupt pieces, P2PTubeError ERR_NO_SOURCES when no holder is left, a
   * local failure (ERR_WRITE, ERR_HASH_WORKER), or AbortError ERR_ABORTED when `signal` aborts
   * (every run stops at once). The swarm is stopped when this settles.
   */
  async run(signal: AbortSignal): Promise<void> {
    const onAbort = (): void => this.stop()
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      await Promise.race([
        new Promise<void>((resolve, reject) => {
          this.done = { resolve, reject }
          this.ticker = setInterval(() => this.tick(), 250)
          this.pump()
        }),
        new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new AbortError('download cancelled')), { once: true }))
      ])
    } finally {
      signal.removeEventListener('abort', onAbort)
      this.stop()
    }
  }

  /** End the download with `err` (a local failure): every run stops, run() rejects. */
  private fail(err: Error): void {
    if (this.failed) return
    this.failed = err
    this.lastError = err
    this.stop()
    this.done?.reject(err)
  }

  /** Stop every run (the partial file stays). */
  stop(): void {
    this.stopped = true
    if (this.ticker) clearInterval(this.ticker)
    for (const timer of this.retryTimers) clearTimeout(timer)
    this.retryTimers.clear()
    for (const s of this.sources.values()) for (const r of s.runs) this.abortRun(r, 'cancel')
  }

  /** The player needs byte `offset`: fetch its piece next, on the fastest holder (PiecePicker.prioritize). */
  prioritize(offset: number): void {
    const fastest = this.usable()[0]
    const runs = [...this.sources.values()].flatMap((s) => [...s.runs])
    const plan = this.picker.prioritize(offset, PIECE_SIZE, performance.now(), runs, fastest ? fastest.runs : null, this.picker.pieceCount ? (this.host.waitingPieces?.() ?? []) : [])
    for (const r of plan.cut) this.abortRun(r, 'priority')
    if (plan.cutAfter) plan.cutAfter.run.cutAfter = plan.cutAfter.at
    if (plan.pump) this.pump()
  }

  private abortRun(r: Run, reason: Run['reason']): void {
    if (r.reason) return
    r.reason = reason
    r.abort.abort() // the socket is destroyed: no more data reaches this run
    // Pieces not received yet are free again at once (a prioritized piece can be picked now,
    // not when the run has wound down); pieces received but still being checked stay in flight.
    this.picker.release(r.next, r.first + r.count)
    if ((reason === 'slow' || reason === 'duplicate') && r.next < r.first + r.count) this.emit('run-cut', r.source.id, reason, r.next, r.first + r.count)
    r.count = r.next - r.first
  }

  private tick(): void {
    const now = performance.now()
    this.sampleRates(now - this.lastTick, this.lastReceived)
    this.lastTick = now
    for (const s of this.sources.values()) {
      for (const r of s.runs) {
        if (now - r.lastData > STALL_MS) this.abortRun(r, 'stall')
        else if (!r.reason && now - r.windowAt >= SLOW_WINDOW_MS) this.measure(s, r, now)
      }
    }
  }

  /**
   * End a rate window of run `r`: when another holder in use does better and the run made less
   * than MIN_RUN_RATE, or SLOW_RATIO times less than that holder's rate, the holder is benched
   * and its live runs cut (their pieces go to the others). It is not blamed: it stays usable.
   */
  private measure(s: Source, r: Run, now: number): void {
    const rate = ((r.bytes - r.windowBytes) * 1000) / (now - r.windowAt)
    r.windowAt = now
    r.windowBytes = r.bytes
    if (s.slow) return
    let best = 0
    for (const o of this.sources.values()) if (o !== s && !o.dropped && !o.slow) best = Math.max(best, o.rate)
    if (!(rate * SLOW_RATIO < best || (rate < MIN_RUN_RATE && rate * 2 < best))) return
    s.slow = true
    this.emit('source-slow', s.id, Math.round(rate))
    for (const x of s.runs) this.abortRun(x, 'slow')
    this.pump()
  }

  /**
   * The first checked copy wins (end game): a live run whose next piece another run delivered is
   * cancelled; its other pieces go back to the picker.
   */
  private cancelDuplicates(): void {
    for (const s of this.sources.values()) {
      for (const r of s.runs) if (!r.reason && r.next < r.first + r.count && this.picker.has(r.next)) this.abortRun(r, 'duplicate')
    }
  }

  /** Holder `s` closed a run early (`e`): ask it again after a back-off, or drop it after MAX_RETRIES in a row. */
  private retryLater(s: Source, e: Error): void {
    const now = performance.now()
    if (now < s.restUntil) return // its other run failed with the same close: one attempt
    if (++s.failures > MAX_RETRIES) return this.drop(s, `${e.message} (${MAX_RETRIES} retries)`)
    const delay = RETRY_BASE_MS * 2 ** (s.failures - 1)
    const until = now + delay
    s.restUntil = until
    this.emit('source-retry', s.id, s.failures, delay, e.message)
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer)
      // The rest ends when its timer fires. Node's timer clock (the event loop's, cached at each
      // turn) runs behind performance.now() on a busy machine, so this can fire before `until`:
      // pump() then found no holder ready, started nothing, and nothing woke the download again.
      if (s.restUntil === until) s.restUntil = 0
      this.pump()
    }, delay)
    this.retryTimers.add(timer)
  }

  private drop(s: Source, reason: string): void {
    if (s.dropped) return
    s.dropped = reason
    for (const r of s.runs) this.abortRun(r, 'bad')
    this.emit('source-dropped', s.id, reason)
  }

  private pump(): void {
    if (!this.done || this.stopped || this.failed) return
    if (this.picker.complete() && ![...this.sources.values()].some((s) => s.runs.size)) {
      if (this.ticker) clearInterval(this.ticker)
      return this.done.resolve()
    }
    const usable = this.usable()
    if (!usable.length) {
      if ([...this.sources.values()].some((s) => s.runs.size)) return
      if (this.ticker) clearInterval(this.ticker)
      const all = [...this.sources.values()]
      const reasons = all.map((s) => `${s.id}: ${s.dropped}`).join('; ')
      // Every holder sent corrupt pieces: that is an integrity failure, not a network one.
      if (all.length && all.every((s) => s.corrupt)) return this.done.reject(new IntegrityError(`every holder sent pieces that do not match the hash list (${reasons})`))
      return this.done.reject(new P2PTubeError('ERR_NO_SOURCES', `no holder left to fetch from (${reasons || 'none known'})`))
    }
    // Holders resting after an early close wait; benched (slow) ones only while no other is ready.
    const now = performance.now()
    const ready = usable.filter((s) => s.restUntil <= now)
    const brisk = ready.filter((s) => !s.slow)
    const takers = brisk.length ? brisk : ready
    // Aborted runs are still winding down (their pieces are not missing yet): they hold no slot.
    const liveRuns = (s: Source): number => [...s.runs].filter((r) => !r.reason).length
    for (const a of this.picker.assign(takers.map(liveRuns), now)) this.startRun(takers[a.holder] as Source, a)
    if (!this.picker.complete()) return
    // End game: a free slot asks again for what a slower (or benched) holder's run still owes.
    for (const s of takers) {
      for (let n = liveRuns(s); n < this.picker.slots(now); n++) {
        const others = usable.filter((o) => o !== s && (o.slow || o.rate <= s.rate)).sort((a, b) => Number(b.slow) - Number(a.slow) || a.rate - b.rate)
        const d = this.picker.duplicate(others.flatMap((o) => [...o.runs]))
        if (!d) break
        this.startRun(s, d)
      }
    }
  }

  private startRun(s: Source, a: { first: number; count: number }): void {
    const now = performance.now()
    const r: Run = { source: s, first: a.first, count: a.count, next: a.first, lastData: now, bytes: 0, windowAt: now, windowBytes: 0, cutAfter: null, abort: new AbortController(), reason: null }
    s.runs.add(r)
    void s.queue.add(() => this.fetchRun(r))
  }

  private async fetchRun(r: Run): Promise<void> {
    const s = r.source
    const req = new RangeRequest(s, r, {
      cid: this.host.cid,
      size: this.size,
      hashes: this.hashes as Buffer,
      connectTimeoutMs: this.host.connectTimeoutMs,
      idleTimeoutMs: this.host.idleTimeoutMs,
      transport: this.host.transport,
      allocBatch: () => this.host.allocBatch(),
      // A duplicate that lost the race entirely is not written again.
      verifyAndWrite: (first, count, buf, len, expected) => (this.picker.allHave(first, count) ? Promise.resolve(count) : this.host.verifyAndWrite(first, count, buf, len, expected)),
      pieceByPiece: () => this.picker.streaming(performance.now()) || !!this.host.waitingPieces?.().length,
      checked: (first, count, good) => {
        let fresh = 0
        for (let i = first; i < first + good; i++) if (!this.picker.has(i)) fresh++
        this.picker.markHave(first, good)
        s.pieces += fresh
        if (fresh) {
          s.failures = 0 // progress: early closes before this one are forgiven
          this.cancelDuplicates()
        }
        if (good < count) {
          this.emit('bad-piece', s.id, first + good)
          s.corrupt = true
          this.drop(s, `sent a corrupt piece ${first + good}`)
        }
      },
      // A local failure (disk full, hash worker gone): no holder can help, stop the download.
      failed: (err) => this.fail(err),
      cut: () => this.abortRun(r, 'priority')
    })
    try {
      await req.fetch()
      s.failures = 0
    } catch (err) {
      const e = err as P2PTubeError
      if (r.reason === 'stall') {
        if (++s.failures >= 2) this.drop(s, `stalled for ${STALL_MS} ms`)
      } else if (r.reason === null) {
        this.lastError = e
        // Closed early or went quiet: ask again after a back-off. Refused, answered ERRO, broke
        // the protocol: do not ask it again.
        if (TRANSIENT.has(e.code) && !(e instanceof RemoteError)) this.retryLater(s, e)
        else this.drop(s, e.message)
      }
    } finally {
      await req.settled()
      this.picker.runEnded(r.first, r.count)
      s.runs.delete(r)
      this.pump()
    }
  }

  /** Update each holder's rate (EWMA over the tick). */
  private sampleRates(dtMs: number, last: Map<string, number>): void {
    for (const s of this.sources.values()) {
      const prev = last.get(s.id) ?? 0
      s.rate = 0.6 * s.rate + 0.4 * (((s.received - prev) * 1000) / Math.max(dtMs, 1))
      last.set(s.id, s.received)
    }
  }
}
