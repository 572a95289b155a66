/** `p2ptube search QUERY --peer H:P`: a one-shot node joins, floods a search, prints results. */
import type { Argv } from 'yargs'
import type { CommandModule } from '../command.ts'
import { isContentId } from '../../protocol/messages.ts'
import { UsageError } from '../../protocol/errors.ts'
import { awaitDiscovery, checkNodeArgs, joinAll, makeNode, nodeOptions, QUIET_MS, type NodeArgs } from '../common.ts'
import path from 'node:path'
import type { SearchResult } from '../../app/node.ts'
import { albumFolder, localCopy, shortId } from '../fetch-choice.ts'
import { formatBytes, formatMeta } from '../../text/format.ts'
import { EXIT, Output } from '../output.ts'
import { table, type Column } from '../columns.ts'
import { openProfile, rememberedPeers } from '../profile.ts'

export const command = 'search <query..>'
export const describe = 'search the network for media by name and tags: words, artist: album: title: genre: year: kind:, dur>10m, size<1G, -word'

export function builder(y: Argv) {
  return nodeOptions(y, true)
    .hide('player-args')
    .positional('query', { type: 'string', array: true, demandOption: true, describe: 'words to match in names and tags (case- and accent-insensitive), field filters, or a content id' })
    .option('ttl', { type: 'number', default: 4, describe: 'how many hops the query may travel (capped at 7)' })
    .option('timeout', { type: 'number', default: 3, describe: 'seconds to wait for answers at most; the search ends earlier once answers stop coming' })
    .option('long', { alias: 'l', type: 'boolean', default: false, describe: 'whole content ids, and every holder' })
    .example('$0 search lebiniou 12-19 --peer 127.0.0.1:9400', 'names containing both words')
    .example('$0 search drascula --peer 127.0.0.1:9400 --json', 'one JSON object per result')
    .example('$0 search artist:"café tacvba" kind:audio dur<5m --peer 127.0.0.1:9400', 'by tag, kind and duration')
}

/** Options the handler reads. */
export type SearchArgs = NodeArgs & { query: string[]; ttl: number; timeout: number; long: boolean }

/** Exit 0 with results, 3 with none. */
export async function handler(a: SearchArgs): Promise<number> {
  const out = new Output(a.json)
  out.showInfo = a.verbose // status lines only with -v
  checkNodeArgs(a)
  // No peer given: the node running here and the peers remembered in the state (profile.ts).
  const profile = await openProfile(a.data, false, out)
  const remembered = !a.peer.length && !a.tracker && !a.mdns
  if (remembered) a.peer = rememberedPeers(profile)
  if (!a.peer.length && !a.tracker && !a.mdns) throw new UsageError('search needs at least one --peer H:P to join through (or --tracker H:P, or --mdns); none is remembered yet')
  const node = makeNode(a, out, { stabilizeIntervalMs: 0, trackerRegister: false, announce: false, portMapping: false }, profile)
  await node.start()
  try {
    if ((await joinAll(node, a.peer, out, remembered, undefined, a.timeout * 1000)) === 0 && !a.tracker && !a.mdns) {
      out.error(`could not join any of ${a.peer.join(', ')}`, 'ERR_CONNECT')
      return EXIT.ERROR
    }
    await awaitDiscovery(node)
    const q = a.query.join(' ')
    const h = isContentId(q)
      ? node.search('', { ttl: a.ttl, timeoutMs: a.timeout * 1000, untilQuietMs: QUIET_MS, cid: q })
      : node.search(q, { ttl: a.ttl, timeoutMs: a.timeout * 1000, untilQuietMs: QUIET_MS })
    const cut = new Map<string, number>()
    const rows = new Map<string, { r: SearchResult; have: boolean; holders: string[] }>()
    // A result whose content is already here (shared, or saved in --downloads) is marked; the
    // check may hash one same-named, same-sized file, so results are printed in a chain.
    let printed = Promise.resolve()
    const print = async (r: SearchResult): Promise<void> => {
      const have = !!(r.contentId && node.library.getByCid(r.contentId)) || !!(await localCopy(path.join(node.downloadsDir, albumFolder(r.name)), r))
      // A holder the tracker cannot dial (or one a route reached before) is fetched via that route.
      const via = r.via ?? node.reach.via(r.holder) ?? (node.relay.via(r.holder) ? 'relay' : undefined)
      const extra = { ...(r.meta ? { meta: r.meta } : {}), ...(r.holderTotal ? { holderTotal: r.holderTotal } : {}), ...(have ? { have } : {}), ...(via ? { via } : {}) }
      out.event('result', { name: r.name, size: r.size, contentId: r.contentId, holder: r.holder, kind: r.kind, legacy: r.legacy, ...extra })
      // One row per content: its holders counted (a legacy result has no content id: one per holder).
      const key = r.contentId ?? `legacy:${r.name}:${r.holder}`
      const row = rows.get(key)
      if (row) {
        row.holders.push(via ? `${r.holder} via ${via}` : r.holder)
        if (!row.r.meta && r.meta) row.r = r // the tags of any holder that sent them
      } else rows.set(key, { r, have, holders: [via ? `${r.holder} via ${via}` : r.holder] })
      if (r.holderTotal) cut.set(r.holder, r.holderTotal)
    }
    h.on('result', (r) => (printed = printed.then(() => print(r))))
    const results = await h.finished
    await printed
    printTable(out, [...rows.values()], a.long)
    for (const [holder, total] of cut) {
      const shown = results.filter((r) => r.holder === holder).length
      out.info(`${holder} had ${total} matches and sent ${shown}: narrow the search (artist:, album:, kind:, dur>…) to see the rest`)
    }
    out.event('done', { results: results.length, ...(cut.size ? { cut: Object.fromEntries(cut) } : {}) })
    if (!results.length) out.info(`no results for "${q}" within ${a.timeout} s`)
    return results.length ? EXIT.OK : EXIT.NOT_FOUND
  } finally {
    await node.stop()
  }
}

/**
 * The results as aligned columns, one row per content: NAME, SIZE, HOLDERS (count), ID (12 hex
 * digits; whole with `long`), TAGS; with `long`, the holders' addresses too. A header and names
 * cut to the terminal's width on a TTY; plain rows (never cut) in a pipe.
 */
function printTable(out: Output, rows: { r: SearchResult; have: boolean; holders: string[] }[], long: boolean): void {
  if (!rows.length) return
  const tty = out.isTTY
  const cols: Column[] = [{ header: 'NAME', flex: true }, { header: 'SIZE', align: 'right' }, { header: 'HOLDERS', align: 'right' }, { header: 'ID' }, { header: long ? 'HOLDER ADDRESSES' : 'TAGS' }]
  const cells = rows.map(({ r, have, holders }) => [
    r.name + (have ? '  [have]' : ''),
    formatBytes(r.size),
    String(holders.length),
    r.contentId ? (long ? r.contentId : shortId(r.contentId)) : '(legacy)',
    long ? holders.join(', ') : formatMeta(r.meta)
  ])
  for (const l of table(cols, cells, { header: tty, ...(tty ? { maxWidth: out.columns } : {}) })) out.line(l)
}

/** The command for main.ts. */
export const module: CommandModule<SearchArgs> = { command, describe, builder, handler }
