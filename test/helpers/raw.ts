/**
 * Raw TCP exchanges for tests: send arbitrary bytes (not necessarily a valid frame) and collect
 * whatever reply frames come back until the node closes (btpeer-wire.md "Connection model").
 */
import net from 'node:net'
import { FrameDecoder } from '../../src/protocol/frame.ts'
import { slow } from './slow.ts'

/** One reply frame. `text` is the payload as UTF-8. */
export interface RawFrame {
  type: string
  payload: Buffer
  text: string
}

export interface RawResult {
  frames: RawFrame[]
  /** Every byte received, framed or not. */
  bytes: Buffer
  /** The reply stream was not valid frames (decoder error), if so. */
  decodeError?: Error
  /** ms from the first write to the close. */
  elapsedMs: number
}

export interface RawOptions {
  host?: string
  /** Local address to connect from (e.g. 127.0.0.2, to be a different host on loopback). */
  localAddress?: string
  /** Half-close our side after sending (like a sender that is done). Default false. */
  end?: boolean
  /** Give up (reject) when the node has not closed after this long. Default 5000 ms. */
  timeoutMs?: number
}

/**
 * Connect to 127.0.0.1:`port`, send `bytes`, collect reply frames until the node closes.
 * The decoder is permissive (any printable type, up to 64 MiB) so that what the node sent is
 * reported rather than judged here.
 * @throws Error on a connect error or when the node does not close within `timeoutMs`.
 */
export function rawExchange(port: number, bytes: Buffer, opts: RawOptions = {}): Promise<RawResult> {
  const timeoutMs = opts.timeoutMs ?? slow(5000)
  return new Promise((resolve, reject) => {
    const frames: RawFrame[] = []
    const received: Buffer[] = []
    let decodeError: Error | undefined
    let started = 0
    let settled = false
    const decoder = new FrameDecoder(() => ({ maxLength: 64 << 20 }), {
      frame: (type, payload) => frames.push({ type, payload, text: payload.toString('utf8') })
    })
    const socket = net.connect({ host: opts.host ?? '127.0.0.1', port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) })
    const timer = setTimeout(() => done(new Error(`node did not close the connection within ${timeoutMs} ms`)), timeoutMs)

    function done(err?: Error): void {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      if (err) return reject(err)
      if (!decodeError) {
        try {
          decoder.finish()
        } catch (e) {
          decodeError = e as Error
        }
      }
      resolve({ frames, bytes: Buffer.concat(received), decodeError, elapsedMs: performance.now() - started })
    }

    socket.once('connect', () => {
      started = performance.now()
      if (bytes.length) socket.write(bytes)
      if (opts.end) socket.end()
    })
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk)
      if (decodeError) return
      try {
        decoder.push(chunk)
      } catch (e) {
        decodeError = e as Error
      }
    })
    // A reset after the node's reply still counts as the end of the reply.
    socket.on('error', (err) => {
      if (!started) done(err)
    })
    socket.once('close', () => done())
  })
}
