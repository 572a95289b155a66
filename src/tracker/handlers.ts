/**
 * Tracker message handlers (docs/PROTOCOL.md §7): type → handler over the same one-request-per-
 * connection framing as the nodes. A peer's host is always the socket's; only its listening
 * port comes from the payload. Bad input throws ProtocolError, which the FrameServer answers
 * with ERRO; nothing from such a request is indexed.
 */
import type { Handler, RequestContext } from '../net/server.ts'
import { normalizeAddress } from '../net/address.ts'
import { MAX_CONTROL_REPLY, MSG, TRACKER_HOLDERS_MAX } from '../protocol/constants.ts'
import { ProtocolError } from '../protocol/errors.ts'
import { formatPeerId } from '../protocol/messages.ts'
import { parseAnnounce, parseFind, parsePortRequest, parseRegister, parseWho, type TrackerHit } from '../protocol/tracker-messages.ts'
import type { Tracker } from './tracker.ts'

/** Keep a reply under what a requester buffers (MAX_CONTROL_REPLY), dropping the last results. */
export function fitResults(results: TrackerHit[], budget = MAX_CONTROL_REPLY - 256): string {
  let text = JSON.stringify({ results })
  while (Buffer.byteLength(text) > budget && results.length) {
    results = results.slice(0, Math.floor(results.length * 0.8))
    text = JSON.stringify({ results })
  }
  return text
}

function hostOf(ctx: RequestContext): string {
  return normalizeAddress(ctx.remoteAddress)
}

function limited(tr: Tracker, id: string, what: string): void {
  if (tr.limiter.take(id, tr.now())) return
  tr.stats.rejected++
  throw new ProtocolError('ERR_RATE_LIMITED', `${what}: rate limited, retry in ${tr.limiter.waitMs(id, tr.now())} ms`)
}

/** Build the tracker's handler table. */
export function createTrackerHandlers(tr: Tracker): Map<string, Handler> {
  return new Map<string, Handler>([
    [MSG.NAME, (ctx) => ctx.reply(tr.id)],
    [MSG.PING, () => {}],
    [
      MSG.TREG,
      (ctx) => {
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
        return ctx.reply(JSON.stringify({ peer: id, interval: tr.intervalMs, expiry: tr.expiryMs, tracker: tr.id }))
      }
    ],
    [
      MSG.TANN,
      (ctx) => {
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
        return ctx.reply(JSON.stringify('ok' in r ? { ...r, interval: tr.intervalMs } : r))
      }
    ],
    [
      MSG.TBYE,
      (ctx) => {
        const host = hostOf(ctx)
        const { port } = parsePortRequest(ctx.payload, 'TBYE', true)
        const id = formatPeerId(host, port as number)
        const removed = tr.index.remove(id)
        if (removed) tr.emit('peer-left', id)
        return ctx.reply(JSON.stringify({ ok: true, removed }))
      }
    ],
    [
      MSG.TPRS,
      (ctx) => {
        const r = parsePortRequest(ctx.payload, 'TPRS', false)
        const self = r.port ? formatPeerId(hostOf(ctx), r.port) : undefined
        return ctx.reply(JSON.stringify({ peers: tr.index.sample(r.max, self, tr.random) }))
      }
    ],
    [
      MSG.TWHO,
      (ctx) => {
        const w = parseWho(ctx.payload)
        tr.stats.searches++
        return ctx.reply(fitResults(tr.index.holders(w.cid, Math.min(w.max, TRACKER_HOLDERS_MAX))))
      }
    ],
    [
      MSG.TFND,
      (ctx) => {
        const f = parseFind(ctx.payload)
        tr.stats.searches++
        return ctx.reply(fitResults(tr.index.search(f.q, f.max)))
      }
    ],
    [MSG.TSTA, (ctx) => ctx.reply(JSON.stringify(tr.status()))]
  ])
}
