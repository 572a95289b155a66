/** NAME (PEERNAME): reply with the own peer id (PROTOCOL.md §3.1). */
import type { Handler } from '../net/server.ts'
import type { NodeContext } from '../node/context.ts'

export const nameHandler = (node: NodeContext): Handler => (ctx) => ctx.reply(node.id)
