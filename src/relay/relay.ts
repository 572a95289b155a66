/**
 * The relay service (docs/PROTOCOL.md §10; model: libp2p circuit relay v2, specs/relay/circuit-v2.md):
 * a holder that cannot be dialled keeps a **reservation** (RRES) on the relay, a kept connection
 * over which the relay tells it of incoming circuits; a fetcher asks for a **circuit** to a peer id
 * with a reservation (RCON) and gets a one-time token; both ends then join the relay's **data
 * port** with their tokens (RJOI) and the relay splices the two sockets and only copies bytes.
 *
 * RRES and RCON are served by the owner's FrameServer (a tracker's or a node's port: in a private
 * group that is mutual TLS, so only members reserve and connect, and their names and requests are
 * encrypted); the data port is plain TCP carrying, in a group, the members' end-to-end TLS: the
 * relay sees only ciphertext and there is no TLS inside TLS (docs/SECURITY.md "Relay").
 * It is not an open proxy: it connects only to peers holding a reservation, never to an address.
 */
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import net from 'node:net'
import type { Handler, RequestContext } from '../net/server.ts'
import { normalizeAddress } from '../net/address.ts'
import { RateLimiter } from '../net/token-bucket.ts'
import { MSG, REQUEST_TIMEOUT_MS, RELAY_TOKEN_BYTES } from '../protocol/constants.ts'
import { formatErrorPayload, P2PTubeError, errText } from '../protocol/errors.ts'
import { encodeFrame } from '../protocol/frame.ts'
import { formatPeerId, parsePeerId } from '../protocol/messages.ts'
import { formatConnectReply, formatReservationEvent, formatReserveReply, parseConnect, parseJoin, parseReserve, type ReservationEvent } from '../protocol/relay-messages.ts'
import { REQUEST_LIMITS } from '../protocol/table.ts'
import { RelayLimits, type RelayLimitOptions } from './limits.ts'
import { readFrame } from './read-frame.ts'
import { splice, type Splice, type SpliceEnd } from './splice.ts'

/** Relay options; times in ms, sizes in bytes. */
export interface RelayOptions extends RelayLimitOptions {
  /** Data port (0 = any free port). */
  dataPort?: number
  now?: () => number
}

/** A reservation held: the peer id fetchers name, its owner's key, and its kept connection. */
interface Reservation {
  id: string
  host: string
  key: string
  send(e: ReservationEvent): Promise<void>
  end(): void
}

/** A circuit from RCON to its end. */
interface Circuit {
  tokens: [fetcher: string, holder: string]
  keys: [fetcher: string, holder: string]
  holderId: string
  fetcher: net.Socket | null
  holder: net.Socket | null
  timer: NodeJS.Timeout | null
  splice: Splice | null
}

/** What `status()` reports (relay lines of `tracker` and `node` output). */
export interface RelayStatus {
  dataPort: number
  reservations: number
  circuits: number
  spliced: number
  /** Bytes copied through the relay since start (both ways). */
  bytesRelayed: number
  refused: number
}

/**
 * Events: 'log' (level, msg), 'circuit' ({ to, bytes, end: SpliceEnd }) when a spliced circuit ends,
 * 'refused' ({ code, message }) for every request refused.
 */
export class Relay extends EventEmitter {
  readonly limits: RelayLimits
  private readonly limiter: RateLimiter
  private readonly reservations = new Map<string, Reservation>()
  private readonly pending = new Map<string, Circuit>()
  private readonly circuits = new Set<Circuit>()
  private readonly server: net.Server
  private readonly dataSockets = new Set<net.Socket>()
  dataPort = 0
  private bytesRelayed = 0
  private refusedCount = 0
  private stopped = false

  constructor(private readonly opts: RelayOptions = {}) {
    super()
    this.limits = new RelayLimits(opts, opts.now)
    this.limiter = new RateLimiter(this.limits.rate)
    this.server = net.createServer({ allowHalfOpen: true }, (s) => this.onData(s))
    // Each circuit takes two data connections; a few more for joins that will be refused.
    this.server.maxConnections = this.limits.maxCircuits * 2 + 16
  }

  /** The request handlers to add to the owner's FrameServer: RRES and RCON (§10.2, §10.3). */
  handlers(): Map<string, Handler> {
    return new Map<string, Handler>([
      [MSG.RRES, (ctx) => this.reserve(ctx)],
      [MSG.RCON, (ctx) => this.connect(ctx)]
    ])
  }

  /** Listen on the data port. @returns the port. @throws the listen error. */
  listen(host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen({ host, port: this.opts.dataPort ?? 0 }, () => {
        this.server.off('error', reject)
        this.dataPort = (this.server.address() as net.AddressInfo).port
        resolve(this.dataPort)
      })
    })
  }

  /** End every reservation and circuit, close the data port. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    for (const r of [...this.reservations.values()]) r.end()
    for (const c of [...this.circuits]) this.release(c, 'stopped')
    for (const s of this.dataSockets) s.destroy()
    await new Promise<void>((resolve) => (this.server.listening ? this.server.close(() => resolve()) : resolve()))
  }

  /** Does `peer` (a peer id) hold a reservation here? (The tracker marks such holders in TFND/TWHO.) */
  has(peer: string): boolean {
    return this.reservations.has(peerKey(peer))
  }

  status(): RelayStatus {
    let spliced = 0
    for (const c of this.circuits) if (c.splice) spliced++
    return { dataPort: this.dataPort, reservations: this.reservations.size, circuits: this.circuits.size, spliced, bytesRelayed: this.bytesRelayed, refused: this.refusedCount }
  }

  /** Close the circuits and reservations of members now revoked (`revoked(serial)`). @returns how many. */
  closeRevoked(revoked: (serial: string) => boolean): number {
    const bad = (key: string): boolean => key.startsWith('member:') && revoked(key.slice(7))
    let n = 0
    for (const r of [...this.reservations.values()]) {
      if (!bad(r.key)) continue
      r.end()
      n++
    }
    for (const c of [...this.circuits]) {
      if (!c.keys.some(bad)) continue
      this.release(c, 'stopped')
      n++
    }
    return n
  }

  private refuse(ctx: RequestContext, code: string, message: string): Promise<void> {
    this.refusedCount++
    this.emit('refused', { code, message })
    this.emit('log', 'info', `relay: refused ${ctx.type} from ${ctx.remoteAddress}: ${code}: ${message}`)
    return ctx.error(code, message)
  }

  /** RRES (§10.2): hold the connection open until it closes or the relay stops. */
  private async reserve(ctx: RequestContext): Promise<void> {
    const { port } = parseReserve(ctx.payload)
    const host = normalizeAddress(ctx.remoteAddress)
    const id = formatPeerId(host, port)
    const key = keyOf(ctx)
    const old = this.reservations.get(id)
    let fromHost = 0
    for (const r of this.reservations.values()) if (r.host === host && r !== old) fromHost++
    const refusal = this.stopped ? { code: 'ERR_RELAY_LIMIT', message: 'the relay is stopping' } : this.limits.reservation(this.reservations.size - (old ? 1 : 0), fromHost, host)
    if (refusal) return this.refuse(ctx, refusal.code, refusal.message)
    // A new reservation for the same id replaces the old one (the holder reconnected).
    old?.end()
    await ctx.reply(formatReserveReply({ id, data: this.dataPort, heartbeatMs: this.limits.heartbeatMs }))
    this.emit('log', 'info', `relay: ${id} reserved (${this.reservations.size + 1} reservations)`)
    await new Promise<void>((resolve) => {
      const heartbeat = setInterval(() => void r.send({ ping: Date.now() }).catch(() => {}), this.limits.heartbeatMs)
      const r: Reservation = {
        id,
        host,
        key,
        send: (e) => ctx.reply(formatReservationEvent(e)),
        end: () => {
          clearInterval(heartbeat)
          ctx.signal.removeEventListener('abort', r.end)
          if (this.reservations.get(id) === r) this.reservations.delete(id)
          resolve()
        }
      }
      this.reservations.set(id, r)
      ctx.signal.addEventListener('abort', r.end, { once: true })
      if (ctx.signal.aborted) r.end()
    })
    if (!ctx.signal.aborted) this.emit('log', 'info', `relay: reservation of ${id} ended`)
  }

  /** RCON (§10.3): a circuit to a reserved peer id, never to anything else. */
  private async connect(ctx: RequestContext): Promise<void> {
    const { to } = parseConnect(ctx.payload)
    const id = peerKey(to)
    const res = this.reservations.get(id)
    if (!res) return this.refuse(ctx, 'ERR_NO_RESERVATION', `no reservation for ${id} here: this relay carries only to peers that reserved a slot on it`)
    const keys: [string, string] = [keyOf(ctx), res.key]
    const refusal = this.stopped ? { code: 'ERR_RELAY_LIMIT', message: 'the relay is stopping' } : this.limits.circuit(keys)
    if (refusal) return this.refuse(ctx, refusal.code, refusal.message)
    const tokens: [string, string] = [randomBytes(RELAY_TOKEN_BYTES).toString('hex'), randomBytes(RELAY_TOKEN_BYTES).toString('hex')]
    const c: Circuit = { tokens, keys, holderId: id, fetcher: null, holder: null, timer: null, splice: null }
    this.limits.open(keys)
    this.circuits.add(c)
    for (const t of tokens) this.pending.set(t, c)
    c.timer = setTimeout(() => this.release(c, 'idle', `the circuit to ${id} was not joined within ${this.limits.joinTimeoutMs} ms`), this.limits.joinTimeoutMs)
    try {
      await res.send({ incoming: { token: tokens[1] } })
    } catch {
      this.release(c, 'error')
      return this.refuse(ctx, 'ERR_NO_RESERVATION', `the reservation of ${id} just ended`)
    }
    return ctx.reply(formatConnectReply({ token: tokens[0], data: this.dataPort }))
  }

  /** A data-port connection: one RJOI frame, then parked until the other end joins, then spliced (§10.4). */
  private onData(socket: net.Socket): void {
    this.dataSockets.add(socket)
    socket.once('close', () => this.dataSockets.delete(socket))
    socket.on('error', () => socket.destroy())
    socket.setNoDelay(true)
    readFrame(socket, { [MSG.RJOI]: REQUEST_LIMITS.RJOI }, Math.min(this.limits.joinTimeoutMs, REQUEST_TIMEOUT_MS)).then(
      (f) => {
        let token: string
        try {
          token = parseJoin(f.payload).token
        } catch (err) {
          return this.fail(socket, (err as P2PTubeError).code ?? 'ERR_MALFORMED_PAYLOAD', errText(err))
        }
        const c = this.pending.get(token)
        if (!c) return this.fail(socket, 'ERR_BAD_TOKEN', 'no circuit has this token (never issued, already used, or expired)')
        this.pending.delete(token)
        if (token === c.tokens[0]) c.fetcher = socket
        else c.holder = socket
        socket.once('close', () => c.splice || this.release(c, 'error'))
        if (c.fetcher && c.holder) this.join(c, c.fetcher, c.holder)
      },
      (err: P2PTubeError) => this.fail(socket, err.code ?? 'ERR_MALFORMED_PAYLOAD', errText(err))
    )
  }

  private join(c: Circuit, fetcher: net.Socket, holder: net.Socket): void {
    if (c.timer) clearTimeout(c.timer)
    c.timer = null
    const ok = encodeFrame(MSG.REPL, '{"spliced":true}')
    holder.write(ok)
    fetcher.write(ok)
    const keys = c.keys
    c.splice = splice(fetcher, holder, {
      idleMs: this.limits.idleMs,
      limiter: this.limiter,
      onBytes: (n) => {
        this.bytesRelayed += n
        return this.limits.charge(keys, n)
      }
    })
    void c.splice.ended.then((end) => this.release(c, end))
  }

  /** End a circuit (pending or spliced) and give back what it held. Idempotent. */
  private release(c: Circuit, end: SpliceEnd, why?: string): void {
    if (!this.circuits.delete(c)) return
    if (c.timer) clearTimeout(c.timer)
    for (const t of c.tokens) this.pending.delete(t)
    this.limits.close(c.keys)
    if (c.splice) {
      c.splice.stop(end)
      this.emit('circuit', { to: c.holderId, bytes: c.splice.bytes.a2b + c.splice.bytes.b2a, end })
    } else {
      for (const s of [c.fetcher, c.holder]) if (s) this.fail(s, 'ERR_TIMEOUT', why ?? 'the other end of the circuit went away')
    }
  }

  /** ERRO on a data connection, then close it. */
  private fail(socket: net.Socket, code: string, message: string): void {
    this.refusedCount++
    this.emit('refused', { code, message })
    if (socket.destroyed) return
    socket.end(encodeFrame(MSG.ERRO, formatErrorPayload(code, message)))
    setTimeout(() => socket.destroy(), 2000).unref()
  }
}

/** A peer id in the one form reservations are kept by (an IPv4-mapped host as IPv4). */
export function peerKey(id: string): string {
  const p = parsePeerId(id)
  return formatPeerId(normalizeAddress(p.host), p.port)
}

/** Who a request is from, for the per-peer caps: the group member, else the address. */
function keyOf(ctx: RequestContext): string {
  return ctx.peer ? `member:${ctx.peer.serial}` : `host:${normalizeAddress(ctx.remoteAddress)}`
}
