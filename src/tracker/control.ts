/**
 * The tracker's side of reaching a node that cannot be dialled (docs/PROTOCOL.md §7.10-§7.11,
 * docs/NETWORK.md): control connections (TCTL: a registered node's session that the tracker
 * pushes DIAL down), the dial-back check at TCTL (is the node's peer id dialable from here?),
 * connection reversal (TCON: push DIAL to the holder, which connects to the asker) and hole
 * punching (TCON punch + the holder's TPCH: each side learns the other's public address and both
 * connect at once). Soulseek's indirect connections and the STUNT/NUTSS TCP punch are the models.
 *
 * Bounds: one control connection per registered peer id (a newer one replaces it, it is dropped
 * when the peer leaves or expires); pushes per holder and TCON per asking host are rate-limited
 * (PUSH_BURST, PUSH_REFILL_PER_S); a DIAL names only the asker's own socket address, so nobody
 * can make holders connect elsewhere; at most 256 punches wait at once, each ≤ PUNCH_TIMEOUT_MS.
 */
import type { Handler, RequestContext } from '../net/server.ts'
import { normalizeAddress } from '../net/address.ts'
import type { Transport } from '../net/transport.ts'
import { TokenBuckets } from '../net/token-bucket.ts'
import { DIAL_BACK_TIMEOUT_MS, MSG, PUNCH_TIMEOUT_MS, PUSH_BURST, PUSH_REFILL_PER_S } from '../protocol/constants.ts'
import { P2PTubeError, ProtocolError } from '../protocol/errors.ts'
import { encodeFrame } from '../protocol/frame.ts'
import { formatPeerId, parsePeerId } from '../protocol/messages.ts'
import type { TrackerHit } from '../protocol/tracker-messages.ts'
import { formatConnectReply, formatControlReply, formatDial, parseConnect, parseControl, parseToken, type PeerReach, type Reachability } from '../protocol/reach-messages.ts'

/** What the control module needs of its tracker. */
export interface ControlHost {
  /** Is `id` a registered peer now? */
  isRegistered(id: string): boolean
  now(): number
  /** How the tracker dials (the dial-back check): its server's transport. */
  readonly transport: Transport
  log(level: 'debug' | 'info' | 'warn', msg: string): void
}

/** Counters for status output. */
export interface ControlStats {
  /** DIAL pushes sent (reversals and punches). */
  pushes: number
  /** TCON refused (no control connection, rate limited, punch timed out). */
  refused: number
  /** Punches whose both sides got each other's address. */
  punches: number
}

/** How long the dial-back result of a reversal requester is reused, ms. */
const ASKER_CHECK_MS = 60_000

/** Punches waiting for the holder's TPCH at most. */
const MAX_WAITING_PUNCHES = 256

/** A PING frame: the dial-back check's request (no reply, the close). */
const PING_FRAME = encodeFrame(MSG.PING, '')

export class ControlChannels {
  private readonly channels = new Map<string, RequestContext>()
  private readonly reach = new Map<string, Reachability>()
  private readonly buckets = new TokenBuckets(PUSH_BURST, PUSH_REFILL_PER_S)
  private readonly punches = new Map<string, { host: string; resolve(addr: string): void }>()
  /** Dial-back results of reversal requesters ("host:port" → dialable, until when), 1 024 at most. */
  private readonly askers = new Map<string, { ok: boolean; until: number }>()
  readonly stats: ControlStats = { pushes: 0, refused: 0, punches: 0 }

  constructor(private readonly host: ControlHost) {}

  /** The handlers of TCTL, TCON and TPCH (the message table's `handler: 'reach'` tracker rows). */
  handlers(): Map<string, Handler> {
    return new Map<string, Handler>([
      [MSG.TCTL, (ctx) => this.control(ctx)],
      [MSG.TCON, (ctx) => this.connect(ctx)],
      [MSG.TPCH, (ctx) => this.punched(ctx)]
    ])
  }

  /** Forget a peer that left or expired (its control connection is no longer used). */
  drop(id: string): void {
    this.channels.delete(id)
    this.reach.delete(id)
  }

  /** Control connections open now. */
  get open(): number {
    return this.channels.size
  }

  /** Every registered peer the module knows something about, for `tracker status`. */
  peers(max = 100): PeerReach[] {
    const out: PeerReach[] = []
    for (const [peer, reach] of this.reach) {
      if (out.length >= max) break
      out.push({ peer, reach, control: this.channels.has(peer) })
    }
    return out
  }

  /** Hits with the holders the dial-back check could not dial named in `unreachable` (TWHO, TFND; §7.10). */
  annotate(hits: TrackerHit[]): TrackerHit[] {
    if (!this.reach.size) return hits
    return hits.map((h) => {
      const unreachable = h.peers.filter((p) => this.reach.get(p) === 'unreachable')
      return unreachable.length ? { ...h, unreachable } : h
    })
  }

  /** `ids` without the peers the dial-back check could not dial (TPRS: bootstrap joins dial them). */
  dialable(ids: string[]): string[] {
    return this.reach.size ? ids.filter((id) => this.reach.get(id) !== 'unreachable') : ids
  }

  /** Reachability of `id` from the dial-back check, 'unknown' before one. */
  reachOf(id: string): Reachability {
    return this.reach.get(id) ?? 'unknown'
  }

  /** TCTL (§7.10): this session becomes the peer's control connection; the reply waits for the dial-back check. */
  private async control(ctx: RequestContext): Promise<void> {
    const { port, mapped } = parseControl(ctx.payload)
    const host = normalizeAddress(ctx.remoteAddress)
    const id = formatPeerId(host, port)
    if (!this.host.isRegistered(id)) throw new P2PTubeError('ERR_NOT_REGISTERED', `TCTL: ${id} is not registered here (TREG first)`)
    this.channels.set(id, ctx)
    ctx.signal.addEventListener('abort', () => this.channels.get(id) === ctx && this.channels.delete(id), { once: true })
    const dialable = await this.dialBack({ host, port })
    const reach: Reachability = dialable ? (mapped ? 'mapped' : 'direct') : 'unreachable'
    this.reach.set(id, reach)
    this.host.log('info', `control connection of ${id}: ${reach}${dialable ? '' : ' (reached by connection reversal)'}`)
    await ctx.reply(formatControlReply({ peer: id, reach }))
  }

  /** Can the tracker open a connection to `to` (and, for a group, finish the handshake)? Never throws. */
  private dialBack(to: { host: string; port: number }): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = this.host.transport.connect(to, { type: MSG.PING })
      const finish = (ok: boolean): void => {
        clearTimeout(timer)
        socket.removeAllListeners()
        socket.on('error', () => {})
        if (ok) socket.end(PING_FRAME)
        else socket.destroy()
        resolve(ok)
      }
      const timer = setTimeout(() => finish(false), DIAL_BACK_TIMEOUT_MS)
      socket.once(this.host.transport.readyEvent, () => finish(true))
      socket.once('error', () => finish(false))
    })
  }

  /** The dial-back check of a reversal requester, remembered for ASKER_CHECK_MS. */
  private async askerDialable(to: string): Promise<boolean> {
    const t = this.host.now()
    const known = this.askers.get(to)
    if (known && known.until > t) return known.ok
    const ok = await this.dialBack(parsePeerId(to))
    if (this.askers.size >= 1024) this.askers.delete(this.askers.keys().next().value as string)
    this.askers.set(to, { ok, until: t + ASKER_CHECK_MS })
    return ok
  }

  /** Take a token of `key`'s bucket or refuse with ERR_RATE_LIMITED. */
  private limit(key: string, what: string): void {
    const t = this.host.now()
    if (this.buckets.take(key, t)) return
    this.stats.refused++
    throw new ProtocolError('ERR_RATE_LIMITED', `${what}: rate limited, retry in ${this.buckets.waitMs(key, t)} ms`)
  }

  /** TCON (§7.10, §7.11): push DIAL to the holder; for a punch, wait for its TPCH and answer its public address. */
  private async connect(ctx: RequestContext): Promise<void> {
    const r = parseConnect(ctx.payload)
    const host = normalizeAddress(ctx.remoteAddress)
    const ch = this.channels.get(r.holder)
    if (!ch || !this.host.isRegistered(r.holder)) {
      this.stats.refused++
      throw new P2PTubeError('ERR_NOT_REGISTERED', `TCON: ${r.holder} has no control connection to this tracker`)
    }
    this.limit(`asker ${host}`, 'TCON')
    this.limit(`holder ${r.holder}`, 'TCON')
    // The holder connects only to the asker's own address (its socket's host): never elsewhere.
    const to = formatPeerId(host, r.punch ? ctx.remotePort : r.port)
    const push = (): void => {
      this.stats.pushes++
      ch.write(encodeFrame(MSG.DIAL, formatDial({ to, token: r.token, punch: r.punch }))).catch(() => this.channels.get(r.holder) === ch && this.channels.delete(r.holder))
    }
    if (!r.punch) {
      // A requester the tracker cannot dial would wait for a holder that cannot dial it either.
      if (!(await this.askerDialable(to))) {
        this.stats.refused++
        throw new P2PTubeError('ERR_NO_ROUTE', `TCON: the tracker cannot connect to ${to} either: no reversal (try a punch or a relay)`)
      }
      push()
      return ctx.reply(formatConnectReply({}))
    }
    if (this.punches.size >= MAX_WAITING_PUNCHES || this.punches.has(r.token)) {
      this.stats.refused++
      throw new ProtocolError('ERR_RATE_LIMITED', 'TCON: too many punches waiting')
    }
    const holderHost = parsePeerId(r.holder).host
    const addr = await new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => done(null), PUNCH_TIMEOUT_MS)
      const done = (a: string | null): void => {
        clearTimeout(timer)
        this.punches.delete(r.token)
        resolve(a)
      }
      this.punches.set(r.token, { host: holderHost, resolve: done })
      ctx.signal.addEventListener('abort', () => done(null), { once: true })
      push()
    })
    if (!addr) {
      this.stats.refused++
      throw new P2PTubeError('ERR_TIMEOUT', `TCON: ${r.holder} did not answer the punch within ${PUNCH_TIMEOUT_MS} ms`)
    }
    this.stats.punches++
    return ctx.reply(formatConnectReply({ punch: addr }))
  }

  /** TPCH (§7.11): the holder's side of a punch, from the port it will connect from. */
  private punched(ctx: RequestContext): Promise<void> {
    const token = parseToken(ctx.payload, 'TPCH')
    const host = normalizeAddress(ctx.remoteAddress)
    const p = this.punches.get(token)
    if (!p || p.host !== host) throw new ProtocolError('ERR_UNKNOWN_TOKEN', 'TPCH: no punch waits for this token from this host')
    p.resolve(formatPeerId(host, ctx.remotePort))
    return ctx.reply('{"ok":true}')
  }
}
