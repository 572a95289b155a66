/** RESP (legacy QRESPONSE): a holder's answer to a QUER this node sent (PROTOCOL.md §3.5). */
import { ProtocolError } from '../protocol/errors.ts'
import { parseResp } from '../protocol/messages.ts'
import type { Handler } from '../net/server.ts'
import type { NodeContext } from '../node/context.ts'

export const respHandler =
  (node: NodeContext): Handler =>
  (ctx) => {
    const r = parseResp(ctx.payload.toString('utf8'))
    // The legacy peer accepts any RESP and later serves that name as a local path; we accept
    // only answers to our own open searches, and never use a name as a path (§3.5).
    if (!node.onLegacyResponse(r, ctx.remoteAddress)) throw new ProtocolError('ERR_UNSOLICITED', 'Response: no open query matches it')
  }
