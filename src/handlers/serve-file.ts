/**
 * Send file bytes as REPL frames of exactly CHUNK_SIZE bytes, the last one shorter
 * (PROTOCOL.md §4.7), or, for an RGET that asked for large frames, one frame per block of up to
 * 256 KiB (§4.4), reading in blocks, honouring backpressure and the upload rate limit.
 * The file is read (readv) straight into the payload slots of a framed buffer, so no byte is
 * copied in user space; three such buffers rotate (one being read, up to two in the socket).
 * Memory per upload: 3 × (256 KiB + 1 KiB of headers), from a pool kept between uploads (at
 * most 6 buffers, 1.5 MiB); under an upload rate limit the block is smaller
 * (RateLimiter.blockSize) and its buffers are not pooled. 1 MiB blocks were tried: fewer reads
 * and writes, but no less CPU and slower in alternated runs (153 vs 221 MB/s median of 4).
 */
import fs from 'node:fs/promises'
import { CHUNK_SIZE } from '../protocol/constants.ts'
import { P2PTubeError } from '../protocol/errors.ts'
import { chunkFramesLength, layoutChunkFrames } from '../protocol/frame.ts'
import type { RequestContext } from '../net/server.ts'
import type { LibraryEntry } from '../node/library.ts'
import type { RateLimiter } from '../net/token-bucket.ts'
import type { UploadRecord } from '../node/upload-log.ts'

const BLOCK = CHUNK_SIZE * 128 // 256 KiB
const SLOTS = 3
/** Bytes of a full-block framed buffer, 2 KB frames (the most headers): 256 KiB + 1 KiB. */
const FULL = chunkFramesLength(BLOCK, CHUNK_SIZE)
/**
 * Full-block buffers kept between uploads (two uploads' worth). A download is
 * many RGET runs of up to 64 MiB each; buffers made per run were garbage only a major GC frees
 * (external memory), so the seeder's RSS climbed by a run's buffers per run until one ran.
 */
const MAX_POOLED = 2 * SLOTS
const pool: Buffer[] = []

/** A framed buffer for blocks of `block` bytes in frames of `chunk`: pooled when it is a full block. */
function takeBuffer(block: number, chunk: number): Buffer {
  if (block !== BLOCK) return Buffer.allocUnsafe(chunkFramesLength(block, chunk))
  return pool.pop() ?? Buffer.allocUnsafeSlow(FULL)
}

/** Give a buffer back once the socket has let go of it. */
function releaseBuffer(buf: Buffer): void {
  if (buf.length === FULL && pool.length < MAX_POOLED) pool.push(buf)
}

/** A reusable framed buffer: headers written for `len` payload bytes, `iov` the payload slots. */
interface Slot {
  buf: Buffer
  len: number
  iov: Buffer[]
  /** Resolves when the socket no longer holds `buf`. */
  flushed: Promise<void>
}

/** Lay `slot` out for `len` payload bytes in frames of `frame` bytes (kept when `len` is unchanged). */
function layout(slot: Slot, len: number, frame: number): void {
  if (slot.len === len) return
  slot.iov = layoutChunkFrames(slot.buf, len, frame)
  slot.len = len
}

/**
 * Stream [offset, offset+length) of `entry`, opened by `open` (Library.open: no symlink, the
 * same file as indexed), in REPL frames of `frame` bytes at most (default CHUNK_SIZE, exactly that
 * size but the last; larger values are cut to the block size).
 * @throws P2PTubeError ERR_READ when the file cannot be opened (deleted since indexing, a
 *   symlink now), ERR_FILE_CHANGED when it is not the indexed file or shrinks while read (the
 *   reply then ends short and the requester's checks fail).
 */
export async function serveFile(
  ctx: RequestContext,
  entry: LibraryEntry,
  offset: number,
  length: number,
  limiter: RateLimiter,
  onSent: ((bytes: number) => void) | undefined,
  open: (e: LibraryEntry) => Promise<fs.FileHandle>,
  frame = CHUNK_SIZE
): Promise<void> {
  const fh = await open(entry)
  // The read of the next block may be waiting when the loop ends early (requester gone, write
  // failed): stopping releases it, and the file is closed only once it has settled.
  const stopper = new AbortController()
  const stop = stopper.signal
  const forward = (): void => stopper.abort()
  if (ctx.signal.aborted) forward()
  else ctx.signal.addEventListener('abort', forward, { once: true })
  const stopped = new Promise<void>((resolve) => (stop.aborted ? resolve() : stop.addEventListener('abort', () => resolve(), { once: true })))
  let pending: Promise<number> = Promise.resolve(0)
  let slots: Slot[] = []
  try {
    const block = Math.min(BLOCK, limiter.blockSize)
    const chunk = Math.min(frame, block)
    const end = offset + length
    slots = Array.from({ length: Math.min(SLOTS, Math.ceil(length / block) || 1) }, () => ({
      buf: takeBuffer(block, chunk),
      len: -1,
      iov: [],
      flushed: Promise.resolve()
    }))
    // Read the block at `pos` into `slot` once the socket has let go of it; resolves to bytes read.
    const readAt = async (slot: Slot, pos: number): Promise<number> => {
      if (pos >= end) return 0
      await Promise.race([slot.flushed, stopped])
      if (stop.aborted) return 0
      layout(slot, Math.min(block, end - pos), chunk)
      return (await fh.readv(slot.iov, pos)).bytesRead
    }
    let pos = offset
    let i = 0
    pending = readAt(slots[0] as Slot, pos)
    while (pos < end) {
      const slot = slots[i] as Slot
      const bytesRead = await pending
      if (ctx.signal.aborted) return
      if (bytesRead < slot.len) throw new P2PTubeError('ERR_FILE_CHANGED', 'Error reading file: it is shorter than indexed')
      pos += slot.len
      i = (i + 1) % slots.length
      pending = readAt(slots[i] as Slot, pos)
      await limiter.take(slot.len, ctx.signal)
      let flushed!: () => void
      slot.flushed = new Promise<void>((resolve) => (flushed = resolve))
      await ctx.write(slot.buf.subarray(0, chunkFramesLength(slot.len, chunk)), () => flushed())
      onSent?.(slot.len)
    }
    await pending
  } finally {
    ctx.signal.removeEventListener('abort', forward)
    stopper.abort()
    await pending.catch(() => 0)
    for (const slot of slots) void slot.flushed.then(() => releaseBuffer(slot.buf))
    await fh.close()
  }
}

/** What serveEntry needs of the node: the limiter and the upload counters (NodeContext has them). */
export interface UploadSink {
  limiter: RateLimiter
  /** Opens an entry as indexed (Library.open: no symlink, same device/inode/mtime). */
  library: { open(e: LibraryEntry): Promise<fs.FileHandle> }
  countUpload(bytes: number): void
  uploaded?(u: UploadRecord): void
}

/**
 * serveFile, then report the reply to `node.uploaded` (remote address, file, bytes sent, ms),
 * also when it ends early (the requester gone). @throws serveFile's errors.
 */
export async function serveEntry(ctx: RequestContext, node: UploadSink, entry: LibraryEntry, offset: number, length: number, frame?: number): Promise<void> {
  const t0 = performance.now()
  let sent = 0
  try {
    await serveFile(
      ctx,
      entry,
      offset,
      length,
      node.limiter,
      (n) => {
        sent += n
        node.countUpload(n)
      },
      (e) => node.library.open(e),
      frame
    )
  } finally {
    node.uploaded?.({ remote: ctx.remoteAddress, member: ctx.peer?.name ?? null, name: entry.name, bytes: sent, ms: performance.now() - t0, at: Date.now() })
  }
}
