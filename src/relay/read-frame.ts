/**
 * Read exactly one frame from a socket and leave every byte after it in the socket (unshifted),
 * so the socket can then carry something else: the spliced stream after a relay's REPL
 * (docs/PROTOCOL.md §10.4). The length is checked against `limits` at the header, before any of
 * the body is buffered (§1.1).
 */
import type net from 'node:net'
import { HEADER_SIZE, TYPE_SIZE } from '../protocol/constants.ts'
import { AbortError, InvalidFrameError, P2PTubeError, TimeoutError } from '../protocol/errors.ts'

/** One frame: upper-cased type and payload. */
export interface OneFrame {
  type: string
  payload: Buffer
}

/**
 * @param limits largest payload per accepted type, bytes; another type is ERR_UNKNOWN_TYPE.
 * @param timeoutMs the whole frame must arrive within this time.
 * @returns the frame; the socket is paused, with its 'data' listener removed.
 * @throws InvalidFrameError (ERR_BAD_TYPE, ERR_UNKNOWN_TYPE, ERR_FRAME_TOO_LARGE, ERR_TRUNCATED_FRAME),
 *   TimeoutError, AbortError, P2PTubeError ERR_CONNECTION_CLOSED. The socket is left open: the caller decides.
 */
export function readFrame(socket: net.Socket, limits: Readonly<Record<string, number>>, timeoutMs: number, signal?: AbortSignal): Promise<OneFrame> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0)
    let need = -1
    let type = ''
    const timer = setTimeout(() => finish(new TimeoutError(`no whole frame within ${timeoutMs} ms`)), timeoutMs)
    const onAbort = (): void => finish(new AbortError())
    signal?.addEventListener('abort', onAbort, { once: true })
    const onEnd = (): void => finish(new InvalidFrameError('ERR_TRUNCATED_FRAME', `connection ended after ${buf.length} bytes of a frame`))
    const onClose = (): void => finish(new P2PTubeError('ERR_CONNECTION_CLOSED', 'connection closed before a whole frame'))
    const onError = (err: Error): void => finish(err)
    function finish(err: Error | null, frame?: OneFrame, rest?: Buffer): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.off('close', onClose)
      socket.off('error', onError)
      socket.pause()
      if (rest?.length) socket.unshift(rest)
      if (err) reject(err)
      else resolve(frame!)
    }
    function onData(chunk: Buffer): void {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk
      if (need < 0 && buf.length >= HEADER_SIZE) {
        for (let k = 0; k < TYPE_SIZE; k++) {
          const c = buf[k]!
          if (c < 0x21 || c > 0x7e) return finish(new InvalidFrameError('ERR_BAD_TYPE', `frame type has a non-printable byte 0x${c.toString(16).padStart(2, '0')}`))
        }
        type = buf.toString('latin1', 0, TYPE_SIZE).toUpperCase()
        const length = buf.readUInt32BE(TYPE_SIZE)
        const limit = Object.hasOwn(limits, type) ? limits[type]! : undefined
        if (limit === undefined) return finish(new InvalidFrameError('ERR_UNKNOWN_TYPE', `unknown or unexpected message type ${type}`))
        if (length > limit) return finish(new InvalidFrameError('ERR_FRAME_TOO_LARGE', `${type} frame of ${length} bytes exceeds the limit of ${limit} bytes`))
        need = HEADER_SIZE + length
      }
      if (need >= 0 && buf.length >= need) finish(null, { type, payload: Buffer.from(buf.subarray(HEADER_SIZE, need)) }, buf.subarray(need))
    }
    socket.on('data', onData)
    socket.once('end', onEnd)
    socket.once('close', onClose)
    socket.once('error', onError)
    socket.resume()
  })
}
