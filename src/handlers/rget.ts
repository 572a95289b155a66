/**
 * RGET: a byte range of a file by content id (or name); first REPL is the JSON meta, then the
 * bytes in 2048-byte REPL frames, or frames of up to the request's `frame` bytes (PROTOCOL.md §4.4).
 */
import { formatRangeMeta, parseRget } from '../protocol/messages.ts'
import type { Handler } from '../net/server.ts'
import type { NodeContext } from '../node/context.ts'
import { serveEntry } from './serve-file.ts'

export const rgetHandler =
  (node: NodeContext): Handler =>
  async (ctx) => {
    const r = parseRget(ctx.payload)
    const entry = r.cid ? node.library.getByCid(r.cid) : node.library.get(r.name as string)
    if (!entry || !entry.cid) return ctx.error('ERR_NOT_FOUND', 'File not found')
    if (r.offset > entry.size) return ctx.error('ERR_RANGE', `Range: offset ${r.offset} is past the end (${entry.size} bytes)`)
    const length = Math.min(r.length ?? entry.size - r.offset, entry.size - r.offset)
    await ctx.reply(formatRangeMeta({ name: entry.name, size: entry.size, cid: entry.cid, offset: r.offset, length }))
    await serveEntry(ctx, node, entry, r.offset, length, r.frame)
  }
