/**
 * Loopback HTTP server that lets a player read a file while it downloads (peerflix and
 * webtorrent-cli's design; ../shared/reference/mpv-and-streaming.md "How to feed mpv").
 * Responses are http-media.ts's, the web page's too: ranges honoured, and a request for bytes
 * not yet downloaded waits for them and tells the download to fetch that offset first
 * (Download.prioritize).
 */
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Download } from '../node/download.ts'
import { mediaHeaders, pumpDownload, startMediaResponse } from './http-media.ts'

/** A player's read: the download's name and the byte range asked for (inclusive end). */
export interface StreamRequest {
  name: string
  start: number
  end: number
}

/** Serves downloads to a player on 127.0.0.1, each under an unguessable URL. */
export class StreamServer {
  private readonly server: http.Server
  private readonly files = new Map<string, Download>()
  port = 0

  /** @param onRequest called for each player read (tests and benches watch the read position). */
  constructor(private readonly onRequest?: (r: StreamRequest) => void) {
    this.server = http.createServer((req, res) => void this.handle(req, res))
  }

  /** Listen on 127.0.0.1, a free port. Loopback only: nothing is exposed to the LAN. @throws the listen error. */
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
      if (size === undefined) {
        // A legacy holder gives no size: stream in order, without ranges.
        res.writeHead(200, mediaHeaders(d.fileName))
        if (req.method === 'HEAD') return void res.end()
        await pumpDownload(d, res, 0, Infinity, ac.signal)
        return
      }
      const range = startMediaResponse(req, res, d.fileName, size)
      if (!range) return
      this.onRequest?.({ name: d.name, start: range[0], end: range[1] - 1 })
      await pumpDownload(d, res, range[0], range[1], ac.signal)
    } catch {
      if (!res.headersSent) res.writeHead(500)
      res.destroy()
    }
  }
}
