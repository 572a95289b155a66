/**
 * Token buckets, the one rate-limiting mechanism of the code base:
 * - `RateLimiter`: one byte bucket that callers wait on, for the upload cap
 *   (`--rate-limit BYTES_PER_S`; one per node, shared by all its uploads);
 * - `TokenBuckets`: request buckets by key that refuse instead of waiting, for per-peer
 *   connection/query limits of a node and the tracker's announce limit (PROTOCOL.md §7.3).
 */

/** Token bucket; `rate` in bytes/s (0 = unlimited), `burst` in bytes. */
export class RateLimiter {
  private tokens: number
  private last: number
  private tail: Promise<void> = Promise.resolve()

  /**
   * @param rate bytes per second, 0 for no limit.
   * @param burst largest burst in bytes (default: rate/10, at least 16 KiB), so a limited
   *   source sends in small steps instead of one large gulp a second.
   * @param now clock in ms (injectable for tests).
   */
  constructor(
    readonly rate: number,
    private readonly burst = Math.max(16384, Math.floor(rate / 10)),
    private readonly now: () => number = () => performance.now()
  ) {
    this.tokens = this.burst
    this.last = this.now()
  }

  /**
   * Bytes a sender should take at a time so data flows smoothly under the limit, and a new
   * request does not queue long behind others: about 1/64 s worth (2 KiB to 256 KiB, whole
   * 2 KiB chunks); 256 KiB when unlimited.
   */
  get blockSize(): number {
    if (this.rate <= 0) return 256 * 1024
    return Math.min(256 * 1024, Math.max(2048, Math.floor(this.rate / 64 / 2048) * 2048))
  }

  /**
   * Wait until `bytes` may be sent. Callers are served in order.
   * @param signal aborts the wait (rejects with the signal's reason).
   */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.rate <= 0) return Promise.resolve()
    const turn = this.tail.then(() => this.wait(bytes, signal))
    this.tail = turn.catch(() => {})
    return turn
  }

  private async wait(bytes: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted()
      const t = this.now()
      this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.rate) / 1000)
      this.last = t
      // A request larger than the bucket goes through once the bucket is full (it then owes).
      if (this.tokens >= Math.min(bytes, this.burst)) {
        this.tokens -= bytes
        return
      }
      const ms = ((Math.min(bytes, this.burst) - this.tokens) * 1000) / this.rate
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(done, Math.max(1, Math.ceil(ms)))
        function done(): void {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        }
        function onAbort(): void {
          clearTimeout(timer)
          reject(signal?.reason)
        }
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    }
  }
}

interface Bucket {
  tokens: number
  at: number
}

/**
 * Token buckets by key: a key may take `burst` tokens at once, then `perSecond` a second;
 * beyond that `take` returns false (the caller refuses the request). Times are epoch ms.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>()

  /** @param burst tokens a key holds at most. @param perSecond tokens refilled per second. */
  constructor(
    readonly burst: number,
    readonly perSecond: number
  ) {}

  /** Take one token. @returns false when the key is over its rate (the request must be refused). */
  take(key: string, now: number): boolean {
    let b = this.buckets.get(key)
    if (!b) this.buckets.set(key, (b = { tokens: this.burst, at: now }))
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond)
    b.at = now
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }

  /** Milliseconds until `key` has a token again (0 when it has one). */
  waitMs(key: string, now: number): number {
    const b = this.buckets.get(key)
    if (!b) return 0
    const tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond)
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / this.perSecond) * 1000)
  }

  /** Forget buckets that have refilled completely (they hold no information). */
  sweep(now: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + ((now - b.at) / 1000) * this.perSecond >= this.burst) this.buckets.delete(k)
  }

  /** Keys with a bucket now. */
  get size(): number {
    return this.buckets.size
  }
}
