/**
 * The multi-source scheduler of a p2ptube download (docs/PROTOCOL.md §4.8): pieces of
 * PIECE_SIZE bytes are fetched in runs (one RGET of up to RUN_PIECES pieces) from every holder,
 * several runs in flight per holder (p-queue), each piece checked against the holder's hash list
 * before it is written. The newest player offset goes first, to the fastest holder; a holder that
 * stalls or disappears has its runs re-assigned; a holder that sends a bad piece is dropped.
 */
import { EventEmitter } from 'node:events'
import PQueue from 'p-queue'
import { exchange, type Endpoint } from '../net/client.ts'
import type { Transport } from '../net/transport.ts'
import { CHUNK_SIZE, MAX_ERROR_REPLY, MAX_FILE_SIZE, MAX_HASHES_PER_FRAME, MAX_META_REPLY, MSG, PIECE_SIZE } from '../protocol/constants.ts'
import { IntegrityError, P2PTubeError, ProtocolError, RemoteError } from '../protocol/errors.ts'
import type { FramePolicy } from '../protocol/frame.ts'
import { formatRget, parseHashMeta, parseRangeMeta } from '../protocol/messages.ts'

/** Pieces in one run (one RGET) at most: 64 MiB (a run costs the holder ~3 ms to set up; streaming cuts runs as the player needs). */
export const RUN_PIECES = 1024
/** Runs in flight per holder (pipelined ranges, so latency does not cap speed). */
export const RUNS_PER_SOURCE = 2
/** A download counts as being watched this long after a player's read was prioritized, ms. */
export const STREAMING_MS = 10_000
/** A run that delivers nothing for this long is re-assigned, ms. */
export const STALL_MS = 5000
/** Bytes of the one buffer a run's socket reads into (reused: no allocation per read). */
const READ_BUFFER = 256 * 1024
/**
 * Pieces handed to the download (checked and written on the hash worker) in one batch, unless a
 * player is reading: then every piece goes alone, as soon as it is complete. One batch is one
 * worker round trip and one write: 1 MiB instead of 16 × 64 KiB.
 */
export const BATCH_PIECES = 16
/** Batches per run handed over but not yet written before reading pauses (4 MiB). */
const MAX_PENDING_BATCHES = 4

// Frame policies of an RGET reply, allocated once (the decoder asks for every 2 KiB frame).
const ERRO_POLICY: FramePolicy = { maxLength: MAX_ERROR_REPLY }
const META_POLICY: FramePolicy = { maxLength: MAX_META_REPLY }
const DATA_POLICY: FramePolicy = { maxLength: CHUNK_SIZE, stream: true }

const MISSING = 0
const INFLIGHT = 1
const HAVE = 2

/** One holder of the content. `rate` is an EWMA in bytes/s. */
export interface Source extends Endpoint {
  id: string
  queue: PQueue
  runs: Set<Run>
  rate: number
  received: number
  failures: number
  dropped: string | null
  /** Dropped for sending a piece that failed its hash check. */
  corrupt: boolean
}

interface Run {
  source: Source
  first: number
  count: number
  /** Next piece index expected from this run. */
  next: number
  lastData: number
  /** Cut the run (for a priority elsewhere) once `next` reaches this piece. */
  cutAfter: number | null
  abort: AbortController
  reason: 'priority' | 'stall' | 'bad' | 'cancel' | null
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
 * 'size' (bytes).
 */
export class Swarm extends EventEmitter {
  readonly sources = new Map<string, Source>()
  size = 0
  pieceCount = 0
  hashes: Buffer | null = null
  private state = new Uint8Array(0)
  private priority: number | null = null
  private cursor = 0
  private done: { resolve: () => void; reject: (e: Error) => void } | null = null
  private lastError: Error | null = null
  private ticker: NodeJS.Timeout | null = null
  private stopped = false

  constructor(private readonly host: SwarmHost) {
    super()
  }

  /** Add a holder; it starts taking runs at once when the swarm is running. */
  addSource(p: Endpoint & { id: string }): void {
    if (this.sources.has(p.id) || this.stopped) return
    this.sources.set(p.id, { ...p, queue: new PQueue({ concurrency: RUNS_PER_SOURCE }), runs: new Set(), rate: 0, received: 0, failures: 0, dropped: null, corrupt: false })
    this.emit('source-added', p.id)
    if (this.done) this.pump()
  }

  /** Holders still in use. */
  usable(): Source[] {
    return [...this.sources.values()].filter((s) => !s.dropped).sort((a, b) => b.rate - a.rate)
  }

  /**
   * Get the size and the piece hash list from the first holder that answers HASH.
   * @throws the last holder's error when none answers.
   */
  async loadHashes(knownSize: number | undefined): Promise<void> {
    for (const s of this.usable()) {
      try {
        const { size, hashes } = await this.fetchHashes(s)
        if (knownSize !== undefined && size !== knownSize) throw new ProtocolError('ERR_BAD_REPLY', `holder ${s.id} says ${size} bytes, expected ${knownSize}`)
        this.size = size
        this.hashes = hashes
        this.pieceCount = Math.ceil(size / PIECE_SIZE)
        this.state = new Uint8Array(this.pieceCount)
        this.emit('size', size)
        return
      } catch (err) {
        this.lastError = err as Error
        this.drop(s, `no hash list: ${(err as Error).message}`)
      }
    }
    throw this.lastError ?? new P2PTubeError('ERR_NO_SOURCES', 'no holder to fetch from')
  }

  private async fetchHashes(s: Source): Promise<{ size: number; hashes: Buffer }> {
    let meta: ReturnType<typeof parseHashMeta> | null = null
    const parts: Buffer[] = []
    let got = 0
    let remote: RemoteError | null = null
    await exchange(
      s,
      MSG.HASH,
      JSON.stringify({ cid: this.host.cid }),
      {
        policy: (t): FramePolicy | undefined => (t === MSG.ERRO ? { maxLength: MAX_ERROR_REPLY } : t === MSG.REPL ? { maxLength: meta ? MAX_HASHES_PER_FRAME * 32 : MAX_META_REPLY } : undefined),
        frame: (t, p) => {
          if (t === MSG.ERRO) return void (remote = new RemoteError(p.toString('utf8')))
          if (!meta) {
            meta = parseHashMeta(p)
            if (meta.cid !== this.host.cid || meta.pieceSize !== PIECE_SIZE || meta.size > MAX_FILE_SIZE || meta.pieces !== Math.ceil(meta.size / PIECE_SIZE)) {
              throw new ProtocolError('ERR_BAD_REPLY', `holder ${s.id} sent a hash list for another file or piece size`)
            }
            return
          }
          if (p.length % 32 !== 0 || got + p.length > meta.pieces * 32) throw new ProtocolError('ERR_BAD_REPLY', `holder ${s.id} sent a malformed hash list`)
          parts.push(p)
          got += p.length
        }
      },
      { connectTimeoutMs: this.host.connectTimeoutMs, idleTimeoutMs: this.host.idleTimeoutMs, transport: this.host.transport }
    )
    if (remote) throw remote
    const m = meta as ReturnType<typeof parseHashMeta> | null
    if (!m || got !== m.pieces * 32) throw new ProtocolError('ERR_BAD_REPLY', `holder ${s.id} sent an incomplete hash list`)
    return { size: m.size, hashes: Buffer.concat(parts) }
  }

  /** Mark pieces already on disk (a resume). */
  markHave(index: number): void {
    this.state[index] = HAVE
  }

  has(index: number): boolean {
    return this.state[index] === HAVE
  }

  /** Fetch every missing piece. Resolves when all are written; rejects when no holder is left. */
  run(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.done = { resolve, reject }
      this.ticker = setInterval(() => this.tick(), 250)
      this.pump()
    })
  }

  /** End the download with `err` (a local failure): every run stops, run() rejects. */
  private fail(err: Error): void {
    if (this.failed) return
    this.failed = err
    this.lastError = err
    this.stop()
    this.done?.reject(err)
  }

  private failed: Error | null = null

  /** Stop every run (the partial file stays). */
  stop(): void {
    this.stopped = true
    if (this.ticker) clearInterval(this.ticker)
    for (const s of this.sources.values()) for (const r of s.runs) this.abortRun(r, 'cancel')
  }

  /** The player needs `offset`: fetch its piece next, on the fastest holder. */
  prioritize(offset: number): void {
    if (!this.pieceCount) {
      this.priority = Math.floor(offset / PIECE_SIZE)
      return
    }
    const p = Math.min(Math.floor(offset / PIECE_SIZE), this.pieceCount - 1)
    if (this.state[p] === HAVE) return
    let freed = false
    for (const s of this.sources.values()) {
      for (const r of s.runs) {
        if (r.reason || p < r.first || p >= r.first + r.count) continue
        if (p - r.next < 4) return // about to arrive
        this.abortRun(r, 'priority') // cut the run: p is picked again at once
        freed = true
      }
    }
    this.priority = p
    this.cursor = p
    this.lastPriorityAt = performance.now()
    const fastest = this.usable()[0]
    const live = fastest ? [...fastest.runs].filter((r) => !r.reason) : []
    if (!freed && fastest && live.length >= this.slots()) {
      // Free a slot on the fastest holder: cut its live run farthest from p. A run whose very next
      // piece another reader waits for is cut only after delivering it (mpv reads an MP4's tail,
      // its moov, and its head at once: cutting one for the other would starve it); meanwhile
      // this priority gets one more slot.
      const waited = this.host.waitingPieces?.() ?? []
      const serving = (r: Run): boolean => waited.some((w) => w !== p && w === r.next)
      const byDistance = (a: Run, b: Run): number => Math.abs(b.next - p) - Math.abs(a.next - p)
      const far = live.filter((r) => !serving(r)).sort(byDistance)[0]
      if (far) {
        this.abortRun(far, 'priority')
      } else {
        const later = live.sort(byDistance)[0]
        if (later) later.cutAfter = later.next + 1
        this.extraSlots = 1
      }
    }
    this.pump()
  }

  private lastPriorityAt = -Infinity

  /**
   * Runs per holder now: while a player is reading (a prioritize in the last STREAMING_MS), one
   * (two while a protected run ends), so the run the player waits for gets the holder's whole
   * bandwidth instead of half; else RUNS_PER_SOURCE, so setup round trips never idle a holder.
   */
  private slots(): number {
    return this.streaming() ? 1 + this.extraSlots : RUNS_PER_SOURCE
  }

  /** A player is reading: a prioritize in the last STREAMING_MS. */
  private streaming(): boolean {
    return performance.now() - this.lastPriorityAt < STREAMING_MS
  }

  /** A slot lent to a priority while a protected run ends (see prioritize). */
  private extraSlots = 0

  private abortRun(r: Run, reason: Run['reason']): void {
    if (r.reason) return
    r.reason = reason
    r.abort.abort() // the socket is destroyed: no more data reaches this run
    // Pieces not received yet are free again at once (a prioritized piece can be picked now,
    // not when the run has wound down); pieces received but still being checked stay in flight.
    const end = r.first + r.count
    for (let i = r.next; i < end; i++) if (this.state[i] === INFLIGHT) this.state[i] = MISSING
    r.count = r.next - r.first
  }

  private lastTick = performance.now()
  private readonly lastReceived = new Map<string, number>()

  private tick(): void {
    const now = performance.now()
    this.sampleRates(now - this.lastTick, this.lastReceived)
    this.lastTick = now
    for (const s of this.sources.values()) {
      for (const r of s.runs) if (now - r.lastData > STALL_MS) this.abortRun(r, 'stall')
    }
  }

  private drop(s: Source, reason: string): void {
    if (s.dropped) return
    s.dropped = reason
    for (const r of s.runs) this.abortRun(r, 'bad')
    this.emit('source-dropped', s.id, reason)
  }

  private firstMissing(from: number): number | null {
    for (let i = from; i < this.pieceCount; i++) if (this.state[i] === MISSING) return i
    return null
  }

  private pump(): void {
    if (!this.done || this.stopped || this.failed) return
    if (this.firstMissing(0) === null && ![...this.sources.values()].some((s) => s.runs.size)) {
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
    for (const s of usable) {
      // Aborted runs are still winding down (their pieces are not missing yet): they hold no slot.
      while ([...s.runs].filter((r) => !r.reason).length < this.slots()) {
        const r = this.pickRun(s, usable.length)
        if (!r) return
        s.runs.add(r)
        void s.queue.add(() => this.fetchRun(r))
      }
    }
  }

  private pickRun(s: Source, sources: number): Run | null {
    let p: number | null = null
    if (this.priority !== null) {
      p = this.firstMissing(this.priority)
      this.priority = null
    }
    p ??= this.firstMissing(this.cursor) ?? this.firstMissing(0)
    if (p === null) return null
    // With several holders, spread the remaining pieces over all their slots (at least 4 pieces
    // a run); with one, keep runs long and in order, which is what a player reads.
    let cap = RUN_PIECES
    if (sources > 1) {
      let missing = 0
      for (let i = p; i < this.pieceCount && missing < RUN_PIECES * sources * RUNS_PER_SOURCE; i++) if (this.state[i] === MISSING) missing++
      cap = Math.max(4, Math.min(RUN_PIECES, Math.ceil(missing / (sources * RUNS_PER_SOURCE))))
    }
    let count = 1
    while (count < cap && p + count < this.pieceCount && this.state[p + count] === MISSING) count++
    for (let i = p; i < p + count; i++) this.state[i] = INFLIGHT
    this.cursor = p + count
    return { source: s, first: p, count, next: p, lastData: performance.now(), cutAfter: null, abort: new AbortController(), reason: null }
  }

  private async fetchRun(r: Run): Promise<void> {
    const s = r.source
    const offset = r.first * PIECE_SIZE
    const end = Math.min((r.first + r.count) * PIECE_SIZE, this.size)
    let pos = offset
    let meta = false
    let batch = this.host.allocBatch()
    let batchFirst = r.first
    let fill = 0
    const runEnd = r.first + r.count
    const pending = new Set<Promise<void>>()
    let remote: RemoteError | null = null
    const submit = (): void => {
      const first = batchFirst
      const count = r.next - first
      const expected = (this.hashes as Buffer).subarray(first * 32, (first + count) * 32)
      const p = this.host.verifyAndWrite(first, count, batch, fill, expected).then(
        (good) => {
          pending.delete(p)
          for (let i = first; i < first + good; i++) this.state[i] = HAVE
          if (good < count) {
            this.emit('bad-piece', s.id, first + good)
            s.corrupt = true
            this.drop(s, `sent a corrupt piece ${first + good}`)
          }
        },
        (err: Error) => {
          pending.delete(p)
          // A local failure (disk full, hash worker gone): no holder can help, stop the download.
          this.fail(err)
        }
      )
      pending.add(p)
      batchFirst = r.next
      fill = 0
      if (r.next < runEnd) batch = this.host.allocBatch()
    }
    try {
      await exchange(
        s,
        MSG.RGET,
        formatRget({ cid: this.host.cid, offset, length: end - offset }),
        {
          policy: (t): FramePolicy | undefined => (t === MSG.ERRO ? ERRO_POLICY : t === MSG.REPL ? (meta ? DATA_POLICY : META_POLICY) : undefined),
          frame: (t, p) => {
            if (t === MSG.ERRO) return void (remote = new RemoteError(p.toString('utf8')))
            const m = parseRangeMeta(p)
            if (m.cid !== this.host.cid || m.size !== this.size || m.offset !== offset || m.length !== end - offset) throw new ProtocolError('ERR_BAD_REPLY', `holder ${s.id} answered RGET for another range or file`)
            meta = true
          },
          data: (_t, data) => {
            if (r.reason) return // cut at a piece boundary below; the rest of this read is dropped
            if (pos + data.length > end) throw new ProtocolError('ERR_BAD_REPLY', `holder ${s.id} sent more bytes than asked for`)
            r.lastData = performance.now()
            s.received += data.length
            for (let i = 0; i < data.length; ) {
              // Bytes up to the end of the current piece.
              const pieceEnd = Math.min((r.next + 1) * PIECE_SIZE, this.size) - batchFirst * PIECE_SIZE
              const n = Math.min(pieceEnd - fill, data.length - i)
              data.copy(batch, fill, i, i + n)
              fill += n
              i += n
              if (fill === pieceEnd) {
                r.next++
                // Piece 0 goes alone: it holds an MP4's box headers, which may ask for the tail next.
                if (r.next === runEnd || r.next - batchFirst === BATCH_PIECES || r.next === 1 || this.streaming() || this.host.waitingPieces?.().length) submit()
                if (r.cutAfter !== null && r.next >= r.cutAfter && r.next < runEnd) {
                  if (r.next > batchFirst) submit()
                  this.abortRun(r, 'priority')
                  return
                }
              }
            }
            pos += data.length
          },
          afterRead: () => (pending.size >= MAX_PENDING_BATCHES ? Promise.race(pending) : undefined)
        },
        { signal: r.abort.signal, connectTimeoutMs: this.host.connectTimeoutMs, idleTimeoutMs: this.host.idleTimeoutMs, transport: this.host.transport, readBufferSize: READ_BUFFER }
      )
      if (remote) throw remote
      if (!meta || pos !== end) throw new ProtocolError('ERR_BAD_REPLY', `holder ${s.id} ended the range early`)
      s.failures = 0
    } catch (err) {
      const e = err as P2PTubeError
      if (r.reason === 'stall') {
        if (++s.failures >= 2) this.drop(s, `stalled for ${STALL_MS} ms`)
      } else if (r.reason === null) {
        this.lastError = e
        // Gone (refused, reset), or answered ERRO: do not ask it again.
        if (e.code === 'ERR_CONNECT' || e instanceof RemoteError || e instanceof ProtocolError || ++s.failures >= 2) this.drop(s, e.message)
      }
    } finally {
      await Promise.all(pending)
      for (let i = r.first; i < r.first + r.count; i++) if (this.state[i] === INFLIGHT) this.state[i] = MISSING
      s.runs.delete(r)
      this.extraSlots = 0
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
