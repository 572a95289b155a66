/** What a handler gets for one request (RequestContext), and the class that provides it. */
import type net from 'node:net'
import { MSG } from '../protocol/constants.ts'
import { formatErrorPayload } from '../protocol/errors.ts'
import { encodeFrame } from '../protocol/frame.ts'
import { LEGACY_TYPES } from '../protocol/table.ts'
import { normalizeAddress } from './address.ts'
import type { PeerIdentity } from './transport.ts'

/** What a handler gets for one request. */
export interface RequestContext {
  /** Upper-cased message type. */
  type: string
  payload: Buffer
  /** Remote address and port as seen on the socket (never taken from the payload). */
  remoteAddress: string
  remotePort: number
  /** This side's address of the connection (the interface the requester reached), normalized. */
  localAddress: string
  /** The verified group member behind the connection (group transport only). */
  peer?: PeerIdentity
  /** Aborted when the connection closes. */
  signal: AbortSignal
  /** Write one REPL frame. */
  reply(payload: string | Buffer): Promise<void>
  /**
   * Write one ERRO frame: `"<code>: <message>"` (PROTOCOL.md §5); a legacy btpeer text answering
   * a legacy type goes without the code (errors.ts LEGACY_ERRORS).
   * @param code an ERROR_CODES code, e.g. 'ERR_NOT_FOUND'.
   */
  error(code: string, message: string): Promise<void>
  /**
   * Write raw, already-framed bytes; resolves when the socket can take more (backpressure).
   * `flushed` is called once the socket no longer needs `bytes` (written out, or the connection
   * closed: then with an error), so the buffer may be reused.
   */
  write(bytes: Buffer, flushed?: (err?: Error | null) => void): Promise<void>
  /**
   * Take the connection over (a reversed connection, PROTOCOL.md §7.10): the server stops
   * reading it and will not close it when the handler settles; the caller owns the socket
   * (one-shot requests only; in a session: undefined).
   */
  detach(): net.Socket | undefined
}

/** What the requests of one connection share. */
export interface Conn {
  readonly socket: net.Socket
  readonly remoteAddress: string
  readonly remotePort: number
  readonly peer: PeerIdentity | undefined
  write(bytes: Buffer, flushed?: (err?: Error | null) => void): Promise<void>
  signal(): AbortSignal
  detach(): net.Socket | undefined
}

/**
 * One request's context (a class, not an object literal with getters: a tracker builds
 * thousands a second). `localAddress` (a getsockname system call) and `signal` (an
 * AbortController) are made only when a handler asks.
 */
export class Request implements RequestContext {
  readonly remoteAddress: string
  readonly remotePort: number
  readonly peer?: PeerIdentity

  constructor(
    readonly type: string,
    readonly payload: Buffer,
    private readonly conn: Conn
  ) {
    this.remoteAddress = conn.remoteAddress
    this.remotePort = conn.remotePort
    if (conn.peer) this.peer = conn.peer
  }

  get localAddress(): string {
    return normalizeAddress(this.conn.socket.localAddress ?? '')
  }

  get signal(): AbortSignal {
    return this.conn.signal()
  }

  reply(p: string | Buffer): Promise<void> {
    return this.conn.write(encodeFrame(MSG.REPL, p))
  }

  error(code: string, message: string): Promise<void> {
    return this.conn.write(encodeFrame(MSG.ERRO, formatErrorPayload(code, message, LEGACY_TYPES.has(this.type))))
  }

  write(bytes: Buffer, flushed?: (err?: Error | null) => void): Promise<void> {
    return this.conn.write(bytes, flushed)
  }

  detach(): net.Socket | undefined {
    return this.conn.detach()
  }
}
