/** CAPS: the capability probe; a legacy peer answers it by closing (PROTOCOL.md §4.1). */
import { normalizeAddress } from '../net/address.ts'
import { formatCaps } from '../protocol/messages.ts'
import type { Handler } from '../net/server.ts'
import type { NodeContext } from '../node/context.ts'

export const capsHandler =
  (node: NodeContext): Handler =>
  (ctx) =>
    ctx.reply(formatCaps(node.idFor(ctx.localAddress), node.features, normalizeAddress(ctx.remoteAddress)))
