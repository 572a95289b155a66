/**
 * A node's relay parts (docs/NETWORK.md "Relay", PROTOCOL.md §10): the route that reaches peers
 * through relays (always there; used when a dial fails or the tracker said a holder is relayed),
 * the reservations that make this node reachable through a relay (at `--relay-via` relays, and
 * at its tracker when the tracker sees it behind NAT and no port is mapped), and, with
 * `node --relay`, the relay service itself for other members.
 */
import type net from 'node:net'
import type { Endpoint } from '../net/client.ts'
import type { Handler } from '../net/server.ts'
import type { Transport } from '../net/transport.ts'
import { ANY_ADDRESS, ANY_IPV4, localAddresses, normalizeAddress } from '../net/address.ts'
import { formatPeerId, parsePeerId } from '../protocol/messages.ts'
import { Relay, type RelayOptions } from '../relay/relay.ts'
import { RelayReservation, type ReservationStatus } from '../relay/reservation.ts'
import { RelayRoute } from '../relay/route.ts'

/** Relay options of a node. */
export interface NodeRelayOptions {
  /** Serve as a relay for other members (`node --relay`): limits and data port. */
  serve?: RelayOptions | false
  /** Relays "host:port" to keep a reservation on and to try for peers that cannot be dialled. */
  via?: string[]
  /** Reserve on the tracker's relay when the tracker sees this node behind NAT (default true). */
  auto?: boolean
}

/** What the relay parts need of their node. */
export interface RelayingNode {
  readonly port: number
  readonly identity: { mapped: string | null }
  /** The tracker in use, if any (its address is tried as a relay; it is told of member relay reservations). */
  readonly tracker: { endpoint: Endpoint; announceSoon?(): void } | null
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void
  /** The node re-emits every reservation change as its 'relay' event. */
  emit(event: 'relay', status: ReservationStatus): boolean
}

export class NodeRelay {
  /** Reach peers through relays (a Route on the node's transport). */
  readonly route: RelayRoute
  /** The relay service, with `serve`. */
  readonly relay: Relay | null
  /** Reservations held (one per relay). */
  readonly reservations: RelayReservation[] = []
  private readonly viaRelays: Endpoint[]
  /** Member relays (`node --relay` members) the tracker listed, at most 4 (PROTOCOL.md §10.7). */
  private members: Endpoint[] = []
  /** The tracker sees this node behind NAT with no mapped port: it reserves on relays by itself. */
  private behindNat = false

  /**
   * @param inner the node's transport without routes (relays are dialled directly).
   * @param adopt serve a spliced socket as an accepted connection (the node's FrameServer.adopt).
   * @throws ProtocolError for a bad `via` address.
   */
  constructor(
    private readonly node: RelayingNode,
    private readonly inner: Transport,
    private readonly adopt: (socket: net.Socket) => void,
    private readonly signal: AbortSignal,
    private readonly opts: NodeRelayOptions = {},
    connectTimeoutMs?: number
  ) {
    this.viaRelays = (opts.via ?? []).map((v) => parsePeerId(v))
    this.route = new RelayRoute({
      transport: inner,
      relays: () => [...this.viaRelays, ...(node.tracker ? [node.tracker.endpoint] : []), ...this.members],
      ...(connectTimeoutMs ? { connectTimeoutMs } : {}),
      log: (level, msg) => node.log(level, msg)
    })
    this.relay = opts.serve ? new Relay(opts.serve) : null
    this.relay?.on('log', (level: 'info' | 'warn', msg: string) => node.log(level, msg))
  }

  /** RRES and RCON for the node's FrameServer when it relays, else none. */
  handlers(): Array<[string, Handler]> {
    return this.relay ? [...this.relay.handlers()] : []
  }

  /** Listen on the relay's data port (when serving), reserve on every `via` relay. @throws the listen error. */
  async start(host: string): Promise<void> {
    if (this.relay) {
      try {
        await this.relay.listen(host)
      } catch (err) {
        if (host !== ANY_ADDRESS) throw err
        await this.relay.listen(ANY_IPV4)
      }
      this.node.log('info', `relaying for other members: data port ${this.relay.dataPort}`)
    }
    for (const v of this.viaRelays) this.reserve(v)
  }

  /**
   * The tracker registered this node as `peer`: behind NAT (the tracker sees another address than
   * any of this machine's) with no mapped port, reserve on the tracker's relay.
   */
  onRegistered(peer: string, tracker: Endpoint): void {
    if (this.opts.auto === false || this.node.identity.mapped) return
    const host = normalizeAddress(parsePeerId(peer).host)
    if (localAddresses().has(host)) return
    this.node.log('info', `the tracker sees this node as ${peer} (behind NAT, no mapped port): reserving a slot on the tracker's relay`)
    this.behindNat = true
    this.reserve(tracker)
    this.reserveOnMember()
  }

  /**
   * The tracker listed member relays (TANN reply, §10.7): try them for peers that cannot be
   * dialled, and, behind NAT, keep a reservation on one of them (the first listed) besides the
   * tracker's, so members reach this node through a member even when the tracker relays nothing.
   */
  onMemberRelays(relays: string[]): void {
    const parsed: Endpoint[] = []
    for (const r of relays.slice(0, 4)) {
      try {
        parsed.push(parsePeerId(r))
      } catch {
        // not a peer id: ignored (the reply parser already checked)
      }
    }
    this.members = parsed
    this.reserveOnMember()
  }

  /** Member relays (peer ids) this node holds a reservation on, for its TANN (§10.7); undefined when it never reserved on one. */
  relayIds(): string[] | undefined {
    const onMembers = this.reservations.filter((r) => r.member)
    if (!onMembers.length) return undefined
    return onMembers.filter((r) => r.status.state === 'reserved').map((r) => r.status.relay)
  }

  private reserveOnMember(): void {
    if (!this.behindNat || this.opts.auto === false || this.node.identity.mapped) return
    if (this.reservations.some((r) => r.member && r.status.state !== 'refused')) return
    const next = this.members.find((m) => !this.reservations.some((r) => same(r.relay, m)))
    if (!next) return
    this.node.log('info', `reserving a slot on the member relay ${formatPeerId(next.host, next.port)} the tracker listed`)
    this.reserve(next, true)
  }

  private reserve(relay: Endpoint, member = false): void {
    if (this.signal.aborted || this.reservations.some((r) => same(r.relay, relay))) return
    const r = new RelayReservation(relay, { port: this.node.port, transport: this.inner, adopt: this.adopt, signal: this.signal, log: (l, m) => this.node.log(l, m) }, member)
    this.reservations.push(r)
    r.on('status', (st: ReservationStatus) => {
      this.node.log(st.state === 'reserved' ? 'info' : st.state === 'stopped' ? 'debug' : 'warn', `relay ${st.relay}: ${st.state}${st.id ? ` as ${st.id}` : ''} (${st.reason})`)
      this.node.emit('relay', st)
      // The tracker names this node's member relay in its hits (§10.7): tell it at once.
      if (member) this.node.tracker?.announceSoon?.()
      // A member relay that refuses: try the next one listed.
      if (member && st.state === 'refused') this.reserveOnMember()
    })
    r.start()
  }

  /** Is `peer` reached through a relay (as far as this node knows)? */
  via(peer: string): boolean {
    return this.route.via(peer)
  }

  /** Drop the reservations, stop relaying. Never rejects. */
  async stop(): Promise<void> {
    this.route.close()
    await Promise.allSettled([...this.reservations.map((r) => r.stop()), this.relay?.stop()])
  }
}

function same(a: Endpoint, b: Endpoint): boolean {
  return normalizeAddress(a.host) === normalizeAddress(b.host) && a.port === b.port
}
