/**
 * The fetcher's side of a relay (docs/PROTOCOL.md §10.3): a Route (src/net/route.ts) that asks a
 * relay for a circuit to the peer (RCON, over the node's own transport: mutual TLS in a group)
 * and joins it (RJOI); the exchange then runs over the spliced socket, a group's TLS handshake
 * end to end through it.
 *
 * A download asks for one connection per run (RGET, PROTOCOL.md §4.4), so a relayed download
 * would pay a circuit set-up (RCON, the holder told over its reservation, two joins: several
 * round trips across the internet) before every run. Instead, once a relayed HASH or RGET is under way
 * the route opens the next circuit to that holder at once and keeps it parked (a **spare**, at
 * most SPARE_MS, less than the holder's request timeout): the next run starts on it with no
 * set-up, and a new spare is opened. A download's last spare is closed unused when it expires.
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

/** How long a spare circuit is kept parked before it is closed unused, ms (the holder waits REQUEST_TIMEOUT_MS for its first frame). */
export const SPARE_MS = 5000

/** Requests of a download: more connections to the same holder follow (HASH, then RGET runs). */
const DOWNLOAD_TYPES = new Set<string>([MSG.HASH, MSG.RGET])

/** Holders with a spare circuit at most (the oldest spare goes first). */
const MAX_SPARES = 16

/** A circuit opened ahead of the request that will use it. */
interface Spare {
  relay: Endpoint
  /** The parked socket once joined (null while it is being opened or after it failed). */
  socket: net.Socket | null
  ready: Promise<net.Socket | null>
  timer: NodeJS.Timeout | null
}

/** Options of a RelayRoute; times in ms. */
export interface RelayRouteOptions {
  /** How relays are dialled: the node's transport without routes (no relay through a relay). */
  transport: Transport
  /** Relays to try for any peer, in order (the node's tracker when it relays, `--relay-via`). */
  relays(): Endpoint[]
  connectTimeoutMs?: number
  /** How long a spare circuit stays parked, ms (default SPARE_MS). */
  spareMs?: number
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
  /** Peer id → its spare circuit (RGET runs of a relayed download). */
  private readonly parked = new Map<string, Spare>()
  /** Ends the spares being opened when the node stops. */
  private readonly ac = new AbortController()
  /** Circuits opened (RCON + RJOI) and spares used, since start: what a spare saves shows here. */
  readonly counts = { circuits: 0, sparesUsed: 0, sparesWasted: 0 }
  /** Open spare circuits for relayed downloads (false: one circuit per run, as before; benches compare). */
  spares = true

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
    const spare = await this.takeSpare(id)
    if (spare) {
      if (DOWNLOAD_TYPES.has(opts.type)) this.openSpare(id, spare.relay)
      return spare.socket
    }
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
        if (DOWNLOAD_TYPES.has(opts.type)) this.openSpare(id, relay)
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

  /** Close every spare circuit and open no more (the node is stopping). Idempotent. */
  close(): void {
    this.ac.abort()
    for (const id of [...this.parked.keys()]) this.dropSpare(id)
  }

  /**
   * The spare circuit to `id`, if one is parked or being opened (then it is awaited: it started
   * before this request, so it is ready sooner than a new one). Null when there is none, it failed,
   * or its socket was closed meanwhile.
   */
  private async takeSpare(id: string): Promise<{ socket: net.Socket; relay: Endpoint } | null> {
    const s = this.parked.get(id)
    if (!s) return null
    this.parked.delete(id)
    if (s.timer) clearTimeout(s.timer)
    const socket = await s.ready
    if (!socket || socket.destroyed || socket.readableEnded) {
      socket?.destroy()
      return null
    }
    this.counts.sparesUsed++
    return { socket, relay: s.relay }
  }

  /** Open a spare circuit to `id` through `relay` in the background (one per holder). Never throws. */
  private openSpare(id: string, relay: Endpoint): void {
    if (!this.spares || this.ac.signal.aborted || this.parked.has(id)) return
    if (this.parked.size >= MAX_SPARES) this.dropSpare(this.parked.keys().next().value as string)
    const s: Spare = { relay, socket: null, ready: Promise.resolve(null), timer: null }
    s.ready = this.circuit(relay, id, this.ac.signal).then(
      (socket) => {
        if (this.parked.get(id) !== s) return socket // taken (awaited) while opening
        s.socket = socket
        s.timer = setTimeout(() => {
          this.counts.sparesWasted++
          this.dropSpare(id)
        }, this.opts.spareMs ?? SPARE_MS)
        s.timer.unref()
        return socket
      },
      (err) => {
        this.opts.log?.('debug', `relay: no spare circuit to ${id}: ${errText(err)}`)
        if (this.parked.get(id) === s) this.parked.delete(id)
        return null
      }
    )
    this.parked.set(id, s)
  }

  private dropSpare(id: string): void {
    const s = this.parked.get(id)
    if (!s) return
    this.parked.delete(id)
    if (s.timer) clearTimeout(s.timer)
    s.socket?.destroy()
    void s.ready.then((socket) => socket?.destroy())
  }

  private async circuit(relay: Endpoint, id: string, signal?: AbortSignal): Promise<net.Socket> {
    const connectTimeoutMs = this.opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS
    this.counts.circuits++
    const text = await requestText(relay, MSG.RCON, formatConnect({ to: id }), { transport: this.opts.transport, connectTimeoutMs, ...(signal ? { signal } : {}) })
    const { token, data } = parseConnectReply(Buffer.from(text))
    return joinCircuit({ host: relay.host, port: data }, token, connectTimeoutMs + RELAY_JOIN_TIMEOUT_MS, signal)
  }
}

function idOf(to: { host: string; port: number }): string {
  return formatPeerId(normalizeAddress(to.host), to.port)
}
