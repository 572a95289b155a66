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
import { requestLimit } from '../protocol/table.ts'
import { formatErrorPayload, P2PTubeError, ProtocolError } from '../protocol/errors.ts'
import { encodeFrame, FrameDecoder } from '../protocol/frame.ts'
import { Request, type Conn, type RequestContext } from './request.ts'

export type { RequestContext } from './request.ts'
import type { PeerIdentity } from './transport.ts'

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

/** Requests a session's pump answers before it yields to the event loop. */
const SESSION_TURN = 32

/** Request bytes a session may have waiting before the server stops reading it. */
const SESSION_QUEUE_BYTES = 64 * 1024

/** The abort reason of every request whose connection closed (made once: reasons are costly). */
const CONNECTION_CLOSED = new P2PTubeError('ERR_CONNECTION_CLOSED', 'connection closed')

/**
 * Serve one connection until it closes.
 * @param refusal a guard's refusal at accept: answered with ERRO, then the close.
 */
export function serveConnection(socket: net.Socket, peer: PeerIdentity | undefined, s: ConnectionSettings, refusal?: Refusal): void {
  // Made only when a handler asks for its signal (file uploads do; a tracker's thousands of
  // one-shot requests a second do not): aborting an AbortController builds a DOMException.
  let ac: AbortController | null = null
  let closed = false
  const remoteAddress = socket.remoteAddress ?? '?'
  const remotePort = socket.remotePort ?? 0
  let got = false
  let session = false
  let closing = false
  let busy = false
  let ended = false
  let strikes = 0
  const queue: Array<{ type: string; payload: Buffer }> = []
  /** Request bytes queued in a session; reading pauses over SESSION_QUEUE_BYTES. */
  let queued = 0
  socket.once('close', () => {
    clearTimeout(timer)
    closed = true
    ac?.abort(CONNECTION_CLOSED)
  })
  socket.on('error', () => socket.destroy())

  const finish = (): void => {
    if (closing) return
    closing = true
    clearTimeout(timer)
    queue.length = 0
    queued = 0
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

  const conn: Conn = {
    socket,
    remoteAddress,
    remotePort,
    peer,
    write,
    detach() {
      if (session || closing) return undefined
      closing = true
      clearTimeout(timer)
      socket.removeAllListeners('data')
      socket.removeAllListeners('end')
      return socket
    },
    signal() {
      if (!ac) {
        ac = new AbortController()
        if (closed) ac.abort(CONNECTION_CLOSED)
      }
      return ac.signal
    }
  }

  /** Run one request. @returns true when it was refused as bad input (a strike). */
  const dispatch = async (type: string, payload: Buffer): Promise<boolean> => {
    const ctx = new Request(type, payload, conn)
    try {
      await (s.handlers.get(type) as Handler)(ctx)
      return false
    } catch (err) {
      if (err instanceof ProtocolError) {
        s.emit('bad-input', { remoteAddress, code: err.code, message: err.message })
        await ctx.error(err.code, err.message).catch(() => {})
        return true
      }
      if (closed || (err instanceof P2PTubeError && err.code === 'ERR_CONNECTION_CLOSED')) {
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

  // Session: requests one at a time, in order. Reading goes on while replies flush and pauses
  // once SESSION_QUEUE_BYTES of requests wait (a reply that cannot be written holds the pump:
  // a requester that never reads ends up paused, then disconnected by the write-stall timeout).
  const pump = async (): Promise<void> => {
    busy = true
    let run = 0
    while (queue.length && !closing) {
      // Awaiting a handler that answered at once does not reach the event loop: every
      // SESSION_TURN requests, let other connections (one-shot searches) have their turn.
      if (++run % SESSION_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve))
      if (closing) break
      const { type, payload } = queue.shift()!
      queued -= payload.length + 8
      if (socket.isPaused() && queued < SESSION_QUEUE_BYTES / 2 && !ended) socket.resume()
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
      queued += payload.length + 8
      if (queued >= SESSION_QUEUE_BYTES) socket.pause()
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
