/**
 * The tracker's TCP server (PROTOCOL.md §7.1): the nodes' framing and one-request-per-connection
 * model (§1.2, as FrameServer), plus **sessions**: a connection whose first frame is TSES stays
 * open and carries any number of requests, each answered in order with exactly one REPL or
 * ERRO. A session saves a TCP handshake and a socket set-up per announce, which is what bounds
 * a one-core tracker at about 5,000 announces/s (docs/TRACKER.md "Performance").
 * Timeouts are checked by one sweep timer, not one timer per connection.
 */
import { EventEmitter } from 'node:events'
import net from 'node:net'
import type { BadInput, Handler, RequestContext } from '../net/server.ts'
import { MSG, REQUEST_TIMEOUT_MS } from '../protocol/constants.ts'
import { requestLimit } from '../protocol/table.ts'
import { formatErrorPayload, P2PTubeError, ProtocolError } from '../protocol/errors.ts'
import { encodeFrame, FrameDecoder } from '../protocol/frame.ts'
import { plainTransport, type Transport } from '../net/transport.ts'

/** Server options; times in ms. */
export interface TrackerServerOptions {
  handlers: ReadonlyMap<string, Handler>
  /** First frame must arrive within this (default REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number
  /** A session silent for this long is closed. */
  sessionIdleMs: number
  /** Handler errors (ERRO answers) a session may cause before it is closed (default 8). */
  maxStrikes?: number
  /** How connections are accepted (default plain TCP; a group tracker passes its GroupTransport). */
  transport?: Transport
}

interface Conn {
  socket: net.Socket
  session: boolean
  busy: boolean
  closing: boolean
  strikes: number
  last: number
  queue: Array<{ type: string; payload: Buffer }>
  ac: AbortController
}

/** Events: 'bad-input' (BadInput), 'handler-error' (Error). */
export class TrackerServer extends EventEmitter {
  private readonly server: net.Server
  private readonly transport: Transport
  private readonly conns = new Set<Conn>()
  private sweeper: NodeJS.Timeout | null = null

  constructor(private readonly opts: TrackerServerOptions) {
    super()
    this.transport = opts.transport ?? plainTransport
    this.server =
      this.transport === plainTransport ? net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.onConnection(s)) : this.transport.createServer((s) => this.onConnection(s), { allowHalfOpen: true })
  }

  /** Sessions open now. */
  get sessions(): number {
    let n = 0
    for (const c of this.conns) if (c.session) n++
    return n
  }

  /** @returns the bound port. @throws the listen error. */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen({ port, host, backlog: 4096 }, () => {
        this.server.off('error', reject)
        this.sweeper = setInterval(() => this.sweep(), 500)
        this.sweeper.unref()
        resolve((this.server.address() as net.AddressInfo).port)
      })
    })
  }

  /** Stop accepting; destroy every connection. */
  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper)
    for (const c of this.conns) c.socket.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private sweep(): void {
    const now = Date.now()
    const req = this.opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
    for (const c of this.conns) {
      const age = now - c.last
      if (c.closing ? age > 2000 : age > (c.session ? this.opts.sessionIdleMs : req)) {
        if (!c.closing && !c.session) this.reject(c, 'ERR_TIMEOUT', `request not received within ${req} ms`)
        else c.socket.destroy()
      }
    }
  }

  private onConnection(socket: net.Socket): void {
    if (this.transport !== plainTransport) socket.setNoDelay(true)
    const c: Conn = { socket, session: false, busy: false, closing: false, strikes: 0, last: Date.now(), queue: [], ac: new AbortController() }
    this.conns.add(c)
    socket.once('close', () => {
      this.conns.delete(c)
      c.ac.abort()
    })
    socket.on('error', () => socket.destroy())
    const decoder = new FrameDecoder(
      (type) => (type === MSG.TSES || this.opts.handlers.has(type) ? { maxLength: requestLimit(type) ?? 1024 } : undefined),
      { frame: (type, payload) => this.onFrame(c, type, payload) }
    )
    socket.on('data', (chunk: Buffer) => {
      if (c.closing) return
      c.last = Date.now()
      try {
        decoder.push(chunk)
      } catch (err) {
        const e = err as P2PTubeError
        this.reject(c, e.code ?? 'ERR_INVALID_FRAME', e.message)
      }
    })
    socket.once('end', () => {
      if (c.closing) return socket.destroy()
      if (c.session && decoder.idle) return void socket.end()
      if (!c.session && (c.busy || c.queue.length)) return // one-shot requester half-closed after its request
      try {
        decoder.finish()
        this.reject(c, 'ERR_NO_REQUEST', 'connection ended without a request')
      } catch (err) {
        const e = err as P2PTubeError
        this.reject(c, e.code, e.message)
      }
    })
  }

  private onFrame(c: Conn, type: string, payload: Buffer): void {
    if (type === MSG.TSES) {
      if (c.session || c.busy || c.queue.length) return this.reject(c, 'ERR_UNEXPECTED', 'TSES must be the first frame of a connection')
      c.session = true
      c.socket.write(encodeFrame(MSG.REPL, JSON.stringify({ session: true, idleMs: this.opts.sessionIdleMs })))
      return
    }
    if (!c.session && (c.busy || c.queue.length)) return // one request per connection: later frames ignored
    c.queue.push({ type, payload })
    if (!c.busy) void this.drain(c)
  }

  private async drain(c: Conn): Promise<void> {
    c.busy = true
    while (c.queue.length && !c.closing) {
      const { type, payload } = c.queue.shift() as { type: string; payload: Buffer }
      await this.run(c, type, payload)
      if (!c.session) return this.finish(c)
    }
    c.busy = false
  }

  private async run(c: Conn, type: string, payload: Buffer): Promise<void> {
    const socket = c.socket
    const write = (bytes: Buffer): Promise<void> =>
      new Promise((resolve, reject) => {
        if (socket.destroyed) return reject(new P2PTubeError('ERR_CONNECTION_CLOSED', 'connection closed'))
        if (socket.write(bytes)) return resolve()
        socket.once('drain', resolve)
      })
    const ctx: RequestContext = {
      type,
      payload,
      remoteAddress: socket.remoteAddress ?? '?',
      remotePort: socket.remotePort ?? 0,
      ...(this.transport.peerOf(socket) ? { peer: this.transport.peerOf(socket) } : {}),
      signal: c.ac.signal,
      reply: (p) => write(encodeFrame(MSG.REPL, p)),
      error: (code, message) => write(encodeFrame(MSG.ERRO, formatErrorPayload(code, message))),
      write
    }
    try {
      await (this.opts.handlers.get(type) as Handler)(ctx)
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.emit('bad-input', { remoteAddress: ctx.remoteAddress, code: err.code, message: err.message } satisfies BadInput)
        await ctx.error(err.code, err.message).catch(() => {})
        if (c.session && ++c.strikes >= (this.opts.maxStrikes ?? 8)) this.finish(c)
      } else if (!(err instanceof P2PTubeError && err.code === 'ERR_CONNECTION_CLOSED')) {
        this.emit('handler-error', err)
        await ctx.error('ERR_INTERNAL', 'Internal error').catch(() => {})
      }
    }
  }

  private reject(c: Conn, code: string, message: string): void {
    this.emit('bad-input', { remoteAddress: c.socket.remoteAddress ?? '?', code, message } satisfies BadInput)
    if (c.socket.writable) c.socket.write(encodeFrame(MSG.ERRO, formatErrorPayload(code, message)))
    this.finish(c)
  }

  private finish(c: Conn): void {
    if (c.closing) return
    c.closing = true
    c.last = Date.now()
    c.queue.length = 0
    c.socket.resume()
    c.socket.end()
  }
}
