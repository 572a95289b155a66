/**
 * End to end with real processes, real media and real (headless) mpv: the main path.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import path from 'node:path'
import { BIG_CLIP, SMALL_CLIP, contentIdFile, shareWith, spawnCli, tempDir, VIDEO_DIR } from './helpers/nodes.ts'

const HEADLESS = { DISPLAY: '', WAYLAND_DISPLAY: '' }

async function mpvOf(pid: number): Promise<string[]> {
  const found: string[] = []
  for (const p of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue
    const cmd = await fs.readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')
    if (cmd.startsWith('mpv') && cmd.includes(`p2ptube-mpv-${pid}-`)) found.push(p)
  }
  return found
}

test('fetch --play: a real video found by content id, played in headless mpv before the download ends, SHA-256 checked, no mpv left', async (t) => {
  const share = await shareWith(t, [BIG_CLIP, SMALL_CLIP])
  const seeder = spawnCli(t, ['node', '--json', '--share', share, '--rate-limit', '250000', '--data', path.join(share, '.cache')])
  const listening = await seeder.next('listening')
  await seeder.next('indexed')
  const cid = await contentIdFile(path.join(VIDEO_DIR, BIG_CLIP))
  const out = await tempDir(t)
  const fetcher = spawnCli(t, ['fetch', cid, '--peer', String(listening.id), '--play', '--json', '--out', out, '--data', path.join(out, '.cache')], HEADLESS)
  const playing = await fetcher.next('playing')
  t.true((playing.received as number) < (playing.size as number), `first frame with ${playing.received} of ${playing.size} bytes`)
  const pos = await fetcher.next('position')
  t.true((pos.seconds as number) > 0)
  t.true(pos.downloading as boolean, 'mpv position > 0 while the download was still running')
  const done = await fetcher.next('fetched')
  t.true(fetcher.events.indexOf(pos) < fetcher.events.indexOf(done))
  t.is(done.sha256, cid)
  t.is(await contentIdFile(String(done.path)), cid)
  t.is(await fetcher.exited, 0)
  t.deepEqual(await mpvOf(fetcher.child.pid as number), [], 'no mpv survives the fetch')
})

test('search --json prints name, size, contentId, holder; a node scripted over stdin shares, searches, fetches and quits', async (t) => {
  const seeder = spawnCli(t, ['node', '--json', '--data', await tempDir(t), '--maxpeers', '0'])
  const { id } = (await seeder.next('listening')) as { id: string }
  seeder.send({ cmd: 'share', path: await shareWith(t, [[SMALL_CLIP, 'My Holiday Clip.mp4']]), id: 1 })
  t.is((await seeder.next('shared')).added, 1)
  await seeder.next('indexed')

  const search = spawnCli(t, ['search', 'holiday', 'clip', '--peer', id, '--json', '--timeout', '1'])
  const r = await search.next('result')
  t.is(r.name, 'My Holiday Clip.mp4')
  t.is(r.size, (await fs.stat(path.join(VIDEO_DIR, SMALL_CLIP))).size)
  t.is(r.contentId, await contentIdFile(path.join(VIDEO_DIR, SMALL_CLIP)))
  t.is(r.holder, id)
  t.is(await search.exited, 0)

  const viewer = spawnCli(t, ['node', '--json', '--data', await tempDir(t), '--peer', id, '--downloads', await tempDir(t)])
  await viewer.next('listening')
  await viewer.next((e) => e.event === 'peer-added' && e.peer === id)
  viewer.send({ cmd: 'peers', id: 'p' })
  t.deepEqual(
    ((await viewer.next('peers')).peers as Array<{ peer: string }>).map((p) => p.peer),
    [id]
  )
  viewer.send({ cmd: 'search', q: 'HOLIDAY', id: 's' })
  const hit = await viewer.next('result')
  t.is(hit.name, 'My Holiday Clip.mp4')
  await viewer.next('search-done')
  viewer.send({ cmd: 'fetch', contentId: hit.contentId, holder: hit.holder, name: hit.name, id: 'f' })
  const fetched = await viewer.next('fetched')
  t.is(fetched.sha256, hit.contentId)
  viewer.send({ cmd: 'quit' })
  t.is(await viewer.exited, 0)
  // The viewer sent QUIT on its way out: the seeder dropped it.
  const removed = await seeder.next('peer-removed')
  t.is(removed.reason, 'quit')
})

test('CLI: bad usage exits 2 with a clear message; nothing found exits 3; --help explains', async (t) => {
  const noPeer = spawnCli(t, ['search', 'x'])
  t.is(await noPeer.exited, 2)
  t.regex(noPeer.stderr(), /needs at least one --peer/)
  const badPort = spawnCli(t, ['node', '--port', '70000'])
  t.is(await badPort.exited, 2)
  t.regex(badPort.stderr(), /--port must be 0\.\.65535/)
  const seeder = spawnCli(t, ['node', '--json', '--data', await tempDir(t)])
  const { id } = (await seeder.next('listening')) as { id: string }
  const none = spawnCli(t, ['search', 'nothing-like-this', '--peer', id, '--timeout', '0.5', '--json', '--data', await tempDir(t)])
  t.is(await none.exited, 3)
  t.like(await none.next('done'), { results: 0 })
  const help = spawnCli(t, ['fetch', '--help'])
  t.is(await help.exited, 0)
  t.regex(help.events.map((e) => String(e.text)).join('\n'), /--play/)
})
