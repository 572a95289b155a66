/**
 * The server side: accept a connection, read exactly one request frame, dispatch it to the
 * handler for its type, write 0..n reply frames, close (docs/PROTOCOL.md §1, §2).
 * Bad input gets ERRO with a reason (or a close where no reply can be framed); the server
 * keeps serving.
 */
import { EventEmitter } from 'node:events'
import net from 'node:net'
import { IDLE_TIMEOUT_MS, MAX_CONNECTIONS, MSG, REQUEST_TIMEOUT_MS } from '../protocol/constants.ts'
import { LEGACY_TYPES, requestLimit } from '../protocol/table.ts'
import { formatErrorPayload, P2PTubeError, ProtocolError } from '../protocol/errors.ts'
import { encodeFrame, FrameDecoder } from '../protocol/frame.ts'
import { plainTransport, type PeerIdentity, type Transport } from './transport.ts'

/** What a handler gets for one request. */
export interface RequestContext {
  /** Upper-cased message type. */
  type: string
  payload: Buffer
  /** Remote address and port as seen on the socket (never taken from the payload). */
  remoteAddress: string
  remotePort: number
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
}

/** A message handler; the connection closes when it settles. */
export type Handler = (ctx: RequestContext) => Promise<void> | void

/** FrameServer options; times in ms. */
export interface FrameServerOptions {
  handlers: ReadonlyMap<string, Handler>
  requestTimeoutMs?: number
  /** A requester that reads nothing of its reply for this long is disconnected, ms. */
  writeTimeoutMs?: number
  /** Connections served at once; more are refused at accept. */
  maxConnections?: number
  /** Bytes read and discarded after the reply before the socket is destroyed. */
  drainLimit?: number
  /** How connections are accepted (default plainTransport). */
  transport?: Transport
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

/** Why a guard refused a connection or request: ERRO "<code>: <message>". */
export interface Refusal {
  code: string
  message: string
}

/** Emitted as 'bad-input' for every rejected request (logs, tests, strike counting). */
export interface BadInput {
  remoteAddress: string
  code: string
  message: string
}

/**
 * TCP server for the one-request-per-connection protocol.
 * Events: 'bad-input' (BadInput), 'request-failed' (BadInput: an expected failure such as a
 * file deleted since indexing), 'handler-error' (Error: a local bug, logged).
 */
export class FrameServer extends EventEmitter {
  private readonly server: net.Server
  private readonly transport: Transport
  private readonly sockets = new Set<net.Socket>()
  private readonly requestTimeoutMs: number
  private readonly drainLimit: number

  constructor(private readonly opts: FrameServerOptions) {
    super()
    this.requestTimeoutMs = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
    this.drainLimit = opts.drainLimit ?? 65536
    this.transport = opts.transport ?? plainTransport
    this.server = this.transport.createServer((s) => this.onConnection(s), { allowHalfOpen: true })
    this.server.maxConnections = opts.maxConnections ?? MAX_CONNECTIONS
  }

  /**
   * Listen on host:port (port 0 picks a free one).
   * @returns the bound port.
   * @throws the listen error (EADDRINUSE, EACCES...).
   */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
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

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket)
    socket.setNoDelay(true)
    const ac = new AbortController()
    const remoteAddress = socket.remoteAddress ?? '?'
    const remotePort = socket.remotePort ?? 0
    const peer = this.transport.peerOf(socket)
    let got = false
    let closing = false
    socket.once('close', () => {
      this.sockets.delete(socket)
      clearTimeout(timer)
      ac.abort()
    })
    socket.on('error', () => socket.destroy())

    const finish = (): void => {
      if (closing) return
      closing = true
      clearTimeout(timer)
      // Read and discard what the peer still sends (bounded), so the close is not a reset
      // that could destroy the reply in flight; then give up on it.
      let drained = 0
      socket.removeAllListeners('data')
      socket.on('data', (c: Buffer) => {
        drained += c.length
        if (drained > this.drainLimit) socket.destroy()
      })
      socket.resume()
      socket.end()
      setTimeout(() => socket.destroy(), 2000).unref()
    }

    const reject = (code: string, message: string): void => {
      this.emit('bad-input', { remoteAddress, code, message } satisfies BadInput)
      if (!socket.writable) return void socket.destroy()
      socket.write(encodeFrame(MSG.ERRO, formatErrorPayload(code, message)))
      finish()
    }

    const timer = setTimeout(() => {
      const msg = `request not received within ${this.requestTimeoutMs} ms`
      reject('ERR_TIMEOUT', msg)
    }, this.requestTimeoutMs)
    const refusal = this.opts.guard?.connection?.(remoteAddress, peer)
    if (refusal) {
      got = true
      return reject(refusal.code, refusal.message)
    }

    const write = (bytes: Buffer, flushed?: (err?: Error | null) => void): Promise<void> =>
      new Promise((resolve, rejectWrite) => {
        if (socket.destroyed) {
          const err = new P2PTubeError('ERR_CONNECTION_CLOSED', 'connection closed')
          flushed?.(err)
          return rejectWrite(err)
        }
        if (socket.write(bytes, flushed)) return resolve()
        // A requester that stops reading must not hold the upload (file handle, buffers) forever.
        const stall = setTimeout(() => socket.destroy(), this.opts.writeTimeoutMs ?? IDLE_TIMEOUT_MS)
        const onDrain = (): void => {
          clearTimeout(stall)
          socket.off('close', onClose)
          resolve()
        }
        const onClose = (): void => {
          clearTimeout(stall)
          socket.off('drain', onDrain)
          rejectWrite(new P2PTubeError('ERR_CONNECTION_CLOSED', 'connection closed'))
        }
        socket.once('drain', onDrain)
        socket.once('close', onClose)
      })

    const decoder = new FrameDecoder(
      (type) => (this.opts.handlers.has(type) ? { maxLength: requestLimit(type) ?? 1024 } : undefined),
      {
        frame: (type, payload) => {
          if (got) return // one request per connection: later frames are ignored
          got = true
          clearTimeout(timer)
          socket.pause()
          socket.removeAllListeners('data')
          socket.removeAllListeners('end')
          const refused = this.opts.guard?.request?.(type, remoteAddress, peer)
          if (refused) return reject(refused.code, refused.message)
          const handler = this.opts.handlers.get(type) as Handler
          const ctx: RequestContext = {
            type,
            payload,
            remoteAddress,
            remotePort,
            ...(peer ? { peer } : {}),
            signal: ac.signal,
            reply: (p) => write(encodeFrame(MSG.REPL, p)),
            error: (code, message) => write(encodeFrame(MSG.ERRO, formatErrorPayload(code, message, LEGACY_TYPES.has(type)))),
            write
          }
          Promise.resolve()
            .then(() => handler(ctx))
            .then(finish, async (err: unknown) => {
              if (err instanceof ProtocolError) {
                this.emit('bad-input', { remoteAddress, code: err.code, message: err.message } satisfies BadInput)
                await ctx.error(err.code, err.message).catch(() => {})
              } else if (ac.signal.aborted || (err instanceof P2PTubeError && err.code === 'ERR_CONNECTION_CLOSED')) {
                // The requester went away mid-reply: nothing to answer, nothing wrong here.
              } else if (err instanceof P2PTubeError) {
                // An expected failure (file deleted since indexing...): tell the requester.
                this.emit('request-failed', { remoteAddress, code: err.code, message: err.message } satisfies BadInput)
                await ctx.error(err.code, err.message).catch(() => {})
              } else {
                this.emit('handler-error', err)
                await ctx.error('ERR_INTERNAL', 'Internal error').catch(() => {})
              }
              finish()
            })
        }
      }
    )

    socket.on('data', (chunk: Buffer) => {
      if (got) return
      try {
        decoder.push(chunk)
      } catch (err) {
        if (got) return
        const e = err as P2PTubeError
        reject(e.code ?? 'ERR_INVALID_FRAME', e.message)
      }
    })
    socket.once('end', () => {
      if (got || closing) return
      try {
        decoder.finish()
        reject('ERR_NO_REQUEST', 'connection ended without a request')
      } catch (err) {
        const e = err as P2PTubeError
        reject(e.code, e.message)
      }
    })
  }
}
