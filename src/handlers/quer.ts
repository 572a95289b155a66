/**
 * QUER (legacy QUERY): ACK first, then match and answer or forward (PROTOCOL.md §3.4,
 * btpeer-wire.md "Flood search as the legacy peer does it").
 */
import { parseQuer } from '../protocol/messages.ts'
import type { Handler } from '../net/server.ts'
import type { NodeContext } from '../node/context.ts'

export const querHandler =
  (node: NodeContext): Handler =>
  async (ctx) => {
    const q = parseQuer(ctx.payload.toString('utf8'))
    await ctx.reply(`Query ACK: ${q.key}`)
    node.onLegacyQuery(q)
  }
