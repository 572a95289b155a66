/** SRCH: flood search with a query id; ACK "ok" or "dup" (PROTOCOL.md §4.2). */
import { parseSrch } from '../protocol/messages.ts'
import type { Handler } from '../net/server.ts'
import type { NodeContext } from '../node/context.ts'

export const srchHandler =
  (node: NodeContext): Handler =>
  (ctx) => {
    const s = parseSrch(ctx.payload)
    return ctx.reply(node.onSearch(s) === 'new' ? 'ok' : 'dup')
  }
