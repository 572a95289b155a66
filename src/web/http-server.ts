/**
 * LAN web server (`p2ptube node --http PORT`): a page listing the node's library and searching
 * the network, every file playable in the browser's <video>/<audio> element with byte ranges.
 *
 * Routes (GET and HEAD only):
 *   /login?token=TOKEN     a session cookie, then 303 to / (only when a login is needed)
 *   /                      the page (src/web/page.ts)
 *   /api/library           JSON: { node, files: [{ name, size, kind, contentId, url, meta?, picture? }] }
 *   /api/search?q=WORDS    NDJSON: {"type":"result",...} per result, then {"type":"done","results":N}
 *   /media/<contentId>     an indexed library file, looked up by content id only
 *   /picture/<contentId>   its poster frame, cover or photo thumbnail (a small JPEG made by
 *                          ffmpeg and cached, node/metadata-pictures.ts); 404 when it has none
 *   /stream/<contentId>?holder=H:P
 *                          a file from a search result this server returned, served from the
 *                          download it starts (or reuses) while it downloads
 * Nothing else is served: no path from a URL ever reaches the filesystem, and /stream only
 * fetches (content id, holder) pairs that a search answered, so a browser cannot make the node
 * connect to arbitrary hosts.
 * Who may ask (access.ts, docs/SECURITY.md "Web page"): loopback by default; any other bind
 * needs a login with the token printed by `node`; with a private group the server binds loopback
 * only and needs the login too. Host/Origin are checked on every request (DNS rebinding, CSRF).
 * Limits (limits.ts): media responses per client and in all, a stall timeout on every write,
 * and free disk space before /stream starts a download.
 */
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { isLoopback } from '../net/address.ts'
import { formatBytes } from '../text/format.ts'
import type { FileHandle } from 'node:fs/promises'
import type { Download, DownloadResult } from '../node/download.ts'
import type { LibraryEntry } from '../node/library.ts'
import type { P2PNode, SearchResult } from '../app/node.ts'
import { MAX_QUERY_LENGTH } from '../protocol/constants.ts'
import { UsageError } from '../protocol/errors.ts'
import { isContentId } from '../protocol/messages.ts'
import { pumpDownload, pumpFile, startMediaResponse, type PumpOptions } from '../media/http-media.ts'
import { newWebToken, WebAccess } from './access.ts'
import { freeBytes, StreamSlots } from './limits.ts'
import { loginPage, loginCsp, pageCsp, renderPage } from './page.ts'

/** Options. Times in ms. */
export interface WebServerOptions {
  /** How long a search collects results (default 3000, at most 15 000 via ?timeout=seconds). */
  searchTimeoutMs?: number
  /** Searches running at once; more answer 429 (default 4). */
  maxSearches?: number
  /** Search results remembered for /stream (default 5000; oldest forgotten first). */
  maxKnownResults?: number
  /** Downloads /stream may have running at once; more answer 503 (default 4). */
  maxDownloads?: number
  /**
   * Login token. Default: none on a loopback bind without a group, a fresh random one otherwise
   * (a non-loopback bind or a group always needs a login).
   */
  token?: string
  /** A client that takes no byte of a response for this long is cut off (default 60 000 ms). */
  stallMs?: number
  /** Media responses (/media, /stream) one client address may have open (default 8; more: 503). */
  maxStreamsPerClient?: number
  /** Media responses open in all (default 64; more: 503). */
  maxStreams?: number
  /** Free bytes a /stream download must leave on the downloads disk (default 512 MiB; else 507). */
  minFreeBytes?: number
}

/** A streamable search result: what /stream will fetch, by `${cid} ${holder}`. */
interface Known {
  contentId: string
  holder: string
  name: string
  size: number
  kind: string | null
}

/**
 * A download /stream serves. `owned`: this server created it, so it closes the Download's file
 * handle once it is done and no response reads from it (later requests read the final file).
 */
interface Stream {
  d: Download
  owned: boolean
  readers: number
  result?: DownloadResult
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message)
  }
}

const HOLDER_RE = /^[A-Za-z0-9.\-[\]:]{1,300}:\d{1,5}$/

/** URL of a streamable search result (null for legacy results, which have no content id). */
export function streamUrl(r: Pick<SearchResult, 'contentId' | 'holder' | 'name'>): string | null {
  if (!r.contentId) return null
  return `/stream/${r.contentId}?holder=${encodeURIComponent(r.holder)}&name=${encodeURIComponent(r.name)}`
}

/**
 * The LAN web server over one P2PNode.
 * Events: none; errors of single requests are answered (4xx/5xx) and logged on the node ('log').
 */
export class WebServer {
  private readonly server: http.Server
  private readonly known = new Map<string, Known>()
  private readonly streams = new Map<string, Stream>()
  private readonly slots: StreamSlots
  private readonly pump: PumpOptions
  private access = new WebAccess()
  private searching = 0
  /** Port listened on (after start). */
  port = 0
  host = ''

  constructor(
    private readonly node: P2PNode,
    private readonly opts: WebServerOptions = {}
  ) {
    this.server = http.createServer((req, res) => void this.handle(req, res))
    this.server.on('clientError', (_err, socket) => socket.destroy())
    // Slow or silent clients (slowloris): whole headers within 10 s, a whole request within 30 s.
    this.server.headersTimeout = 10_000
    this.server.requestTimeout = 30_000
    this.server.maxConnections = 256
    this.slots = new StreamSlots(opts.maxStreamsPerClient ?? 8, opts.maxStreams ?? 64)
    this.pump = { stallMs: opts.stallMs ?? 60_000 }
  }

  /** The login token (undefined when no login is needed: a loopback bind without a group). */
  get token(): string | undefined {
    return this.access.token
  }

  /** The URL that logs a browser in (the page's URL when no login is needed). */
  get loginUrl(): string {
    return this.token === undefined ? `${this.url}/` : `${this.url}/login?token=${this.token}`
  }

  /**
   * Listen.
   * @param port TCP port (0 = any free one).
   * @param host address to bind: '127.0.0.1' this machine only (default); another address (the
   *   LAN: '0.0.0.0') turns the login on.
   * @throws UsageError (ERR_USAGE) for a non-loopback host with a private group: the page would
   *   hand group files to browsers that hold no membership; the listen error (EADDRINUSE...).
   */
  async start(port: number, host = '127.0.0.1'): Promise<void> {
    const local = isLoopback(host)
    if (this.node.group && !local)
      throw new UsageError(`with a private group the web page is served on this machine only (--http-host 127.0.0.1), not on ${host}: a browser cannot prove group membership`)
    const token = this.opts.token ?? (local && !this.node.group ? undefined : newWebToken())
    this.access = new WebAccess({ token })
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    const a = this.server.address() as AddressInfo
    this.port = a.port
    this.host = host
  }

  /** Base URL to reach the server from this machine (http://127.0.0.1:PORT for a wildcard host). */
  get url(): string {
    const h = this.host === '0.0.0.0' || this.host === '::' || this.host === '' ? '127.0.0.1' : this.host
    return `http://${h.includes(':') ? `[${h}]` : h}:${this.port}`
  }

  /** Close the server and every open response. Downloads started here go on (the node owns them). */
  async stop(): Promise<void> {
    if (!this.server.listening) return
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const ac = new AbortController()
    res.once('close', () => ac.abort())
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD')
        throw new HttpError(405, 'only GET and HEAD are served')
      }
      let url: URL
      try {
        url = new URL(req.url ?? '/', 'http://localhost')
      } catch {
        throw new HttpError(400, 'bad URL')
      }
      const refused = this.access.checkOrigin(req)
      if (refused) throw new HttpError(refused.status, refused.message)
      if (url.pathname === '/favicon.ico') return void res.writeHead(204, { 'Cache-Control': 'max-age=86400' }).end()
      if (url.pathname === '/login') return this.login(req, res, url)
      if (!this.access.authorized(req)) {
        if (url.pathname === '/') return this.html(req, res, 401, loginPage(), loginCsp())
        throw new HttpError(401, 'log in first: open the login link the node printed')
      }
      const parts = url.pathname.split('/')
      if (url.pathname === '/') return this.page(req, res)
      if (url.pathname === '/api/library') return this.json(req, res, this.libraryJson())
      if (url.pathname === '/api/search') return await this.search(req, res, url, ac.signal)
      if (parts.length === 3 && parts[1] === 'media') return await this.media(req, res, parts[2] as string, ac.signal)
      if (parts.length === 3 && parts[1] === 'picture') return await this.picture(req, res, parts[2] as string)
      if (parts.length === 3 && parts[1] === 'stream') return await this.stream(req, res, parts[2] as string, url, ac.signal)
      throw new HttpError(404, 'not found')
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500
      if (status === 500 && !ac.signal.aborted) this.node.log('warn', `http ${req.method} ${(req.url ?? '').slice(0, 200)}: ${(err as Error).message}`)
      if (res.headersSent) {
        res.destroy()
        return
      }
      const text = err instanceof HttpError ? err.message : 'internal error'
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' })
      res.end(req.method === 'HEAD' ? undefined : text + '\n')
    }
  }

  private page(req: http.IncomingMessage, res: http.ServerResponse): void {
    const nonce = randomBytes(16).toString('base64')
    this.html(
      req,
      res,
      200,
      renderPage(this.node.id, this.node.library.entries(), nonce, (e) => this.hasPicture(e)),
      pageCsp(nonce)
    )
  }

  private html(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: string, csp: string, extra: http.OutgoingHttpHeaders = {}): void {
    res.writeHead(status, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      'Content-Security-Policy': csp,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
      ...extra
    })
    res.end(req.method === 'HEAD' ? undefined : body)
  }

  /** /login?token=T: a session cookie and 303 to /; the login form without a token; 401 for a wrong one. */
  private login(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    const token = url.searchParams.get('token')
    if (!this.access.locked) return void res.writeHead(303, { Location: '/', 'Cache-Control': 'no-store' }).end()
    if (token === null) return this.html(req, res, 401, loginPage(), loginCsp())
    const r = this.access.login(token, req.socket.remoteAddress ?? '')
    if ('status' in r) {
      if (r.status === 429) throw new HttpError(429, r.message)
      return this.html(req, res, r.status, loginPage(r.message), loginCsp())
    }
    // 303 to / so the token leaves the address bar and the history entry.
    res.writeHead(303, { Location: '/', 'Set-Cookie': r.cookie, 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' }).end()
  }

  /**
   * Take a media slot for this request's client.
   * @returns the release function (call once the response is over). @throws HttpError 503 at a cap.
   */
  private slot(req: http.IncomingMessage, res: http.ServerResponse): () => void {
    const release = this.slots.take(req.socket.remoteAddress ?? '')
    if (!release) {
      res.setHeader('Retry-After', '5')
      throw new HttpError(503, `too many media responses open (${this.slots.perClient} per client, ${this.slots.max} in all); close some and retry`)
    }
    res.once('close', release)
    return release
  }

  private json(req: http.IncomingMessage, res: http.ServerResponse, value: unknown): void {
    const body = JSON.stringify(value)
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' })
    res.end(req.method === 'HEAD' ? undefined : body)
  }

  private libraryJson(): unknown {
    const files = this.node.library.entries().map((e) => ({
      name: e.name,
      size: e.size,
      kind: e.kind,
      contentId: e.cid ?? null,
      url: e.cid ? `/media/${e.cid}` : null,
      ...(e.meta ? { meta: e.meta } : {}),
      ...(this.hasPicture(e) ? { picture: `/picture/${e.cid}` } : {})
    }))
    return { node: this.node.id, files }
  }

  private async search(req: http.IncomingMessage, res: http.ServerResponse, url: URL, signal: AbortSignal): Promise<void> {
    const q = (url.searchParams.get('q') ?? '').trim()
    if (!q) throw new HttpError(400, 'missing search words: /api/search?q=WORDS')
    if (Buffer.byteLength(q) > MAX_QUERY_LENGTH) throw new HttpError(400, `a search may be at most ${MAX_QUERY_LENGTH} bytes`)
    const t = url.searchParams.get('timeout')
    const timeoutMs = t === null ? (this.opts.searchTimeoutMs ?? 3000) : Number(t) * 1000
    if (!Number.isFinite(timeoutMs) || timeoutMs < 100 || timeoutMs > 15_000) throw new HttpError(400, 'timeout must be 0.1 to 15 seconds')
    if (this.searching >= (this.opts.maxSearches ?? 4)) throw new HttpError(429, 'too many searches at once; try again shortly')
    this.searching++
    try {
      const h = this.node.search(q, { timeoutMs })
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' })
      if (req.method === 'HEAD') return void res.end()
      const send = (r: SearchResult): void => {
        if (r.contentId && typeof r.size === 'number') this.remember({ contentId: r.contentId, holder: r.holder, name: r.name, size: r.size, kind: r.kind })
        const url = typeof r.size === 'number' ? streamUrl(r) : null
        if (!signal.aborted)
          res.write(
            JSON.stringify({ type: 'result', name: r.name, size: r.size, kind: r.kind, contentId: r.contentId, holder: r.holder, legacy: r.legacy, url, ...(r.meta ? { meta: r.meta } : {}) }) + '\n'
          )
      }
      h.results.forEach(send)
      h.on('result', send)
      const results = await h.finished
      h.off('result', send)
      res.end(JSON.stringify({ type: 'done', results: results.length }) + '\n')
    } finally {
      this.searching--
    }
  }

  private remember(k: Known): void {
    const key = `${k.contentId} ${k.holder}`
    this.known.delete(key)
    this.known.set(key, k)
    const max = this.opts.maxKnownResults ?? 5000
    for (const old of this.known.keys()) {
      if (this.known.size <= max) break
      this.known.delete(old)
    }
  }

  private async media(req: http.IncomingMessage, res: http.ServerResponse, cid: string, signal: AbortSignal): Promise<void> {
    const e = isContentId(cid) ? this.node.library.getByCid(cid) : undefined
    if (!e) throw new HttpError(404, 'no shared file has this content id')
    const release = this.slot(req, res)
    try {
      await this.serveIndexed(req, res, e, e.name, signal)
    } finally {
      release()
    }
  }

  /** May a shared file have a picture? Videos and photos: yes; audio: when its tags hold a cover (metadata-cache.ts). */
  private hasPicture(e: LibraryEntry): boolean {
    const md = this.node.library.metadata
    if (!md || !e.cid) return false
    return e.kind !== 'audio' || md.cache.get(e.cid)?.cover === true
  }

  /** The picture of a shared file (JPEG, cached a day by the browser: it is a function of the content id). */
  private async picture(req: http.IncomingMessage, res: http.ServerResponse, cid: string): Promise<void> {
    const e = isContentId(cid) ? this.node.library.getByCid(cid) : undefined
    const pics = this.node.library.metadata?.pictures
    if (!e || !pics) throw new HttpError(404, 'no shared file has this content id')
    const jpg = await pics.get(e)
    if (!jpg) throw new HttpError(404, 'no picture for this file')
    res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': jpg.length, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'private, max-age=86400' })
    res.end(req.method === 'HEAD' ? undefined : jpg)
  }

  /** An indexed file, opened (Library.open: no symlink, the file indexed) before any header is sent. */
  private async serveIndexed(req: http.IncomingMessage, res: http.ServerResponse, e: LibraryEntry, name: string, signal: AbortSignal): Promise<void> {
    let fh: FileHandle
    try {
      fh = await this.node.library.open(e)
    } catch {
      throw new HttpError(404, 'this shared file changed or was removed since it was indexed')
    }
    let range: [number, number] | null
    try {
      range = startMediaResponse(req, res, name, e.size)
    } catch (err) {
      await fh.close()
      throw err
    }
    if (!range) return void (await fh.close())
    await pumpFile(() => Promise.resolve(fh), e.size, res, range[0], range[1], signal, this.pump)
  }

  private async stream(req: http.IncomingMessage, res: http.ServerResponse, cid: string, url: URL, signal: AbortSignal): Promise<void> {
    if (!isContentId(cid)) throw new HttpError(404, 'not a content id')
    const holder = url.searchParams.get('holder') ?? ''
    if (!HOLDER_RE.test(holder)) throw new HttpError(400, 'holder must be host:port')
    const k = this.known.get(`${cid} ${holder}`)
    if (!k) throw new HttpError(404, 'unknown search result: search for it first')
    const release = this.slot(req, res)
    try {
      await this.streamKnown(req, res, k, signal)
    } finally {
      release()
    }
  }

  private async streamKnown(req: http.IncomingMessage, res: http.ServerResponse, k: Known, signal: AbortSignal): Promise<void> {
    // A shared copy is the fastest source.
    const own = this.node.library.getByCid(k.contentId)
    if (own) return this.serveIndexed(req, res, own, k.name, signal)
    if (req.method === 'HEAD' && !this.streams.has(k.contentId)) return void startMediaResponse(req, res, k.name, k.size)
    if (!this.reusable(k.contentId)) await this.checkDisk(k)
    const s = this.download(k)
    if (s.result) {
      const range = startMediaResponse(req, res, k.name, s.result.size)
      if (range) await pumpFile(s.result.path, s.result.size, res, range[0], range[1], signal, this.pump)
      return
    }
    const range = startMediaResponse(req, res, k.name, k.size)
    if (!range) return
    s.readers++
    try {
      await pumpDownload(s.d, res, range[0], range[1], signal, this.pump)
    } finally {
      s.readers--
      this.release(s)
    }
  }

  private reusable(cid: string): boolean {
    const s = this.streams.get(cid)
    return s !== undefined && s.d.state !== 'failed' && s.d.state !== 'cancelled'
  }

  /**
   * A new download must fit: its size plus what running downloads still have to write, plus
   * `minFreeBytes` left over. @throws HttpError 507 when it does not.
   */
  private async checkDisk(k: Known): Promise<void> {
    let pending = 0
    for (const d of this.node.downloads.values()) if (d.state === 'queued' || d.state === 'downloading') pending += Math.max(0, (d.size ?? 0) - d.received)
    const need = k.size + pending + (this.opts.minFreeBytes ?? 512 * 1024 * 1024)
    const free = await freeBytes(this.node.downloadsDir)
    if (free < need) throw new HttpError(507, `not enough disk space to download ${k.name} (${formatBytes(k.size)}): ${formatBytes(free)} free, ${formatBytes(need)} needed`)
  }

  /** Close an owned download's file once it is finished (or failed) and unread. */
  private release(s: Stream): void {
    const over = s.result !== undefined || s.d.state === 'failed' || s.d.state === 'cancelled'
    if (s.owned && s.readers === 0 && over) void s.d.close()
  }

  /** The download of a known result: reused while it runs or once done, (re)started otherwise. */
  private download(k: Known): Stream {
    const s = this.streams.get(k.contentId)
    if (s && this.reusable(k.contentId)) return s
    const running = [...this.streams.values()].filter((x) => x.d.state === 'queued' || x.d.state === 'downloading' || x.d.state === 'verifying').length
    if (running >= (this.opts.maxDownloads ?? 4)) throw new HttpError(503, 'too many downloads at once; try again when one finishes')
    const before = new Set(this.node.downloads.values())
    let d: Download
    try {
      d = this.node.fetch({ contentId: k.contentId, holder: k.holder, name: k.name, size: k.size })
    } catch (err) {
      throw new HttpError(409, `cannot download ${k.name}: ${(err as Error).message}`)
    }
    const entry: Stream = { d, owned: !before.has(d), readers: 0 }
    this.streams.set(k.contentId, entry)
    d.once('done', (r: DownloadResult) => (entry.result = r))
    d.start().then(
      (r) => {
        entry.result = r
        this.release(entry)
      },
      (err: Error) => {
        this.node.log('warn', `browser stream of ${k.name} from ${k.holder} failed: ${err.message}`)
        this.release(entry)
      }
    )
    return entry
  }
}
