/**
 * The play queue (src/media/play-queue.ts) against a real headless mpv, real Ogg Vorbis tracks
 * (drascula-music, cut to 2 s with `ffmpeg -c copy`: not re-encoded) and a real holder node on
 * 127.0.0.1: the tracks play in order in one mpv playlist, each fetched while the one before plays.
 */
import test from 'ava'
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { promisify } from 'node:util'
import type { P2PNode } from '../../src/app/node.ts'
import { PlayQueue, type QueueEntry } from '../../src/media/play-queue.ts'
import { MpvPlayer } from '../../src/player/mpv-player.ts'
import { AUDIO_DIR, startNode, tempDir } from '../helpers/nodes.ts'

const run = promisify(execFile)

/** `n` real tracks cut to `seconds` each, as Album/<name>.ogg of a share folder. */
async function album(t: Parameters<typeof tempDir>[0], names: Array<[string, string]>, seconds = 2): Promise<string> {
  const dir = await tempDir(t, 'p2ptube-album')
  for (const [src, name] of names) {
    await run('ffmpeg', ['-v', 'error', '-y', '-i', path.join(AUDIO_DIR, src), '-t', String(seconds), '-c', 'copy', path.join(dir, name)])
  }
  return dir
}

/** Queue entries fetching each of `names` from `holder` into `viewer`. */
function entries(holder: P2PNode, viewer: P2PNode, names: string[]): QueueEntry[] {
  return names.map((name) => {
    const e = holder.library.entries().find((x) => x.name === name)!
    return { name, open: () => viewer.fetch({ name: e.name, holder: holder.id, contentId: e.cid ?? null, size: e.size }) }
  })
}

function newPlayer(t: Parameters<typeof tempDir>[0]): MpvPlayer {
  const p = new MpvPlayer({ headless: true, gapless: true, audioOnly: true })
  t.teardown(() => p.quit())
  return p
}

test('three queued tracks play in order in one mpv playlist, each fetched while the one before plays', async (t) => {
  const names = ['track2.ogg', 'track10.ogg', 'track1.ogg']
  const share = await album(t, [
    ['track12.ogg', 'track2.ogg'],
    ['track28.ogg', 'track10.ogg'],
    ['track17.ogg', 'track1.ogg']
  ])
  const holder = await startNode(t, { shares: [share] })
  const viewer = await startNode(t)
  const player = newPlayer(t)
  const paths: string[] = []
  const positions: number[] = []
  player.on('path', (p) => p && paths.push(decodeURIComponent(p.split('/').pop()!)))
  player.on('playlist-pos', (i) => positions.push(i))
  const q = new PlayQueue(player, entries(holder, viewer, names))
  const playing: number[] = []
  q.on('playing', (i) => playing.push(i))
  const report = await q.run()
  t.deepEqual(playing, [0, 1, 2])
  t.deepEqual(paths, names, 'mpv opened the three tracks in queue order')
  t.deepEqual(
    positions.filter((p) => p >= 0),
    [0, 1, 2]
  )
  for (const [i, tr] of report.tracks.entries()) {
    t.is(tr.error, undefined, `${tr.name} had no error`)
    t.is(tr.end?.reason, 'eof', `${tr.name} played to its end`)
    t.truthy(tr.result?.sha256, `${tr.name} was downloaded and verified`)
    if (i > 0) {
      // Prefetch: track i was appended while track i-1 was still playing.
      t.true(tr.appendedMs! < report.tracks[i - 1]!.endedMs!, `${tr.name} was queued before the track before it ended`)
      t.true(tr.startedMs! >= report.tracks[i - 1]!.startedMs!)
    }
  }
})

test('a track that cannot be fetched is skipped and the queue goes on', async (t) => {
  const share = await album(t, [
    ['track12.ogg', 'a.ogg'],
    ['track28.ogg', 'b.ogg']
  ])
  const holder = await startNode(t, { shares: [share] })
  const viewer = await startNode(t)
  const player = newPlayer(t)
  const [a, b] = entries(holder, viewer, ['a.ogg', 'b.ogg'])
  // A content id nobody holds: the holder answers with an error.
  const missing: QueueEntry = { name: 'missing.ogg', open: () => viewer.fetch({ name: 'missing.ogg', holder: holder.id, contentId: 'ab'.repeat(32), size: 1000 }) }
  const q = new PlayQueue(player, [a!, missing, b!])
  const failed = once(q, 'failed')
  const report = await q.run()
  const [index, err] = (await failed) as [number, Error]
  t.is(index, 1)
  t.truthy(err.message)
  t.is(report.tracks[0]!.end?.reason, 'eof')
  t.is(report.tracks[1]!.startedMs, null, 'the missing track never reached mpv')
  t.is(report.tracks[2]!.end?.reason, 'eof', 'the track after it played')
})

test('stop() ends the queue while a track plays; next() skips to the next track', async (t) => {
  const share = await album(
    t,
    [
      ['track1.ogg', 'long1.ogg'],
      ['track10.ogg', 'long2.ogg']
    ],
    60
  )
  const holder = await startNode(t, { shares: [share] })
  const viewer = await startNode(t)
  const player = newPlayer(t)
  const q = new PlayQueue(player, entries(holder, viewer, ['long1.ogg', 'long2.ogg']))
  const ran = q.run()
  await once(q, 'appended') // first track
  await once(q, 'appended') // second track
  const second = once(q, 'playing')
  const firstEnded = once(q, 'ended')
  await q.next()
  t.deepEqual(await second, [1])
  // mpv moves playlist-pos before it sends the skipped file's end-file: wait for that end.
  t.is(((await firstEnded) as [number])[0], 0)
  q.stop()
  const report = await ran
  t.is(report.tracks[0]!.end?.reason, 'stop', 'next() stopped the first track')
  t.is(report.tracks[1]!.endedMs, null, 'the second was still playing at stop()')
})
