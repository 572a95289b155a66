/**
 * The fetcher's side of a relay (docs/PROTOCOL.md §10.3): a Route (src/net/route.ts) that asks a
 * relay for a circuit to the peer (RCON, over the node's own transport: mutual TLS in a group)
 * and joins it (RJOI); the exchange then runs over the spliced socket, a group's TLS handshake
 * end to end through it.
 */
import type net from 'node:net'
import { requestText, type Endpoint } from '../net/client.ts'
import type { Route } from '../net/route.ts'
import type { Transport } from '../net/transport.ts'
import { normalizeAddress } from '../net/address.ts'
import { CONNECT_TIMEOUT_MS, MSG, RELAY_JOIN_TIMEOUT_MS } from '../protocol/constants.ts'
import { errText, P2PTubeError, RemoteError } from '../protocol/errors.ts'
import { formatPeerId } from '../protocol/messages.ts'
import { formatConnect, parseConnectReply } from '../protocol/relay-messages.ts'
import { joinCircuit } from './join.ts'

/** Options of a RelayRoute; times in ms. */
export interface RelayRouteOptions {
  /** How relays are dialled: the node's transport without routes (no relay through a relay). */
  transport: Transport
  /** Relays to try for any peer, in order (the node's tracker when it relays, `--relay-via`). */
  relays(): Endpoint[]
  connectTimeoutMs?: number
  log?(level: 'debug' | 'info' | 'warn', msg: string): void
}

/** Reach peers through relays. */
export class RelayRoute implements Route {
  readonly name = 'relay' as const
  /** Peer id → the relay known to hold its reservation (the tracker said so, or a circuit worked). */
  private readonly known = new Map<string, Endpoint>()
  /**
   * Relays not to ask for a while (epoch ms until): one that did not answer (30 s), or is no
   * relay at all (ERR_UNKNOWN_TYPE: 10 min), so a failed dial does not cost another wait each time.
   */
  private readonly resting = new Map<string, number>()

  constructor(private readonly opts: RelayRouteOptions) {}

  /** Remember that `peer` is reached through `relay` (a TFND/TWHO hit marked relayed, §7.7). */
  learn(peer: string, relay: Endpoint): void {
    if (this.known.size >= 10_000) this.known.delete(this.known.keys().next().value as string)
    this.known.set(peer, relay)
  }

  /** Is `peer` (a peer id) reached through a relay, as far as this node knows? */
  via(peer: string): boolean {
    return this.known.has(peer)
  }

  first(to: { host: string; port: number }): boolean {
    return this.known.has(idOf(to))
  }

  /**
   * A circuit to `to` through the relay known for it, else each relay in turn.
   * @throws P2PTubeError ERR_RELAY when none could (the last relay's error as the cause).
   */
  async open(to: { host: string; port: number }, opts: { signal?: AbortSignal; type: string }): Promise<net.Socket> {
    const id = idOf(to)
    const seen = new Set<string>()
    const now = Date.now()
    // Never the peer itself as its own relay (a tracker that cannot be reached), nor a resting one.
    seen.add(id)
    const relays = [this.known.get(id), ...this.opts.relays()].filter((r): r is Endpoint => {
      const key = r && idOf(r)
      if (!key || seen.has(key) || (this.resting.get(key) ?? 0) > now) return false
      seen.add(key)
      return true
    })
    let last: unknown = null
    for (const relay of relays) {
      try {
        const socket = await this.circuit(relay, id, opts.signal)
        this.learn(id, relay)
        this.opts.log?.('debug', `relay: ${opts.type} to ${id} through ${formatPeerId(relay.host, relay.port)}`)
        return socket
      } catch (err) {
        if (opts.signal?.aborted) throw err
        last = err
        if (err instanceof RemoteError) {
          if (err.remoteCode === 'ERR_UNKNOWN_TYPE') this.resting.set(idOf(relay), Date.now() + 600_000)
        } else if ((err as { code?: string }).code === 'ERR_CONNECT' || (err as { code?: string }).code === 'ERR_TIMEOUT') this.resting.set(idOf(relay), Date.now() + 30_000)
        this.opts.log?.('debug', `relay: ${formatPeerId(relay.host, relay.port)} cannot reach ${id}: ${errText(err)}`)
      }
    }
    if (this.known.get(id)) this.known.delete(id)
    throw new P2PTubeError('ERR_RELAY', `no relay could reach ${id}${last ? `: ${errText(last)}` : ' (no relay known)'}`, { cause: last })
  }

  private async circuit(relay: Endpoint, id: string, signal?: AbortSignal): Promise<net.Socket> {
    const connectTimeoutMs = this.opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS
    const text = await requestText(relay, MSG.RCON, formatConnect({ to: id }), { transport: this.opts.transport, connectTimeoutMs, ...(signal ? { signal } : {}) })
    const { token, data } = parseConnectReply(Buffer.from(text))
    return joinCircuit({ host: relay.host, port: data }, token, connectTimeoutMs + RELAY_JOIN_TIMEOUT_MS, signal)
  }
}

function idOf(to: { host: string; port: number }): string {
  return formatPeerId(normalizeAddress(to.host), to.port)
}
