/**
 * Tracker message handlers (docs/PROTOCOL.md §7): type → handler over the same one-request-per-
 * connection framing as the nodes. A peer's host is always the socket's; only its listening
 * port comes from the payload. Bad input throws ProtocolError, which the FrameServer answers
 * with ERRO; nothing from such a request is indexed.
 */
import type { Handler, RequestContext } from '../net/server.ts'
import { normalizeAddress } from '../net/address.ts'
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

function limited(tr: Tracker, id: string, what: string): void {
  if (tr.limiter.take(id, tr.now())) return
  tr.stats.rejected++
  throw new ProtocolError('ERR_RATE_LIMITED', `${what}: rate limited, retry in ${tr.limiter.waitMs(id, tr.now())} ms`)
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
    TREG: (ctx) => {
      const host = hostOf(ctx)
      const r = parseRegister(ctx.payload, host)
      const id = formatPeerId(host, r.port)
      limited(tr, id, 'Register')
      const max = tr.maxPeersPerHost
      if (max > 0 && !tr.index.peers.has(id) && tr.index.countHost(host) >= max) {
        tr.stats.rejected++
        throw new ProtocolError('ERR_TOO_MANY_PEERS', `Register: ${host} already has ${max} peers online`)
      }
      tr.onRegister(host, r.port, id)
      tr.opts.group?.bind(id, ctx.peer)
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
      return ctx.reply(formatAnnounceReply(r, tr.intervalMs))
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
      return ctx.reply(formatPeerList(tr.index.sample(r.max, self, tr.random)))
    },
    TWHO: (ctx) => {
      const w = parseWho(ctx.payload)
      tr.stats.searches++
      return ctx.reply(formatHitList(tr.index.holders(w.cid, Math.min(w.max, TRACKER_HOLDERS_MAX)), undefined, tr.relayed))
    },
    TFND: (ctx) => {
      const f = parseFind(ctx.payload)
      tr.stats.searches++
      return ctx.reply(formatHitList(tr.index.search(f.q, f.max), undefined, tr.relayed))
    },
    TSTA: (ctx) => ctx.reply(formatTrackerStatus(tr.status()))
  }
  return new Map(Object.entries(handlers))
}
