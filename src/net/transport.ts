/**
 * How frames reach the wire (docs/PROTOCOL.md §1, §8): the `Transport` interface and
 * `plainTransport`, plain TCP, the legacy protocol byte for byte. The private group's mutual TLS
 * transport implements the same interface in src/group/transport.ts.
 */
import net from 'node:net'

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
   * `onRead` are valid only during the call (for TLS: the decrypted bytes). A function is asked
   * before each read where the next bytes go (data landing in place, as at their destination).
   */
  readBuffer?: { buffer: Buffer | (() => Buffer); onRead(chunk: Buffer): boolean | void }
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
