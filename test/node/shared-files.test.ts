/**
 * Shared files and downloads on disk (issue #11, low items): a shared file swapped for a
 * same-size symlink after indexing is not served; a same-size edit is re-hashed instead of served
 * with its stale hash list; a deleted file stops being advertised; a symlink planted in the
 * downloads folder is not followed; a name longer than 255 UTF-8 bytes is saved, cut, with its
 * extension.
 */
import test from 'ava'
import { once } from 'node:events'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { LibraryEntry } from '../../src/node/library.ts'
import { encodeFrame } from '../../src/protocol/frame.ts'
import { contentIdOfBytes } from '../../src/protocol/merkle.ts'
import { rawExchange } from '../helpers/raw.ts'
import { SMALL_CLIP, shareWith, startNode, tempDir, VIDEO_DIR } from '../helpers/nodes.ts'
import { raw, startWeb } from '../web/helpers.ts'

const MARK = Buffer.from('SECRET-NOT-SHARED')

/** A file of `size` bytes made of MARK repeated: nothing of it may ever leave the node. */
async function secretFile(dir: string, size: number): Promise<string> {
  const file = path.join(dir, 'secret.txt')
  const buf = Buffer.alloc(size)
  for (let i = 0; i < size; i += MARK.length) MARK.copy(buf, i)
  await fs.writeFile(file, buf)
  return file
}

test('a shared file swapped for a same-size symlink after indexing is served by no route (FGET, RGET, web) and is forgotten', async (t) => {
  const share = await shareWith(t, [[SMALL_CLIP, 'a.mp4']])
  const seeder = await startNode(t, { shares: [share] })
  const e = seeder.library.get('a.mp4')!
  const secret = await secretFile(await tempDir(t), e.size)
  await fs.rm(path.join(share, 'a.mp4'))
  await fs.symlink(secret, path.join(share, 'a.mp4'))
  const removed = once(seeder.library, 'removed')

  const legacy = await rawExchange(seeder.port, encodeFrame('FGET', 'a.mp4'))
  t.false(legacy.bytes.includes(MARK), 'FGET sent none of the secret')
  t.true(legacy.frames.some((f) => f.type === 'ERRO'))
  const viewer = await startNode(t)
  const d = viewer.fetch({ name: 'a.mp4', holder: seeder.id, contentId: e.cid!, size: e.size })
  await t.throwsAsync(d.start())
  t.false((await fs.readFile(d.partPath).catch(() => Buffer.alloc(0))).includes(MARK), 'RGET sent none of it')
  const [gone] = (await removed) as [LibraryEntry]
  t.is(gone.name, 'a.mp4')
  t.is(seeder.library.get('a.mp4'), undefined)
  t.is(seeder.library.getByCid(e.cid!), undefined, 'no longer advertised')
  const web = await startWeb(t, seeder)
  const page = await raw(web, `/media/${e.cid!}`)
  t.is(page.status, 404)
  t.false(page.body.includes(MARK))
})

test('the web page does not serve a shared file swapped after indexing either', async (t) => {
  const share = await shareWith(t, [[SMALL_CLIP, 'b.mp4']])
  const seeder = await startNode(t, { shares: [share] })
  const e = seeder.library.get('b.mp4')!
  const web = await startWeb(t, seeder)
  const secret = await secretFile(await tempDir(t), e.size)
  await fs.rm(path.join(share, 'b.mp4'))
  await fs.symlink(secret, path.join(share, 'b.mp4'))
  const r = await raw(web, `/media/${e.cid!}`)
  t.not(r.status, 200)
  t.false(r.body.includes(MARK))
})

test('a same-size edit is not served with its stale hash list: refused, re-hashed, then served under its new content id', async (t) => {
  const share = await shareWith(t, [[SMALL_CLIP, 'c.mp4']])
  const seeder = await startNode(t, { shares: [share] })
  const e = seeder.library.get('c.mp4')!
  const oldCid = e.cid!
  const file = path.join(share, 'c.mp4')
  const bytes = await fs.readFile(file)
  bytes[1000] = (bytes[1000] as number) ^ 0xff
  await fs.writeFile(file, bytes)
  const later = new Date(Date.now() + 5000)
  await fs.utimes(file, later, later)
  const newCid = contentIdOfBytes(bytes)
  const hashed = once(seeder.library, 'hashed')
  const viewer = await startNode(t)
  const stale = viewer.fetch({ name: 'c.mp4', holder: seeder.id, contentId: oldCid, size: e.size })
  await t.throwsAsync(stale.start()) // the holder refuses the old content id (ERRO ERR_FILE_CHANGED)
  const [again] = (await hashed) as [LibraryEntry]
  t.is(again.cid, newCid)
  t.is(seeder.library.getByCid(oldCid), undefined)
  const fresh = viewer.fetch({ name: 'c.mp4', holder: seeder.id, contentId: newCid, size: bytes.length })
  const res = await fresh.start()
  t.is(res.sha256, newCid)
})

test('a deleted shared file stops being advertised: searches no longer find it', async (t) => {
  const share = await shareWith(t, [[SMALL_CLIP, 'gone soon.mp4']])
  const seeder = await startNode(t, { shares: [share] })
  const e = seeder.library.get('gone soon.mp4')!
  const viewer = await startNode(t)
  await viewer.join(seeder.id)
  t.is((await viewer.search('gone soon', { timeoutMs: 2000 }).finished).length, 1)
  await fs.rm(path.join(share, 'gone soon.mp4'))
  const removed = once(seeder.library, 'removed')
  await t.throwsAsync(viewer.fetch({ name: e.name, holder: seeder.id, contentId: e.cid!, size: e.size }).start())
  await removed
  t.is((await viewer.search('gone soon', { timeoutMs: 1000 }).finished).length, 0)
})

test('a symlink planted in the downloads folder as the partial file is not followed', async (t) => {
  const seeder = await startNode(t, { shares: [await shareWith(t, [[SMALL_CLIP, 'd.mp4']])] })
  const e = seeder.library.get('d.mp4')!
  const out = await tempDir(t)
  const victim = path.join(await tempDir(t), 'victim.txt')
  await fs.writeFile(victim, 'keep me')
  await fs.symlink(victim, path.join(out, 'd.mp4.p2ptube-part'))
  await fs.symlink(victim, path.join(out, 'd.mp4.p2ptube-part.json.tmp'))
  const viewer = await startNode(t, { downloadsDir: out })
  await t.throwsAsync(viewer.fetch({ name: 'd.mp4', holder: seeder.id, contentId: e.cid!, size: e.size }).start())
  t.is(await fs.readFile(victim, 'utf8'), 'keep me', 'the link target is untouched')
})

test('a name longer than 255 UTF-8 bytes downloads: cut to 200 bytes at a character boundary, the extension kept', async (t) => {
  const long = 'é'.repeat(125) + '.mp4' // 254 bytes: legal on disk; the .p2ptube-part name is not
  const seeder = await startNode(t, { shares: [await shareWith(t, [[SMALL_CLIP, long]])] })
  const e = seeder.library.get(long)!
  const viewer = await startNode(t)
  const res = await viewer.fetch({ name: long, holder: seeder.id, contentId: e.cid!, size: e.size }).start()
  const base = path.basename(res.path)
  t.true(Buffer.byteLength(base) <= 200, `${Buffer.byteLength(base)} bytes`)
  t.true(base.endsWith('.mp4'))
  t.true(base.startsWith('éé'))
  t.false(base.includes('\ufffd'))
  t.is(res.sha256, e.cid as string)
  t.true((await fs.readFile(res.path)).equals(await fs.readFile(path.join(VIDEO_DIR, SMALL_CLIP))))
})
