/**
 * A node's control connection to its tracker (docs/PROTOCOL.md §7.10, docs/NETWORK.md): one
 * tracker session (TSES) made the node's control connection with TCTL once the node is
 * registered. The tracker answers TCTL after a dial-back check (can it open a connection to the
 * node's peer id?), so the node learns how it is reachable, and later pushes DIAL frames down the
 * connection: "connect to this requester" (connection reversal) or "punch a hole to it". The
 * node keeps the session alive with PING (no reply) at a third of the tracker's idle time, and
 * opens it again, backing off from 1 s to 60 s, when it drops.
 *
 * Only frames from this connection, to this node's own tracker, are taken as DIAL pushes: a
 * node never dials for anybody else's request.
 */
import { EventEmitter } from 'node:events'
import type net from 'node:net'
import type { Endpoint } from '../net/client.ts'
import type { Transport } from '../net/transport.ts'
import { CONNECT_TIMEOUT_MS, CONTROL_PING_MS, MAX_CONTROL_REPLY, MAX_ERROR_REPLY, MSG } from '../protocol/constants.ts'
import { errText } from '../protocol/errors.ts'
import { encodeFrame, FrameDecoder, type FramePolicy } from '../protocol/frame.ts'
import { formatControl, parseControlReply, parseDial, type DialPush, type Reachability } from '../protocol/reach-messages.ts'
import type { Discovery } from './discovery.ts'

/** What the control connection needs of its node; times in ms. */
export interface ControlOptions {
  transport: Transport
  connectTimeoutMs?: number
  /** The node's stop signal. */
  signal: AbortSignal
  /** The port the node registered with (its peer id's port). */
  port(): number
  /** Does the home router map a public port to the node (port mapping)? */
  mapped(): boolean
  /** A DIAL pushed by the tracker. */
  onDial(d: DialPush): void
  log(level: 'debug' | 'info' | 'warn', msg: string): void
}

/** The control connection's state and what the tracker's dial-back check found. */
export interface ControlStatus {
  state: 'idle' | 'opening' | 'open' | 'down' | 'stopped'
  /** How the tracker reached (or did not reach) the node's peer id. */
  reach: Reachability
  /** The peer id the tracker holds for the node ('' before TCTL was answered). */
  peer: string
}

const POLICY = (type: string): FramePolicy | undefined =>
  type === MSG.REPL ? { maxLength: MAX_CONTROL_REPLY } : type === MSG.ERRO ? { maxLength: MAX_ERROR_REPLY } : type === MSG.DIAL ? { maxLength: 1024 } : undefined

/** Events: 'status' (ControlStatus) at each change of state or reachability. */
export class ControlChannel extends EventEmitter implements Discovery {
  readonly method = 'control'
  status: ControlStatus = { state: 'idle', reach: 'unknown', peer: '' }
  private socket: net.Socket | null = null
  private retry: NodeJS.Timeout | null = null
  private ping: NodeJS.Timeout | null = null
  private backoffMs = 1000
  /** The tracker refused TCTL as "not registered": wait for the next registration. */
  private refused = false
  /** Send TCTL again on the open connection (a new dial-back check); null when not open. */
  private again: (() => void) | null = null

  constructor(
    readonly endpoint: Endpoint,
    private readonly opts: ControlOptions
  ) {
    super()
  }

  /** Nothing until the node is registered: see open(). */
  start(): void {}

  /** Open the control connection now (after each registration), unless it is open or opening. */
  open(): void {
    this.refused = false
    if (this.retry) clearTimeout(this.retry)
    this.retry = null
    this.connect()
  }

  /**
   * How the node is reached may have changed (a port mapping came or went): ask the tracker for a
   * new dial-back check (TCTL again on the open connection), or open the connection.
   */
  recheck(): void {
    if (this.again) this.again()
    else if (!this.refused) this.open()
  }

  /** Close the connection; no more retries. */
  async stop(): Promise<void> {
    this.set({ state: 'stopped' })
    if (this.retry) clearTimeout(this.retry)
    if (this.ping) clearInterval(this.ping)
    this.retry = this.ping = null
    this.socket?.destroy()
    this.socket = null
  }

  private get closed(): boolean {
    return this.status.state === 'stopped' || this.opts.signal.aborted
  }

  private set(s: Partial<ControlStatus>): void {
    const next = { ...this.status, ...s }
    if (next.state === this.status.state && next.reach === this.status.reach && next.peer === this.status.peer) return
    if (this.status.state === 'stopped') return
    this.status = next
    this.emit('status', next)
  }

  private connect(): void {
    if (this.socket || this.closed) return
    const { opts } = this
    const socket = opts.transport.connect(this.endpoint, { type: MSG.TSES })
    this.socket = socket
    this.set({ state: 'opening' })
    let stage: 'session' | 'control' | 'open' = 'session'
    const connectTimer = setTimeout(() => socket.destroy(), opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS)
    const decoder = new FrameDecoder(POLICY, {
      frame: (type, payload) => {
        if (type === MSG.ERRO) {
          const text = payload.toString('utf8')
          opts.log(stage === 'control' && text.startsWith('ERR_NOT_REGISTERED') ? 'debug' : 'warn', `tracker control connection refused: ${text}`)
          this.refused = stage === 'control' && text.startsWith('ERR_NOT_REGISTERED')
          return void socket.destroy()
        }
        if (stage === 'session') {
          if (type !== MSG.REPL) return void socket.destroy()
          const idleMs = Number((JSON.parse(payload.toString('utf8')) as { idleMs?: unknown }).idleMs)
          const every = Number.isFinite(idleMs) && idleMs > 0 ? Math.min(CONTROL_PING_MS, Math.floor(idleMs / 3)) : CONTROL_PING_MS
          this.ping = setInterval(() => socket.write(PING_FRAME), Math.max(250, every))
          this.ping.unref()
          stage = 'control'
          return
        }
        if (stage === 'control' || (stage === 'open' && type === MSG.REPL)) {
          if (type !== MSG.REPL) return void socket.destroy()
          const r = parseControlReply(payload)
          stage = 'open'
          this.again = () => socket.write(encodeFrame(MSG.TCTL, formatControl({ port: opts.port(), mapped: opts.mapped() })))
          this.backoffMs = 1000
          this.set({ state: 'open', reach: r.reach, peer: r.peer })
          return
        }
        if (type !== MSG.DIAL) return
        let d: DialPush
        try {
          d = parseDial(payload)
        } catch (err) {
          return opts.log('warn', `tracker pushed a bad DIAL: ${errText(err)}`)
        }
        opts.onDial(d)
      }
    })
    socket.once(opts.transport.readyEvent, () => {
      clearTimeout(connectTimer)
      socket.setKeepAlive(true, 30_000)
      socket.write(Buffer.concat([encodeFrame(MSG.TSES, '{}'), encodeFrame(MSG.TCTL, formatControl({ port: opts.port(), mapped: opts.mapped() }))]))
    })
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk)
      } catch (err) {
        opts.log('warn', `tracker control connection: ${errText(err)}`)
        socket.destroy()
      }
    })
    socket.on('error', (err) => opts.log('debug', `tracker control connection: ${errText(err)}`))
    socket.once('close', () => {
      clearTimeout(connectTimer)
      if (this.ping) clearInterval(this.ping)
      this.ping = null
      if (this.socket === socket) {
        this.socket = null
        this.again = null
      }
      if (this.closed) return
      this.set({ state: 'down' })
      if (this.refused) return
      this.retry = setTimeout(() => {
        this.retry = null
        this.connect()
      }, this.backoffMs)
      this.retry.unref()
      this.backoffMs = Math.min(60_000, this.backoffMs * 2)
    })
  }
}

const PING_FRAME = encodeFrame(MSG.PING, '')
