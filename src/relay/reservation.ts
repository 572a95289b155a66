/**
 * The holder's side of a relay (docs/PROTOCOL.md §10.2): keep a reservation (RRES) on a relay, a
 * kept connection over the node's own transport (mutual TLS in a group); for every incoming circuit
 * it announces, join the data port with the token and hand the spliced socket to the node's server
 * as an accepted connection (FrameServer.adopt: in a group the TLS handshake, as server, runs end to
 * end through the relay). A lost reservation (relay restarted, connection dropped, no heartbeat for
 * 3 periods) is made again after a back-off of 1 s doubling to 30 s.
 */
import { EventEmitter } from 'node:events'
import type net from 'node:net'
import { exchange, controlPolicy, type Endpoint } from '../net/client.ts'
import type { Transport } from '../net/transport.ts'
import { CONNECT_TIMEOUT_MS, MSG, RELAY_JOIN_TIMEOUT_MS } from '../protocol/constants.ts'
import { errText, RemoteError } from '../protocol/errors.ts'
import { formatPeerId } from '../protocol/messages.ts'
import { formatReserve, parseReservationEvent, parseReserveReply } from '../protocol/relay-messages.ts'
import type { Discovery } from '../discovery/discovery.ts'
import { joinCircuit } from './join.ts'

/** Where a reservation stands. `id` is the peer id fetchers reach this node by through the relay. */
export interface ReservationStatus {
  state: 'reserving' | 'reserved' | 'lost' | 'refused' | 'stopped'
  relay: string
  id: string | null
  reason: string
}

/** Options; times in ms. */
export interface ReservationOptions {
  /** This node's listening port (the relay takes the host from the socket). */
  port: number
  /** How the relay is dialled: the node's transport without routes. */
  transport: Transport
  /** Serve a spliced socket as an accepted connection (FrameServer.adopt). */
  adopt(socket: net.Socket): void
  /** The node's stop signal. */
  signal: AbortSignal
  connectTimeoutMs?: number
  log?(level: 'debug' | 'info' | 'warn', msg: string): void
}

/** Events: 'status' (ReservationStatus) on every change, 'circuit' (token) for every circuit joined. */
export class RelayReservation extends EventEmitter implements Discovery {
  readonly method = 'relay'
  status: ReservationStatus
  private readonly ac = new AbortController()
  private backoffMs = 1000
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null

  /**
   * @param member the relay is a member's (`node --relay`, listed by the tracker, PROTOCOL.md
   *   §10.7), named in this node's announces; false for the tracker's and `--relay-via` relays.
   */
  constructor(
    readonly relay: Endpoint,
    private readonly opts: ReservationOptions,
    readonly member = false
  ) {
    super()
    this.status = { state: 'reserving', relay: formatPeerId(relay.host, relay.port), id: null, reason: 'starting' }
    opts.signal.addEventListener('abort', () => this.ac.abort(), { once: true })
  }

  start(): void {
    if (this.running || this.ac.signal.aborted) return
    this.running = this.loop()
  }

  async stop(): Promise<void> {
    this.ac.abort()
    if (this.timer) clearTimeout(this.timer)
    await this.running?.catch(() => {})
    this.set('stopped', 'node stopping', this.status.id)
  }

  private set(state: ReservationStatus['state'], reason: string, id: string | null = null): void {
    if (this.status.state === 'stopped') return
    this.status = { state, relay: this.status.relay, id, reason }
    this.emit('status', this.status)
  }

  private async loop(): Promise<void> {
    while (!this.ac.signal.aborted) {
      try {
        await this.hold()
        this.set('lost', 'the relay closed the reservation')
      } catch (err) {
        if (this.ac.signal.aborted) return
        // A relay that refuses (no relay there, over its caps) is asked again less often.
        const refused = err instanceof RemoteError
        this.set(refused ? 'refused' : 'lost', errText(err))
        if (refused && err.remoteCode === 'ERR_UNKNOWN_TYPE') return
      }
      if (this.ac.signal.aborted) return
      await new Promise<void>((resolve) => {
        this.timer = setTimeout(resolve, this.backoffMs)
        this.ac.signal.addEventListener('abort', () => resolve(), { once: true })
      })
      this.backoffMs = Math.min(30_000, this.backoffMs * 2)
    }
  }

  /** One reservation, from RRES to the connection's end. */
  private hold(): Promise<void> {
    let first = true
    let dataPort = 0
    let idleTimeoutMs = 60_000
    return exchange(
      this.relay,
      MSG.RRES,
      formatReserve({ port: this.opts.port }),
      {
        policy: controlPolicy,
        frame: (type, payload) => {
          if (type === MSG.ERRO) throw new RemoteError(payload.toString('utf8'))
          if (first) {
            first = false
            const r = parseReserveReply(payload)
            dataPort = r.data
            idleTimeoutMs = r.heartbeatMs * 3
            this.backoffMs = 1000
            this.set('reserved', `reachable through the relay ${this.status.relay}`, r.id)
            return
          }
          const e = parseReservationEvent(payload)
          if ('incoming' in e) this.accept(dataPort, e.incoming.token)
        }
      },
      // The relay's heartbeats keep the connection busy: three missed ones end it (§10.2).
      { transport: this.opts.transport, signal: this.ac.signal, connectTimeoutMs: this.opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, idleTimeoutMs: Math.max(idleTimeoutMs, 60_000), routes: [] }
    )
  }

  private accept(dataPort: number, token: string): void {
    joinCircuit({ host: this.relay.host, port: dataPort }, token, RELAY_JOIN_TIMEOUT_MS, this.ac.signal).then(
      (socket) => {
        this.emit('circuit', token)
        this.opts.adopt(socket)
      },
      (err) => this.opts.log?.('warn', `relay: cannot join an incoming circuit at ${this.status.relay}: ${errText(err)}`)
    )
  }
}
