/**
 * How a node reaches a peer it cannot dial, and lets itself be reached when it cannot be dialled
 * (docs/NETWORK.md, PROTOCOL.md §7.10-§7.11), on both sides:
 *
 * - requester: the routes its requests fall back to (net/route.ts) — `reversal` (ask the tracker
 *   to have the holder connect to us; our server hands the holder's connection, recognised by its
 *   RVRS token, to the waiting request) and `punch` (TCP simultaneous open: both sides learn the
 *   other's public address from the tracker and connect at once from the port the tracker saw);
 *   the route cache says which one reached which peer;
 * - holder: DIAL pushed down its control connection by its own tracker (and only there): connect
 *   to the requester, send RVRS with the token, then serve the connection as if it had accepted it.
 *
 * Bounds: tokens wait REVERSAL_TIMEOUT_MS at most, unknown tokens get ERRO ERR_UNKNOWN_TOKEN and
 * the close; a holder dials at most PUSH_BURST at once and PUSH_REFILL_PER_S a second; a punch
 * takes at most PUNCH_TIMEOUT_MS once the tracker answered.
 */
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { isIPv6 } from 'node:net'
import { peerKey, requestText, type Endpoint } from '../net/client.ts'
import { firstFrame, noRoute, RouteCache, type Route, type RouteName } from '../net/route.ts'
import { connectFrom, punchConnect, secured } from './punch-socket.ts'
import type { Handler } from '../net/server.ts'
import { TokenBuckets } from '../net/token-bucket.ts'
import type { Transport } from '../net/transport.ts'
import { CONNECT_TIMEOUT_MS, MAX_CONTROL_REPLY, MAX_ERROR_REPLY, MSG, PUNCH_TIMEOUT_MS, PUSH_BURST, PUSH_REFILL_PER_S, REACH_TOKEN_BYTES, REVERSAL_TIMEOUT_MS } from '../protocol/constants.ts'
import { AbortError, errText, ProtocolError, RemoteError, TimeoutError } from '../protocol/errors.ts'
import { encodeFrame, type FramePolicy } from '../protocol/frame.ts'
import { parsePeerId } from '../protocol/messages.ts'
import { formatConnect, formatToken, parseConnectReply, parseToken, type DialPush, type Reachability } from '../protocol/reach-messages.ts'

/** What reaching needs of its node. */
export interface ReachingNode {
  readonly transport: Transport
  /** The node's listening port, and the public id the home router maps to it (or null). */
  readonly identity: { readonly port: number; readonly mapped: string | null }
  /** The tracker's address, when the node uses one. */
  trackerEndpoint(): Endpoint | null
  /** Serve a connection this node dialled as if it had accepted it (FrameServer.adopt). */
  adopt(socket: net.Socket): void
  /**
   * Serve a raw connection with the transport's server side first (FrameServer.adoptRaw: in a
   * group, this side is the TLS server): a punched hole in a group (§7.11). Default: adopt.
   */
  adoptRaw?(socket: net.Socket): void
  log(level: 'debug' | 'info' | 'warn', msg: string): void
}

/** Options; times in ms. */
export interface ReachOptions {
  connectTimeoutMs?: number
  /** The node's stop signal. */
  signal: AbortSignal
}

interface Waiter {
  resolve(socket: net.Socket): void
  reject(err: Error): void
}

/** Counters for status output and tests. */
export interface ReachStats {
  /** Connections this node opened for others (DIAL pushes served). */
  dialled: number
  /** DIAL pushes refused (rate limit, punch in a group). */
  dialRefused: number
  /** Requests of this node that went through each route. */
  routed: Record<RouteName, number>
}

const REPLY_POLICY = (type: string): FramePolicy | undefined => (type === MSG.REPL ? { maxLength: MAX_CONTROL_REPLY } : type === MSG.ERRO ? { maxLength: MAX_ERROR_REPLY } : undefined)
const RVRS_POLICY = (type: string): FramePolicy | undefined => (type === MSG.RVRS ? { maxLength: 1024 } : type === MSG.ERRO ? { maxLength: MAX_ERROR_REPLY } : undefined)

export class Reach {
  /** Which route reached which peer (read by `search`/`fetch` output: "via reversal"). */
  readonly cache = new RouteCache()
  /** The node's routes, in the order tried after a failed direct dial. */
  readonly routes: Route[]
  /** How the node itself is reachable, as its tracker's dial-back check found it. */
  reachability: Reachability = 'unknown'
  readonly stats: ReachStats = { dialled: 0, dialRefused: 0, routed: { reversal: 0, punch: 0, relay: 0 } }
  private readonly waiting = new Map<string, Waiter>()
  private readonly dials = new TokenBuckets(PUSH_BURST, PUSH_REFILL_PER_S)

  constructor(
    private readonly node: ReachingNode,
    private readonly opts: ReachOptions
  ) {
    this.routes = [
      { name: 'reversal', open: (to, o) => this.reversal(to, o.signal) },
      { name: 'punch', open: (to, o) => this.punch(to, o.signal) }
    ]
  }

  /**
   * The tracker said `peer` cannot be dialled (TWHO/TFND `unreachable`): go straight to reversal
   * for it, unless a route is remembered already. This node must be dialable itself.
   */
  hint(peer: string): void {
    if (this.reachability !== 'unreachable' && !this.cache.get(peer)) this.cache.set(peer, 'reversal')
  }

  /** The route that reached `peer` ("host:port") last, if any: "via reversal" in output. */
  via(peer: string): RouteName | undefined {
    return this.cache.get(peer)
  }

  private get connectTimeoutMs(): number {
    return this.opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS
  }

  private tracker(name: RouteName): Endpoint {
    const t = this.node.trackerEndpoint()
    if (!t) throw noRoute(name, 'no tracker to ask')
    return t
  }

  /** A new token and a promise of the socket that will carry it (rejected after `ms`). */
  private wait(token: string, ms: number, signal: AbortSignal | undefined, what: string): Promise<net.Socket> {
    return new Promise<net.Socket>((resolve, reject) => {
      const timer = setTimeout(() => settle(new TimeoutError(`${what} within ${ms} ms`)), ms)
      const onAbort = (): void => settle(new AbortError())
      const settle = (err: Error | null, socket?: net.Socket): void => {
        if (!this.waiting.delete(token)) return void socket?.destroy()
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        this.opts.signal.removeEventListener('abort', onAbort)
        if (err) reject(err)
        else resolve(socket!)
      }
      this.waiting.set(token, { resolve: (s) => settle(null, s), reject: (e) => settle(e) })
      signal?.addEventListener('abort', onAbort, { once: true })
      this.opts.signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  /**
   * Connection reversal (§7.10): TCON to the tracker, then wait for the holder's connection.
   * @throws P2PTubeError ERR_NO_ROUTE (no tracker, or this node is not dialable either),
   *   RemoteError (the tracker refused: no control connection, rate limit), TimeoutError.
   */
  private async reversal(to: Endpoint, signal: AbortSignal | undefined): Promise<net.Socket> {
    const tracker = this.tracker('reversal')
    if (this.reachability === 'unreachable') throw noRoute('reversal', 'this node cannot be dialled either')
    const holder = peerKey(to)
    const token = randomBytes(REACH_TOKEN_BYTES).toString('hex')
    const mapped = this.node.identity.mapped
    const port = mapped ? parsePeerId(mapped).port : this.node.identity.port
    const socket = this.wait(token, REVERSAL_TIMEOUT_MS, signal, `reversal: ${holder} did not connect back`)
    socket.catch(() => {})
    try {
      await requestText(tracker, MSG.TCON, formatConnect({ holder, token, port, punch: false }), {
        connectTimeoutMs: this.connectTimeoutMs,
        transport: this.node.transport,
        signal: signal ?? this.opts.signal
      })
    } catch (err) {
      this.waiting.get(token)?.reject(err as Error)
      // The tracker could not dial this node: no reversal to anyone until told otherwise.
      if (err instanceof RemoteError && err.remoteCode === 'ERR_NO_ROUTE' && this.reachability === 'unknown') this.reachability = 'unreachable'
      throw err
    }
    const s = await socket
    this.stats.routed.reversal++
    return s
  }

  /** RVRS (§7.10): a holder connected for one of our requests; unknown tokens get ERRO and the close. */
  rvrsHandler(): Handler {
    return (ctx) => {
      const token = parseToken(ctx.payload, 'RVRS')
      const w = this.waiting.get(token)
      if (!w) throw new ProtocolError('ERR_UNKNOWN_TOKEN', 'RVRS: no request of this node waits for this token')
      const socket = ctx.detach()
      if (!socket) throw new ProtocolError('ERR_UNEXPECTED', 'RVRS must be the first frame of a connection')
      w.resolve(socket)
    }
  }

  /**
   * TCP hole punching (§7.11): from a port bound for it, TCON punch to the tracker (which sees
   * our public port), wait for the holder's public address, then connect to it from the same
   * port while the holder connects to ours; the holder's first frame is RVRS with our token.
   * In a group the two requests to the tracker run in mutual TLS over the bound port's connection,
   * and the punched connection carries RVRS in the clear, then the members' TLS: this side is the
   * client, the holder the server (as through a relay, §10.4).
   * @throws P2PTubeError ERR_NO_ROUTE, RemoteError (tracker refused or the holder did not
   *   answer), TimeoutError, ERR_CONNECT.
   */
  private async punch(to: Endpoint, signal: AbortSignal | undefined): Promise<net.Socket> {
    const tracker = this.tracker('punch')
    const token = randomBytes(REACH_TOKEN_BYTES).toString('hex')
    const any = isIPv6(tracker.host) ? '::' : '0.0.0.0'
    const t0 = performance.now()
    const raw = await connectFrom({ host: tracker.host, port: tracker.port, localAddress: any }, this.connectTimeoutMs, signal)
    const localPort = raw.localPort ?? 0
    const ctl = await secured(this.node.transport, raw, MSG.TCON, this.connectTimeoutMs)
    let reply: { type: string; payload: Buffer }
    try {
      ctl.write(encodeFrame(MSG.TCON, formatConnect({ holder: peerKey(to), token, port: 0, punch: true })))
      reply = await firstFrame(ctl, REPLY_POLICY, PUNCH_TIMEOUT_MS + this.connectTimeoutMs)
    } finally {
      ctl.destroy()
    }
    if (reply.type === MSG.ERRO) throw new RemoteError(reply.payload.toString('utf8'))
    const addr = parseConnectReply(reply.payload).punch
    if (!addr) throw new ProtocolError('ERR_BAD_REPLY', 'TCON punch: the tracker answered no address')
    const peer = parsePeerId(addr)
    const left = Math.max(500, PUNCH_TIMEOUT_MS - (performance.now() - t0))
    const socket = await punchConnect({ host: peer.host, port: peer.port, localAddress: any, localPort }, left, signal)
    try {
      const first = await firstFrame(socket, RVRS_POLICY, this.connectTimeoutMs)
      if (first.type !== MSG.RVRS || parseToken(first.payload, 'RVRS') !== token) throw new ProtocolError('ERR_UNKNOWN_TOKEN', `punch: ${addr} did not answer with our token`)
    } catch (err) {
      socket.destroy()
      throw err
    }
    this.node.log('debug', `punched a hole to ${peerKey(to)} at ${addr} from port ${localPort} in ${Math.round(performance.now() - t0)} ms`)
    this.stats.routed.punch++
    return socket
  }

  /** A DIAL pushed by this node's own tracker down its control connection. Never throws. */
  onDial(d: DialPush): void {
    if (this.opts.signal.aborted) return
    if (!this.dials.take('dial', Date.now())) {
      this.stats.dialRefused++
      return this.node.log('warn', `tracker asked to connect to ${d.to} too often: refused (rate limit)`)
    }
    const go = d.punch ? this.punchBack(d) : this.dialBack(d)
    go.then(
      () => this.stats.dialled++,
      (err) => this.node.log('info', `could not connect to ${d.to} for the tracker (${d.punch ? 'punch' : 'reversal'}): ${errText(err)}`)
    )
  }

  /** Reversal, holder side: connect to the requester, RVRS token, serve. */
  private dialBack(d: DialPush): Promise<void> {
    return new Promise((resolve, reject) => {
      const { transport } = this.node
      const socket = transport.connect(parsePeerId(d.to), { type: MSG.RVRS })
      const timer = setTimeout(() => socket.destroy(new TimeoutError(`connect to ${d.to} timed out`)), this.connectTimeoutMs)
      socket.once('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
      socket.once(transport.readyEvent, () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        socket.write(encodeFrame(MSG.RVRS, formatToken(d.token)))
        this.node.adopt(socket)
        resolve()
      })
    })
  }

  /** Punch, holder side: TPCH to the tracker from a bound port, and at once connect to the requester from it. */
  private async punchBack(d: DialPush): Promise<void> {
    const tracker = this.tracker('punch')
    const any = isIPv6(tracker.host) ? '::' : '0.0.0.0'
    const raw = await connectFrom({ host: tracker.host, port: tracker.port, localAddress: any }, this.connectTimeoutMs, this.opts.signal)
    const localPort = raw.localPort ?? 0
    const ctl = await secured(this.node.transport, raw, MSG.TPCH, this.connectTimeoutMs)
    ctl.write(encodeFrame(MSG.TPCH, formatToken(d.token)))
    // The reply only confirms; the requester connects as soon as the tracker has our address.
    void firstFrame(ctl, REPLY_POLICY, PUNCH_TIMEOUT_MS)
      .catch(() => {})
      .finally(() => ctl.destroy())
    const to = parsePeerId(d.to)
    const socket = await punchConnect({ host: to.host, port: to.port, localAddress: any, localPort }, PUNCH_TIMEOUT_MS, this.opts.signal)
    socket.write(encodeFrame(MSG.RVRS, formatToken(d.token)))
    // In a group the requester starts its TLS handshake next: this side serves it as TLS server.
    if (this.node.adoptRaw) this.node.adoptRaw(socket)
    else this.node.adopt(socket)
  }
}
