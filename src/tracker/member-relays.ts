/**
 * Member relays (docs/PROTOCOL.md §10.7): members started with `node --relay` register with the
 * RRES feature (TREG `features`); the tracker lists those its dial-back check could dial (§7.10:
 * `direct` or `mapped`) in its TANN replies, so that members behind NAT reserve on one without
 * `--relay-via`; each member names in its TANN the member relays it holds a reservation on, and
 * TFND/TWHO hits carry `via` (holder → relay) for those holders, so fetchers go straight to it.
 *
 * A holder may only name a relay the tracker lists (a registered, dialable member relay): nobody
 * can make fetchers connect to an address of their choosing.
 */
import { MSG } from '../protocol/constants.ts'
import type { Reachability } from '../protocol/reach-messages.ts'
import { MAX_ANNOUNCED_RELAYS } from '../protocol/tracker-messages.ts'

/** Holders remembered with a member relay at most (the oldest goes first). */
const MAX_VIA = 100_000

/** Member relays offered and where holders are reserved. */
export class MemberRelays {
  /** Registered peers that serve RRES (`node --relay`). */
  private readonly offered = new Set<string>()
  /** Holder peer id → the member relay it holds a reservation on. */
  private readonly reservedAt = new Map<string, string>()

  /** @param reachOf the dial-back check's result for a peer id (ControlChannels.reachOf). */
  constructor(private readonly reachOf: (id: string) => Reachability) {}

  /** A TREG: `id` offers relaying when its features name RRES. */
  register(id: string, features: readonly string[] | undefined): void {
    if (features?.includes(MSG.RRES)) this.offered.add(id)
    else this.offered.delete(id)
  }

  /** `id` left or expired: it is no relay any more, nor reserved anywhere; holders on it lose it. */
  drop(id: string): void {
    this.offered.delete(id)
    this.reservedAt.delete(id)
    if (!this.offered.size && !this.reservedAt.size) return
    for (const [holder, relay] of this.reservedAt) if (relay === id) this.reservedAt.delete(holder)
  }

  /** Member relays a node may reserve on: offered and dialable, not `self`, at most MAX_ANNOUNCED_RELAYS. */
  list(self?: string): string[] {
    const out: string[] = []
    for (const id of this.offered) {
      if (out.length >= MAX_ANNOUNCED_RELAYS) break
      const reach = this.reachOf(id)
      if (id !== self && (reach === 'direct' || reach === 'mapped')) out.push(id)
    }
    return out
  }

  /** A TANN from `holder` naming the relays it is reserved on: the first listed one is kept. */
  announce(holder: string, relays: readonly string[] | undefined): void {
    if (relays === undefined) return
    const ok = relays.find((r) => r !== holder && this.offered.has(r))
    this.reservedAt.delete(holder)
    if (!ok) return
    if (this.reservedAt.size >= MAX_VIA) this.reservedAt.delete(this.reservedAt.keys().next().value as string)
    this.reservedAt.set(holder, ok)
  }

  /** The member relay `holder` is reached through, if any (TFND/TWHO `via`). */
  via(holder: string): string | undefined {
    const r = this.reservedAt.get(holder)
    return r && this.offered.has(r) ? r : undefined
  }

  /** For `tracker status`: member relays registered, and holders reserved on one. */
  counts(): { relays: number; reserved: number } {
    return { relays: this.offered.size, reserved: this.reservedAt.size }
  }
}
