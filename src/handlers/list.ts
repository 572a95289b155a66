/** LIST (LISTPEERS): REPL "<count>", then one REPL "<peerid> <host> <port>" per peer (PROTOCOL.md §3.2). */
import { MAX_LIST_PEERS } from '../protocol/constants.ts'
import { formatListLine } from '../protocol/messages.ts'
import type { Handler } from '../net/server.ts'
import type { NodeContext } from '../node/context.ts'

export const listHandler =
  (node: NodeContext): Handler =>
  async (ctx) => {
    const peers = node.peers.list().slice(0, MAX_LIST_PEERS)
    await ctx.reply(String(peers.length))
    for (const p of peers) await ctx.reply(formatListLine(p))
  }
