/**
 * A relay's caps (docs/PROTOCOL.md §10.5; libp2p circuit relay v2's resource manager limits):
 * reservations in all and per host, circuits in all and per peer (pending and spliced), bytes per
 * peer per hour. A peer is its group member (certificate serial) in a private group, else its
 * address. Pure bookkeeping: the relay asks before it grants and tells when it releases.
 */
import {
  RELAY_BYTES_PER_PEER_HOUR,
  RELAY_HEARTBEAT_MS,
  RELAY_IDLE_TIMEOUT_MS,
  RELAY_JOIN_TIMEOUT_MS,
  RELAY_MAX_CIRCUITS,
  RELAY_MAX_CIRCUITS_PER_PEER,
  RELAY_MAX_RESERVATIONS,
  RELAY_MAX_RESERVATIONS_PER_HOST
} from '../protocol/constants.ts'
import type { Refusal } from '../net/server.ts'

/** Relay limits; bytes, bytes/s and ms. Defaults in constants.ts (§10.5). */
export interface RelayLimitOptions {
  maxReservations?: number
  maxReservationsPerHost?: number
  maxCircuits?: number
  maxCircuitsPerPeer?: number
  /** Bytes carried for one peer (either end of its circuits) per hour; 0 = no cap. */
  bytesPerPeerHour?: number
  /** Bandwidth cap of the whole relay, bytes/s (0 = none). */
  rate?: number
  /** A spliced pair silent both ways this long is closed. */
  idleMs?: number
  /** Both ends must join within this time of the RCON. */
  joinTimeoutMs?: number
  /** Heartbeat period on reservations. */
  heartbeatMs?: number
}

const HOUR_MS = 3_600_000

/** The limits in force and what is in use. */
export class RelayLimits {
  readonly maxReservations: number
  readonly maxReservationsPerHost: number
  readonly maxCircuits: number
  readonly maxCircuitsPerPeer: number
  readonly bytesPerPeerHour: number
  readonly rate: number
  readonly idleMs: number
  readonly joinTimeoutMs: number
  readonly heartbeatMs: number
  /** Circuits open (pending or spliced) in all and per peer key. */
  circuits = 0
  private readonly perPeer = new Map<string, number>()
  /** Bytes carried per peer key in the current hour window. */
  private readonly bytes = new Map<string, { used: number; since: number }>()

  constructor(
    o: RelayLimitOptions = {},
    private readonly now: () => number = Date.now
  ) {
    this.maxReservations = o.maxReservations ?? RELAY_MAX_RESERVATIONS
    this.maxReservationsPerHost = o.maxReservationsPerHost ?? RELAY_MAX_RESERVATIONS_PER_HOST
    this.maxCircuits = o.maxCircuits ?? RELAY_MAX_CIRCUITS
    this.maxCircuitsPerPeer = o.maxCircuitsPerPeer ?? RELAY_MAX_CIRCUITS_PER_PEER
    this.bytesPerPeerHour = o.bytesPerPeerHour ?? RELAY_BYTES_PER_PEER_HOUR
    this.rate = o.rate ?? 0
    this.idleMs = o.idleMs ?? RELAY_IDLE_TIMEOUT_MS
    this.joinTimeoutMs = o.joinTimeoutMs ?? RELAY_JOIN_TIMEOUT_MS
    this.heartbeatMs = o.heartbeatMs ?? RELAY_HEARTBEAT_MS
  }

  /** May one more reservation be made, with `total` held and `fromHost` held by this host? */
  reservation(total: number, fromHost: number, host: string): Refusal | undefined {
    if (total >= this.maxReservations) return { code: 'ERR_RELAY_LIMIT', message: `the relay holds its most reservations (${this.maxReservations})` }
    if (fromHost >= this.maxReservationsPerHost) return { code: 'ERR_RELAY_LIMIT', message: `${host} already holds ${this.maxReservationsPerHost} reservations` }
    return undefined
  }

  /** May a circuit between these peers open? (Each key once: a peer relaying to itself counts once.) */
  circuit(keys: readonly string[]): Refusal | undefined {
    if (this.circuits >= this.maxCircuits) return { code: 'ERR_RELAY_LIMIT', message: `the relay carries its most circuits (${this.maxCircuits})` }
    for (const k of new Set(keys)) {
      if ((this.perPeer.get(k) ?? 0) >= this.maxCircuitsPerPeer) return { code: 'ERR_RELAY_LIMIT', message: `${k} already has ${this.maxCircuitsPerPeer} circuits on this relay` }
      if (this.spent(k)) return { code: 'ERR_RELAY_LIMIT', message: `${k} used its ${this.bytesPerPeerHour} bytes of relay this hour` }
    }
    return undefined
  }

  open(keys: readonly string[]): void {
    this.circuits++
    for (const k of new Set(keys)) this.perPeer.set(k, (this.perPeer.get(k) ?? 0) + 1)
  }

  close(keys: readonly string[]): void {
    this.circuits--
    for (const k of new Set(keys)) {
      const n = (this.perPeer.get(k) ?? 1) - 1
      if (n > 0) this.perPeer.set(k, n)
      else this.perPeer.delete(k)
    }
  }

  /** Count `n` bytes against each key. @returns false once a key is over its hourly bytes. */
  charge(keys: readonly string[], n: number): boolean {
    if (this.bytesPerPeerHour <= 0) return true
    const t = this.now()
    let ok = true
    for (const k of keys) {
      let b = this.bytes.get(k)
      if (!b || t - b.since >= HOUR_MS) this.bytes.set(k, (b = { used: 0, since: t }))
      b.used += n
      if (b.used > this.bytesPerPeerHour) ok = false
    }
    return ok
  }

  /** Has `key` used its bytes this hour? */
  private spent(key: string): boolean {
    const b = this.bytes.get(key)
    return this.bytesPerPeerHour > 0 && !!b && this.now() - b.since < HOUR_MS && b.used >= this.bytesPerPeerHour
  }

  /** Circuits open for `key`. */
  circuitsOf(key: string): number {
    return this.perPeer.get(key) ?? 0
  }
}
