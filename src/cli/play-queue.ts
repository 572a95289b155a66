/**
 * `p2ptube fetch --play A B C` and `p2ptube fetch --play Artist/Album/` (issue 12, play queue):
 * several targets, or every file below an album folder (as `browse` prints it, ending in '/'),
 * played in order in one mpv playlist, each downloaded while the one before plays
 * (src/media/play-queue.ts). Kept out of commands/fetch.ts, which only hands over to it.
 */
import path from 'node:path'
import type { P2PNode, SearchResult } from '../app/node.ts'
import { albumOrder, PlayQueue, type QueueEntry } from '../media/play-queue.ts'
import { findMpv, MpvNotInstalledError, MpvPlayer } from '../player/mpv-player.ts'
import { isContentId } from '../protocol/messages.ts'
import { UsageError } from '../protocol/errors.ts'
import { formatBytes } from '../text/format.ts'
import { safeText } from '../text/safe-text.ts'
import { awaitDiscovery, checkNodeArgs, joinAll, makeNode, onShutdown, QUIET_MS, splitPlayerArgs, type NodeArgs } from './common.ts'
import { albumFolder, candidates, distinctContents, isIdPrefix, localCopy, shortId } from './fetch-choice.ts'
import { EXIT, Output } from './output.ts'
import { noteFetched, openProfile, rememberedPeers } from './profile.ts'

/** What the queue reads of `fetch`'s arguments. */
export type QueueArgs = NodeArgs & { targets: string[]; out?: string; play: boolean; ttl: number; timeout: number; first: boolean }

/** True when `fetch` should hand over to {@link playQueue}: several targets, or an album folder. */
export function isQueue(targets: readonly string[]): boolean {
  return targets.length > 1 || (targets.length === 1 && targets[0]!.endsWith('/'))
}

/**
 * Resolve every target (in parallel), then play them in order; an album folder expands to its
 * files in album order (disc, track, natural name order).
 * Exit 0 when every track was fetched (or already here), 2 for an ambiguous target (listed; add
 * --first), 3 when a target has no holder (the others still play), 1 on other errors.
 * @throws UsageError without --play or without any peer to join.
 */
export async function playQueue(a: QueueArgs): Promise<number> {
  const out = new Output(a.json)
  checkNodeArgs(a)
  if (!a.play) throw new UsageError('several targets (or an album folder) are fetched as a play queue: add --play, or fetch them one by one')
  const profile = await openProfile(a.data, false, out)
  const remembered = !a.peer.length && !a.tracker && !a.mdns
  if (remembered) a.peer = rememberedPeers(profile)
  if (!a.peer.length && !a.tracker && !a.mdns) throw new UsageError('fetch needs at least one --peer H:P to join through (or --tracker H:P, or --mdns); none is remembered yet')
  if (findMpv() === null) {
    const e = new MpvNotInstalledError()
    out.error(e.message, e.code)
    return EXIT.ERROR
  }
  // mpv first: it starts while the node starts, joins and searches.
  const player = new MpvPlayer({ playerArgs: splitPlayerArgs(a['player-args']), gapless: true })
  const ready = player.start()
  ready.catch(() => {})
  const node = makeNode(a, out, { stabilizeIntervalMs: 0, trackerRegister: false, announce: false, portMapping: false, ...(a.out ? { downloadsDir: a.out } : {}) }, profile)
  let removeSignals = (): void => {}
  let queue: PlayQueue | null = null
  try {
    await node.start()
    removeSignals = onShutdown(async () => {
      out.info('interrupted: partial downloads are kept; run the same fetch again to resume')
      queue?.stop()
      await player.quit().catch(() => {})
      await node.stop()
    })
    if ((await joinAll(node, a.peer, out, remembered)) === 0 && !a.tracker && !a.mdns) {
      out.error(`could not join any of ${a.peer.join(', ')}`, 'ERR_CONNECT')
      return EXIT.ERROR
    }
    await awaitDiscovery(node)
    const resolved = await Promise.all(a.targets.map((t) => resolveTarget(node, t, a)))
    let exit: number = EXIT.OK
    const tracks: Array<{ r: SearchResult; holders: string[] }> = []
    for (const [i, res] of resolved.entries()) {
      const target = a.targets[i]!
      if (res.tracks.length === 0) {
        out.error(`no holder of ${target} answered within ${a.timeout} s`, 'ERR_NOT_FOUND')
        exit = EXIT.NOT_FOUND
      } else if (res.ambiguous) {
        out.event('ambiguous', { target, choices: res.tracks.map(({ r }) => ({ name: r.name, size: r.size, contentId: r.contentId, holder: r.holder })) })
        out.line(`${safeText(target)} matches ${res.tracks.length} different contents; give one by its id (or add --first):`)
        for (const { r } of res.tracks) out.line(`  ${shortId(r.contentId)}  ${safeText(r.name)}  ${formatBytes(r.size)}`)
        return EXIT.USAGE
      } else tracks.push(...res.tracks)
    }
    if (tracks.length === 0) return exit
    out.event('queue', { tracks: tracks.map(({ r }) => ({ name: r.name, size: r.size, contentId: r.contentId })) })
    out.info(`play queue: ${tracks.length} track${tracks.length === 1 ? '' : 's'}: ${tracks.map(({ r }) => r.name).join(', ')}`)
    const dirOf = (r: SearchResult): string => path.join(a.out ? path.resolve(a.out) : node.downloadsDir, albumFolder(r.name))
    const have = await Promise.all(tracks.map(async ({ r }) => (r.contentId && node.library.getByCid(r.contentId)?.path) || (await localCopy(dirOf(r), r))))
    const entries: QueueEntry[] = tracks.map(({ r, holders }, i) => ({
      name: r.name,
      open: () => have[i] || node.fetch({ ...r, holders, dir: dirOf(r) })
    }))
    const q = (queue = new PlayQueue(player, entries, { ready }))
    q.on('playing', (i) => {
      out.info(`mpv: playing ${i + 1}/${tracks.length} ${tracks[i]!.r.name}`)
      out.event('track', { index: i, name: tracks[i]!.r.name })
    })
    q.on('download', (i, d) => {
      const r = tracks[i]!.r
      out.event('fetching', { index: i, name: r.name, size: r.size, contentId: r.contentId, holder: r.holder })
      d.on('source-dropped', (id: string, reason: string) => out.info(`dropped holder ${id} from ${r.name}: ${reason}`, 'warn'))
    })
    q.on('downloaded', (i, result) => {
      const r = tracks[i]!.r
      if (!result) {
        out.event('have', { index: i, path: have[i], contentId: r.contentId, name: r.name })
        out.line(`already have ${safeText(have[i] || r.name)}: not fetched again`)
        return
      }
      if (r.contentId) noteFetched(profile, result.path)
      out.event('fetched', { index: i, path: result.path, sha256: result.sha256, size: result.size })
      out.line(`saved ${safeText(result.path)} (${formatBytes(result.size)})${r.contentId ? ', content id verified' : ''}`)
    })
    q.on('failed', (i, err) => {
      const e = err as Error & { code?: string }
      out.error(`${tracks[i]!.r.name}: ${e.message} (skipped)`, e.code)
      exit = e.code === 'ERR_INTEGRITY' ? EXIT.INTEGRITY : EXIT.ERROR
    })
    q.on('gap', (i) => out.info(`mpv waited for the bytes of ${tracks[i]!.r.name}`, 'warn'))
    const report = await q.run()
    out.event('queue-done', { played: report.tracks.filter((t) => t.end?.reason === 'eof').length, tracks: report.tracks.length, gaps: report.gaps })
    return exit
  } catch (err) {
    const e = err as Error & { code?: string }
    out.error(e.message, e.code)
    return e.code === 'ERR_INTEGRITY' ? EXIT.INTEGRITY : EXIT.ERROR
  } finally {
    removeSignals()
    await player.quit().catch(() => {})
    await node.stop()
  }
}

/** The tracks one target stands for: one content (id, prefix, name) or an album folder's files. */
async function resolveTarget(node: P2PNode, target: string, a: QueueArgs): Promise<{ tracks: Array<{ r: SearchResult; holders: string[] }>; ambiguous: boolean }> {
  const opts = { ttl: a.ttl, timeoutMs: a.timeout * 1000, untilQuietMs: QUIET_MS }
  const folder = target.endsWith('/') ? target.replace(/^\/+/, '') : null
  // A folder is searched by its last segment's words, then cut to the names below it.
  const query = folder ? (folder.split('/').filter(Boolean).pop() ?? '') : isIdPrefix(target) ? `cid:${target}` : target
  const h = isContentId(target) ? node.search('', { ...opts, cid: target }) : node.search(query, opts)
  const all = await new Promise<SearchResult[]>((resolve) => {
    h.on('result', (r) => {
      if (r.contentId === target) resolve([r])
    })
    void h.finished.then(resolve)
  })
  const withHolders = (r: SearchResult): { r: SearchResult; holders: string[] } => ({
    r,
    holders: h.results.filter((x) => !!r.contentId && x.contentId === r.contentId && x.holder !== r.holder).map((x) => x.holder)
  })
  if (folder) {
    const lower = folder.toLowerCase()
    const below = distinctContents(all.filter((r) => r.name.toLowerCase().startsWith(lower) || r.name.toLowerCase().includes(`/${lower}`)))
    return { tracks: albumOrder(below).map(withHolders), ambiguous: false }
  }
  const choices = distinctContents(candidates(all, target))
  if (choices.length > 1 && !a.first) return { tracks: choices.map(withHolders), ambiguous: true }
  return { tracks: choices.slice(0, 1).map(withHolders), ambiguous: false }
}
