/**
 * One accepted connection of a FrameServer (docs/PROTOCOL.md §1.2, §2, §7.1): read the request
 * frame, dispatch it, write the reply, close; or, when the first frame opens a **session**
 * (the tracker's TSES), answer any number of requests on the same connection, one at a time and
 * in order.
 *
 * Guarantees, the same in both modes:
 * - backpressure: the socket is paused while a request is handled, and a handler's write waits
 *   for 'drain' when the socket's buffer is full, so reading resumes only once every reply is
 *   handed to the kernel; a requester that pipelines and never reads costs at most one read
 *   chunk of frames plus one socket buffer of replies;
 * - stall timeout: a reply the requester does not read for `writeTimeoutMs` destroys the socket;
 * - request limits: the frame decoder refuses a length over the type's request limit (protocol/table.ts)
 *   before buffering the body.
 */
import type net from 'node:net'
import { MSG } from '../protocol/constants.ts'
import { LEGACY_TYPES, requestLimit } from '../protocol/table.ts'
import { formatErrorPayload, P2PTubeError, ProtocolError } from '../protocol/errors.ts'
import { encodeFrame, FrameDecoder } from '../protocol/frame.ts'
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
}

/** A message handler; the connection closes when it settles (in a session: the next request runs). */
export type Handler = (ctx: RequestContext) => Promise<void> | void

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

/** What a connection needs from its server; times in ms. */
export interface ConnectionSettings {
  handlers: ReadonlyMap<string, Handler>
  requestTimeoutMs: number
  writeTimeoutMs: number
  drainLimit: number
  session: { type: string; idleMs: number; maxStrikes: number } | null
  guard: { request?(type: string, remoteAddress: string, peer: PeerIdentity | undefined): Refusal | undefined } | undefined
  emit(event: 'bad-input' | 'request-failed', b: BadInput): void
  emit(event: 'handler-error', err: unknown): void
}

/**
 * Serve one connection until it closes.
 * @param refusal a guard's refusal at accept: answered with ERRO, then the close.
 */
export function serveConnection(socket: net.Socket, peer: PeerIdentity | undefined, s: ConnectionSettings, refusal?: Refusal): void {
  const ac = new AbortController()
  const remoteAddress = socket.remoteAddress ?? '?'
  const remotePort = socket.remotePort ?? 0
  const localAddress = normalizeAddress(socket.localAddress ?? '')
  let got = false
  let session = false
  let closing = false
  let busy = false
  let ended = false
  let strikes = 0
  const queue: Array<{ type: string; payload: Buffer }> = []
  socket.once('close', () => {
    clearTimeout(timer)
    ac.abort()
  })
  socket.on('error', () => socket.destroy())

  const finish = (): void => {
    if (closing) return
    closing = true
    clearTimeout(timer)
    queue.length = 0
    // Read and discard what the peer still sends (bounded), so the close is not a reset
    // that could destroy the reply in flight; then give up on it.
    let drained = 0
    socket.removeAllListeners('data')
    socket.on('data', (c: Buffer) => {
      drained += c.length
      if (drained > s.drainLimit) socket.destroy()
    })
    socket.resume()
    socket.end()
    setTimeout(() => socket.destroy(), 2000).unref()
  }

  const reject = (code: string, message: string): void => {
    s.emit('bad-input', { remoteAddress, code, message })
    if (!socket.writable) return void socket.destroy()
    socket.write(encodeFrame(MSG.ERRO, formatErrorPayload(code, message)))
    finish()
  }

  // Before the first frame: the request timeout; in a session, the idle timeout replaces it.
  let timer = setTimeout(() => reject('ERR_TIMEOUT', `request not received within ${s.requestTimeoutMs} ms`), s.requestTimeoutMs)
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
      const stall = setTimeout(() => socket.destroy(), s.writeTimeoutMs)
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

  /** Run one request. @returns true when it was refused as bad input (a strike). */
  const dispatch = async (type: string, payload: Buffer): Promise<boolean> => {
    const ctx: RequestContext = {
      type,
      payload,
      remoteAddress,
      remotePort,
      localAddress,
      ...(peer ? { peer } : {}),
      signal: ac.signal,
      reply: (p) => write(encodeFrame(MSG.REPL, p)),
      error: (code, message) => write(encodeFrame(MSG.ERRO, formatErrorPayload(code, message, LEGACY_TYPES.has(type)))),
      write
    }
    try {
      await (s.handlers.get(type) as Handler)(ctx)
      return false
    } catch (err) {
      if (err instanceof ProtocolError) {
        s.emit('bad-input', { remoteAddress, code: err.code, message: err.message })
        await ctx.error(err.code, err.message).catch(() => {})
        return true
      }
      if (ac.signal.aborted || (err instanceof P2PTubeError && err.code === 'ERR_CONNECTION_CLOSED')) {
        // The requester went away mid-reply: nothing to answer, nothing wrong here.
      } else if (err instanceof P2PTubeError) {
        // An expected failure (file deleted since indexing...): tell the requester.
        s.emit('request-failed', { remoteAddress, code: err.code, message: err.message })
        await ctx.error(err.code, err.message).catch(() => {})
      } else {
        s.emit('handler-error', err)
        await ctx.error('ERR_INTERNAL', 'Internal error').catch(() => {})
      }
      return false
    }
  }

  // Session: requests one at a time, in order; reading resumes once the queue is answered.
  const pump = async (): Promise<void> => {
    busy = true
    while (queue.length && !closing) {
      const { type, payload } = queue.shift()!
      // Refused in its turn, so the requests before it are still answered in order.
      if (type === sessionType) return reject('ERR_UNEXPECTED', `${sessionType} must be the first frame of a connection`)
      const refused = s.guard?.request?.(type, remoteAddress, peer)
      if (refused) return reject(refused.code, refused.message)
      if ((await dispatch(type, payload)) && ++strikes >= s.session!.maxStrikes) return finish()
    }
    busy = false
    if (closing) return
    timer.refresh()
    if (ended) finish()
    else socket.resume()
  }

  const openSession = (): void => {
    session = true
    // A session silent for idleMs is closed (§7.1); any byte read re-arms the timer.
    timer = setTimeout(() => socket.destroy(), s.session!.idleMs)
    busy = true // frames pipelined behind TSES wait for its reply
    socket.pause()
    write(encodeFrame(MSG.REPL, JSON.stringify({ session: true, idleMs: s.session!.idleMs }))).then(
      () => void pump(),
      () => {}
    )
  }

  const oneShot = (type: string, payload: Buffer): void => {
    socket.pause()
    socket.removeAllListeners('data')
    socket.removeAllListeners('end')
    const refused = s.guard?.request?.(type, remoteAddress, peer)
    if (refused) return reject(refused.code, refused.message)
    void dispatch(type, payload).then(finish)
  }

  const sessionType = s.session?.type
  const decoder = new FrameDecoder((type) => (type === sessionType || s.handlers.has(type) ? { maxLength: requestLimit(type) ?? 1024 } : undefined), {
    frame: (type, payload) => {
      if (closing) return
      if (!got) {
        got = true
        clearTimeout(timer)
        if (type === sessionType) return openSession()
        return oneShot(type, payload)
      }
      if (!session) return // one request per connection: later frames are ignored
      queue.push({ type, payload })
      socket.pause()
      if (!busy) void pump()
    }
  })

  socket.on('data', (chunk: Buffer) => {
    if (closing || (got && !session)) return
    if (session) timer.refresh()
    try {
      decoder.push(chunk)
    } catch (err) {
      if (closing || (got && !session)) return
      const e = err as P2PTubeError
      reject(e.code ?? 'ERR_INVALID_FRAME', e.message)
    }
  })
  socket.once('end', () => {
    if (closing || (got && !session)) return
    if (session && decoder.idle) {
      // The requester is done sending: answer what is queued, then close.
      ended = true
      if (!busy && !queue.length) finish()
      return
    }
    try {
      decoder.finish()
      reject('ERR_NO_REQUEST', 'connection ended without a request')
    } catch (err) {
      const e = err as P2PTubeError
      reject(e.code, e.message)
    }
  })
}
