/**
 * HASH: the piece hash list of a content id: a JSON meta REPL, then the SHA-256 of every
 * PIECE_SIZE piece, 32 bytes each, in binary REPL frames of at most MAX_HASHES_PER_FRAME
 * hashes (PROTOCOL.md §4.8).
 */
import { MAX_HASHES_PER_FRAME, PIECE_SIZE } from '../protocol/constants.ts'
import { formatHashMeta, parseHashRequest } from '../protocol/messages.ts'
import type { Handler } from '../net/server.ts'
import type { NodeContext } from '../node/context.ts'

export const hashHandler =
  (node: NodeContext): Handler =>
  async (ctx) => {
    const { cid } = parseHashRequest(ctx.payload)
    const entry = node.library.getByCid(cid)
    const list = entry ? await node.library.pieceHashes(cid) : null
    if (!entry || !list) return ctx.error('ERR_NOT_FOUND', 'File not found')
    const pieces = list.length / 32
    await ctx.reply(formatHashMeta({ cid, size: entry.size, pieceSize: PIECE_SIZE, pieces }))
    for (let i = 0; i < list.length; i += MAX_HASHES_PER_FRAME * 32) await ctx.reply(list.subarray(i, i + MAX_HASHES_PER_FRAME * 32))
  }
