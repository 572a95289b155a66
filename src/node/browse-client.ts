/**
 * Browsing a peer's library (docs/PROTOCOL.md §4.9): the requester's side. Pages are asked for
 * one after the other with the `after` cursor; each reply is one control REPL (≤ 65 536 B) of at
 * most BROWSE_PAGE_MAX entries in strictly increasing name order, so a peer claiming a million
 * entries costs at most one page in memory at a time, and the walk stops at `max` entries
 * (default MAX_BROWSE_ENTRIES) however many pages the peer offers.
 */
import { requestText, type Endpoint, type ExchangeOptions } from '../net/client.ts'
import { BROWSE_PAGE_DEFAULT, MAX_BROWSE_ENTRIES, MSG } from '../protocol/constants.ts'
import { P2PTubeError } from '../protocol/errors.ts'
import { formatBrws, parseBrowseReply, parseCaps, type Hit } from '../protocol/messages.ts'

/** Options of browsePeer. */
export interface BrowseOptions extends ExchangeOptions {
  /** Entries asked for per page (1–500, default 200). */
  pageSize?: number
  /** Stop after this many entries in all (default and at most MAX_BROWSE_ENTRIES). */
  max?: number
  /** Start after this name (resume a walk). */
  after?: string
}

/** One page as browsePeer yields it: its entries, the peer's total, and whether the walk goes on. */
export interface BrowsePage {
  entries: Hit[]
  /** The holder's count of listable entries. */
  total: number
  /** Cursor for a later walk (the last name so far). */
  after: string | undefined
  /** True on the last page because `max` was reached while the peer had more. */
  cut: boolean
}

/**
 * Walk the library of the node at `to`, page by page.
 * @throws P2PTubeError ERR_NO_BROWSE when the peer's CAPS do not list BRWS (a legacy peer or an
 *   older node); RemoteError (ERRO, e.g. ERR_RATE_LIMITED, ERR_NOT_PUBLISHER); ProtocolError
 *   ERR_MALFORMED_PAYLOAD for a bad page (oversize, out of order, a cursor that does not move);
 *   the connection errors of net/client.ts.
 */
export async function* browsePeer(to: Endpoint, opts: BrowseOptions = {}): AsyncGenerator<BrowsePage> {
  let features: string[] = []
  try {
    features = parseCaps(Buffer.from(await requestText(to, MSG.CAPS, '', opts))).features
  } catch (err) {
    // A legacy peer closes without a reply (or says ERRO); anything else (unreachable…) is the error.
    if (!['ERR_NO_REPLY', 'ERR_REMOTE', 'ERR_MALFORMED_PAYLOAD'].includes((err as P2PTubeError).code)) throw err
  }
  if (!features.includes(MSG.BRWS)) throw new P2PTubeError('ERR_NO_BROWSE', `${to.host}:${to.port} does not serve BRWS (a legacy peer or an older node)`)
  const max = Math.min(opts.max ?? MAX_BROWSE_ENTRIES, MAX_BROWSE_ENTRIES)
  let after = opts.after
  let seen = 0
  for (;;) {
    const want = Math.min(opts.pageSize ?? BROWSE_PAGE_DEFAULT, max - seen)
    const reply = parseBrowseReply(Buffer.from(await requestText(to, MSG.BRWS, formatBrws({ ...(after !== undefined ? { after } : {}), max: want }), opts)), after)
    // A peer may send fewer than asked, never more than asked.
    const entries = reply.entries.slice(0, want)
    seen += entries.length
    if (entries.length) after = entries[entries.length - 1]!.name
    const more = reply.next !== undefined && entries.length > 0
    const cut = more && seen >= max
    yield { entries, total: reply.total, after, cut }
    if (!more || cut) return
  }
}
