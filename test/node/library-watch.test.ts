/**
 * Watching the shared folders (src/node/library-watch.ts; issue #11 "deleted files stay
 * advertised", #12 "a rescan is incremental"): with real files, a deleted file is forgotten, a new
 * one (also in a new folder) is indexed and hashed, an edited one hashed again, an unchanged one
 * never; a deleted copy does not hide another file with the same content; searches (flood, real
 * processes) and the tracker follow.
 */
import test from 'ava'
import { once } from 'node:events'
import fs from 'node:fs/promises'
import path from 'node:path'
import { Library, type LibraryEntry } from '../../src/node/library.ts'
import { BIG_CLIP, shareWith, SMALL_CLIP, spawnCli, startNode, tempDir, VIDEO_DIR } from '../helpers/nodes.ts'
import { find, startTracker } from '../tracker/helpers.ts'

/** Resolves with the first `event` of `lib` whose entry `pred` accepts. */
function entryEvent(lib: Library, event: 'hashed' | 'removed', pred: (e: LibraryEntry) => boolean): Promise<LibraryEntry> {
  return new Promise((resolve) => {
    const on = (e: LibraryEntry): void => {
      if (!pred(e)) return
      lib.off(event, on)
      resolve(e)
    }
    lib.on(event, on)
  })
}

async function watchedLibrary(t: import('ava').ExecutionContext, share: string): Promise<Library> {
  const lib = new Library({ metadata: false, watch: { debounceMs: 50 } })
  t.teardown(() => lib.stop())
  await lib.addShare(share)
  await lib.whenHashed()
  return lib
}

test('the folder watcher: a deleted file is forgotten, a new file and a new folder are indexed and hashed, an edited file is hashed again', async (t) => {
  const share = await shareWith(t, [
    [SMALL_CLIP, 'a.mp4'],
    [SMALL_CLIP, 'edit me.mp4']
  ])
  const lib = await watchedLibrary(t, share)
  t.true(lib.watcher!.watched >= 1)
  const a = lib.get('a.mp4')!
  const oldCid = a.cid!

  const removed = entryEvent(lib, 'removed', (e) => e.name === 'a.mp4')
  await fs.rm(path.join(share, 'a.mp4'))
  await removed
  t.is(lib.get('a.mp4'), undefined)
  t.is(lib.search('a.mp4').length, 0)
  t.is(lib.getByCid(oldCid)?.name, 'edit me.mp4', 'the other file with that content still answers for it')

  const added = entryEvent(lib, 'hashed', (e) => e.name === 'new/b.mp4')
  await fs.mkdir(path.join(share, 'new'))
  await fs.copyFile(path.join(VIDEO_DIR, BIG_CLIP), path.join(share, 'new', 'b.mp4'))
  const b = await added
  t.is(lib.getByCid(b.cid!), b)
  t.is(lib.search('b.mp4')[0], b)

  const edited = entryEvent(lib, 'hashed', (e) => e.name === 'edit me.mp4')
  await fs.appendFile(path.join(share, 'edit me.mp4'), Buffer.from('more bytes'))
  const e = await edited
  t.not(e.cid, oldCid)
  t.is(lib.getByCid(oldCid), undefined, 'no file has the old content any more')

  const folderGone = entryEvent(lib, 'removed', (x) => x.name === 'new/b.mp4')
  await fs.rm(path.join(share, 'new'), { recursive: true })
  await folderGone
  t.is(lib.size, 1)
})

test('a rescan hashes nothing that is unchanged (path, size, mtime, inode)', async (t) => {
  const share = await shareWith(t, [SMALL_CLIP, [SMALL_CLIP, 'copy.mp4']])
  const lib = await watchedLibrary(t, share)
  let hashed = 0
  lib.on('hashed', () => hashed++)
  await lib.watcher!.rescan()
  t.is(hashed, 0)
  t.is(lib.size, 2)
  // Same size and mtime, another inode (replaced by a copy): hashed again.
  const file = path.join(share, 'copy.mp4')
  const st = await fs.stat(file)
  await fs.rm(file)
  await fs.copyFile(path.join(VIDEO_DIR, SMALL_CLIP), file)
  await fs.utimes(file, st.atime, st.mtime)
  const again = entryEvent(lib, 'hashed', (e) => e.name === 'copy.mp4')
  await lib.watcher!.rescan()
  t.is((await again).size, st.size)
})

test('a deleted copy does not hide a shared file with the same content (the soak: a fetched copy deleted, then ERR_NOT_FOUND for the shared one)', async (t) => {
  const share = await shareWith(t, [[SMALL_CLIP, 'shared.mp4']])
  const lib = new Library({ metadata: false, watch: false })
  t.teardown(() => lib.stop())
  await lib.addShare(share)
  await lib.whenHashed()
  const shared = lib.get('shared.mp4')!
  const cid = shared.cid!
  // A finished download of the same content elsewhere joins the library (peers seed what they fetched).
  const copy = path.join(await tempDir(t), 'shared.mp4')
  await fs.copyFile(path.join(share, 'shared.mp4'), copy)
  const e = await lib.addVerified(copy, cid, null)
  t.truthy(e)
  await fs.rm(copy)
  await lib.recheck(e!)
  t.is(lib.getByCid(cid), shared, 'the shared file still answers for its content id')
  // And the other way round: the first entry gone, the copy takes over.
  await fs.copyFile(path.join(share, 'shared.mp4'), copy)
  const again = (await lib.addVerified(copy, cid, null))!
  await fs.rm(path.join(share, 'shared.mp4'))
  await lib.recheck(shared)
  t.is(lib.getByCid(cid), again)
})

test('a node process: a deleted shared file is no longer found by a searching process, a new one is (real processes, no sleeps)', async (t) => {
  const share = await shareWith(t, [[SMALL_CLIP, 'watched gone.mp4']])
  const node = spawnCli(t, ['node', '--host', '127.0.0.1', '--share', share, '--json', '--data', await tempDir(t), '--stabilize', '0'])
  const listening = await node.next('listening')
  const id = String(listening.id)
  await node.next((e) => e.event === 'indexed' && e.files === 1)
  const search = async (q: string): Promise<Array<Record<string, unknown>>> => {
    const p = spawnCli(t, ['search', q, '--peer', id, '--json', '--timeout', '2'])
    const code = await p.exited
    const results = p.events.filter((e) => e.event === 'result')
    t.is(code, results.length ? 0 : 3, p.stderr()) // 3: nothing found
    return results
  }
  t.is((await search('watched')).length, 1)

  await fs.rm(path.join(share, 'watched gone.mp4'))
  const unshared = await node.next('unshared')
  t.is(unshared.name, 'watched gone.mp4')
  t.is((await search('watched')).length, 0)

  await fs.copyFile(path.join(VIDEO_DIR, SMALL_CLIP), path.join(share, 'watched new.mp4'))
  // The 'indexed' event after the removal: the new file's hashing is done.
  await node.next((e) => e.event === 'indexed' && e.files === 1 && node.events.indexOf(e) > node.events.indexOf(unshared))
  const found = await search('watched')
  t.deepEqual(
    found.map((r) => r.name),
    ['watched new.mp4']
  )
})

test('a deleted shared file is dropped from the tracker at once (announce on removal), a new one announced', async (t) => {
  const tr = await startTracker(t)
  const share = await shareWith(t, [[SMALL_CLIP, 'tracked.mp4']])
  const node = await startNode(t, { tracker: tr.address, shares: [share] })
  await once(node.tracker!, 'synced')
  t.is((await find(tr.address, 'tracked')).length, 1)
  const removed = entryEvent(node.library, 'removed', (e) => e.name === 'tracked.mp4')
  await fs.rm(path.join(share, 'tracked.mp4'))
  await removed
  while ((await find(tr.address, 'tracked')).length) await once(node.tracker!, 'synced')
  t.pass('the tracker no longer lists it')
  const hashed = entryEvent(node.library, 'hashed', (e) => e.name === 'tracked again.mp4')
  await fs.copyFile(path.join(VIDEO_DIR, SMALL_CLIP), path.join(share, 'tracked again.mp4'))
  await hashed
  while (!(await find(tr.address, 'again')).length) await once(node.tracker!, 'synced')
  t.is((await find(tr.address, 'tracked'))[0]?.name, 'tracked again.mp4')
})

test('a shared folder deleted and made again: its files are forgotten, then indexed again by the next rescan', async (t) => {
  const parent = await tempDir(t)
  const share = path.join(parent, 'share')
  await fs.mkdir(share)
  await fs.copyFile(path.join(VIDEO_DIR, SMALL_CLIP), path.join(share, 'back.mp4'))
  const lib = await watchedLibrary(t, share)
  const gone = entryEvent(lib, 'removed', (e) => e.name === 'back.mp4')
  await fs.rm(share, { recursive: true })
  await gone
  t.is(lib.size, 0)
  t.is(lib.watcher!.unwatched, 1, 'the share folder stays known, unwatched')
  await fs.mkdir(share)
  await fs.copyFile(path.join(VIDEO_DIR, SMALL_CLIP), path.join(share, 'back.mp4'))
  const back = entryEvent(lib, 'hashed', (e) => e.name === 'back.mp4')
  await lib.watcher!.rescan() // what the periodic pass does (every 60 s while a folder is unwatched)
  await back
  t.is(lib.watcher!.unwatched, 0, 'watched again')
  const again = entryEvent(lib, 'removed', (e) => e.name === 'back.mp4')
  await fs.rm(path.join(share, 'back.mp4'))
  await again
  t.pass('events come again')
})
