/** NAME (PEERNAME): reply with the own peer id (PROTOCOL.md §3.1). */
import type { Handler } from '../net/server.ts'
import type { NodeContext } from '../node/context.ts'

/** The id names the interface the requester reached: the address it can dial back. */
export const nameHandler =
  (node: NodeContext): Handler =>
  (ctx) =>
    ctx.reply(node.idFor(ctx.localAddress))
