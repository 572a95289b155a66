/**
 * `p2ptube fetch` with short ids, ambiguous names, a copy already here and album folders
 * (issue 12), against real nodes sharing real clips and tagged copies of the Debian music.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import path from 'node:path'
import { albumFolder, isIdPrefix } from '../../src/cli/fetch-choice.ts'
import { BIG_CLIP, SMALL_CLIP, VIDEO_DIR, shareWith, spawnCli, startNode, tempDir } from '../helpers/nodes.ts'
import { taggedCopy } from '../helpers/tagged-media.ts'

test('albumFolder keeps a name’s folders, made safe; isIdPrefix wants 8-63 hex digits', (t) => {
  t.is(albumFolder('Tacvba/Re/01.ogg'), path.join('Tacvba', 'Re'))
  t.is(albumFolder('clip.mp4'), '')
  t.is(albumFolder('../../etc/./.ssh/x\u0007y/f.ogg'), path.join('etc', 'xy'))
  t.true(isIdPrefix('0123abcd'))
  t.false(isIdPrefix('0123abc'))
  t.false(isIdPrefix('0123abcz'))
})

test('a name matching two different contents lists both and exits 2; --first takes one', async (t) => {
  const a = await startNode(t, { shares: [await shareWith(t, [[SMALL_CLIP, 'clip.mp4']])] })
  const b = await startNode(t, { shares: [await shareWith(t, [[BIG_CLIP, 'clip.mp4']])] })
  const dl = await tempDir(t, 'p2ptube-dl')
  const args = ['fetch', 'clip.mp4', '--peer', a.id, '--peer', b.id, '--downloads', dl, '--json', '--data', dl + '/.state']
  const amb = spawnCli(t, args)
  t.is(await amb.exited, 2, amb.stderr())
  const ev = amb.events.find((e) => e.event === 'ambiguous') as { choices: Array<{ contentId: string }> }
  t.deepEqual(ev.choices.map((c) => c.contentId).sort(), [a.library.get('clip.mp4')!.cid, b.library.get('clip.mp4')!.cid].sort())
  t.deepEqual(await fs.readdir(dl).then((f) => f.filter((x) => !x.startsWith('.'))), [], 'nothing fetched')
  const first = spawnCli(t, [...args, '--first'])
  t.is(await first.exited, 0, first.stderr())
  t.truthy(first.events.find((e) => e.event === 'fetched'))
})

test('a content id prefix of 8 hex digits fetches; fetching it again uses the copy here (no "clip (1).mp4")', async (t) => {
  const holder = await startNode(t, { shares: [await shareWith(t, [SMALL_CLIP])] })
  const cid = holder.library.get(SMALL_CLIP)!.cid!
  const dl = await tempDir(t, 'p2ptube-dl')
  const args = ['fetch', cid.slice(0, 8), '--peer', holder.id, '--downloads', dl, '--json', '--data', dl + '/.state']
  const one = spawnCli(t, args)
  t.is(await one.exited, 0, one.stderr())
  t.like(
    one.events.find((e) => e.event === 'fetching'),
    { contentId: cid }
  )
  const again = spawnCli(t, args)
  t.is(await again.exited, 0, again.stderr())
  t.like(
    again.events.find((e) => e.event === 'have'),
    { path: path.join(dl, SMALL_CLIP), contentId: cid }
  )
  t.is(
    again.events.find((e) => e.event === 'fetching'),
    undefined
  )
  t.deepEqual(
    (await fs.readdir(dl)).filter((x) => !x.startsWith('.')),
    [SMALL_CLIP]
  )
  const search = spawnCli(t, ['search', 'lebiniou', '--peer', holder.id, '--downloads', dl, '--json', '--data', dl + '/.state'])
  t.is(await search.exited, 0, search.stderr())
  t.like(
    search.events.find((e) => e.event === 'result'),
    { contentId: cid, have: true }
  )
})

test('a track fetched by name keeps its album folder below the downloads folder', async (t) => {
  const share = await tempDir(t, 'p2ptube-music')
  await taggedCopy(share, 'Tacvba/Re/01.ogg', { title: 'La Ingrata', artist: 'Café Tacvba', album: 'Re' })
  await fs.copyFile(path.join(VIDEO_DIR, SMALL_CLIP), path.join(share, 'other.mp4'))
  const holder = await startNode(t, { shares: [share] })
  const dl = await tempDir(t, 'p2ptube-dl')
  const p = spawnCli(t, ['fetch', 'Tacvba/Re/01.ogg', '--peer', holder.id, '--downloads', dl, '--json', '--data', dl + '/.state'])
  t.is(await p.exited, 0, p.stderr())
  t.like(
    p.events.find((e) => e.event === 'fetched'),
    { path: path.join(dl, 'Tacvba', 'Re', '01.ogg') }
  )
})
