/**
 * `p2ptube fetch --play` with several targets or an album folder (src/cli/play-queue.ts): real
 * processes, real headless mpv, real Ogg tracks (drascula-music cut to 2 s, stream copied).
 */
import test from 'ava'
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { AUDIO_DIR, spawnCli, tempDir } from '../helpers/nodes.ts'

const run = promisify(execFile)
const HEADLESS = { DISPLAY: '', WAYLAND_DISPLAY: '' }

test('fetch --play Album/ plays the folder in natural order (track1, track2, track10) and keeps the folder; several targets play in the order given', async (t) => {
  const share = await tempDir(t, 'p2ptube-share')
  const album = path.join(share, 'Band', 'Record')
  await fs.mkdir(album, { recursive: true })
  for (const [src, name] of [
    ['track12.ogg', 'track10.ogg'],
    ['track28.ogg', 'track2.ogg'],
    ['track17.ogg', 'track1.ogg']
  ]) {
    await run('ffmpeg', ['-v', 'error', '-y', '-i', path.join(AUDIO_DIR, src!), '-t', '2', '-c', 'copy', path.join(album, name!)])
  }
  const seeder = spawnCli(t, ['node', '--json', '--share', share, '--data', path.join(share, '.cache')])
  const listening = await seeder.next('listening')
  await seeder.next('indexed')
  const out = await tempDir(t)
  const queue = spawnCli(t, ['fetch', '--play', 'Record/', '--peer', String(listening.id), '--json', '--out', out], HEADLESS)
  const code = await queue.exited
  t.is(code, 0, queue.stderr())
  const tracks = queue.events.filter((e) => e.event === 'track').map((e) => path.basename(String(e.name)))
  t.deepEqual(tracks, ['track1.ogg', 'track2.ogg', 'track10.ogg'])
  const saved = queue.events.filter((e) => e.event === 'fetched').map((e) => String(e.path))
  t.is(saved.length, 3)
  for (const p of saved) t.is(path.dirname(p), path.join(out, 'Band', 'Record'), 'the album keeps its folder')
  t.like(
    queue.events.find((e) => e.event === 'queue-done'),
    { played: 3, tracks: 3 }
  )

  const two = spawnCli(t, ['fetch', '--play', 'track10.ogg', 'track1.ogg', '--peer', String(listening.id), '--json', '--out', await tempDir(t)], HEADLESS)
  t.is(await two.exited, 0, two.stderr())
  t.deepEqual(
    two.events.filter((e) => e.event === 'track').map((e) => path.basename(String(e.name))),
    ['track10.ogg', 'track1.ogg']
  )
})
