/**
 * The server side: accept a connection, read exactly one request frame, dispatch it to the
 * handler for its type, write 0..n reply frames, close (docs/PROTOCOL.md §1, §2). With the
 * `session` option (the tracker, §7.1) a connection whose first frame is the session type stays
 * open and carries any number of requests, answered in order. Bad input gets ERRO with a reason
 * (or a close where no reply can be framed); the server keeps serving. One connection's state
 * machine, backpressure and timeouts: server-connection.ts.
 */
import { EventEmitter } from 'node:events'
import net from 'node:net'
import { IDLE_TIMEOUT_MS, MAX_CONNECTIONS, MSG, REQUEST_TIMEOUT_MS } from '../protocol/constants.ts'
import { formatErrorPayload } from '../protocol/errors.ts'
import { encodeFrame } from '../protocol/frame.ts'
import { normalizeAddress } from './address.ts'
import { LogLimiter } from './log-limiter.ts'
import { serveConnection, type BadInput, type ConnectionSettings, type Handler, type Refusal } from './server-connection.ts'
import { plainTransport, type PeerIdentity, type Transport } from './transport.ts'

export type { BadInput, Handler, Refusal, RequestContext } from './server-connection.ts'

/** FrameServer options; times in ms. */
export interface FrameServerOptions {
  handlers: ReadonlyMap<string, Handler>
  requestTimeoutMs?: number
  /** A requester that reads nothing of its reply for this long is disconnected, ms. */
  writeTimeoutMs?: number
  /** Connections served at once; more are refused at accept. */
  maxConnections?: number
  /**
   * Connections open at once from one remote address (default: maxConnections / 8, at least 8;
   * 0 = no cap). More are answered `ERR_TOO_MANY_CONNECTIONS` and closed at once (in a group:
   * closed before the TLS handshake). 127.0.0.1 and ::1 — this machine's own nodes and tools,
   * which share that address — are not capped; other loopback addresses are.
   */
  maxConnectionsPerHost?: number
  /** Bytes read and discarded after the reply before the socket is destroyed. */
  drainLimit?: number
  /** How connections are accepted (default plainTransport). */
  transport?: Transport
  /** Listen backlog (default 511, Node's). */
  backlog?: number
  /**
   * Sessions (PROTOCOL.md §7.1): a connection whose first frame is `type` is answered with
   * REPL {"session":true,"idleMs"} and stays open for requests answered in order; it is closed
   * after `idleMs` without a byte read, or after `maxStrikes` (default 8) requests refused as bad
   * input. `type` anywhere but first is refused (ERR_UNEXPECTED) and closes the connection.
   */
  session?: { type: string; idleMs: number; maxStrikes?: number }
  /**
   * Admission checks (group rights, per-peer rate limits): return a reason to refuse with ERRO
   * (the request is not dispatched), or undefined to go on. `connection` runs at accept,
   * `request` once the request frame is read.
   */
  guard?: {
    connection?(remoteAddress: string, peer: PeerIdentity | undefined): Refusal | undefined
    request?(type: string, remoteAddress: string, peer: PeerIdentity | undefined): Refusal | undefined
  }
}

/** Addresses the per-address connection cap leaves alone: this machine's own (see maxConnectionsPerHost). */
const UNCAPPED = new Set(['127.0.0.1', '::1'])

/**
 * TCP server for the one-request-per-connection protocol, and optionally sessions.
 * Events: 'bad-input' (BadInput), 'request-failed' (BadInput: an expected failure such as a
 * file deleted since indexing), 'handler-error' (Error: a local bug, logged).
 */
export class FrameServer extends EventEmitter {
  private readonly server: net.Server
  private readonly transport: Transport
  private readonly sockets = new Set<net.Socket>()
  private readonly settings: ConnectionSettings
  private readonly maxPerHost: number
  /** Open connections by remote address (uncapped addresses are not counted). */
  private readonly perHost = new Map<string, number>()
  /** Raw sockets over their address's cap, refused when they reach onConnection. */
  private readonly overCap = new WeakSet<net.Socket>()

  constructor(private readonly opts: FrameServerOptions) {
    super()
    this.settings = {
      handlers: opts.handlers,
      requestTimeoutMs: opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
      writeTimeoutMs: opts.writeTimeoutMs ?? IDLE_TIMEOUT_MS,
      drainLimit: opts.drainLimit ?? 65536,
      session: opts.session ? { type: opts.session.type, idleMs: opts.session.idleMs, maxStrikes: opts.session.maxStrikes ?? 8 } : null,
      guard: opts.guard,
      emit: (event: string, arg: unknown) => void this.emit(event, arg)
    }
    this.transport = opts.transport ?? plainTransport
    this.server = this.transport.createServer((s) => this.onConnection(s), { allowHalfOpen: true })
    this.server.maxConnections = opts.maxConnections ?? MAX_CONNECTIONS
    this.maxPerHost = opts.maxConnectionsPerHost ?? Math.max(8, Math.floor(this.server.maxConnections / 8))
    // Before the transport's own listener (a TLS server starts its handshake there).
    this.server.prependListener('connection', (raw: net.Socket) => this.countHost(raw))
  }

  /** Connections open now from `host` (as counted for the per-address cap). */
  connectionsFrom(host: string): number {
    return this.perHost.get(normalizeAddress(host)) ?? 0
  }

  private countHost(raw: net.Socket): void {
    const host = normalizeAddress(raw.remoteAddress ?? '?')
    if (!this.maxPerHost || UNCAPPED.has(host)) return
    const n = (this.perHost.get(host) ?? 0) + 1
    if (n > this.maxPerHost) {
      this.overCap.add(raw)
      raw.on('error', () => {})
      this.emit('bad-input', { remoteAddress: host, code: 'ERR_TOO_MANY_CONNECTIONS', message: `${host} already has ${this.maxPerHost} connections open` })
      // Nothing can be said before a TLS handshake: close at once.
      if (this.transport !== plainTransport) raw.destroy()
      return
    }
    this.perHost.set(host, n)
    raw.once('close', () => {
      const left = (this.perHost.get(host) ?? 1) - 1
      if (left > 0) this.perHost.set(host, left)
      else this.perHost.delete(host)
    })
  }

  /**
   * Listen on host:port (port 0 picks a free one).
   * @returns the bound port.
   * @throws the listen error (EADDRINUSE, EACCES...).
   */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen({ port, host, ...(this.opts.backlog ? { backlog: this.opts.backlog } : {}) }, () => {
        this.server.off('error', reject)
        resolve((this.server.address() as net.AddressInfo).port)
      })
    })
  }

  /** Stop accepting, destroy open connections. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  /**
   * Serve a connection this side dialled as if it had been accepted: a holder serving the
   * requester it connected to (connection reversal and hole punching, PROTOCOL.md §7.10-§7.11).
   * The socket must be ready (connected; for groups: handshaken).
   */
  adopt(socket: net.Socket): void {
    this.onConnection(socket)
  }

  /**
   * Serve a raw connection that did not come through this server's listener (a relay circuit,
   * src/relay): the transport's `adopt` first (a group: TLS as server and the member check),
   * then exactly as an accepted connection, guards included. Closed with the server.
   */
  adoptRaw(socket: net.Socket): void {
    if (this.transport.adopt) this.transport.adopt(socket, (s) => this.onConnection(s))
    else {
      this.onConnection(socket)
      // It may come paused (a relay's join read its reply and put back what followed).
      socket.resume()
    }
  }

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket)
    socket.once('close', () => this.sockets.delete(socket))
    if (this.overCap.has(socket)) {
      // Answer and close without reading a request: the slot is free again within a round trip.
      const host = normalizeAddress(socket.remoteAddress ?? '?')
      socket.end(encodeFrame(MSG.ERRO, formatErrorPayload('ERR_TOO_MANY_CONNECTIONS', `${host} already has ${this.maxPerHost} connections open`)))
      socket.once('finish', () => socket.destroy())
      setTimeout(() => socket.destroy(), 1000).unref()
      return
    }
    socket.setNoDelay(true)
    const peer = this.transport.peerOf(socket)
    const refusal = this.opts.guard?.connection?.(socket.remoteAddress ?? '?', peer)
    serveConnection(socket, peer, this.settings, refusal)
  }
}

/** What owns a server (a node, a tracker): a log, a bad-input counter, and its own events. */
export interface ServerOwner {
  log(level: 'warn' | 'error', msg: string): void
  readonly stats: { badInput: number }
  emit(event: 'bad-input', b: BadInput): boolean
}

/**
 * Report a server's events the one way its owners do: every rejected request is counted in
 * `stats.badInput`, logged as a warning (rate limited: LogLimiter) and re-emitted as the owner's
 * 'bad-input'; expected failures are warnings (rate limited too), handler bugs errors with their
 * stack.
 * @returns the limiter, so the owner can report what is suppressed when it stops.
 */
export function logServerEvents(server: FrameServer, owner: ServerOwner): LogLimiter {
  // Lines a remote peer causes are rate limited (20 per 10 s, then a suppressed-count line);
  // the counter and the event still see every one.
  const limited = new LogLimiter((level, msg) => owner.log(level, msg), 'bad input')
  server.on('bad-input', (b: BadInput) => {
    owner.stats.badInput++
    limited.log(`bad input from ${b.remoteAddress}: ${b.code}: ${b.message}`)
    owner.emit('bad-input', b)
  })
  server.on('request-failed', (b: BadInput) => limited.log(`request from ${b.remoteAddress} failed: ${b.code}: ${b.message}`))
  server.on('handler-error', (err: Error) => owner.log('error', `handler failed: ${err.stack ?? err.message}`))
  return limited
}
