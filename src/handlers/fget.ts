/**
 * FGET (FILEGET): the whole payload is a file name; reply with the file in 2048-byte REPL
 * frames, or ERRO "File not found" (PROTOCOL.md §3.7). The name is looked up in the library
 * index only: it is never opened as a path.
 */
import type { Handler } from '../net/server.ts'
import type { NodeContext } from '../node/context.ts'
import { serveEntry } from './serve-file.ts'

export const fgetHandler =
  (node: NodeContext): Handler =>
  async (ctx) => {
    const name = ctx.payload.toString('utf8')
    const entry = node.library.get(name) ?? node.library.get(name.trim())
    if (!entry) return ctx.error('ERR_NOT_FOUND', 'File not found')
    // An empty file still gets one (empty) REPL: a requester tells it from "no reply" (§3.7).
    if (entry.size === 0) return ctx.reply('')
    await serveEntry(ctx, node, entry, 0, entry.size)
  }
