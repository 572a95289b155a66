/**
 * HTTP media responses for the LAN web server: a file on disk (an indexed library file or a
 * finished download) or a Download in progress, with single byte ranges (RFC 9110 §14), HEAD,
 * and 416 for an unsatisfiable range. Bytes are copied in slices of at most SLICE, waiting for
 * the client to drain (backpressure): a whole file is never held in memory.
 */
import fs from 'node:fs/promises'
import type http from 'node:http'
import type { Download } from '../node/download.ts'
import { P2PTubeError } from '../protocol/errors.ts'
import { contentType, drained, parseRange, pumpDownload } from '../node/stream-server.ts'

export { pumpDownload }

/** Largest slice read per write, bytes. */
export const SLICE = 256 * 1024

/** A response target as far as the copy loops need it. */
type Res = http.ServerResponse

/**
 * Write the status line and headers for `size` bytes of `name` and the request's Range.
 * @returns the [start, endExclusive) to send, or null when the response is complete already
 *   (HEAD, 416, empty file).
 */
export function startMediaResponse(req: http.IncomingMessage, res: Res, name: string, size: number, extra: http.OutgoingHttpHeaders = {}): [number, number] | null {
  const headers: http.OutgoingHttpHeaders = {
    'Content-Type': contentType(name),
    'Accept-Ranges': 'bytes',
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
    ...extra
  }
  const range = parseRange(req.headers.range, size)
  if (range === 'unsatisfiable') {
    res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}`, 'Content-Type': 'text/plain; charset=utf-8' })
    res.end(`range not satisfiable: the file is ${size} bytes\n`)
    return null
  }
  const [start, end] = range ?? [0, size - 1]
  headers['Content-Length'] = size === 0 ? 0 : end - start + 1
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${size}`
  res.writeHead(range ? 206 : 200, headers)
  if (req.method === 'HEAD' || size === 0) {
    res.end()
    return null
  }
  return [start, end + 1]
}


/**
 * Copy [start, end) of a file on disk to `res`.
 * @param expectedSize the size the file must still have (it is an indexed file); otherwise the
 *   response is cut (the client sees a short body) and ERR_FILE_CHANGED is thrown.
 * @throws the open/read error (ENOENT for a file deleted since indexing).
 */
export async function pumpFile(file: string, expectedSize: number, res: Res, start: number, end: number, signal: AbortSignal): Promise<void> {
  const fh = await fs.open(file, 'r')
  try {
    const st = await fh.stat()
    if (st.size !== expectedSize) throw new P2PTubeError('ERR_FILE_CHANGED', `${file} changed since it was indexed`)
    const buf = Buffer.allocUnsafe(Math.min(SLICE, Math.max(1, end - start)))
    let pos = start
    while (pos < end && !signal.aborted) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos)
      if (bytesRead === 0) throw new P2PTubeError('ERR_FILE_CHANGED', `${file} is shorter than indexed`)
      pos += bytesRead
      // Copy: the buffer is reused for the next read while this slice may still be queued.
      if (!res.write(Buffer.from(buf.subarray(0, bytesRead)))) await drained(res)
    }
    res.end()
  } finally {
    await fh.close()
  }
}

