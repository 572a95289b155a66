/** BRWS: one page of this node's library in name order, with tags (PROTOCOL.md §4.9). */
import { formatBrowseReply, parseBrws } from '../protocol/messages.ts'
import type { Handler } from '../net/server.ts'
import type { NodeContext } from '../node/context.ts'
import { BrowseIndex } from '../node/browse.ts'

export const brwsHandler = (node: NodeContext): Handler => {
  // One sorted snapshot per node (made on the first BRWS, again after the library changes).
  let index: BrowseIndex | null = null
  return (ctx) => {
    const r = parseBrws(ctx.payload)
    index ??= new BrowseIndex(node.library)
    return ctx.reply(formatBrowseReply(index.page(r)))
  }
}
