/**
 * The RGET client for one run (docs/PROTOCOL.md §4.8): ask a holder for the bytes of `count`
 * consecutive pieces, cut them into pieces as they arrive (2 KB frames, read into one reused
 * buffer) and hand them over in batches of BATCH_PIECES (one hash-worker round trip and one
 * write each), or one by one while a player reads. Reading pauses while MAX_PENDING_BATCHES
 * batches wait to be checked. The scheduler (swarm.ts) owns the run and reacts to its outcome.
 */
import { exchange, type Endpoint } from '../net/client.ts'
import { MSG, PIECE_SIZE } from '../protocol/constants.ts'
import { ProtocolError, RemoteError } from '../protocol/errors.ts'
import type { FramePolicy } from '../protocol/frame.ts'
import { formatRget, parseRangeMeta } from '../protocol/messages.ts'
import { MESSAGES, replyPolicy } from '../protocol/table.ts'
import type { DialOptions } from './hash-client.ts'

/**
 * Pieces handed to the download (checked and written on the hash worker) in one batch, unless a
 * player is reading: then every piece goes alone, as soon as it is complete. One batch is one
 * worker round trip and one write: 1 MiB instead of 16 × 64 KiB.
 */
export const BATCH_PIECES = 16
/** Batches per run handed over but not yet written before reading pauses (4 MiB). */
const MAX_PENDING_BATCHES = 4
/** Bytes of the one buffer a run's socket reads into (reused: no allocation per read). */
const READ_BUFFER = 256 * 1024

/** A run: pieces [first, first + count) from one holder. The scheduler sets `reason` to stop it. */
export interface Run {
  first: number
  count: number
  /** Next piece index expected from this run. */
  next: number
  /** performance.now() of the last data, ms. */
  lastData: number
  /** Cut the run (for a priority elsewhere) once `next` reaches this piece. */
  cutAfter: number | null
  abort: AbortController
  reason: 'priority' | 'stall' | 'bad' | 'cancel' | null
}

/** What a range request needs from its scheduler. */
export interface RangeHooks extends DialOptions {
  cid: string
  /** File size, bytes. */
  size: number
  /** The hash list: 32 bytes a piece. */
  hashes: Buffer
  /** A buffer of BATCH_PIECES × PIECE_SIZE bytes owning its ArrayBuffer. */
  allocBatch(): Buffer
  /** Check and write `count` pieces from `first` packed in `buf[0, len)`; resolves to the good prefix's length in pieces. */
  verifyAndWrite(first: number, count: number, buf: Buffer, len: number, expected: Buffer): Promise<number>
  /** Hand each piece over as soon as it is complete (a player reads) instead of in batches. */
  pieceByPiece(): boolean
  /** A batch was checked: `good` of its `count` pieces from `first` were good and written. */
  checked(first: number, count: number, good: number): void
  /** A batch could not be checked or written (a local failure: disk full, hash worker gone). */
  failed(err: Error): void
  /** The run reached its `cutAfter` piece: stop it (the request returns at once). */
  cut(): void
}

/** One RGET of a run from one holder. `holder.received` counts the bytes it delivered. */
export class RangeRequest {
  private readonly pending = new Set<Promise<void>>()

  constructor(
    private readonly holder: Endpoint & { id: string; received: number },
    private readonly run: Run,
    private readonly hooks: RangeHooks
  ) {}

  /**
   * Fetch the run's bytes, advancing `run.next` piece by piece. Data after the run is stopped
   * (`run.reason` set) is dropped.
   * @throws RemoteError (ERRO), ProtocolError ERR_BAD_REPLY (another range, too many bytes, ended
   *   early), TimeoutError, AbortError (run.abort), P2PTubeError ERR_CONNECT.
   */
  async fetch(): Promise<void> {
    const { run: r, hooks, holder: s, pending } = this
    const offset = r.first * PIECE_SIZE
    const end = Math.min((r.first + r.count) * PIECE_SIZE, hooks.size)
    let pos = offset
    let meta = false
    let batch = hooks.allocBatch()
    let batchFirst = r.first
    let fill = 0
    const runEnd = r.first + r.count
    let remote: RemoteError | null = null
    const submit = (): void => {
      const first = batchFirst
      const count = r.next - first
      const expected = hooks.hashes.subarray(first * 32, (first + count) * 32)
      const p = hooks.verifyAndWrite(first, count, batch, fill, expected).then(
        (good) => {
          pending.delete(p)
          hooks.checked(first, count, good)
        },
        (err: Error) => {
          pending.delete(p)
          hooks.failed(err)
        }
      )
      pending.add(p)
      batchFirst = r.next
      fill = 0
      if (r.next < runEnd) batch = hooks.allocBatch()
    }
    await exchange(
      s,
      MSG.RGET,
      formatRget({ cid: hooks.cid, offset, length: end - offset }),
      {
        policy: (t): FramePolicy | undefined => replyPolicy(MESSAGES.RGET.reply, t, !meta),
        frame: (t, p) => {
          if (t === MSG.ERRO) return void (remote = new RemoteError(p.toString('utf8')))
          const m = parseRangeMeta(p)
          if (m.cid !== hooks.cid || m.size !== hooks.size || m.offset !== offset || m.length !== end - offset)
            throw new ProtocolError('ERR_BAD_REPLY', `holder ${s.id} answered RGET for another range or file`)
          meta = true
        },
        data: (_t, data) => {
          if (r.reason) return // cut at a piece boundary below; the rest of this read is dropped
          if (pos + data.length > end) throw new ProtocolError('ERR_BAD_REPLY', `holder ${s.id} sent more bytes than asked for`)
          r.lastData = performance.now()
          s.received += data.length
          for (let i = 0; i < data.length;) {
            // Bytes up to the end of the current piece.
            const pieceEnd = Math.min((r.next + 1) * PIECE_SIZE, hooks.size) - batchFirst * PIECE_SIZE
            const n = Math.min(pieceEnd - fill, data.length - i)
            data.copy(batch, fill, i, i + n)
            fill += n
            i += n
            if (fill === pieceEnd) {
              r.next++
              // Piece 0 goes alone: it holds an MP4's box headers, which may ask for the tail next.
              if (r.next === runEnd || r.next - batchFirst === BATCH_PIECES || r.next === 1 || hooks.pieceByPiece()) submit()
              if (r.cutAfter !== null && r.next >= r.cutAfter && r.next < runEnd) {
                if (r.next > batchFirst) submit()
                hooks.cut()
                return
              }
            }
          }
          pos += data.length
        },
        afterRead: () => (pending.size >= MAX_PENDING_BATCHES ? Promise.race(pending) : undefined)
      },
      { signal: r.abort.signal, connectTimeoutMs: hooks.connectTimeoutMs, idleTimeoutMs: hooks.idleTimeoutMs, transport: hooks.transport, readBufferSize: READ_BUFFER }
    )
    if (remote) throw remote
    if (!meta || pos !== end) throw new ProtocolError('ERR_BAD_REPLY', `holder ${s.id} ended the range early`)
  }

  /** Resolves when every batch handed over has been checked (never rejects). */
  async settled(): Promise<void> {
    await Promise.all(this.pending)
  }
}
