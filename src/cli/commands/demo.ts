/**
 * `p2ptube demo`: two nodes on 127.0.0.1. A seeder (a real `p2ptube node --json` child process)
 * shares real media; a viewer joins it, searches, fetches the largest video in 2 KB chunks and
 * plays it in mpv while it downloads (headless when there is no display), narrating each step.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Argv } from 'yargs'
import type { CommandModule } from '../command.ts'
import { P2PNode } from '../../app/node.ts'
import { isHeadless } from '../../player/mpv-player.ts'
import { fetchAndMaybePlay, splitPlayerArgs } from '../common.ts'
import { formatBytes } from '../../text/format.ts'
import { safeText } from '../../text/safe-text.ts'
import { EXIT, Output } from '../output.ts'
import { sizeOption } from '../units.ts'

/** Options the handler reads. */
export type DemoArgs = { share: string[]; query: string; 'rate-limit': number; 'no-play': boolean; 'player-args'?: string; json: boolean }

/** Real media installed by ../shared/media/get-real-media.sh (Debian packages). */
export const DEFAULT_MEDIA = ['/usr/share/lebiniou/vue/media', '/usr/share/scummvm/drascula/audio']

export const command = 'demo'
export const describe = 'two local nodes: one shares real media, the other finds, fetches and plays a video while it downloads'

export function builder(y: Argv) {
  return y
    .option('share', { type: 'string', array: true, default: DEFAULT_MEDIA, describe: 'folders the seeder shares' })
    .option('query', { type: 'string', default: 'lebiniou mp4', describe: 'what the viewer searches for' })
    .option('rate-limit', sizeOption('rate-limit', "seeder's upload cap in bytes/s, so you can watch playback start before the download ends", 1_000_000))
    .option('no-play', { type: 'boolean', default: false, describe: 'fetch without playing' })
    .option('player-args', { type: 'string', describe: 'extra mpv flags' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON events' })
}

const BIN = fileURLToPath(new URL('../../../bin/p2ptube.js', import.meta.url))

export async function handler(a: DemoArgs): Promise<number> {
  const out = new Output(a.json)
  const say = (s: string): void => out.line(`${out.color.cyan('demo')} ${safeText(s)}`)
  const shares = a.share.filter((s) => existsSync(s))
  if (!shares.length) {
    out.error(`none of ${a.share.join(', ')} exists: run ../shared/media/get-real-media.sh (or pass --share DIR)`)
    return EXIT.NOT_FOUND
  }
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'p2ptube-demo-'))
  say(`starting the seeder: p2ptube node --json --no-port-mapping --share ${shares.join(' --share ')} --rate-limit ${a['rate-limit']}`)
  // Everything stays on this machine: no port mapping request goes to the real router.
  const seeder = spawn(
    process.execPath,
    [BIN, 'node', '--json', '--stdin', '--no-port-mapping', '--data', path.join(tmp, 'seeder'), '--rate-limit', String(a['rate-limit']), ...shares.flatMap((s) => ['--share', s])],
    {
      stdio: ['pipe', 'pipe', 'inherit']
    }
  )
  const lines = readline.createInterface({ input: seeder.stdout })
  const events: Array<Record<string, unknown>> = []
  const waiters: Array<(e: Record<string, unknown>) => boolean> = []
  lines.on('line', (l) => {
    let e: Record<string, unknown>
    try {
      e = JSON.parse(l) as Record<string, unknown>
    } catch {
      return
    }
    events.push(e)
    for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]?.(e)) waiters.splice(i, 1)
  })
  const next = (name: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const seen = events.find((e) => e.event === name)
      if (seen) return resolve(seen)
      waiters.push((e) => (e.event === name ? (resolve(e), true) : false))
      seeder.once('exit', (code) => reject(new Error(`seeder exited (${code}) before "${name}"`)))
    })
  const viewer = new P2PNode({ dataDir: null, downloadsDir: path.join(tmp, 'downloads'), stabilizeIntervalMs: 0 })
  try {
    const listening = await next('listening')
    say(`seeder is ${out.color.bold(String(listening.id))}, sharing ${listening.files} files; computing content ids (SHA-256)…`)
    await next('indexed')
    await viewer.start()
    say(`viewer is ${out.color.bold(viewer.id)}; joining the seeder (NAME → JOIN → LIST)`)
    await viewer.join(String(listening.id))
    say(
      `viewer's peers: ${viewer.peers
        .list()
        .map((p) => p.id)
        .join(', ')}`
    )
    say(`viewer searches "${a.query}" (flood search, query id, TTL 4)`)
    const h = viewer.search(a.query, { timeoutMs: 1000 })
    const results = await h.finished
    for (const r of results.slice(0, 5)) say(`  ${r.name}  ${formatBytes(r.size)}  from ${r.holder}  id ${r.contentId?.slice(0, 16)}…`)
    if (results.length > 5) say(`  … and ${results.length - 5} more`)
    const pick = results.filter((r) => r.kind === 'video').sort((x, y) => (y.size ?? 0) - (x.size ?? 0))[0] ?? results[0]
    if (!pick) {
      out.error(`no results for "${a.query}"`)
      return EXIT.NOT_FOUND
    }
    const play = !a['no-play']
    say(`fetching ${out.color.bold(pick.name)} (${formatBytes(pick.size)}) in 2 KB chunks${play ? `, playing in mpv${isHeadless() ? ' (headless: no display)' : ''} while it downloads` : ''}`)
    const report = await fetchAndMaybePlay(viewer, pick, out, { play, playerArgs: splitPlayerArgs(a['player-args']), stopPlayback: 'end' })
    say(`downloaded to ${report.path}`)
    say(`content id ${report.sha256} ${report.sha256 === pick.contentId ? out.color.green('matches the content id') : out.color.red('DOES NOT MATCH')}`)
    if (play) {
      say(
        report.firstFrameMs !== undefined
          ? `mpv showed its first frame ${report.firstFrameMs} ms after the fetch began, with ${formatBytes(report.receivedAtFirstFrame)} of ${formatBytes(pick.size)} downloaded`
          : 'mpv did not report a first frame'
      )
      say(
        report.positionBeforeDone !== undefined
          ? out.color.green(`playback was at ${report.positionBeforeDone.toFixed(2)} s before the download finished`)
          : out.color.yellow('playback did not advance before the download finished')
      )
    }
    out.event('demo-done', {
      path: report.path,
      sha256: report.sha256,
      verified: report.sha256 === pick.contentId,
      firstFrameMs: report.firstFrameMs ?? null,
      positionBeforeDone: report.positionBeforeDone ?? null
    })
    return report.sha256 === pick.contentId ? EXIT.OK : EXIT.INTEGRITY
  } finally {
    await viewer.stop()
    seeder.stdin.end() // the seeder's --json mode quits on stdin EOF, sending QUIT to its peers
    await new Promise((r) => (seeder.exitCode !== null ? r(null) : seeder.once('exit', r)))
    await fs.rm(tmp, { recursive: true, force: true })
  }
}

/** The command for main.ts. */
export const module: CommandModule<DemoArgs> = { command, describe, builder, handler }
