/** HITS: results for a query this node sent (PROTOCOL.md §4.3). */
import { ProtocolError } from '../protocol/errors.ts'
import { parseHits } from '../protocol/messages.ts'
import type { Handler } from '../net/server.ts'
import type { NodeContext } from '../node/context.ts'

export const hitsHandler =
  (node: NodeContext): Handler =>
  (ctx) => {
    const h = parseHits(ctx.payload)
    if (!node.onHits(h, ctx.remoteAddress)) throw new ProtocolError('ERR_UNSOLICITED', `HITS: unknown query id ${h.qid} or holder not the sender`)
    return ctx.reply('ok')
  }
