/**
 * Tracker message handlers (docs/PROTOCOL.md §7): type → handler over the same one-request-per-
 * connection framing as the nodes. A peer's host is always the socket's; only its listening
 * port comes from the payload. Bad input throws ProtocolError, which the FrameServer answers
 * with ERRO; nothing from such a request is indexed.
 */
import type { Handler, RequestContext } from '../net/server.ts'
import { normalizeAddress } from '../net/address.ts'
import type { TokenBuckets } from '../net/token-bucket.ts'
import { TRACKER_HOLDERS_MAX } from '../protocol/constants.ts'
import { ProtocolError } from '../protocol/errors.ts'
import { formatPeerId } from '../protocol/messages.ts'
import type { TrackerHandledType } from '../protocol/table.ts'
import {
  formatAnnounceReply,
  formatByeReply,
  formatHitList,
  formatPeerList,
  formatRegisterReply,
  formatTrackerStatus,
  parseAnnounce,
  parseFind,
  parsePortRequest,
  parseRegister,
  parseWho
} from '../protocol/tracker-messages.ts'
import type { Tracker } from './tracker.ts'

function hostOf(ctx: RequestContext): string {
  return normalizeAddress(ctx.remoteAddress)
}

function limited(tr: Tracker, id: string, what: string, limiter: TokenBuckets | null = tr.limiter): void {
  if (!limiter || limiter.take(id, tr.now())) return
  tr.stats.rejected++
  throw new ProtocolError('ERR_RATE_LIMITED', `${what}: rate limited, retry in ${limiter.waitMs(id, tr.now())} ms`)
}

/**
 * Build the tracker's handler table: one handler for every tracker-scope row of the message
 * table (src/protocol/table.ts); a row without one does not compile. TSES is the server's own,
 * TREV the group module's (added by the tracker in a group).
 */
export function createTrackerHandlers(tr: Tracker): Map<string, Handler> {
  const handlers: Record<TrackerHandledType, Handler> = {
    NAME: (ctx) => ctx.reply(tr.id),
    PING: () => {},
    TREG: async (ctx) => {
      const host = hostOf(ctx)
      const r = parseRegister(ctx.payload, host)
      const id = formatPeerId(host, r.port)
      limited(tr, id, 'Register')
      const max = tr.maxPeersPerHost
      if (max > 0 && !tr.index.peers.has(id) && tr.index.countHost(host) >= max) {
        tr.stats.rejected++
        throw new ProtocolError('ERR_TOO_MANY_PEERS', `Register: ${host} already has ${max} peers online`)
      }
      tr.opts.group?.bind(id, ctx.peer)
      // Acknowledged only once the registry row is on disk (one fdatasync per tick, shared).
      await tr.onRegister(host, r.port, id)
      tr.memberRelays.register(id, r.features)
      return ctx.reply(formatRegisterReply({ peer: id, interval: tr.intervalMs, expiry: tr.expiryMs, tracker: tr.id }))
    },
    TANN: (ctx) => {
      const host = hostOf(ctx)
      let a = parseAnnounce(ctx.payload, host)
      const id = formatPeerId(host, a.port)
      limited(tr, id, 'Announce')
      // In a private group only publishers are indexed (PROTOCOL.md §8.3): others' files are dropped.
      if (tr.opts.group && !tr.opts.group.mayPublish(ctx.peer) && a.add.length) {
        tr.stats.rejected++
        a = { ...a, add: [] }
      }
      const r = tr.index.announce(id, a, tr.now())
      tr.countAnnounce()
      // Member relays (§10.7): where this holder is reserved; the relays it may reserve on.
      tr.memberRelays.announce(id, a.relays)
      return ctx.reply(formatAnnounceReply(r, tr.intervalMs, tr.memberRelays.list(id)))
    },
    TBYE: (ctx) => {
      const host = hostOf(ctx)
      const { port } = parsePortRequest(ctx.payload, 'TBYE', true)
      const id = formatPeerId(host, port as number)
      const removed = tr.index.remove(id)
      if (removed) tr.emit('peer-left', id)
      return ctx.reply(formatByeReply(removed))
    },
    TPRS: (ctx) => {
      const r = parsePortRequest(ctx.payload, 'TPRS', false)
      const self = r.port ? formatPeerId(hostOf(ctx), r.port) : undefined
      // Peers the dial-back check could not dial are no use for bootstrap joins (§7.10): left out.
      return ctx.reply(formatPeerList(tr.control.dialable(tr.index.sample(r.max, self, tr.random))))
    },
    TWHO: (ctx) => {
      const w = parseWho(ctx.payload)
      // Searches are limited per host address: a one-shot search comes from any port.
      limited(tr, hostOf(ctx), 'Who', tr.searchLimiter)
      tr.stats.searches++
      return ctx.reply(formatHitList(tr.control.annotate(tr.index.holders(w.cid, Math.min(w.max, TRACKER_HOLDERS_MAX))), undefined, false, tr.relayed, (p) => tr.memberRelays.via(p)))
    },
    TFND: (ctx) => {
      const f = parseFind(ctx.payload)
      limited(tr, hostOf(ctx), 'Find', tr.searchLimiter)
      tr.stats.searches++
      const r = tr.index.query(f.q, f.max)
      tr.stats.searchWork += r.work
      return ctx.reply(formatHitList(tr.control.annotate(r.hits), undefined, r.partial, tr.relayed, (p) => tr.memberRelays.via(p)))
    },
    TSTA: (ctx) => ctx.reply(formatTrackerStatus(tr.status()))
  }
  return new Map(Object.entries(handlers))
}
