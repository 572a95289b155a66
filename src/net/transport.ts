/**
 * How frames reach the wire (docs/PROTOCOL.md §1, §8): the `Transport` interface and
 * `plainTransport`, plain TCP, the legacy protocol byte for byte. The private group's mutual TLS
 * transport implements the same interface in src/group/transport.ts.
 */
import net from 'node:net'
import type { Route } from './route.ts'

/** Who is at the other end of a group connection (from its verified certificate). */
export interface PeerIdentity {
  group: string
  name: string
  /** Certificate serial, upper-case hex. */
  serial: string
  publish: boolean
  role: 'member' | 'tracker'
}

/** Options of one dial. `type` is the request about to be sent (a transport may refuse a peer for it). */
export interface DialOptions {
  localAddress?: string
  noDelay?: boolean
  type?: string
  /**
   * Read into this buffer again and again instead of a new buffer per read (Node's `onread`):
   * no allocation per 64 KiB read, so no external-memory GC on a long download. Bytes passed to
   * `onRead` are valid only during the call (for TLS: the decrypted bytes).
   */
  readBuffer?: { buffer: Buffer; onRead(chunk: Buffer): boolean | void }
  /**
   * Run over this already connected socket (from a Route: e.g. a relay circuit) instead of
   * dialling: plain TCP returns it as it is (ready at once), a group wraps it in TLS.
   */
  socket?: net.Socket
}

/** A way to dial and to accept connections. */
export interface Transport {
  readonly kind: 'plain' | 'group'
  /** Event a dialled socket emits once frames may be written ('connect' for plain TCP). */
  readonly readyEvent: string
  /** Dial; errors (refused, handshake failure, not a member) arrive as the socket's 'error'. */
  connect(to: { host: string; port: number }, opts?: DialOptions): net.Socket
  /** A server calling `onConnection` for every accepted (for groups: authenticated) connection. */
  createServer(onConnection: (socket: net.Socket) => void, opts?: { allowHalfOpen?: boolean }): net.Server
  /** The verified member behind a socket of this transport (undefined for plain TCP). */
  peerOf(socket: net.Socket): PeerIdentity | undefined
  /**
   * Serve a connection that arrived another way (a relay circuit, src/relay): call `onConnection`
   * as for an accepted one (for groups: after the TLS handshake, as server, and the member check).
   * Absent: `onConnection(socket)` at once.
   */
  adopt?(socket: net.Socket, onConnection: (socket: net.Socket) => void): void
  /** Other ways to reach a peer when a dial fails (net/route.ts withRoutes). */
  readonly routes?: readonly Route[]
}

/** Node's `onread` socket option for a DialOptions.readBuffer (decrypted bytes for TLS). */
export function onReadOption(rb: NonNullable<DialOptions['readBuffer']>): net.OnReadOpts {
  return { buffer: rb.buffer, callback: (n: number, buf: Uint8Array) => rb.onRead((buf as Buffer).subarray(0, n)) !== false }
}

/** Plain TCP: what every node spoke before groups; the default. */
export const plainTransport: Transport = {
  kind: 'plain',
  readyEvent: 'connect',
  connect(to, opts = {}) {
    if (opts.socket) {
      if (opts.noDelay) opts.socket.setNoDelay(true)
      return opts.socket
    }
    return net.connect({
      host: to.host,
      port: to.port,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      ...(opts.noDelay ? { noDelay: true } : {}),
      ...(opts.readBuffer ? { onread: onReadOption(opts.readBuffer) } : {})
    })
  },
  createServer(onConnection, opts = {}) {
    return net.createServer({ allowHalfOpen: opts.allowHalfOpen ?? false }, onConnection)
  },
  peerOf() {
    return undefined
  }
}

/**
 * `inner` with `routes` attached: every exchange dialled with the result falls back to the
 * routes (net/client.ts), however deep in the node it is made (downloads, searches, joins), and
 * accepts and dials exactly as `inner` does.
 */
export function withRoutes(inner: Transport, routes: readonly Route[]): Transport {
  return {
    kind: inner.kind,
    readyEvent: inner.readyEvent,
    routes,
    connect: (to, opts) => inner.connect(to, opts),
    createServer: (onConnection, opts) => inner.createServer(onConnection, opts),
    peerOf: (socket) => inner.peerOf(socket),
    ...(inner.adopt ? { adopt: inner.adopt.bind(inner) } : {})
  }
}
