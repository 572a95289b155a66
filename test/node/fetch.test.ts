import test from 'ava'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { BIG_CLIP, contentIdFile, corruptInPlace, SMALL_CLIP, shareWith, spawnCli, startNode, tempDir, VIDEO_DIR } from '../helpers/nodes.ts'
import { firstResult, SEARCH_BOUND_MS } from '../helpers/search.ts'

test('fetch of real media: REPL data frames, partial file renamed only after the SHA-256 matches', async (t) => {
  const seeder = await startNode(t, { shares: [await shareWith(t, [[BIG_CLIP, 'dir with space/Clip ñ.mp4']])] })
  const viewer = await startNode(t)
  await viewer.join(seeder.id)
  const r = await firstResult(viewer.search('clip ñ', { timeoutMs: SEARCH_BOUND_MS }))
  t.truthy(r)
  const d = viewer.fetch(r!)
  let sawPart = false
  d.once('data', () => (sawPart = existsSync(d.partPath)))
  const res = await d.start()
  t.true(sawPart, 'data goes to the .p2ptube-part file first')
  t.false(existsSync(d.partPath))
  t.is(path.basename(res.path), 'Clip ñ.mp4')
  t.is(res.sha256, await contentIdFile(path.join(VIDEO_DIR, BIG_CLIP)))
  t.is(res.sha256, r!.contentId as string)
})

test('interrupted fetch (cancel) resumes from the chunk map and completes with the right SHA-256', async (t) => {
  const seeder = await startNode(t, { shares: [await shareWith(t, [BIG_CLIP])], rateLimit: 1_000_000 })
  const viewer = await startNode(t)
  await viewer.join(seeder.id)
  const r = await firstResult(viewer.search('12-19-53', { timeoutMs: SEARCH_BOUND_MS }))
  const first = viewer.fetch(r!)
  const running = first.start()
  await new Promise<void>((resolve) => first.on('progress', (p: { received: number }) => p.received >= 1_000_000 && resolve()))
  first.cancel()
  const err = await t.throwsAsync(running)
  t.is((err as Error & { code: string }).code, 'ERR_ABORTED')
  t.is(first.state, 'cancelled')
  await first.close()
  const kept = JSON.parse(await fs.readFile(first.partPath + '.json', 'utf8')) as { have: Array<[number, number]> }
  t.true(kept.have.length > 0)

  const second = viewer.fetch(r!)
  let resumedWith = 0
  second.once('resumed', (n: number) => (resumedWith = n))
  const res = await second.start()
  t.true(resumedWith >= 1_000_000, `resumed with ${resumedWith} bytes`)
  t.true(second.receivedThisRun <= (r!.size as number) - resumedWith, 'only the missing bytes were fetched again')
  t.is(res.sha256, r!.contentId as string)
})

test('a partial file that cannot be written (a /dev/full symlink planted in --out: not followed) fails the download at once with ERR_WRITE; the holder is not blamed', async (t) => {
  const seeder = await startNode(t, { shares: [await shareWith(t, [BIG_CLIP])] })
  const entry = seeder.library.entries()[0]!
  const downloads = await tempDir(t)
  // This used to stand for a full disk (every write to /dev/full fails with ENOSPC); since
  // issue #11 a symlink under the partial's name is not followed (O_NOFOLLOW: ELOOP).
  await fs.symlink('/dev/full', path.join(downloads, `${entry.name}.p2ptube-part`))
  const viewer = await startNode(t, { downloadsDir: downloads })
  await viewer.join(seeder.id)
  const d = viewer.fetch({ name: entry.name, contentId: entry.cid as string, holder: seeder.id, size: entry.size })
  const dropped: string[] = []
  d.on('source-dropped', (id: string) => dropped.push(id))
  const err = (await t.throwsAsync(d.start())) as Error & { code: string }
  t.is(err.code, 'ERR_WRITE')
  t.regex(err.message, /ELOOP/)
  t.is(d.state, 'failed')
  t.deepEqual(dropped, [], "a local write failure is not the holder's fault")
  t.true(d.receivedThisRun === 0, 'nothing counted as written')
  await d.close()
})

test('a holder whose file changed (same size, other bytes) fails the piece check: dropped and reported, ERR_INTEGRITY, no final file', async (t) => {
  const share = await shareWith(t, [SMALL_CLIP])
  const seeder = await startNode(t, { shares: [share] })
  const viewer = await startNode(t)
  await viewer.join(seeder.id)
  const r = await firstResult(viewer.search('12-19-19', { timeoutMs: SEARCH_BOUND_MS }))
  const file = path.join(share, SMALL_CLIP)
  const bytes = await fs.readFile(file)
  bytes[1000] = (bytes[1000] as number) ^ 0xff
  // Same size, inode and mtime: the seeder cannot see the change and serves it under the old
  // content id (one that sees it re-hashes instead: test/node/shared-files.test.ts).
  await corruptInPlace(file, bytes)
  const d = viewer.fetch(r!)
  const bad: Array<[string, number]> = []
  d.on('bad-piece', (id: string, piece: number) => bad.push([id, piece]))
  const err = await t.throwsAsync(d.start())
  t.is((err as Error & { code: string }).code, 'ERR_INTEGRITY')
  t.deepEqual(bad, [[seeder.id, 0]], 'the corrupt piece (byte 1000 is in piece 0) was caught before it was written')
  t.false(existsSync(path.join(viewer.downloadsDir, SMALL_CLIP)))
})

test('a downloader killed with SIGKILL resumes on the next `p2ptube fetch` (real processes)', async (t) => {
  const seeder = await startNode(t, { shares: [await shareWith(t, [BIG_CLIP])], rateLimit: 800_000 })
  const cid = seeder.library.get(BIG_CLIP)?.cid as string
  const out = await tempDir(t)
  const args = ['fetch', cid, '--peer', seeder.id, '--json', '--out', out, '--data', path.join(out, '.data')]
  const first = spawnCli(t, args)
  await first.next((e) => e.event === 'progress' && (e.received as number) >= 1_500_000)
  // Wait for the chunk map to be saved (at most once a second), then kill without warning.
  const state = path.join(out, BIG_CLIP + '.p2ptube-part.json')
  const saved = async (): Promise<number> => {
    try {
      return (JSON.parse(await fs.readFile(state, 'utf8')) as { have: Array<[number, number]> }).have[0]?.[1] ?? 0
    } catch {
      return 0
    }
  }
  await first.next((e) => e.event === 'progress' && (e.received as number) >= 2_000_000)
  first.child.kill('SIGKILL')
  await first.exited
  const had = await saved()
  t.true(had > 0, 'the chunk map survived the kill')

  const second = spawnCli(t, args)
  const resumed = await second.next((e) => e.event === 'log' && /resuming/.test(String(e.msg)))
  t.regex(String(resumed.msg), /already downloaded/)
  const done = await second.next('fetched')
  t.is(done.sha256, cid)
  t.is(await second.exited, 0)
})
