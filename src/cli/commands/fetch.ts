/** `p2ptube fetch (CONTENT_ID|NAME) --peer H:P [--play]`: find a holder, download, verify, optionally play. */
import type { Argv } from 'yargs'
import type { CommandModule, RunContext } from '../command.ts'
import type { SearchResult } from '../../app/node.ts'
import { findMpv, MpvNotInstalledError, MpvPlayer } from '../../player/mpv-player.ts'
import { isContentId, parsePeerId } from '../../protocol/messages.ts'
import { UsageError } from '../../protocol/errors.ts'
import path from 'node:path'
import { awaitDiscovery, checkNodeArgs, fetchAndMaybePlay, joinAll, makeNode, nodeOptions, onShutdown, QUIET_MS, splitPlayerArgs, type NodeArgs } from '../common.ts'
import { albumFolder, candidates, distinctContents, isIdPrefix, localCopy, shortId } from '../fetch-choice.ts'
import { formatBytes, formatMeta } from '../../text/format.ts'
import { safeText } from '../../text/safe-text.ts'
import { EXIT, Output } from '../output.ts'
import { isQueue, playQueue } from '../play-queue.ts'
import { dropEarlyPlayer } from '../early-player.ts'
import { noteFetched, openProfile, rememberedPeers } from '../profile.ts'

export const command = 'fetch <target> [more..]'
export const describe = 'download a file by content id or name (resumes a partial download), optionally playing it in mpv while it downloads'

export function builder(y: Argv) {
  return nodeOptions(y, true)
    .positional('target', { type: 'string', describe: 'content id (64 hex digits, or a prefix of 8 or more), file name, or search words', demandOption: true })
    .positional('more', { type: 'string', array: true, describe: 'with --play: more targets, played in order after it (a play queue)' })
    .option('first', { type: 'boolean', default: false, describe: 'when several different contents match, take the first answer instead of listing them' })
    .option('out', { type: 'string', describe: 'folder to save into (default: --downloads)' })
    .option('play', { type: 'boolean', default: false, describe: 'play in mpv while downloading (headless when there is no display)' })
    .option('ttl', { type: 'number', default: 4, describe: 'search TTL used to find holders' })
    .option('timeout', { type: 'number', default: 3, describe: 'seconds to wait for holders to answer at most (ends earlier once answers stop)' })
    .example('$0 fetch 3f5c...e1 --peer 127.0.0.1:9400', 'by content id')
    .example('$0 fetch 3f5c0a9b --peer 127.0.0.1:9400', 'by a content id prefix (8+ hex digits) when only one content has it')
    .example('$0 fetch "my clip.mp4" --peer 127.0.0.1:9400 --play', 'by name, and watch it while it downloads')
    .example('$0 fetch --play "Artist/Album/" --peer 127.0.0.1:9400', 'play an album folder (as browse shows it) in order, gapless')
}

/** Options the handler reads. */
export type FetchArgs = NodeArgs & { target: string; more?: string[]; out?: string; play: boolean; ttl: number; timeout: number; first: boolean }

/**
 * Exit 0 when saved (and verified) or already here, 2 when the target matches several different
 * contents (listed), 3 when no holder has it, 4 on a SHA-256 mismatch.
 */
export async function handler(a: FetchArgs, ctx: RunContext = {}): Promise<number> {
  const targets = [a.target, ...(a.more ?? [])]
  if (isQueue(targets)) {
    // A queue plays in its own gapless mpv (play-queue.ts): the one main.ts started is not used.
    if (ctx.player) dropEarlyPlayer(ctx.player)
    return playQueue({ ...a, targets })
  }
  const out = new Output(a.json)
  out.showInfo = a.verbose // status lines only with -v
  checkNodeArgs(a)
  // No peer given: the node running here and the peers remembered in the state (profile.ts).
  const profile = await openProfile(a.data, false, out)
  const remembered = !a.peer.length && !a.tracker && !a.mdns
  if (remembered) a.peer = rememberedPeers(profile)
  if (!a.peer.length && !a.tracker && !a.mdns) throw new UsageError('fetch needs at least one --peer H:P to join through (or --tracker H:P, or --mdns); none is remembered yet')
  // No mpv: say so before joining anyone (the download would be useless to a --play user).
  if (a.play && findMpv() === null) {
    const e = new MpvNotInstalledError()
    out.error(e.message, e.code)
    return EXIT.ERROR
  }
  // mpv takes 200-500 ms to start: main.ts started it first (early-player.ts), unless the flags
  // differ (the config file's player-args); it starts while the node starts, joins and searches.
  const playerArgs = splitPlayerArgs(a['player-args'])
  const early = a.play && ctx.player && ctx.player.playerArgs.join(' ') === playerArgs.join(' ') ? ctx.player : null
  if (ctx.player && !early) dropEarlyPlayer(ctx.player)
  const player = a.play ? (early?.player ?? new MpvPlayer({ playerArgs })) : null
  const playerReady = early?.ready ?? player?.start()
  playerReady?.catch(() => {})
  const node = makeNode(a, out, { stabilizeIntervalMs: 0, trackerRegister: false, announce: false, portMapping: false, ...(a.out ? { downloadsDir: a.out } : {}) }, profile)
  let removeSignals = (): void => {}
  let interrupted = false // Ctrl-C: the download's 'cancelled' error is no news then
  try {
    await node.start()
    removeSignals = onShutdown(async () => {
      interrupted = true
      out.info('interrupted: the partial download is kept; run the same fetch again to resume', 'warn')
      await player?.quit().catch(() => {})
      await node.stop()
    })
    // A content id from a given --peer: straight to it, no crawl (the search floods on from there).
    const direct = isContentId(a.target) && !remembered
    if ((await joinAll(node, a.peer, out, remembered, direct ? 1 : undefined, a.timeout * 1000)) === 0 && !a.tracker && !a.mdns) {
      out.error(`could not join any of ${a.peer.join(', ')}`, 'ERR_CONNECT')
      return EXIT.ERROR
    }
    await awaitDiscovery(node)
    const byCid = isContentId(a.target)
    const prefix = !byCid && isIdPrefix(a.target)
    const opts = { ttl: a.ttl, timeoutMs: a.timeout * 1000, untilQuietMs: QUIET_MS }
    const h = byCid ? node.search('', { ...opts, cid: a.target }) : node.search(prefix ? `cid:${a.target}` : a.target, opts)
    // A whole content id (or --first) takes the first fitting answer at once; a name or a prefix
    // waits for the answers, as two different contents may share it.
    const choices = await new Promise<SearchResult[]>((resolve) => {
      h.on('result', (r) => {
        if (r.contentId === a.target || (a.first && candidates([r], a.target).length)) resolve([r])
      })
      void h.finished.then((all) => resolve(distinctContents(candidates(all, a.target))))
    })
    if (choices.length > 1 && !a.first) {
      out.event('ambiguous', { target: a.target, choices: choices.map((c) => ({ name: c.name, size: c.size, contentId: c.contentId, holder: c.holder, ...(c.meta ? { meta: c.meta } : {}) })) })
      out.line(`${safeText(a.target)} matches ${choices.length} different contents; fetch one by its id (or add --first):`)
      for (const c of choices) out.line(`  ${shortId(c.contentId)}  ${safeText(c.name)}  ${formatBytes(c.size)}  ${out.color.dim(safeText(formatMeta(c.meta)))}`)
      return EXIT.USAGE
    }
    const found = choices[0]
    if (!found) {
      out.error(`no holder of ${a.target} answered within ${a.timeout} s`, 'ERR_NOT_FOUND')
      return EXIT.NOT_FOUND
    }
    // An album keeps its folder; the same content already there is used, not fetched again.
    const dir = path.join(a.out ? path.resolve(a.out) : node.downloadsDir, albumFolder(found.name))
    const have = (found.contentId && node.library.getByCid(found.contentId)?.path) || (await localCopy(dir, found))
    if (have) {
      out.event('have', { path: have, contentId: found.contentId, name: found.name })
      out.line(`already have ${safeText(have)} (content id ${shortId(found.contentId)}): not fetched again`)
      if (player && playerReady) {
        await playerReady
        await player.play(have)
        await new Promise((resolve) => player.once('end', resolve))
      }
      return EXIT.OK
    }
    // Every holder of the same content id joins the download (swarm), also those answering later.
    const sameContent = (x: SearchResult): boolean => !!found.contentId && x.contentId === found.contentId && x.holder !== found.holder
    const holders = h.results.filter(sameContent).map((x) => x.holder)
    const via = (): string | null => found.via ?? node.reach.via(found.holder) ?? (node.relay.via(found.holder) ? 'relay' : null)
    out.info(`fetching ${found.name} (${formatBytes(found.size)}) from ${[found.holder, ...holders].join(', ')}${via() ? ` (via ${via()})` : ''}`)
    out.event('fetching', { name: found.name, size: found.size, contentId: found.contentId, holder: found.holder, holders: [found.holder, ...holders], via: via() })
    const r = await fetchAndMaybePlay(node, found, out, {
      dir,
      play: a.play,
      playerArgs: splitPlayerArgs(a['player-args']),
      holders,
      ...(player && playerReady ? { player, playerReady } : {}),
      onDownload: (d) => h.on('result', (x) => sameContent(x) && d.addSource(parsePeerId(x.holder)))
    })
    if (found.contentId) noteFetched(profile, r.path) // the node owning the state shares it from its next start
    // How the holder was reached when it could not be dialled (docs/NETWORK.md): reversal, punch, relay.
    const reached = via()
    out.event('fetched', { path: r.path, sha256: r.sha256, size: r.size, ...(r.firstFrameMs !== undefined ? { firstFrameMs: r.firstFrameMs } : {}), ...(reached ? { via: reached } : {}) })
    out.line(
      `saved ${safeText(r.path)} (${formatBytes(r.size)}), ${found.contentId ? `content id ${r.sha256} verified` : `sha256 ${r.sha256} (legacy holder: nothing to verify against)`}${reached ? `, holder reached via ${reached}` : ''}`
    )
    return EXIT.OK
  } catch (err) {
    const e = err as Error & { code?: string }
    if (interrupted) return EXIT.INTERRUPTED
    if (e.code === 'ERR_NO_SOURCES') {
      out.error(`${e.message}; the partial download is kept: run the same fetch again to resume`, e.code)
      return EXIT.NOT_FOUND
    }
    out.error(e.message, e.code)
    return e.code === 'ERR_INTEGRITY' ? EXIT.INTEGRITY : EXIT.ERROR
  } finally {
    removeSignals()
    await player?.quit().catch(() => {})
    await node.stop()
  }
}

/** The command for main.ts. */
export const module: CommandModule<FetchArgs> = { command, describe, builder, handler }
