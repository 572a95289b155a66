/**
 * The relay's data path (docs/PROTOCOL.md §10.4-10.5): once both ends of a circuit have joined,
 * the relay copies bytes between the two sockets and does nothing else: it never parses them (in
 * a private group they are the members' end-to-end TLS records). Backpressure both ways (a
 * reader is paused while its writer's buffer is full), an optional shared bandwidth cap (a token
 * bucket), byte accounting per peer, an idle timeout, and half-closes passed on.
 */
import type net from 'node:net'
import type { RateLimiter } from '../net/token-bucket.ts'

/** How a splice ended: both sides done, idle, a byte cap, an error, or the relay stopping. */
export type SpliceEnd = 'done' | 'idle' | 'limit' | 'error' | 'stopped'

/** Options of one splice; times in ms. */
export interface SpliceOptions {
  /** Close the pair after this long without a byte either way. */
  idleMs: number
  /** Shared bandwidth cap (bytes/s) of the relay; rate 0 = none. */
  limiter?: RateLimiter
  /**
   * Called for every chunk copied (`bytes`, and which way: 'a2b' = from `a` to `b`). Return false
   * to end the splice (a byte cap reached).
   */
  onBytes?(bytes: number, way: 'a2b' | 'b2a'): boolean
}

/** A running splice: `ended` resolves once both sockets are closed; `stop()` ends it at once. */
export interface Splice {
  readonly ended: Promise<SpliceEnd>
  /** Bytes copied a → b and b → a so far. */
  readonly bytes: { a2b: number; b2a: number }
  stop(why?: SpliceEnd): void
}

/**
 * Copy bytes between `a` and `b` until both have ended (or one fails, goes idle, hits a cap).
 * Both sockets must have an 'error' listener already or get one here; both are destroyed at the end.
 */
export function splice(a: net.Socket, b: net.Socket, opts: SpliceOptions): Splice {
  const bytes = { a2b: 0, b2a: 0 }
  let end: SpliceEnd | null = null
  let resolveEnded!: (e: SpliceEnd) => void
  const ended = new Promise<SpliceEnd>((r) => (resolveEnded = r))
  let last = performance.now()
  let closed = 0
  const idle = setInterval(
    () => {
      if (performance.now() - last >= opts.idleMs) stop('idle')
    },
    Math.max(50, Math.min(opts.idleMs / 4, 5000))
  )
  idle.unref()

  function stop(why: SpliceEnd = 'stopped'): void {
    end ??= why
    a.destroy()
    b.destroy()
  }

  const onClose = (other: net.Socket): void => {
    // One side is gone for good: the other gets a FIN once what it was sent is flushed.
    other.end()
    if (++closed < 2) return
    clearInterval(idle)
    resolveEnded(end ?? 'done')
  }

  function pump(from: net.Socket, to: net.Socket, way: 'a2b' | 'b2a'): void {
    // Reading pauses while `to` is full or the bandwidth bucket is empty, and resumes when
    // neither holds it any more: one 'drain' listener at a time, no closure per chunk otherwise.
    let full = false
    let paying = false
    const resume = (): void => {
      if (!full && !paying && !from.destroyed) from.resume()
    }
    const onDrain = (): void => {
      full = false
      resume()
    }
    from.on('data', (chunk: Buffer) => {
      last = performance.now()
      bytes[way] += chunk.length
      if (opts.onBytes && !opts.onBytes(chunk.length, way)) return stop('limit')
      if (!to.write(chunk) && !full) {
        full = true
        from.pause()
        to.once('drain', onDrain)
      }
      const limiter = opts.limiter
      if (limiter && limiter.rate > 0) {
        paying = true
        from.pause()
        void limiter.take(chunk.length).then(() => {
          paying = false
          resume()
        })
      }
    })
    // A half-close is passed on: the server's FIN after its reply reaches the requester.
    from.once('end', () => to.end())
  }

  a.on('error', () => stop('error'))
  b.on('error', () => stop('error'))
  a.once('close', () => onClose(b))
  b.once('close', () => onClose(a))
  pump(a, b, 'a2b')
  pump(b, a, 'b2a')
  a.resume()
  b.resume()
  return { ended, bytes, stop }
}
