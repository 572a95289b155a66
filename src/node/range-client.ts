/**
 * The RGET client for one run (docs/PROTOCOL.md §4.8): ask a holder for the bytes of `count`
 * consecutive pieces in large data frames (RANGE_FRAME; a holder that does not know the field
 * sends 2 KB frames), cut them into pieces as they arrive and hand them over in batches of
 * BATCH_PIECES (one hash-worker round trip and one write each), or one by one while a player
 * reads. Frame bodies are read by the socket straight into the batch buffer at their place (no
 * copy; headers go to an 8-byte scratch); anything else (2 KB frames, TLS) is copied there from
 * one reused read buffer. Reading pauses while MAX_PENDING_BATCHES batches wait to be checked.
 * The scheduler (swarm.ts) owns the run and reacts to its outcome.
 */
import { exchange, type Endpoint } from '../net/client.ts'
import { HEADER_SIZE, MSG, PIECE_SIZE } from '../protocol/constants.ts'
import { P2PTubeError, ProtocolError, RemoteError } from '../protocol/errors.ts'
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
/** Bytes of the one buffer a run's socket reads into when data cannot land in place (reused: no allocation per read). */
const READ_BUFFER = 256 * 1024
/** Data frame size asked for in RGET (`frame`): 256 KiB, the holder's read block (PROTOCOL.md §4.4). */
export const RANGE_FRAME = 256 * 1024
/** Frames at least this large are read in place; smaller ones (a holder sending 2 KB frames) many to a read, then copied. */
const IN_PLACE_MIN = 16 * 1024

/** A run: pieces [first, first + count) from one holder. The scheduler sets `reason` to stop it. */
export interface Run {
  first: number
  count: number
  /** Next piece index expected from this run. */
  next: number
  /** performance.now() of the last data, ms. */
  lastData: number
  /** Bytes received on this run. */
  bytes: number
  /** Cut the run (for a priority elsewhere) once `next` reaches this piece. */
  cutAfter: number | null
  abort: AbortController
  reason: 'priority' | 'stall' | 'slow' | 'duplicate' | 'bad' | 'cancel' | null
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
   * @throws RemoteError (ERRO), ProtocolError ERR_BAD_REPLY (another range, too many bytes),
   *   P2PTubeError ERR_NO_REPLY (closed before the meta frame) or ERR_CONNECTION_CLOSED (closed
   *   before the last byte), InvalidFrameError ERR_TRUNCATED_FRAME (closed inside a frame),
   *   TimeoutError, AbortError (run.abort), P2PTubeError ERR_CONNECT.
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
    const header = Buffer.allocUnsafe(HEADER_SIZE)
    /** Length of the last data frame started, bytes: headers get their own read only while frames are large. */
    let frameLen = 0
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
    /** Byte (relative to the batch) where the batch is handed over next: a read landing in place never crosses it. */
    const handOver = (): number => {
      const pieceEnd = Math.min((r.next + 1) * PIECE_SIZE, hooks.size) - batchFirst * PIECE_SIZE
      if (r.next === 0 || r.cutAfter !== null || hooks.pieceByPiece()) return pieceEnd
      return Math.min((batchFirst + BATCH_PIECES) * PIECE_SIZE, runEnd * PIECE_SIZE, hooks.size) - batchFirst * PIECE_SIZE
    }
    await exchange(
      s,
      MSG.RGET,
      formatRget({ cid: hooks.cid, offset, length: end - offset, frame: RANGE_FRAME }),
      {
        policy: (t): FramePolicy | undefined => replyPolicy(MESSAGES.RGET.reply, t, !meta, true),
        frame: (t, p) => {
          if (t === MSG.ERRO) return void (remote = new RemoteError(p.toString('utf8')))
          const m = parseRangeMeta(p)
          if (m.cid !== hooks.cid || m.size !== hooks.size || m.offset !== offset || m.length !== end - offset)
            throw new ProtocolError('ERR_BAD_REPLY', `holder ${s.id} answered RGET for another range or file`)
          meta = true
        },
        start: (_t, length) => void (frameLen = length),
        data: (_t, view) => {
          if (r.reason) return // cut at a piece boundary below; the rest of this read is dropped
          if (pos + view.length > end) throw new ProtocolError('ERR_BAD_REPLY', `holder ${s.id} sent more bytes than asked for`)
          r.lastData = performance.now()
          r.bytes += view.length
          s.received += view.length
          pos += view.length
          let data = view
          // Read by the socket straight into the batch at `fill` (readTarget): nothing to copy.
          let inPlace = data.buffer === batch.buffer && data.byteOffset === batch.byteOffset + fill
          for (let i = 0; i < data.length;) {
            // Bytes up to the end of the current piece.
            const pieceEnd = Math.min((r.next + 1) * PIECE_SIZE, hooks.size) - batchFirst * PIECE_SIZE
            const n = Math.min(pieceEnd - fill, data.length - i)
            if (!inPlace) data.copy(batch, fill, i, i + n)
            fill += n
            i += n
            if (fill === pieceEnd) {
              r.next++
              // Piece 0 goes alone: it holds an MP4's box headers, which may ask for the tail next.
              const hand = r.next === runEnd || r.next - batchFirst === BATCH_PIECES || r.next === 1 || hooks.pieceByPiece()
              const cut = r.cutAfter !== null && r.next >= r.cutAfter && r.next < runEnd
              if (inPlace && (hand || cut) && i < data.length) {
                // The batch goes to the worker (detached) while this read still has bytes in it
                // (a player started reading since the read was placed): keep them first.
                data = Buffer.from(data.subarray(i))
                i = 0
                inPlace = false
              }
              if (hand) submit()
              if (cut) {
                if (r.next > batchFirst) submit()
                hooks.cut()
                return
              }
            }
          }
        },
        afterRead: () => (pending.size >= MAX_PENDING_BATCHES ? Promise.race(pending) : undefined)
      },
      {
        signal: r.abort.signal,
        connectTimeoutMs: hooks.connectTimeoutMs,
        idleTimeoutMs: hooks.idleTimeoutMs,
        transport: hooks.transport,
        readBufferSize: READ_BUFFER,
        // Data frame bodies land in the batch at their place, up to where it is handed over.
        readTarget: (streamLeft, headerLeft) => {
          if (!meta || r.reason || frameLen < IN_PLACE_MIN) return undefined
          if (streamLeft === 0) return headerLeft > 0 ? header.subarray(0, headerLeft) : undefined
          const n = Math.min(streamLeft, handOver() - fill, end - pos)
          return n > 0 ? batch.subarray(fill, fill + n) : undefined
        }
      }
    )
    if (remote) throw remote
    // A close before the end is not a lie about the data (a restart, a dropped link): the
    // scheduler may ask again (swarm.ts retries with back-off).
    if (!meta) throw new P2PTubeError('ERR_NO_REPLY', `holder ${s.id} closed without answering RGET`)
    if (pos !== end) throw new P2PTubeError('ERR_CONNECTION_CLOSED', `holder ${s.id} ended the range early, after ${pos - offset} of ${end - offset} bytes`)
  }

  /** Resolves when every batch handed over has been checked (never rejects). */
  async settled(): Promise<void> {
    await Promise.all(this.pending)
  }
}
