/**
 * JOIN (INSERTPEER): add the sender to the peer table (PROTOCOL.md §3.3).
 * Unlike the legacy peer, the address in the payload must be the connection's own address:
 * nobody can make a node list or dial a third party (btpeer-wire.md "Known defects").
 * In a private group the joining member must also be the one listening at that address: the
 * node dials it and compares certificates (PROTOCOL.md §8.5), so a member on a shared host
 * cannot insert another port. At most `maxPerHost` peers per address (§3.9); at the high water
 * mark a well-connected neighbour is pruned to admit the newcomer, else "too many peers".
 */
import { ProtocolError } from '../protocol/errors.ts'
import { parseJoin } from '../protocol/messages.ts'
import type { Handler } from '../net/server.ts'
import { normalizeAddress } from '../net/address.ts'
import type { NodeContext } from '../node/context.ts'

export const joinHandler =
  (node: NodeContext): Handler =>
  async (ctx) => {
    const p = parseJoin(ctx.payload.toString('latin1'))
    // At the high water mark a newcomer gets in only when a well-connected neighbour can be pruned (§3.9).
    if (node.peers.full && !node.makeRoom(true)) return ctx.error('ERR_PEERS_FULL', 'Join: too many peers')
    if (p.host !== normalizeAddress(ctx.remoteAddress)) {
      throw new ProtocolError('ERR_SPOOFED_ADDRESS', `Join: address ${p.host} is not the connection's address ${normalizeAddress(ctx.remoteAddress)}`)
    }
    if (node.isSelf(p.id)) return ctx.error('ERR_PEER_EXISTS', `Join: peer already inserted ${p.id}`)
    const group = node.group
    if (group && !(ctx.peer && (await group.isMemberAt(p.id, p, ctx.peer, true)))) {
      throw new ProtocolError('ERR_SPOOFED_ADDRESS', `Join: ${p.id} is not where ${ctx.peer?.name ?? 'the sender'} listens`)
    }
    if (node.peers.has(p.id)) return ctx.error('ERR_PEER_EXISTS', `Join: peer already inserted ${p.id}`)
    // Peers per host (§3.9): one address cannot fill the table with many ports (an eclipse).
    if (node.peers.hostFull(p.host)) return ctx.error('ERR_TOO_MANY_PEERS', `Join: ${p.host} already has ${node.peers.maxPerHost} peers here`)
    if (node.peers.full) node.makeRoom()
    const r = node.peers.add(p, 'joined')
    if (r === 'exists') return ctx.error('ERR_PEER_EXISTS', `Join: peer already inserted ${p.id}`)
    if (r === 'full') return ctx.error('ERR_PEERS_FULL', 'Join: too many peers')
    return ctx.reply(`Join: peer added: ${p.id}`)
  }
