/**
 * Client side of a tracker session (PROTOCOL.md §7.1): one connection opened with TSES, then
 * any number of requests, pipelined; replies (one REPL or ERRO each) come back in order.
 * For announcers with a high rate (gateways, the load bench); a node announcing every 30 s
 * uses one connection per request like every other message.
 */
import net from 'node:net'
import { controlPolicy, type Endpoint } from '../net/client.ts'
import { CONNECT_TIMEOUT_MS, MSG } from '../protocol/constants.ts'
import { P2PTubeError, TimeoutError } from '../protocol/errors.ts'
import { encodeFrame, FrameDecoder } from '../protocol/frame.ts'

/** One reply: its type (REPL or ERRO) and UTF-8 text. */
export interface SessionReply {
  type: string
  text: string
}

interface Pending {
  resolve(r: SessionReply): void
  reject(err: Error): void
}

/** A pipelined request/reply connection to a tracker. */
export class TrackerSession {
  private socket: net.Socket | null = null
  private readonly pending: Pending[] = []
  private failure: Error | null = null

  /** @param localAddress source address to connect from (the tracker knows a peer by it). */
  constructor(
    private readonly to: Endpoint,
    private readonly connectTimeoutMs = CONNECT_TIMEOUT_MS,
    private readonly localAddress?: string
  ) {}

  /** Requests sent and not answered yet. */
  get inFlight(): number {
    return this.pending.length
  }

  /**
   * Connect and open the session.
   * @throws P2PTubeError ERR_CONNECT, TimeoutError, ERR_NO_SESSION when the tracker refuses TSES.
   */
  async open(): Promise<void> {
    const socket = net.connect({ host: this.to.host, port: this.to.port, noDelay: true, ...(this.localAddress ? { localAddress: this.localAddress } : {}) })
    this.socket = socket
    const decoder = new FrameDecoder(controlPolicy, {
      frame: (type, payload) => this.pending.shift()?.resolve({ type, text: payload.toString('utf8') })
    })
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk)
      } catch (err) {
        this.fail(err as Error)
      }
    })
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(new P2PTubeError('ERR_CONNECT', `tracker session to ${this.to.host}:${this.to.port}: ${err.code ?? err.message}`, { cause: err })))
    socket.on('close', () => this.fail(new P2PTubeError('ERR_CONNECTION_CLOSED', 'tracker closed the session')))
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new TimeoutError(`connect to ${this.to.host}:${this.to.port} timed out`)), this.connectTimeoutMs)
      socket.once('connect', () => {
        clearTimeout(t)
        resolve()
      })
      socket.once('error', (err) => {
        clearTimeout(t)
        reject(err)
      })
    })
    const r = await this.request(MSG.TSES, '{}')
    if (r.type !== MSG.REPL) throw new P2PTubeError('ERR_NO_SESSION', `tracker refused the session: ${r.text}`)
  }

  /**
   * Send one request; resolves with its reply (ERRO included: it is an answer, not a failure).
   * @throws the session's failure (closed, reset, bad reply bytes).
   */
  request(type: string, payload: string | Buffer): Promise<SessionReply> {
    if (this.failure) return Promise.reject(this.failure)
    if (!this.socket) return Promise.reject(new P2PTubeError('ERR_NOT_OPEN', 'session not open'))
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject })
      this.socket!.write(encodeFrame(type, payload))
    })
  }

  /** Close the session (pending requests fail). */
  close(): void {
    this.socket?.end()
    this.fail(new P2PTubeError('ERR_CONNECTION_CLOSED', 'session closed'))
  }

  private fail(err: Error): void {
    this.failure ??= err
    for (const p of this.pending.splice(0)) p.reject(this.failure)
    this.socket?.destroy()
  }
}
