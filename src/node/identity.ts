/**
 * How this node names itself to others (docs/PROTOCOL.md §1.3 Peer id). A peer id is the
 * "host:port" another machine dials, so one machine has as many ids as it has interfaces: the id
 * a node puts in JOIN, SRCH, HITS, RESP, NAME and CAPS is built from the local address of the
 * connection that carries it (the interface that reaches that peer: the LAN address on a LAN,
 * 127.0.0.1 on loopback), unless an address to advertise was given (`--advertise` / `--host`).
 */
import { interfaceAddresses, isPublicAddress, isWildcard, localAddresses, normalizeAddress, primaryAddress } from '../net/address.ts'
import { formatPeerId, parsePeerId } from '../protocol/messages.ts'

/** What the node's parts need to name themselves and to recognise themselves. */
export interface SelfAddress {
  /** The id for logs and places without a connection ("" until the node listens). */
  readonly id: string
  /**
   * The id to send on a connection whose local end is `localAddress` and remote end, when known,
   * `remoteAddress` (a peer on the internet gets the port-mapped public id: a LAN address would
   * not reach this node from there).
   */
  idFor(localAddress: string, remoteAddress?: string): string
  /** Is `id` this node? */
  isSelf(id: string): boolean
  /** A peer (`by`) or the tracker (`trusted`) reported seeing this node at `host`. */
  observedAs(host: string, by: string, trusted?: boolean): void
}

/** A node's own addresses; `port` is set once it listens. */
export class Identity implements SelfAddress {
  port = 0
  /**
   * Hosts other peers or the tracker reported seeing this node at (CAPS `you`, TREG `peer`),
   * with who said so first: how the world sees this node (a NAT's public address shows here).
   */
  readonly observed = new Map<string, string>()
  /** Hosts the node's own tracker reported seeing it at: `isSelf` counts them as this node's. */
  private readonly vouched = new Set<string>()
  /**
   * The public peer id "ip:port" the home router forwards to this node (port mapping, UPnP or
   * NAT-PMP; the port may differ from `port`), or null: set and cleared by the port mapper.
   */
  mapped: string | null = null

  /**
   * @param advertise the one host to advertise (a name or address), or null to advertise the
   *   local address of each connection. A wildcard address counts as null.
   */
  constructor(readonly advertise: string | null) {
    if (advertise !== null && isWildcard(advertise)) this.advertise = null
  }

  /** The id for logs, mDNS and the start-up line: the advertised host, else the primary address. */
  get id(): string {
    return this.port ? formatPeerId(this.advertise ?? primaryAddress(), this.port) : ''
  }

  /**
   * The ids others can dial this node on: the port-mapped public one first (when mapped), then
   * the advertised one, else one per interface address (LAN, IPv6), then the hosts others
   * reported seeing it at (a NAT's public address). Empty until the node listens.
   */
  reachable(): string[] {
    if (!this.port) return []
    const hosts = this.advertise !== null ? [this.advertise] : interfaceAddresses()
    for (const h of this.observed.keys()) if (!hosts.includes(h)) hosts.push(h)
    const ids = (hosts.length ? hosts : ['127.0.0.1']).map((h) => formatPeerId(h, this.port))
    return this.mapped ? [this.mapped, ...ids.filter((id) => id !== this.mapped)] : ids
  }

  /** @see SelfAddress.idFor */
  idFor(localAddress: string, remoteAddress?: string): string {
    if (this.advertise !== null) return formatPeerId(this.advertise, this.port)
    if (this.mapped && remoteAddress && isPublicAddress(remoteAddress)) return this.mapped
    const a = normalizeAddress(localAddress)
    return formatPeerId(isWildcard(a) ? primaryAddress() : a, this.port)
  }

  /** Is `id` this node (any of its addresses with its port, an id it was seen as, its mapped id)? Never throws. */
  isSelf(id: string): boolean {
    if (!this.port) return false
    if (id === this.mapped) return true
    let p: { host: string; port: number }
    try {
      p = parsePeerId(id)
    } catch {
      return false
    }
    if (p.port !== this.port) return false
    const host = normalizeAddress(p.host)
    return host === this.advertise || this.vouched.has(host) || localAddresses().has(host)
  }

  /**
   * @see SelfAddress.observedAs (the first 16 hosts are kept). Only a `trusted` report (this node's
   * own tracker) makes `isSelf` take the host as this node's: any peer can claim anything in CAPS.
   */
  observedAs(host: string, by: string, trusted = false): void {
    const h = normalizeAddress(host)
    if (!this.observed.has(h) && this.observed.size < 16) this.observed.set(h, by)
    if (trusted && this.vouched.size < 16) this.vouched.add(h)
  }
}
