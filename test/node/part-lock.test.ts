/**
 * Two fetches into one folder (issue #11 item 8): the partial file is locked across processes,
 * so a second `p2ptube fetch` of the same file into the same --out gets ERR_BUSY at once instead
 * of truncating and interleaving writes (a file reported as verified, or a raw ENOENT after
 * downloading everything); a lock left by a killed fetch is taken over on resume.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import path from 'node:path'
import { tryLock } from '../../src/node/file-lock.ts'
import { BIG_CLIP, contentIdFile, shareWith, spawnCli, startNode, tempDir } from '../helpers/nodes.ts'

test('two p2ptube fetch processes into one folder: the second gets ERR_BUSY, the first saves a verified file', async (t) => {
  // 400 kB/s: the 4.3 MB clip takes ~10 s, long enough for the second process to start meanwhile.
  const seeder = await startNode(t, { shares: [await shareWith(t, [BIG_CLIP])], rateLimit: 400_000 })
  const [e] = seeder.library.entries()
  const out = await tempDir(t)
  const first = spawnCli(t, ['fetch', e!.cid!, '--peer', seeder.id, '--out', out, '--json'])
  await first.next('progress')
  const second = spawnCli(t, ['fetch', e!.cid!, '--peer', seeder.id, '--out', out, '--json'])
  t.is(await second.exited, 1)
  const err = second.events.find((x) => x.event === 'error')
  t.is(err?.code, 'ERR_BUSY', JSON.stringify(second.events) + second.stderr())
  t.is(await first.exited, 0, first.stderr())
  const fetched = first.events.find((x) => x.event === 'fetched')
  t.is(fetched?.sha256, e!.cid)
  t.is(await contentIdFile(path.join(out, BIG_CLIP)), e!.cid as string, 'the file on disk is the verified one')
  t.deepEqual((await fs.readdir(out)).sort(), [BIG_CLIP], 'no partial, no lock, no second copy left')
})

test('a lock left by a process that died is taken over; a live holder keeps it', async (t) => {
  const dir = await tempDir(t)
  const lock = path.join(dir, 'x.p2ptube-part.lock')
  await fs.writeFile(lock, '2147483646') // no such pid
  const release = await tryLock(lock)
  t.is(typeof release, 'function')
  t.is(await fs.readFile(lock, 'utf8'), String(process.pid))
  const again = await tryLock(lock)
  t.deepEqual(again, { heldBy: process.pid })
  await (release as () => Promise<void>)()
  await t.throwsAsync(fs.stat(lock), { code: 'ENOENT' })
  t.deepEqual(
    (await fs.readdir(dir)).filter((f) => f !== 'x.p2ptube-part.lock'),
    [],
    'no temp file left'
  )
})
