/**
 * The requester side of a session (docs/PROTOCOL.md §4.10 neighbour links, §7.1 tracker
 * sessions): one connection opened with a session frame (LINK, TSES), answered with one REPL,
 * then any number of requests, pipelined, each answered in order with exactly one REPL or ERRO.
 *
 * Bounds: at most `maxInFlight` requests awaiting replies and `maxQueuedBytes` unsent bytes in
 * the socket; a request beyond either is refused at once with ERR_LINK_BUSY (the caller sends it
 * on its own connection instead), so a slow peer costs bounded memory. A reply that does not come
 * within `idleTimeoutMs` fails the session (a dead peer is detected by its first unanswered
 * request, the keepalive included). Works over any Transport (plain TCP, a group's mutual TLS).
 */
import { EventEmitter } from 'node:events'
import type net from 'node:net'
import { CONNECT_TIMEOUT_MS, IDLE_TIMEOUT_MS, LINK_MAX_IN_FLIGHT, LINK_MAX_QUEUED_BYTES, MSG } from '../protocol/constants.ts'
import { P2PTubeError, TimeoutError } from '../protocol/errors.ts'
import { encodeFrame, FrameDecoder } from '../protocol/frame.ts'
import { normalizeAddress } from './address.ts'
import { controlPolicy, type Endpoint, type LocalEnd, type Payload, type ReplyFrame } from './client.ts'
import { plainTransport, type Transport } from './transport.ts'

/** Session options; times in ms. */
export interface SessionClientOptions {
  transport?: Transport
  connectTimeoutMs?: number
  /** A request unanswered this long fails the session (default IDLE_TIMEOUT_MS). */
  idleTimeoutMs?: number
  /** Requests awaiting replies at most (default LINK_MAX_IN_FLIGHT). */
  maxInFlight?: number
  /** Unsent bytes in the socket at most (default LINK_MAX_QUEUED_BYTES). */
  maxQueuedBytes?: number
}

interface Pending {
  resolve(r: ReplyFrame): void
  reject(err: Error): void
}

/** Events: 'close' (Error: why; once). */
export class SessionClient extends EventEmitter {
  private socket: net.Socket | null = null
  private readonly pending: Pending[] = []
  private failure: Error | null = null
  private localEnd: LocalEnd | null = null
  /** Requests sent on this session (the open frame excluded). */
  sent = 0

  constructor(
    readonly to: Endpoint,
    private readonly opts: SessionClientOptions = {}
  ) {
    super()
  }

  /** Requests sent and not answered yet. */
  get inFlight(): number {
    return this.pending.length
  }

  /** True once the session has failed or been closed. */
  get closed(): boolean {
    return this.failure !== null
  }

  /**
   * Connect and open the session with one `type` frame (payload may use the local end).
   * @returns the session's REPL text.
   * @throws P2PTubeError ERR_CONNECT, TimeoutError, ERR_NO_SESSION when the server answers ERRO or
   *   closes (a server without sessions: ERR_UNKNOWN_TYPE, a legacy peer: the close).
   */
  async open(type: string, payload: Payload = ''): Promise<string> {
    const transport = this.opts.transport ?? plainTransport
    const socket = transport.connect(this.to, { type, noDelay: true })
    this.socket = socket
    const decoder = new FrameDecoder(controlPolicy, { frame: (t, p) => this.pending.shift()?.resolve({ type: t, payload: p }) })
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk)
      } catch (err) {
        this.fail(err as Error)
      }
      if (!this.pending.length) socket.setTimeout(0)
    })
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(new P2PTubeError('ERR_CONNECT', `session to ${this.to.host}:${this.to.port}: ${err.code ?? err.message}`, { cause: err })))
    socket.on('close', () => this.fail(new P2PTubeError('ERR_CONNECTION_CLOSED', `${this.to.host}:${this.to.port} closed the session`)))
    socket.on('timeout', () => this.fail(new TimeoutError(`${this.to.host}:${this.to.port} did not answer on the session for ${this.opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS} ms`)))
    const connectMs = this.opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        reject(new TimeoutError(`connect to ${this.to.host}:${this.to.port} timed out after ${connectMs} ms`))
        this.fail(new TimeoutError('connect timed out'))
      }, connectMs)
      socket.once(transport.readyEvent, () => {
        clearTimeout(t)
        this.localEnd = { address: normalizeAddress(socket.localAddress ?? ''), port: socket.localPort ?? 0, remote: normalizeAddress(socket.remoteAddress ?? '') }
        resolve()
      })
      this.once('close', (err: Error) => {
        clearTimeout(t)
        reject(err)
      })
    })
    const r = await this.send(type, payload, true).catch((err: Error) => {
      throw new P2PTubeError('ERR_NO_SESSION', `${this.to.host}:${this.to.port} did not open a session: ${err.message}`, { cause: err })
    })
    if (r.type !== MSG.REPL) {
      this.close()
      throw new P2PTubeError('ERR_NO_SESSION', `${this.to.host}:${this.to.port} refused the session: ${r.payload.toString('utf8').slice(0, 200)}`)
    }
    return r.payload.toString('utf8')
  }

  /**
   * Send one request; resolves with its one reply frame (ERRO included: an answer, not a failure).
   * @throws P2PTubeError ERR_LINK_BUSY (too many in flight or queued: nothing was sent),
   *   ERR_NOT_OPEN before open(), or the session's failure (closed, reset, timeout, bad bytes).
   */
  request(type: string, payload: Payload): Promise<ReplyFrame> {
    return this.send(type, payload, false)
  }

  private send(type: string, payload: Payload, opening: boolean): Promise<ReplyFrame> {
    if (this.failure) return Promise.reject(this.failure)
    const socket = this.socket
    if (!socket || (!opening && !this.localEnd)) return Promise.reject(new P2PTubeError('ERR_NOT_OPEN', 'session not open'))
    if (this.pending.length >= (this.opts.maxInFlight ?? LINK_MAX_IN_FLIGHT) || socket.writableLength > (this.opts.maxQueuedBytes ?? LINK_MAX_QUEUED_BYTES)) {
      return Promise.reject(new P2PTubeError('ERR_LINK_BUSY', `session to ${this.to.host}:${this.to.port} has ${this.pending.length} requests in flight`))
    }
    let frame: Buffer
    try {
      frame = encodeFrame(type, typeof payload === 'function' ? payload(this.localEnd as LocalEnd) : payload)
    } catch (err) {
      return Promise.reject(err as Error)
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject })
      if (!opening) this.sent++
      // Each request re-arms the reply timer: a peer that stops answering fails the session.
      socket.setTimeout(this.opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS)
      socket.write(frame)
    })
  }

  /** Close the session (requests in flight fail with ERR_CONNECTION_CLOSED). Idempotent. */
  close(): void {
    this.socket?.end()
    this.fail(new P2PTubeError('ERR_CONNECTION_CLOSED', 'session closed'))
  }

  private fail(err: Error): void {
    if (this.failure) return
    this.failure = err
    for (const p of this.pending.splice(0)) p.reject(err)
    this.socket?.setTimeout(0)
    this.socket?.destroy()
    this.emit('close', err)
  }
}
