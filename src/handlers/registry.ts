/** The handler table: message type → handler (PROTOCOL.md §3, §4). */
import { MSG } from '../protocol/constants.ts'
import type { Handler } from '../net/server.ts'
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

/** Build the handler table for a node. */
export function createHandlers(node: NodeContext): Map<string, Handler> {
  return new Map<string, Handler>([
    [MSG.NAME, nameHandler(node)],
    // The legacy stabilizer connects with PING and expects only the close (btpeer-wire.md).
    [MSG.PING, () => {}],
    [MSG.LIST, listHandler(node)],
    [MSG.JOIN, joinHandler(node)],
    [MSG.QUER, querHandler(node)],
    [MSG.RESP, respHandler(node)],
    [MSG.FGET, fgetHandler(node)],
    [MSG.QUIT, quitHandler(node)],
    [MSG.CAPS, capsHandler(node)],
    [MSG.SRCH, srchHandler(node)],
    [MSG.HITS, hitsHandler(node)],
    [MSG.RGET, rgetHandler(node)],
    [MSG.HASH, hashHandler(node)]
  ])
}
