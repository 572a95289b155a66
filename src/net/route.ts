/**
 * The dialling seam (docs/NETWORK.md "How a node is reached"): other ways than a direct dial to
 * get a connection whose far end is the server side of a peer. A requester (net/client.ts
 * `exchange`) dials directly first; when that fails before a TCP connection exists (refused,
 * unreachable, connect timeout) it tries the routes it was given, in order: connection reversal
 * (the holder dials back, PROTOCOL.md §7.10), TCP hole punching (§7.11), a relay. The transport
 * (plain TCP, or the group's mutual TLS: end to end through whatever carries the bytes) runs over
 * the socket a route returns.
 *
 * A RouteCache remembers which route reached a peer, so the next request to it goes straight to
 * that route (for ROUTE_CACHE_MS), and so `search`/`fetch` can say "via reversal".
 */
import type net from 'node:net'
import type { DialOptions, PeerIdentity, Transport } from './transport.ts'
import { P2PTubeError, TimeoutError } from '../protocol/errors.ts'
import { FrameDecoder, type FramePolicy } from '../protocol/frame.ts'

/** Names of the routes, in the order a node tries them. */
export type RouteName = 'reversal' | 'punch' | 'relay'

/** One way to reach a peer that cannot be dialled directly. */
export interface Route {
  readonly name: RouteName
  /** A connected socket whose far end is the server side of peer `to`, or throws (P2PTubeError). */
  open(to: { host: string; port: number }, opts: { signal?: AbortSignal; type: string }): Promise<net.Socket>
}

/** How long a route that worked is used first for a peer, ms (a mapping or a NAT may change). */
export const ROUTE_CACHE_MS = 5 * 60_000

/** Peers remembered at most (the oldest entry goes first). */
const ROUTE_CACHE_MAX = 1024

/**
 * Which route reached which peer ("host:port" → route name), each entry for `ttlMs`. A hint
 * (the tracker saying a holder cannot be dialled) is kept the same way: the direct dial is then
 * skipped.
 */
export class RouteCache {
  private readonly entries = new Map<string, { name: RouteName; until: number }>()

  constructor(
    private readonly ttlMs = ROUTE_CACHE_MS,
    private readonly now: () => number = Date.now
  ) {}

  /** The route that last reached `peer` ("host:port"), or undefined (none, or expired). */
  get(peer: string): RouteName | undefined {
    const e = this.entries.get(peer)
    if (!e) return undefined
    if (e.until <= this.now()) {
      this.entries.delete(peer)
      return undefined
    }
    return e.name
  }

  /** Remember that `name` reached `peer` (or should be tried first for it). */
  set(peer: string, name: RouteName): void {
    this.entries.delete(peer)
    if (this.entries.size >= ROUTE_CACHE_MAX) this.entries.delete(this.entries.keys().next().value as string)
    this.entries.set(peer, { name, until: this.now() + this.ttlMs })
  }

  /** Forget `peer` (its route failed). */
  delete(peer: string): void {
    this.entries.delete(peer)
  }

  /** Entries in force, for status output. */
  list(): Array<{ peer: string; via: RouteName }> {
    const t = this.now()
    return [...this.entries].filter(([, e]) => e.until > t).map(([peer, e]) => ({ peer, via: e.name }))
  }
}

/** Marks an error of a dial that never reached a TCP connection (what routes are tried after). */
const DIAL_FAILURES = new WeakSet<Error>()

/** Mark `err` as a failure to reach the peer at all (no TCP connection was made). @returns err. */
export function markDialFailure<E extends Error>(err: E): E {
  DIAL_FAILURES.add(err)
  return err
}

/**
 * Did a dial fail before any TCP connection existed (refused, unreachable, connect timeout)? Only
 * then is another route tried: a TLS refusal or an ERRO means the peer was reached.
 */
export function isDialFailure(err: unknown): boolean {
  return err instanceof Error && DIAL_FAILURES.has(err) && (err instanceof TimeoutError || (err instanceof P2PTubeError && err.code === 'ERR_CONNECT'))
}

/** The error a route throws when it cannot be used at all (no tracker, this node not dialable...). */
export function noRoute(name: RouteName, why: string): P2PTubeError {
  return new P2PTubeError('ERR_NO_ROUTE', `${name}: ${why}`)
}

/**
 * Read the first frame a socket sends (a route's handshake: the holder's RVRS, the tracker's
 * reply to a punch request), then stop reading (the socket is paused, its data listener removed).
 * Bytes after that frame in the same read are dropped: the other side sends none before it is
 * answered.
 * @throws TimeoutError after `timeoutMs`, P2PTubeError ERR_CONNECTION_CLOSED, InvalidFrameError.
 */
export function firstFrame(socket: net.Socket, policy: (type: string) => FramePolicy | undefined, timeoutMs: number): Promise<{ type: string; payload: Buffer }> {
  return new Promise((resolve, reject) => {
    let got = false
    const finish = (err: Error | null, frame?: { type: string; payload: Buffer }): void => {
      if (got) return
      got = true
      clearTimeout(timer)
      socket.pause()
      socket.off('data', onData)
      socket.off('close', onClose)
      if (err) reject(err)
      else resolve(frame!)
    }
    const decoder = new FrameDecoder(policy, { frame: (type, payload) => finish(null, { type, payload }) })
    const onData = (chunk: Buffer): void => {
      try {
        decoder.push(chunk)
      } catch (err) {
        finish(err as Error)
      }
    }
    const onClose = (): void => finish(new P2PTubeError('ERR_CONNECTION_CLOSED', 'closed before its first frame'))
    const timer = setTimeout(() => finish(new TimeoutError(`no first frame within ${timeoutMs} ms`)), timeoutMs)
    socket.on('data', onData)
    socket.once('close', onClose)
    socket.resume()
  })
}

/**
 * A transport that carries its fallback routes: every exchange over it (net/client.ts) that
 * passes no `routes` of its own uses these, so a node's download path (RGET, HASH, FGET, which
 * pass the transport down) falls back without each request's options naming the routes. Dials,
 * accepts and identities are the base transport's.
 */
export class RoutedTransport implements Transport {
  readonly kind: Transport['kind']
  readonly readyEvent: string

  constructor(
    readonly base: Transport,
    readonly routes: readonly Route[],
    readonly routeCache: RouteCache
  ) {
    this.kind = base.kind
    this.readyEvent = base.readyEvent
    if (base.over) this.over = (socket, opts) => base.over!(socket, opts)
  }

  over?: (socket: net.Socket, opts?: DialOptions) => net.Socket

  connect(to: { host: string; port: number }, opts?: DialOptions): net.Socket {
    return this.base.connect(to, opts)
  }

  createServer(onConnection: (socket: net.Socket) => void, opts?: { allowHalfOpen?: boolean }): net.Server {
    return this.base.createServer(onConnection, opts)
  }

  peerOf(socket: net.Socket): PeerIdentity | undefined {
    return this.base.peerOf(socket)
  }
}
