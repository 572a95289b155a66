/**
 * A whole file from a legacy btpeer holder (docs/btpeer-wire.md, PROTOCOL.md §4.7): one FGET,
 * then REPL frames in order, however large each is (the original btpeer sends the whole file in
 * one frame; p2ptube holders send 2 KB frames). There is no content id and no hash list: the
 * bytes are hashed in order on the main thread as they are written, and the caller compares the
 * digest with a content id when it has one. Memory stays flat: data is written as it arrives, in
 * batches of at least 128 KiB, with a bounded number of writes in flight.
 */
import { createHash } from 'node:crypto'
import { exchange, type Endpoint } from '../net/client.ts'
import type { Transport } from '../net/transport.ts'
import { MAX_FILE_SIZE, MSG } from '../protocol/constants.ts'
import { P2PTubeError, ProtocolError, RemoteError } from '../protocol/errors.ts'
import type { FramePolicy } from '../protocol/frame.ts'
import { MESSAGES, replyPolicy } from '../protocol/table.ts'
import type { PartFile } from './part-file.ts'

/** Outstanding positional writes before reading from the socket pauses. */
const MAX_PENDING_WRITES = 4
/** Smallest write batch, bytes (fewer thread-pool round trips), unless readers wait. */
const MIN_WRITE = 128 * 1024
/** Bytes of a batch buffer (a larger socket read gets a buffer of its own size). */
const BATCH_BYTES = 256 * 1024

/** What fetchLegacy() needs. Times in ms. */
export interface LegacyFetchOptions {
  holder: Endpoint & { id: string }
  /** File name on the holder. */
  name: string
  /** The open partial file (written from byte 0). */
  part: PartFile
  signal: AbortSignal
  connectTimeoutMs?: number | undefined
  idleTimeoutMs?: number | undefined
  transport?: Transport | undefined
  /** Bytes [pos, pos + length) are on disk (called in file order). */
  written(pos: number, length: number): void
  /** A reader waits for bytes: write what is buffered now instead of batching. */
  readersWaiting(): boolean
}

/** A finished legacy transfer: its size in bytes, and the SHA-256 of the file. */
export interface LegacyFetchResult {
  size: number
  /**
   * Finish the SHA-256 (hashing from disk whatever was not hashed in flight).
   * @returns lowercase hex. @throws P2PTubeError ERR_SHORT_FILE when the file is shorter than `size`.
   */
  digest(): Promise<string>
}

/**
 * FGET `name` from a legacy holder into `part`.
 * @throws RemoteError (the holder answered ERRO), ProtocolError ERR_FILE_TOO_LARGE (over
 *   MAX_FILE_SIZE) or ERR_NO_REPLY (closed without a frame), TimeoutError, AbortError (signal),
 *   P2PTubeError ERR_CONNECT, fs errors of the writes.
 */
export async function fetchLegacy(opts: LegacyFetchOptions): Promise<LegacyFetchResult> {
  const { part } = opts
  const hash = createHash('sha256')
  let hashPos = 0
  // The writer: batches of data at file positions, a bounded number of writes in flight.
  let batch: Buffer | null = null
  let batchPos = 0
  let fill = 0
  const pending = new Set<Promise<void>>()
  let failure: Error | null = null
  const flushNow = (): void => {
    if (!batch || fill === 0) return
    const data = batch.subarray(0, fill)
    const pos = batchPos
    batch = null
    fill = 0
    if (pos === hashPos) {
      hash.update(data)
      hashPos += data.length
    }
    const p = part.write(data, pos).then(
      () => {
        pending.delete(p)
        opts.written(pos, data.length)
      },
      (err: Error) => {
        pending.delete(p)
        failure = err
      }
    )
    pending.add(p)
  }
  const push = (pos: number, data: Buffer): void => {
    if (batch && pos !== batchPos + fill) flushNow()
    if (!batch) {
      batch = Buffer.allocUnsafe(Math.max(BATCH_BYTES, data.length))
      batchPos = pos
    }
    if (fill + data.length > batch.length) {
      flushNow()
      batch = Buffer.allocUnsafe(Math.max(BATCH_BYTES, data.length))
      batchPos = pos
    }
    data.copy(batch, fill)
    fill += data.length
  }
  const flush = (): Promise<void> | void => {
    if (failure) throw failure
    if (fill >= MIN_WRITE || opts.readersWaiting()) flushNow()
    if (pending.size >= MAX_PENDING_WRITES) return Promise.race(pending)
  }
  const drain = async (): Promise<void> => {
    flushNow()
    while (pending.size) await Promise.all(pending)
    if (failure) throw failure
  }

  let pos = 0
  let frames = 0
  let remoteError: RemoteError | null = null
  const policy = (type: string): FramePolicy | undefined => replyPolicy(MESSAGES.FGET.reply, type)
  try {
    await exchange(
      opts.holder,
      MSG.FGET,
      opts.name,
      {
        policy,
        frame: (_type, payload) => {
          remoteError = new RemoteError(payload.toString('utf8'))
        },
        start: () => void frames++,
        data: (_type, data) => {
          if (pos + data.length > MAX_FILE_SIZE) throw new ProtocolError('ERR_FILE_TOO_LARGE', `file over the ${MAX_FILE_SIZE}-byte limit`)
          push(pos, data)
          pos += data.length
        },
        afterRead: () => flush()
      },
      { signal: opts.signal, connectTimeoutMs: opts.connectTimeoutMs, idleTimeoutMs: opts.idleTimeoutMs, transport: opts.transport }
    )
  } finally {
    await drain()
  }
  if (remoteError) throw remoteError
  // A legacy holder closing without any frame is a failure, not an empty file.
  if (frames === 0) throw new ProtocolError('ERR_NO_REPLY', `legacy holder ${opts.holder.id} closed without sending ${opts.name}`)
  const size = pos
  return {
    size,
    digest: async () => {
      const buf = Buffer.allocUnsafe(1 << 20)
      while (hashPos < size) {
        const bytesRead = await part.readInto(buf, Math.min(buf.length, size - hashPos), hashPos)
        if (bytesRead === 0) throw new P2PTubeError('ERR_SHORT_FILE', `partial file ${part.path} is shorter than ${size} bytes`)
        hash.update(buf.subarray(0, bytesRead))
        hashPos += bytesRead
      }
      return hash.digest('hex')
    }
  }
}
