/**
 * Warm start of a library (issue #12: warm ready for search < 2 s for 10,000 files,
 * bench/library.ts): the files the content id cache knows are indexed from it at once, and the
 * walk behind re-validates them: a file changed since is hashed again, a deleted one is
 * forgotten ('removed'), a new one is added.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import path from 'node:path'
import { Library, type LibraryEntry } from '../../src/node/library.ts'
import { AUDIO_DIR, tempDir } from '../helpers/nodes.ts'

async function share(t: Parameters<typeof tempDir>[0]): Promise<{ dir: string; cache: string }> {
  const dir = await tempDir(t)
  await fs.mkdir(path.join(dir, 'album'))
  for (const n of ['track1.ogg', 'track2.ogg', 'track3.ogg']) await fs.copyFile(path.join(AUDIO_DIR, n), path.join(dir, 'album', n))
  return { dir, cache: path.join(await tempDir(t), 'content-ids.json') }
}

test('a warm start serves the cached files at once; the walk behind re-hashes a changed file, forgets a deleted one and adds a new one', async (t) => {
  const { dir, cache } = await share(t)
  const cold = new Library({ cacheFile: cache, metadata: false })
  await cold.addShare(dir)
  await cold.whenHashed()
  const before = new Map(cold.entries().map((e) => [e.name, e.cid]))
  await cold.stop()
  t.is(before.size, 3)

  await fs.rm(path.join(dir, 'album', 'track1.ogg'))
  await fs.appendFile(path.join(dir, 'album', 'track2.ogg'), Buffer.from('changed'))
  await fs.copyFile(path.join(AUDIO_DIR, 'track4.ogg'), path.join(dir, 'album', 'track4.ogg'))

  const warm = new Library({ cacheFile: cache, metadata: false })
  t.teardown(() => warm.stop())
  const removed: string[] = []
  warm.on('removed', (e: LibraryEntry) => removed.push(e.name))
  const first = await warm.addShare(dir, { background: true })
  // From the cache alone: the three files as they were, with their content ids, before any stat.
  t.deepEqual(first.map((e) => e.name).sort(), ['album/track1.ogg', 'album/track2.ogg', 'album/track3.ogg'])
  t.true(first.every((e) => e.cid === before.get(e.name)))
  t.is(warm.search('track3', 10, true).length, 1, 'searchable at once')

  await warm.whenHashed()
  t.deepEqual(removed, ['album/track1.ogg'])
  t.deepEqual(
    warm
      .entries()
      .map((e) => e.name)
      .sort(),
    ['album/track2.ogg', 'album/track3.ogg', 'album/track4.ogg']
  )
  const changed = warm.get('album/track2.ogg')!
  t.truthy(changed.cid)
  t.not(changed.cid, before.get('album/track2.ogg'), 'the changed file was hashed again')
  t.is(warm.getByCid(before.get('album/track2.ogg')!), undefined, 'its old content id is no longer served')
  t.is(warm.getByCid(before.get('album/track1.ogg')!), undefined)
  t.is(warm.get('album/track3.ogg')!.cid, before.get('album/track3.ogg'))
  t.is(typeof warm.get('album/track3.ogg')!.ino, 'number', 'the walk recorded the inode')
  t.truthy(warm.get('album/track4.ogg')!.cid)
})

test('without background, addShare on a warm cache returns after the walk, with new files and without deleted ones', async (t) => {
  const { dir, cache } = await share(t)
  const cold = new Library({ cacheFile: cache, metadata: false })
  await cold.addShare(dir)
  await cold.whenHashed()
  await cold.stop()
  await fs.rm(path.join(dir, 'album', 'track3.ogg'))
  await fs.copyFile(path.join(AUDIO_DIR, 'track5.ogg'), path.join(dir, 'album', 'track5.ogg'))
  const warm = new Library({ cacheFile: cache, metadata: false })
  t.teardown(() => warm.stop())
  await warm.addShare(dir)
  t.deepEqual(
    warm
      .entries()
      .map((e) => e.name)
      .sort(),
    ['album/track1.ogg', 'album/track2.ogg', 'album/track5.ogg']
  )
})
