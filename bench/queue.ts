/**
 * Play queue benchmark (issue #12): the gap between two tracks of a queued album fetched from a
 * holder capped at 2 MB/s, on loopback, with real Ogg Vorbis tracks (drascula-music) and a real
 * headless mpv (`--gapless-audio=yes --prefetch-playlist=yes`). Goal: each next track fully
 * downloaded before the current one ends, and no gap.
 * For each transition it prints the margin (current track's end − next track's download end, ms;
 * > 0 = ready in time), the time from the current track's end-file to the next one's
 * playback-restart, and whether mpv waited for bytes (`paused-for-cache`) or went idle.
 * Two albums: three tracks cut to 3 s (stream copied, not re-encoded), and the hardest case for a
 * prefetch: a 4 s track followed by the largest track (2.5 MB, 182 s), stopped once it plays.
 * Usage: node --import=tsx bench/queue.ts [--runs 3]
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { P2PNode } from '../src/app/node.ts'
import { PlayQueue, type QueueEntry } from '../src/media/play-queue.ts'
import { MpvPlayer } from '../src/player/mpv-player.ts'

const AUDIO = '/usr/share/scummvm/drascula/audio'
const RATE = 2_000_000
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 3

interface Transition {
  marginMs: number
  switchMs: number
  gap: boolean
}

/** `tracks` (source file, seconds or null for the whole track) as Album/NN.ogg in a new folder. */
async function album(tmp: string, tracks: Array<[string, number | null]>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(tmp, 'album-'))
  await fs.mkdir(path.join(dir, 'Album'))
  for (const [i, [src, secs]] of tracks.entries()) {
    const out = path.join(dir, 'Album', `${String(i + 1).padStart(2, '0')}.ogg`)
    if (secs === null) await fs.copyFile(path.join(AUDIO, src), out)
    else execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', path.join(AUDIO, src), '-t', String(secs), '-c', 'copy', out])
  }
  return dir
}

/** Queue the album from a 2 MB/s holder; stop once the last track plays when `stopAtLast`. */
async function playAlbum(share: string, tmp: string, stopAtLast: boolean): Promise<Transition[]> {
  const seed = new P2PNode({ host: '127.0.0.1', shares: [share], rateLimit: RATE, dataDir: null, stabilizeIntervalMs: 0, maxPeers: 0 })
  const view = new P2PNode({ host: '127.0.0.1', dataDir: null, stabilizeIntervalMs: 0, maxPeers: 0, downloadsDir: await fs.mkdtemp(path.join(tmp, 'dl-')) })
  const player = new MpvPlayer({ headless: true, gapless: true, audioOnly: true })
  try {
    await Promise.all([seed.start(), view.start()])
    await seed.library.whenHashed()
    const files = seed.library.entries().sort((a, b) => a.name.localeCompare(b.name))
    const entries: QueueEntry[] = files.map((e) => ({ name: e.name, open: () => view.fetch({ name: e.name, contentId: e.cid ?? null, holder: seed.id, size: e.size }) }))
    const t0 = performance.now()
    const restarts: number[] = []
    player.on('playback-restart', () => restarts.push(performance.now() - t0))
    const waits: number[] = []
    player.on('paused-for-cache', (w) => w && waits.push(performance.now() - t0))
    const q = new PlayQueue(player, entries)
    if (stopAtLast) q.on('playing', (i) => i === entries.length - 1 && player.once('playback-restart', () => player.once('position', () => q.stop())))
    // The report's times count from run()'s start, which is t0 to well under 1 ms.
    const report = await q.run()
    const out: Transition[] = []
    for (let k = 1; k < report.tracks.length; k++) {
      const prev = report.tracks[k - 1]!
      const next = report.tracks[k]!
      if (prev.endedMs === null || next.downloadedMs === null || next.startedMs === null) throw new Error(`track ${k} did not play: ${JSON.stringify(report.tracks)}`)
      const restart = restarts.find((r) => r >= prev.endedMs! - 5) ?? NaN
      const waited = waits.some((w) => w >= (report.tracks[k - 1]!.startedMs ?? 0) && w <= (next.endedMs ?? Infinity))
      out.push({ marginMs: prev.endedMs - next.downloadedMs, switchMs: restart - prev.endedMs, gap: waited || report.gaps > 0 || next.startedMs - prev.endedMs > 100 })
    }
    return out
  } finally {
    await player.quit()
    await view.stop()
    await seed.stop()
  }
}

async function main(): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'p2ptube-bench-queue-'))
  try {
    const cases = [
      {
        label: '3 tracks of 3 s (~40 KB each)',
        tracks: [
          ['track12.ogg', 3],
          ['track28.ogg', 3],
          ['track17.ogg', 3]
        ] as Array<[string, number | null]>,
        stop: false
      },
      {
        label: '4 s track, then a 2.5 MB track',
        tracks: [
          ['track12.ogg', 4],
          ['track1.ogg', null]
        ] as Array<[string, number | null]>,
        stop: true
      }
    ]
    for (const c of cases) {
      const share = await album(tmp, c.tracks)
      const all: Transition[] = []
      for (let i = 0; i < runs; i++) all.push(...(await playAlbum(share, tmp, c.stop)))
      const margins = all.map((x) => x.marginMs)
      const switches = all.map((x) => x.switchMs)
      const gaps = all.filter((x) => x.gap).length
      console.log(
        `play queue, ${c.label}, holder at 2 MB/s: next track ready ${Math.min(...margins).toFixed(0)} ms (min) / ${med(margins).toFixed(0)} ms (median) before the current one ended; end-file to next playback-restart median ${med(switches).toFixed(0)} ms; ${gaps ? `GAP in ${gaps}` : 'no gap in'} ${all.length} transitions (target: margin > 0, no gap) [margins ${margins.map((m) => m.toFixed(0)).join(', ')}]`
      )
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true })
  }
}

const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

await main()
