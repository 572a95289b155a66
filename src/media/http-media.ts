/**
 * The one HTTP media responder, used by the player's loopback StreamServer (stream-server.ts)
 * and the LAN web page (src/web/http-server.ts): a file on disk (an indexed library file or a
 * finished download) or a Download in progress, with single byte ranges (RFC 9110 §14), HEAD,
 * and 416 for an unsatisfiable range. Bytes are copied in slices of at most SLICE, waiting for
 * the client to drain (backpressure): a whole file is never held in memory.
 */
import fs from 'node:fs/promises'
import type http from 'node:http'
import path from 'node:path'
import type { Download } from '../node/download.ts'
import { P2PTubeError } from '../protocol/errors.ts'

/** Largest slice read per write, bytes. */
export const SLICE = 256 * 1024

const TYPES: Record<string, string> = {
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.mkv': 'video/x-matroska',
  '.webm': 'video/webm',
  '.ogv': 'video/ogg',
  '.mov': 'video/quicktime',
  '.avi': 'video/x-msvideo',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.oga': 'audio/ogg',
  '.opus': 'audio/ogg',
  '.flac': 'audio/flac',
  '.wav': 'audio/wav',
  '.m4a': 'audio/mp4',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp'
}

/** MIME type by extension (application/octet-stream when unknown). */
export function contentType(name: string): string {
  return TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream'
}

/**
 * Parse one `Range: bytes=a-b` header against a size in bytes.
 * @returns [start, endInclusive], null for no/unsupported range, 'unsatisfiable' when out of bounds.
 */
export function parseRange(header: string | undefined, size: number): [number, number] | null | 'unsatisfiable' {
  if (!header) return null
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!m || (m[1] === '' && m[2] === '')) return null
  let start: number
  let end: number
  if (m[1] === '') {
    const suffix = Number(m[2])
    start = Math.max(0, size - suffix)
    end = size - 1
  } else {
    start = Number(m[1])
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  }
  if (start >= size || end < start) return 'unsatisfiable'
  return [start, end]
}

/** Headers of every media response: type by extension, ranges accepted, never sniffed or cached. */
export function mediaHeaders(name: string, extra: http.OutgoingHttpHeaders = {}): http.OutgoingHttpHeaders {
  return { 'Content-Type': contentType(name), 'Accept-Ranges': 'bytes', 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store', ...extra }
}

/**
 * Write the status line and headers for `size` bytes of `name` and the request's Range.
 * @returns the [start, endExclusive) to send, or null when the response is complete already
 *   (HEAD, 416, empty file).
 */
export function startMediaResponse(req: http.IncomingMessage, res: http.ServerResponse, name: string, size: number, extra: http.OutgoingHttpHeaders = {}): [number, number] | null {
  const headers = mediaHeaders(name, extra)
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

/** How a response is pumped. Times in ms. */
export interface PumpOptions {
  /**
   * A client that takes no byte for this long is cut off (its socket destroyed, the file handle
   * closed): a reader that stalls must not hold a file handle forever (docs/SECURITY.md "Web
   * page"). Default: no limit (the player's own loopback server: a paused mpv stops reading).
   */
  stallMs?: number
}

/**
 * Wait until `res` can take more data (or is closed).
 * @param stallMs after this long without a 'drain' the response is destroyed (default: wait on).
 */
export function drained(res: http.ServerResponse, stallMs?: number): Promise<void> {
  // Already closed (the client went away): 'close' will not come again, do not wait for it.
  if (res.destroyed || res.closed) return Promise.resolve()
  return new Promise<void>((resolve) => {
    const timer = stallMs === undefined ? null : setTimeout(() => res.destroy(), stallMs)
    const done = (): void => {
      if (timer) clearTimeout(timer)
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.once('drain', done)
    res.once('close', done)
  })
}

/**
 * Copy [start, end) of a file on disk to `res`.
 * @param file its path, or how to open it (Library.open for an indexed file: no symlink, the
 *   same file as indexed).
 * @param expectedSize the size the file must still have (it is an indexed file); otherwise the
 *   response is cut (the client sees a short body) and P2PTubeError ERR_FILE_CHANGED is thrown.
 * @param opts.stallMs see PumpOptions.
 * @throws the open/read error (ENOENT for a file deleted since indexing).
 */
export async function pumpFile(
  file: string | (() => Promise<fs.FileHandle>),
  expectedSize: number,
  res: http.ServerResponse,
  start: number,
  end: number,
  signal: AbortSignal,
  opts: PumpOptions = {}
): Promise<void> {
  const fh = typeof file === 'string' ? await fs.open(file, 'r') : await file()
  const what = typeof file === 'string' ? file : 'the file'
  try {
    const st = await fh.stat()
    if (st.size !== expectedSize) throw new P2PTubeError('ERR_FILE_CHANGED', `${what} changed since it was indexed`)
    const buf = Buffer.allocUnsafe(Math.min(SLICE, Math.max(1, end - start)))
    let pos = start
    while (pos < end && !signal.aborted && !res.destroyed) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos)
      if (bytesRead === 0) throw new P2PTubeError('ERR_FILE_CHANGED', `${what} is shorter than indexed`)
      pos += bytesRead
      // Copy: the buffer is reused for the next read while this slice may still be queued.
      if (!res.write(Buffer.from(buf.subarray(0, bytesRead)))) await drained(res, opts.stallMs)
    }
    res.end()
  } finally {
    await fh.close()
  }
}

/**
 * Copy [start, end) of a download to an HTTP response as the bytes arrive: a missing offset is
 * prioritized and waited for; slices of at most SLICE bytes, honouring backpressure. `end` may be
 * Infinity when the size is unknown (legacy holder).
 * @throws the download's error when it fails before the bytes arrive; AbortError on `signal`.
 */
export async function pumpDownload(d: Download, res: http.ServerResponse, start: number, end: number, signal: AbortSignal, opts: PumpOptions = {}): Promise<void> {
  let pos = start
  d.prioritize(pos)
  while (pos < end && !signal.aborted && !res.destroyed) {
    let n = d.available(pos)
    if (n === 0) {
      if (d.state === 'done') break
      // Wait first, then prioritize: the scheduler sees every offset a reader waits for.
      const arrived = d.waitFor(pos, signal)
      d.prioritize(pos)
      await arrived
      n = d.available(pos)
      if (n === 0) break
    }
    const buf = await d.read(pos, Math.min(n, end - pos, SLICE))
    if (buf.length === 0) break
    pos += buf.length
    if (!res.write(buf)) await drained(res, opts.stallMs)
  }
  res.end()
}
