/**
 * The requester side of one exchange: connect, send one frame, read reply frames until the
 * server closes (docs/PROTOCOL.md §1 Connection model; btpeer-wire.md "Connection model").
 * Every exchange has a connect timeout and an idle timeout, and takes an AbortSignal.
 */
import { CONNECT_TIMEOUT_MS, IDLE_TIMEOUT_MS, MAX_REPLY_FRAMES, MSG } from '../protocol/constants.ts'
import { AbortError, P2PTubeError, ProtocolError, RemoteError, TimeoutError } from '../protocol/errors.ts'
import { encodeFrame, FrameDecoder, type FramePolicy } from '../protocol/frame.ts'
import { replyPolicy } from '../protocol/table.ts'
import type net from 'node:net'
import tls from 'node:tls'
import { normalizeAddress } from './address.ts'
import { isDialFailure, markDialFailure, RoutedTransport, type Route, type RouteCache } from './route.ts'
import { plainTransport, type Transport } from './transport.ts'

/** Where to connect. */
export interface Endpoint {
  host: string
  port: number
}

/** This side's end of a connection: the local address the kernel chose to reach the peer. */
export interface LocalEnd {
  address: string
  port: number
  /** The peer's address on this connection (a public one means the peer is on the internet). */
  remote: string
}

/**
 * A request payload, or a function that builds it once the connection is up from the local
 * address that reaches the peer (a node advertises that address in JOIN, SRCH, HITS...).
 */
export type Payload = string | Buffer | ((local: LocalEnd) => string | Buffer)

/** Options of one exchange. Times in ms. */
export interface ExchangeOptions {
  connectTimeoutMs?: number
  idleTimeoutMs?: number
  signal?: AbortSignal
  /** How to reach the peer (default plainTransport; a group node passes its GroupTransport). */
  transport?: Transport
  /**
   * Read the reply into one reused buffer of this many bytes: a long data reply
   * then allocates nothing per read. The handlers' `data` views must be copied before returning
   * (the FrameDecoder already copies everything it keeps).
   */
  readBufferSize?: number
  /**
   * With readBufferSize: where the next socket read lands, asked before each read with the bytes
   * left of the streamed frame body being read (`streamLeft`, 0 outside one) and of the header
   * (`headerLeft`); undefined = the reused buffer. A caller returns a view of its destination
   * (at most `streamLeft` bytes, or `headerLeft` bytes of scratch) so data frames land in place
   * and `data` gets views of that destination (no copy).
   */
  readTarget?(streamLeft: number, headerLeft: number): Buffer | undefined
  /**
   * Other ways to reach the peer when a direct dial fails before a TCP connection exists
   * (refused, unreachable, connect timeout), tried in order (net/route.ts: reversal, punch, relay).
   * The array may grow after the options are made. Default: the transport's, when it is a
   * RoutedTransport (a node's download path), else none.
   */
  routes?: readonly Route[]
  /** Which route reached which peer: read to go straight to it, written when one works (default: the transport's). */
  routeCache?: RouteCache
}

/** Callbacks for the reply stream of one exchange (see FrameDecoder). */
export interface ReplyHandlers {
  /** Which reply types to accept, with their limits. */
  policy(type: string): FramePolicy | undefined
  frame(type: string, payload: Buffer): void
  start?(type: string, length: number): void
  data?(type: string, data: Buffer): void
  end?(type: string): void
  /**
   * Called after each socket read has been decoded. Return a promise to pause reading until it
   * settles (backpressure: e.g. while file writes are pending); a rejection ends the exchange.
   */
  afterRead?(): void | Promise<void>
}

/**
 * Run one exchange: dial `to` directly (or, when `opts.routeCache` says a route reached it last,
 * that route first), and when the dial fails before a TCP connection exists, each of
 * `opts.routes` in order; the request runs on the first connection made.
 * @returns resolves when the server has closed the connection after whole frames.
 * @throws TimeoutError (connect or idle), AbortError, InvalidFrameError (bad reply bytes or a
 *   frame cut short), P2PTubeError ERR_CONNECT (refused/unreachable), or whatever a handler threw.
 *   With routes, a dial failure is the direct dial's error, with each route's error appended to
 *   its message, when every route failed too.
 */
export async function exchange(to: Endpoint, type: string, payload: Payload, handlers: ReplyHandlers, opts: ExchangeOptions = {}): Promise<void> {
  const routed = opts.transport instanceof RoutedTransport ? opts.transport : null
  const routes = opts.routes ?? routed?.routes
  if (!routes?.length) return exchangeOn(to, type, payload, handlers, opts, null)
  if (!opts.routeCache && routed) opts = { ...opts, routeCache: routed.routeCache }
  const key = peerKey(to)
  const cached = opts.routeCache?.get(key)
  let first: unknown = null
  if (!cached) {
    try {
      return await exchangeOn(to, type, payload, handlers, opts, null)
    } catch (err) {
      if (!isDialFailure(err)) throw err
      first = err
    }
  }
  const order = cached ? [...routes.filter((r) => r.name === cached), ...routes.filter((r) => r.name !== cached)] : [...routes]
  const errors: string[] = []
  for (const route of order) {
    if (opts.signal?.aborted) throw new AbortError()
    let socket: net.Socket
    try {
      socket = await route.open(to, { type, ...(opts.signal ? { signal: opts.signal } : {}) })
    } catch (err) {
      if (err instanceof AbortError) throw err
      errors.push(`${route.name}: ${(err as Error).message}`)
      if (route.name === cached) opts.routeCache?.delete(key)
      continue
    }
    opts.routeCache?.set(key, route.name)
    return exchangeOn(to, type, payload, handlers, opts, socket)
  }
  if (cached) {
    // The remembered route failed: the peer may be dialable again.
    try {
      return await exchangeOn(to, type, payload, handlers, opts, null)
    } catch (err) {
      if (!isDialFailure(err)) throw err
      first = err
    }
  }
  const e = first as P2PTubeError
  throw new P2PTubeError(e.code, `${e.message}; ${errors.join('; ')}`, { cause: e })
}

/** "host:port" of an endpoint, as peer ids and the route cache name it. */
export function peerKey(to: Endpoint): string {
  return to.host.includes(':') ? `[${to.host}]:${to.port}` : `${to.host}:${to.port}`
}

/**
 * One exchange on a direct dial (`routed` null) or on a socket a route returned (the transport
 * runs over it; a TLS socket is taken as already secured end to end).
 */
function exchangeOn(to: Endpoint, type: string, payload: Payload, handlers: ReplyHandlers, opts: ExchangeOptions, routed: net.Socket | null): Promise<void> {
  const connectTimeoutMs = opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS
  const idleTimeoutMs = opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS
  return new Promise<void>((resolve, reject) => {
    if (opts.signal?.aborted) {
      routed?.destroy()
      return reject(new AbortError())
    }
    const transport = opts.transport ?? plainTransport
    const onChunk = (chunk: Buffer): void => {
      try {
        decoder.push(chunk)
        const wait = handlers.afterRead?.()
        if (wait) {
          socket.pause()
          wait.then(
            () => {
              if (!settled) socket.resume()
            },
            (err) => done(err)
          )
        }
      } catch (err) {
        done(err)
      }
    }
    const decoder = new FrameDecoder(handlers.policy, handlers)
    // A routed socket exists already: it reads into new buffers ('data' events).
    const shared = opts.readBufferSize && !routed ? Buffer.allocUnsafe(opts.readBufferSize) : null
    const target = opts.readTarget
    const readBuffer = shared ? { buffer: target ? () => target(decoder.streamLeft, decoder.headerLeft) ?? shared : shared, onRead: onChunk } : undefined
    const secured = routed !== null && (transport.kind === 'plain' || routed instanceof tls.TLSSocket)
    const socket = routed ? (secured ? routed : overRoute(transport, routed, type)) : transport.connect(to, { type, readBuffer })
    socket.setNoDelay(true)
    let tcpConnected = routed !== null
    let connected = false
    let settled = false
    const timer = setTimeout(() => done(tcpMark(new TimeoutError(`connect to ${to.host}:${to.port} timed out after ${connectTimeoutMs} ms`))), connectTimeoutMs)
    const onAbort = (): void => done(new AbortError())
    opts.signal?.addEventListener('abort', onAbort, { once: true })

    function tcpMark<E extends Error>(err: E): E {
      return tcpConnected ? err : markDialFailure(err)
    }

    function done(err?: unknown): void {
      if (settled) return
      settled = true
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      socket.removeAllListeners('data')
      if (err) {
        socket.destroy()
        reject(err)
      } else {
        socket.end()
        resolve()
      }
    }

    const onReady = (): void => {
      connected = true
      clearTimeout(timer)
      socket.setTimeout(idleTimeoutMs, () => done(new TimeoutError(`${to.host}:${to.port} sent nothing for ${idleTimeoutMs} ms`)))
      try {
        const body =
          typeof payload === 'function' ? payload({ address: normalizeAddress(socket.localAddress ?? ''), port: socket.localPort ?? 0, remote: normalizeAddress(socket.remoteAddress ?? '') }) : payload
        socket.write(encodeFrame(type, body))
      } catch (err) {
        done(err)
      }
    }
    if (secured) queueMicrotask(onReady)
    else socket.once(transport.readyEvent, onReady)
    if (!routed) socket.once('connect', () => (tcpConnected = true))
    if (!readBuffer) socket.on('data', onChunk)
    if (routed) socket.resume()
    socket.once('end', () => {
      try {
        decoder.finish()
        done()
      } catch (err) {
        done(err)
      }
    })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (connected || err instanceof P2PTubeError) done(err)
      else done(tcpMark(new P2PTubeError('ERR_CONNECT', `cannot connect to ${to.host}:${to.port}: ${err.code ?? err.message}`, { cause: err })))
    })
    socket.once('close', () => done(new P2PTubeError('ERR_CONNECTION_CLOSED', `${to.host}:${to.port} closed the connection abruptly`)))
  })
}

/** The transport over a route's raw socket (the group's TLS: end to end through the route). */
function overRoute(transport: Transport, raw: net.Socket, type: string): net.Socket {
  if (!transport.over) {
    raw.destroy()
    throw new P2PTubeError('ERR_NO_ROUTE', `the ${transport.kind} transport cannot run over a route`)
  }
  return transport.over(raw, { type })
}

/** One buffered reply frame. */
export interface ReplyFrame {
  type: string
  payload: Buffer
}

/**
 * Reply policy for control requests: REPL (≤ MAX_CONTROL_REPLY bytes) and ERRO (≤ MAX_ERROR_REPLY)
 * only (PROTOCOL.md §2; the message table's 'control' reply kind).
 */
export function controlPolicy(type: string): FramePolicy | undefined {
  return replyPolicy('control', type)
}

/**
 * Send one control request and collect its replies (at most MAX_REPLY_FRAMES).
 * @returns every reply frame in order; [] when the peer closed without replying (a legacy
 *   peer's answer to a type it does not know).
 * @throws as exchange(), plus ProtocolError ERR_TOO_MANY_REPLIES.
 */
export async function request(to: Endpoint, type: string, payload: Payload = '', opts: ExchangeOptions = {}): Promise<ReplyFrame[]> {
  const frames: ReplyFrame[] = []
  await exchange(
    to,
    type,
    payload,
    {
      policy: controlPolicy,
      frame(t, p) {
        if (frames.length >= MAX_REPLY_FRAMES) throw new ProtocolError('ERR_TOO_MANY_REPLIES', `more than ${MAX_REPLY_FRAMES} reply frames`)
        frames.push({ type: t, payload: p })
      }
    },
    opts
  )
  return frames
}

/**
 * Send a request that expects one REPL; return its text.
 * @throws RemoteError when the first reply is ERRO, ProtocolError ERR_NO_REPLY when there is none.
 */
export async function requestText(to: Endpoint, type: string, payload: Payload = '', opts: ExchangeOptions = {}): Promise<string> {
  const frames = await request(to, type, payload, opts)
  const first = frames[0]
  if (!first) throw new ProtocolError('ERR_NO_REPLY', `${to.host}:${to.port} closed without replying to ${type}`)
  if (first.type === MSG.ERRO) throw new RemoteError(first.payload.toString('utf8'))
  return first.payload.toString('utf8')
}
