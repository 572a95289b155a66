/**
 * Send file bytes as REPL frames of exactly CHUNK_SIZE bytes, the last one shorter
 * (PROTOCOL.md §4.7), reading in blocks, honouring backpressure and the upload rate limit.
 * Memory per upload: two blocks (2 × 256 KiB) and the frames of one.
 */
import fs from 'node:fs/promises'
import { CHUNK_SIZE } from '../protocol/constants.ts'
import { P2PTubeError } from '../protocol/errors.ts'
import { encodeChunkFrames } from '../protocol/frame.ts'
import type { RequestContext } from '../net/server.ts'
import type { LibraryEntry } from '../node/library.ts'
import type { RateLimiter } from '../node/rate-limiter.ts'

const BLOCK = CHUNK_SIZE * 128 // 256 KiB

/**
 * Stream [offset, offset+length) of `entry`.
 * @throws P2PTubeError ERR_READ when the file cannot be opened (deleted since indexing),
 *   ERR_FILE_CHANGED when it is no longer the indexed size (the reply then ends short and the
 *   requester's checks fail).
 */
export async function serveFile(ctx: RequestContext, entry: LibraryEntry, offset: number, length: number, limiter: RateLimiter, onSent?: (bytes: number) => void): Promise<void> {
  let fh: fs.FileHandle
  try {
    fh = await fs.open(entry.path, 'r')
  } catch (err) {
    throw new P2PTubeError('ERR_READ', `Error reading file (${(err as NodeJS.ErrnoException).code ?? 'unknown'})`)
  }
  try {
    const st = await fh.stat()
    if (st.size !== entry.size) throw new P2PTubeError('ERR_FILE_CHANGED', 'Error reading file: it changed since it was indexed')
    // Two buffers: the next block is read from disk while the current one drains to the socket.
    const block = Math.min(BLOCK, limiter.blockSize)
    const bufs = [Buffer.allocUnsafe(block), Buffer.allocUnsafe(block)]
    const end = offset + length
    const readAt = (pos: number, i: number): Promise<number> =>
      pos < end ? fh.read(bufs[i] as Buffer, 0, Math.min(block, end - pos), pos).then((r) => r.bytesRead) : Promise.resolve(0)
    let pos = offset
    let i = 0
    let pending = readAt(pos, i)
    while (pos < end) {
      const bytesRead = await pending
      if (ctx.signal.aborted) return
      if (bytesRead === 0) throw new P2PTubeError('ERR_FILE_CHANGED', 'Error reading file: it is shorter than indexed')
      const frames = encodeChunkFrames((bufs[i] as Buffer).subarray(0, bytesRead))
      pos += bytesRead
      i ^= 1
      pending = readAt(pos, i)
      await limiter.take(bytesRead, ctx.signal)
      await ctx.write(frames)
      onSent?.(bytesRead)
    }
    await pending
  } finally {
    await fh.close()
  }
}
