/**
 * Verified writes of a p2ptube download (docs/PROTOCOL.md §4.8): batches of pieces go to the
 * hash worker, which checks each against the hash list, writes the good prefix into the partial
 * file and extends the whole-file SHA-256 when the batch starts at its hashed prefix (one worker
 * round trip and one write per batch). Batch buffers are transferred to the worker and back, and
 * pooled. At the end, bytes that arrived out of order (or before a resume) are hashed from disk.
 */
import { PIECE_SIZE } from '../protocol/constants.ts'
import { P2PTubeError } from '../protocol/errors.ts'
import type { HashWorker } from './hash-worker.ts'
import type { PartFile } from './part-file.ts'
import { BATCH_PIECES } from './range-client.ts'

/** Batch buffers (1 MiB each) kept for reuse. */
const MAX_POOLED_BATCHES = 12

/** What a PieceWriter reports to its download. */
export interface PieceWriterHooks {
  /** Bytes [offset, offset + length) are checked and on disk. */
  written(offset: number, length: number): void
  /** Piece 0 is checked: its bytes (up to PIECE_SIZE), e.g. to find an MP4's moov box. */
  firstPiece?(head: Buffer): void
}

/** The hash-worker side of one download, keyed on the shared worker by a unique file key. */
export class PieceWriter {
  /** The worker's whole-file hash covers bytes [0, hashPos). */
  private hashPos = 0
  private readonly key = `${process.pid}:${Math.random()}`
  private readonly pool: Buffer[] = []
  private firstSeen = false

  constructor(
    private readonly hasher: HashWorker,
    private readonly part: PartFile,
    private readonly hooks: PieceWriterHooks
  ) {}

  /** Start the whole-file hash at byte 0 and let the worker open the (open) partial file for writing. */
  open(): void {
    this.hasher.open(this.key, 0, this.part.path)
  }

  /** Forget the worker's hash state and close its file handle (after its queued writes). */
  close(): void {
    this.hasher.close(this.key)
  }

  /** A batch buffer (BATCH_PIECES × PIECE_SIZE bytes) that owns its ArrayBuffer: it is transferred to the hash worker. */
  allocBatch(): Buffer {
    return this.pool.pop() ?? Buffer.allocUnsafeSlow(BATCH_PIECES * PIECE_SIZE)
  }

  /**
   * Check `count` pieces from piece `first`, packed in `buf[0, len)`, against `expected` (32-byte
   * SHA-256 each) and write the good prefix; `buf` is pooled again afterwards.
   * @returns how many pieces, from `first`, were good and written.
   * @throws P2PTubeError ERR_WRITE (disk full...), ERR_HASH_WORKER.
   */
  async verifyAndWrite(first: number, count: number, buf: Buffer, len: number, expected: Buffer): Promise<number> {
    const offset = first * PIECE_SIZE
    const r = await this.hasher.pieces(this.key, offset, buf, len, expected, PIECE_SIZE)
    this.hashPos = Math.max(this.hashPos, r.pos)
    const goodLen = Math.min(r.good * PIECE_SIZE, len)
    if (first === 0 && r.good > 0 && !this.firstSeen) {
      this.firstSeen = true
      this.hooks.firstPiece?.(r.buf.subarray(0, Math.min(PIECE_SIZE, len)))
    }
    if (this.pool.length < MAX_POOLED_BATCHES) this.pool.push(r.buf)
    if (goodLen > 0) this.hooks.written(offset, goodLen)
    return r.good
  }

  /**
   * Finish the whole-file SHA-256 of `size` bytes, hashing from disk (on the worker) what was not
   * hashed in order as it arrived.
   * @returns lowercase hex. @throws P2PTubeError ERR_SHORT_FILE, ERR_CLOSED, ERR_HASH_WORKER.
   */
  async digest(size: number): Promise<string> {
    let buf: Buffer = Buffer.allocUnsafeSlow(1 << 20)
    while (this.hashPos < size) {
      const bytesRead = await this.part.readInto(buf, Math.min(buf.length, size - this.hashPos), this.hashPos)
      if (bytesRead === 0) throw new P2PTubeError('ERR_SHORT_FILE', `partial file ${this.part.path} is shorter than ${size} bytes`)
      const r = await this.hasher.data(this.key, this.hashPos, buf.subarray(0, bytesRead))
      buf = Buffer.from(r.buf.buffer)
      this.hashPos = r.pos
    }
    return (await this.hasher.digest(this.key)).hex
  }
}
