/** The handler table: message type → handler (PROTOCOL.md §3, §4). */
import type { NodeHandledType } from '../protocol/table.ts'
import type { Handler } from '../net/server.ts'
import { brwsHandler } from './brws.ts'
import { capsHandler } from './caps.ts'
import type { NodeContext } from '../node/context.ts'
import { fgetHandler } from './fget.ts'
import { hashHandler } from './hash.ts'
import { hitsHandler } from './hits.ts'
import { joinHandler } from './join.ts'
import { listHandler } from './list.ts'
import { nameHandler } from './name.ts'
import { querHandler } from './quer.ts'
import { quitHandler } from './quit.ts'
import { respHandler } from './resp.ts'
import { rgetHandler } from './rget.ts'
import { srchHandler } from './srch.ts'

/**
 * Build the handler table of a node: one handler for every node-scope row of the message table
 * (src/protocol/table.ts); a row without one, or a handler without a row, does not compile.
 * TREV (a group row) is added by the node when it is a group member.
 */
export function createHandlers(node: NodeContext): Map<string, Handler> {
  const handlers: Record<NodeHandledType, Handler> = {
    NAME: nameHandler(node),
    // The legacy stabilizer connects with PING and expects only the close (btpeer-wire.md).
    PING: () => {},
    LIST: listHandler(node),
    JOIN: joinHandler(node),
    QUER: querHandler(node),
    RESP: respHandler(node),
    FGET: fgetHandler(node),
    QUIT: quitHandler(node),
    CAPS: capsHandler(node),
    SRCH: srchHandler(node),
    HITS: hitsHandler(node),
    RGET: rgetHandler(node),
    HASH: hashHandler(node),
    BRWS: brwsHandler(node)
  }
  return new Map(Object.entries(handlers))
}
