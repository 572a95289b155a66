/**
 * Verified writes of a p2ptube download (docs/PROTOCOL.md §4.8): batches of pieces go to the
 * hash worker, which checks each against the hash list (itself checked against the content id)
 * and writes the good prefix into the partial file (one worker round trip and one write per
 * batch). Batch buffers are transferred to the worker and back, and pooled. Each byte is hashed
 * once: the digests of the verified pieces are kept as the leaves of the Merkle tree, and the
 * final check is their root against the content id — no second pass over the file. Pieces found
 * on disk at a resume are checked again (recheck) before they count.
 */
import { PIECE_SIZE } from '../protocol/constants.ts'
import { P2PTubeError } from '../protocol/errors.ts'
import { contentIdOf, merkleRoot, pieceCountOf } from '../protocol/merkle.ts'
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
  private readonly key = `${process.pid}:${Math.random()}`
  private readonly pool: Buffer[] = []
  private firstSeen = false
  private size = 0
  /** SHA-256 of every verified piece, in piece order (the Merkle leaves); `verified[i]` once set. */
  private leaves = Buffer.alloc(0)
  private verified = new Uint8Array(0)

  constructor(
    private readonly hasher: HashWorker,
    private readonly part: PartFile,
    private readonly hooks: PieceWriterHooks
  ) {}

  /** A file of `size` bytes: let the worker open the (open) partial file for writing. */
  open(size: number): void {
    this.size = size
    this.leaves = Buffer.alloc(pieceCountOf(size) * 32)
    this.verified = new Uint8Array(pieceCountOf(size))
    this.hasher.open(this.key, this.part.path)
  }

  /** Close the worker's file handle (after its queued writes). */
  close(): void {
    this.hasher.close(this.key)
  }

  /** A batch buffer (BATCH_PIECES × PIECE_SIZE bytes) that owns its ArrayBuffer: it is transferred to the hash worker. */
  allocBatch(): Buffer {
    return this.pool.pop() ?? Buffer.allocUnsafeSlow(BATCH_PIECES * PIECE_SIZE)
  }

  /** Keep the digests of `good` pieces from `first` as verified leaves. */
  private keep(first: number, good: number, leaves: Buffer): void {
    leaves.copy(this.leaves, first * 32, 0, good * 32)
    this.verified.fill(1, first, first + good)
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
    this.keep(first, r.good, r.leaves)
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
   * Check pieces already on disk (a resume) against `hashes` (the checked list), reading them
   * back in batches; the good ones become verified leaves.
   * @param pieces indices of the pieces to check, ascending.
   * @returns the indices that failed (their bytes are not to be trusted: fetch them again).
   * @throws P2PTubeError ERR_CLOSED, ERR_HASH_WORKER; fs read errors.
   */
  async recheck(pieces: readonly number[], hashes: Buffer): Promise<number[]> {
    const bad: number[] = []
    let buf = this.allocBatch()
    for (let i = 0; i < pieces.length;) {
      // A batch: consecutive pieces, at most BATCH_PIECES.
      const first = pieces[i] as number
      let count = 1
      while (count < BATCH_PIECES && pieces[i + count] === first + count) count++
      const start = first * PIECE_SIZE
      const len = Math.min((first + count) * PIECE_SIZE, this.size) - start
      const got = await this.part.readInto(buf, len, start)
      const r = await this.hasher.pieces(this.key, start, buf, got, hashes.subarray(first * 32, (first + count) * 32), PIECE_SIZE, false)
      buf = r.buf
      this.keep(first, r.good, r.leaves)
      // Checking stops at the first bad piece: note it and go on after it.
      const checked = got === len ? r.good : Math.min(r.good, Math.floor(got / PIECE_SIZE))
      if (checked < count) bad.push(first + checked)
      i += Math.min(count, checked + 1)
    }
    if (this.pool.length < MAX_POOLED_BATCHES) this.pool.push(buf)
    return bad
  }

  /**
   * The content id of the verified file: the Merkle root of the leaves kept, bound to the size
   * (PROTOCOL.md §4.5). Nothing is read or hashed again.
   * @returns lowercase hex. @throws P2PTubeError ERR_SHORT_FILE when a piece was never verified.
   */
  contentId(): string {
    const missing = this.verified.indexOf(0)
    if (missing >= 0) throw new P2PTubeError('ERR_SHORT_FILE', `piece ${missing} of ${this.part.path} was never verified`)
    return contentIdOf(merkleRoot(this.leaves), this.size)
  }
}
