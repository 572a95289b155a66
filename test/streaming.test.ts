/**
 * Issue #3: swarm downloads with chunk integrity, seeking into bytes not yet downloaded, MP4s
 * with and without faststart, seeding what was fetched. Real nodes, real media, headless mpv.
 */
import test from 'ava'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { StreamServer } from '../src/media/stream-server.ts'
import { MpvPlayer } from '../src/player/mpv-player.ts'
import { PIECE_SIZE } from '../src/protocol/constants.ts'
import { BIG_CLIP, contentIdFile, corruptInPlace, shareWith, spawnCli, startNode, tempDir, VIDEO_DIR } from './helpers/nodes.ts'
import { firstResult, nResults, SEARCH_BOUND_MS } from './helpers/search.ts'

test('3 holders, one killed mid-way: the download completes from the others with the right SHA-256', async (t) => {
  const holders = []
  for (let i = 0; i < 3; i++) {
    const p = spawnCli(t, ['node', '--json', '--share', await shareWith(t, [BIG_CLIP]), '--rate-limit', '600000', '--data', await tempDir(t), '--stabilize', '0'])
    // The viewer below stays on loopback (host 127.0.0.1): it dials the holders there.
    holders.push({ proc: p, id: `127.0.0.1:${(await p.next('listening')).port}` })
    await p.next('indexed')
  }
  const viewer = await startNode(t)
  for (const h of holders) await viewer.join(h.id, 1)
  const results = await nResults(viewer.search('12-19-53', { timeoutMs: SEARCH_BOUND_MS }), 3)
  t.is(results.length, 3)
  const d = viewer.fetch(results[0]!)
  for (const r of results.slice(1)) d.addSource({ id: r.holder, host: '127.0.0.1', port: Number(r.holder.split(':')[1]) })
  const dropped: string[] = []
  d.on('source-dropped', (id: string) => dropped.push(id))
  const running = d.start()
  const victim = holders[1]!
  await new Promise<void>((resolve) => d.on('progress', (p: { received: number; size: number }) => p.received > p.size * 0.3 && resolve()))
  t.deepEqual(d.sources.length, 3, 'all three holders were in use')
  victim.proc.child.kill('SIGKILL')
  const res = await running
  t.is(res.sha256, results[0]!.contentId as string)
  t.is(res.sha256, await contentIdFile(path.join(VIDEO_DIR, BIG_CLIP)))
  t.true(dropped.includes(victim.id), `the killed holder was dropped (dropped: ${dropped.join(', ')})`)
  const used = d.swarm!.usable().filter((s) => s.received > 0)
  t.true(used.length >= 2, 'the surviving holders both delivered data')
})

test('a holder serving corrupted pieces is detected, dropped and reported; the file completes from the others', async (t) => {
  const good1 = await startNode(t, { shares: [await shareWith(t, [BIG_CLIP])], rateLimit: 1_500_000 })
  const good2 = await startNode(t, { shares: [await shareWith(t, [BIG_CLIP])], rateLimit: 1_500_000 })
  const badShare = await shareWith(t, [BIG_CLIP])
  const bad = await startNode(t, { shares: [badShare] })
  // Same size, one flipped byte in every piece: the bad holder still claims the old content id.
  const file = path.join(badShare, BIG_CLIP)
  const bytes = await fs.readFile(file)
  for (let i = 100; i < bytes.length; i += PIECE_SIZE) bytes[i] = (bytes[i] as number) ^ 0x5a
  await corruptInPlace(file, bytes)
  const viewer = await startNode(t)
  for (const n of [bad, good1, good2]) await viewer.join(n.id, 1)
  const cid = good1.library.get(BIG_CLIP)?.cid as string
  const d = viewer.fetch({ name: BIG_CLIP, contentId: cid, holder: bad.id, size: bytes.length })
  d.addSource(good1)
  d.addSource(good2)
  const badPieces: string[] = []
  d.on('bad-piece', (id: string) => badPieces.push(id))
  const droppedFor = new Map<string, string>()
  d.on('source-dropped', (id: string, why: string) => droppedFor.set(id, why))
  const res = await d.start()
  t.is(res.sha256, cid)
  t.true(badPieces.length >= 1 && badPieces.every((id) => id === bad.id), 'only the corrupt holder sent bad pieces')
  t.regex(droppedFor.get(bad.id) ?? '', /corrupt piece/)
  t.false(droppedFor.has(good1.id) || droppedFor.has(good2.id))
})

async function faststartCopy(t: import('ava').ExecutionContext): Promise<string> {
  const dir = await tempDir(t, 'p2ptube-faststart')
  const out = path.join(dir, 'faststart-12-19-53.mp4')
  execFileSync('ffmpeg', ['-v', 'error', '-i', path.join(VIDEO_DIR, BIG_CLIP), '-c', 'copy', '-movflags', '+faststart', out])
  return dir
}

for (const kind of ['non-faststart', 'faststart'] as const) {
  test(`${kind} MP4: first frame before the download ends, then a seek into bytes not yet downloaded plays`, async (t) => {
    const share = kind === 'faststart' ? await faststartCopy(t) : await shareWith(t, [BIG_CLIP])
    const seeder = await startNode(t, { shares: [share], rateLimit: 300_000 })
    const entry = seeder.library.entries()[0]!
    const viewer = await startNode(t)
    await viewer.join(seeder.id)
    const d = viewer.fetch({ name: entry.name, contentId: entry.cid as string, holder: seeder.id, size: entry.size })
    const player = new MpvPlayer({ headless: true })
    const streams = new StreamServer()
    t.teardown(async () => {
      d.cancel()
      await player.quit()
      await streams.stop()
      await d.close()
    })
    await Promise.all([player.start(), streams.start()])
    const firstFrame = new Promise<void>((resolve) => player.once('playback-restart', () => resolve()))
    const running = d.start()
    running.catch(() => {})
    await player.play(streams.add(d))
    await firstFrame
    t.is(d.state, 'downloading', 'first frame before the download ended')
    const target = 8 // of 10.6 s: its bytes are near the end of the media data
    const targetByte = Math.floor((entry.size * target) / 10.6)
    t.true(d.available(targetByte) === 0, 'the seek target is not downloaded yet')
    const t0 = performance.now()
    await player.seek(target, 'absolute')
    const ms = performance.now() - t0
    t.true((player.position ?? 0) >= target - 0.5, `position ${player.position} after the seek`)
    t.is(d.state, 'downloading', `the seek landed (${ms.toFixed(0)} ms) while the download was still running`)
    const res = await running
    t.is(res.sha256, entry.cid as string)
  })
}

test('two readers at once (an MP4 player reads the tail and the head): the one waiting at the tail is not starved', async (t) => {
  const seeder = await startNode(t, { shares: [await shareWith(t, [BIG_CLIP])], rateLimit: 500_000 })
  const entry = seeder.library.entries()[0]!
  const viewer = await startNode(t)
  await viewer.join(seeder.id)
  const d = viewer.fetch({ name: entry.name, contentId: entry.cid as string, holder: seeder.id, size: entry.size })
  t.teardown(async () => {
    d.cancel()
    await d.close()
  })
  const running = d.start()
  running.catch(() => {})
  await d.waitFor(0)
  // As the stream server does: wait, then prioritize. The tail first (a short run to the end),
  // then the head while that run is live: cutting it for the head would leave the tail reader
  // waiting until the in-order download reaches the end.
  const tailOffset = entry.size - 4 * PIECE_SIZE - 100
  const headOffset = 8 * PIECE_SIZE + 10
  const tail = d.waitFor(tailOffset)
  d.prioritize(tailOffset)
  const head = d.waitFor(headOffset)
  d.prioritize(headOffset)
  await tail
  const atTail = d.received
  await head
  t.true(atTail < entry.size / 2, `the tail arrived with ${atTail} of ${entry.size} bytes downloaded`)
  t.is((await running).sha256, entry.cid as string)
})

test('a finished download is shared: the next person fetches it from the viewer', async (t) => {
  const seeder = await startNode(t, { shares: [await shareWith(t, [BIG_CLIP])] })
  const viewer = await startNode(t)
  await viewer.join(seeder.id)
  const r = await firstResult(viewer.search('12-19-53', { timeoutMs: SEARCH_BOUND_MS }))
  await viewer.fetch(r!).start()
  await new Promise<void>((resolve) => (viewer.library.getByCid(r!.contentId as string) ? resolve() : viewer.library.once('added', () => resolve())))
  const next = await startNode(t)
  await next.join(viewer.id, 1)
  const fromViewer = await firstResult(next.search('', { cid: r!.contentId as string, timeoutMs: SEARCH_BOUND_MS }), (x) => x.holder === viewer.id)
  t.truthy(fromViewer, 'the viewer answers as a holder')
  await seeder.stop() // the original seeder leaves: only the viewer can serve it now
  const res = await next.fetch(fromViewer!).start()
  t.is(res.sha256, r!.contentId as string)
})
