/**
 * Per-peer token buckets for TREG/TANN (PROTOCOL.md §7.3): a peer may send ANNOUNCE_BURST
 * requests at once, then ANNOUNCE_REFILL_PER_S per second; beyond that it gets ERRO and nothing
 * is indexed. Keyed by peer id ("socket-host:announced-port").
 */
import { ANNOUNCE_BURST, ANNOUNCE_REFILL_PER_S } from '../protocol/constants.ts'

interface Bucket {
  tokens: number
  at: number
}

/** Token buckets by key; times are epoch ms. */
export class AnnounceLimiter {
  private readonly buckets = new Map<string, Bucket>()

  constructor(
    readonly burst = ANNOUNCE_BURST,
    readonly perSecond = ANNOUNCE_REFILL_PER_S
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

  get size(): number {
    return this.buckets.size
  }
}
