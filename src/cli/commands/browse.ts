/**
 * `p2ptube browse HOST:PORT`: list a peer's whole library (names, sizes, content ids, tags) page
 * by page over BRWS (docs/PROTOCOL.md §4.9), printing each page as it arrives.
 */
import path from 'node:path'
import type { Argv } from 'yargs'
import type { CommandModule } from '../command.ts'
import { browsePeer, type BrowsePage } from '../../node/browse-client.ts'
import { BROWSE_PAGE_DEFAULT, BROWSE_PAGE_MAX, MAX_BROWSE_ENTRIES } from '../../protocol/constants.ts'
import { parsePeerId } from '../../protocol/messages.ts'
import { UsageError } from '../../protocol/errors.ts'
import { NodeGroup } from '../../group/node-group.ts'
import { loadCredential } from '../../group/credential.ts'
import { formatBytes, formatMeta } from '../../text/format.ts'
import { safeText } from '../../text/safe-text.ts'
import { EXIT, Output } from '../output.ts'

export const command = 'browse <peer>'
export const describe = "list a peer's whole library (paged), with tags"

export function builder(y: Argv) {
  return y
    .positional('peer', { type: 'string', demandOption: true, describe: 'the peer, host:port' })
    .option('limit', { type: 'number', default: MAX_BROWSE_ENTRIES, describe: `stop after this many entries (at most ${MAX_BROWSE_ENTRIES})` })
    .option('page-size', { type: 'number', default: BROWSE_PAGE_DEFAULT, describe: `entries asked for per request (1-${BROWSE_PAGE_MAX})` })
    .option('after', { type: 'string', describe: 'start after this name (the "after" of an earlier, cut listing)' })
    .option('group', { type: 'string', describe: 'private group credential file: browse a member over the group connection' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object per entry' })
    .example('$0 browse 192.168.1.20:9400', 'everything the peer shares, by folder')
    .example('$0 browse 192.168.1.20:9400 --json --limit 500', 'the first 500 entries as JSON lines')
}

/** Options the handler reads. */
export type BrowseArgs = { peer: string; limit: number; 'page-size': number; after?: string; group?: string; json: boolean }

/** Exit 0 when listed (also an empty library), 1 when the peer cannot be browsed. */
export async function handler(a: BrowseArgs): Promise<number> {
  const out = new Output(a.json)
  const to = parsePeerId(a.peer)
  if (!Number.isInteger(a.limit) || a.limit < 1 || a.limit > MAX_BROWSE_ENTRIES) throw new UsageError(`--limit must be 1..${MAX_BROWSE_ENTRIES}, got ${a.limit}`)
  const size = a['page-size']
  if (!Number.isInteger(size) || size < 1 || size > BROWSE_PAGE_MAX) throw new UsageError(`--page-size must be 1..${BROWSE_PAGE_MAX}, got ${size}`)
  const group = a.group ? new NodeGroup(loadCredential(path.resolve(a.group))) : null
  let listed = 0
  let folder: string | null = null
  let last: BrowsePage | null = null
  try {
    for await (const page of browsePeer(to, { pageSize: size, max: a.limit, ...(a.after !== undefined ? { after: a.after } : {}), ...(group ? { transport: group.transport } : {}) })) {
      last = page
      for (const e of page.entries) {
        listed++
        out.event('entry', { name: e.name, size: e.size, contentId: e.cid, kind: e.kind, ...(e.meta ? { meta: e.meta } : {}) })
        const dir = e.name.includes('/') ? e.name.slice(0, e.name.lastIndexOf('/')) : ''
        if (dir !== folder) {
          folder = dir
          if (dir) out.line(out.color.bold(`${safeText(dir)}/`))
        }
        const tags = formatMeta(e.meta)
        out.line(`  ${safeText(e.name.slice(dir ? dir.length + 1 : 0))}  ${formatBytes(e.size)}  ${out.color.dim(safeText(e.cid.slice(0, 12)))}${tags ? `  ${out.color.dim(safeText(tags))}` : ''}`)
      }
    }
    const cut = last?.cut ?? false
    out.event('done', { listed, total: last?.total ?? 0, cut, ...(cut ? { after: last?.after } : {}) })
    out.info(cut ? `listed ${listed} of ${last?.total}: cut at --limit; continue with --after ${JSON.stringify(last?.after)}` : `${listed} entries`)
    return EXIT.OK
  } catch (err) {
    const e = err as Error & { code?: string }
    out.error(e.message, e.code)
    return EXIT.ERROR
  } finally {
    group?.stop()
  }
}

/** The command for main.ts. */
export const module: CommandModule<BrowseArgs> = { command, describe, builder, handler }
