/**
 * Loopback HTTP server that lets a player read a file while it downloads (peerflix and
 * webtorrent-cli's design; ../shared/reference/mpv-and-streaming.md "How to feed mpv").
 * Range requests are honoured; a request for bytes not yet downloaded waits for them and tells
 * the download to fetch that offset first (Download.prioritize).
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Download } from './download.ts'

const TYPES: Record<string, string> = {
  '.mp4': 'video/mp4', '.m4v': 'video/mp4', '.mkv': 'video/x-matroska', '.webm': 'video/webm', '.ogv': 'video/ogg',
  '.mov': 'video/quicktime', '.avi': 'video/x-msvideo', '.mp3': 'audio/mpeg', '.ogg': 'audio/ogg', '.oga': 'audio/ogg',
  '.opus': 'audio/ogg', '.flac': 'audio/flac', '.wav': 'audio/wav', '.m4a': 'audio/mp4', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp'
}

/** MIME type by extension (application/octet-stream when unknown). */
export function contentType(name: string): string {
  return TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream'
}

/** Largest slice read from disk per write, bytes. */
const SLICE = 256 * 1024

/**
 * Parse one `Range: bytes=a-b` header against a size.
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

/**
 * Events: 'request' ({ token, start, end }) for each player read, so tests and the scheduler
 * can see the player's read position.
 */
export class StreamServer {
  private readonly server: http.Server
  private readonly files = new Map<string, Download>()
  port = 0

  constructor(private readonly onRequest?: (r: { name: string; start: number; end: number }) => void) {
    this.server = http.createServer((req, res) => void this.handle(req, res))
  }

  /** Listen on 127.0.0.1, a free port. Loopback only: nothing is exposed to the LAN. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(0, '127.0.0.1', () => resolve())
    })
    this.port = (this.server.address() as AddressInfo).port
  }

  /** Close the server and every open response. */
  async stop(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  /**
   * Serve a download under an unguessable URL.
   * @returns http://127.0.0.1:PORT/<token>/<file name>
   */
  add(d: Download): string {
    const token = randomBytes(8).toString('hex')
    this.files.set(token, d)
    return `http://127.0.0.1:${this.port}/${token}/${encodeURIComponent(d.fileName)}`
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const token = (req.url ?? '').split('/')[1] ?? ''
    const d = this.files.get(token)
    if (!d || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end()
      return
    }
    const ac = new AbortController()
    res.once('close', () => ac.abort())
    try {
      if (d.size === undefined) await d.waitFor(0, ac.signal)
      const size = d.size
      const headers: http.OutgoingHttpHeaders = { 'Content-Type': contentType(d.fileName), 'Accept-Ranges': 'bytes' }
      if (size === undefined) {
        // A legacy holder gives no size: stream in order, without ranges.
        res.writeHead(200, headers)
        if (req.method === 'HEAD') return void res.end()
        await pumpDownload(d, res, 0, Infinity, ac.signal)
        return
      }
      const range = parseRange(req.headers.range, size)
      if (range === 'unsatisfiable') {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end()
        return
      }
      const [start, end] = range ?? [0, size - 1]
      this.onRequest?.({ name: d.name, start, end })
      headers['Content-Length'] = size === 0 ? 0 : end - start + 1
      if (range) headers['Content-Range'] = `bytes ${start}-${end}/${size}`
      res.writeHead(range ? 206 : 200, headers)
      if (req.method === 'HEAD' || size === 0) return void res.end()
      await pumpDownload(d, res, start, end + 1, ac.signal)
    } catch {
      if (!res.headersSent) res.writeHead(500)
      res.destroy()
    }
  }
}

/** Wait until `res` can take more data (or is closed). */
export function drained(res: http.ServerResponse): Promise<void> {
  // Already closed (the client went away): 'close' will not come again, do not wait for it.
  if (res.destroyed || res.closed) return Promise.resolve()
  return new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.once('drain', done)
    res.once('close', done)
  })
}

/**
 * Copy [start, end) of a download to an HTTP response as the bytes arrive: a missing offset is
 * prioritized and waited for; slices of at most 256 KiB, honouring backpressure. `end` may be
 * Infinity when the size is unknown (legacy holder). Used by the player's StreamServer and the
 * LAN web page.
 * @throws the download's error when it fails before the bytes arrive; AbortError on `signal`.
 */
export async function pumpDownload(d: Download, res: http.ServerResponse, start: number, end: number, signal: AbortSignal): Promise<void> {
  let pos = start
  d.prioritize(pos)
  while (pos < end && !signal.aborted) {
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
    if (!res.write(buf)) await drained(res)
  }
  res.end()
}
