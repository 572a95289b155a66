/**
 * QUIT (PEERQUIT): remove the sender from the peer table (PROTOCOL.md §3.6).
 * Only a peer at the connection's own address can be removed (the legacy peer lets anyone
 * remove anyone: btpeer-wire.md "Known defects"). In a private group the sender must also be
 * the member listening at that peer id (certificate compared, PROTOCOL.md §8.5): QUIT removes
 * only the sender itself, even between members on one host.
 */
import { ProtocolError } from '../protocol/errors.ts'
import type { Handler } from '../net/server.ts'
import { normalizeAddress } from '../net/address.ts'
import type { NodeContext } from '../node/context.ts'

export const quitHandler =
  (node: NodeContext): Handler =>
  async (ctx) => {
    const id = ctx.payload.toString('latin1').trim()
    const p = node.peers.get(id)
    if (!p) return ctx.error('ERR_PEER_NOT_FOUND', `Quit: peer not found: ${id.slice(0, 300)}`)
    if (p.host !== normalizeAddress(ctx.remoteAddress)) {
      throw new ProtocolError('ERR_SPOOFED_ADDRESS', `Quit: only ${id} itself may remove ${id}`)
    }
    const group = node.group
    if (group && !(ctx.peer && (await group.isMemberAt(id, p, ctx.peer)))) {
      throw new ProtocolError('ERR_SPOOFED_ADDRESS', `Quit: ${ctx.peer?.name ?? 'the sender'} is not the member at ${id}`)
    }
    node.peers.remove(id, 'quit')
    return ctx.reply(`Quit: peer removed: ${id}`)
  }
