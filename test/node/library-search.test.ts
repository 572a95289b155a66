/**
 * Searching tags over the wire (issue 12): SRCH matches names and tags of real tagged music
 * (PROTOCOL.md §4.2.1), HITS carry the metadata (§4.3) and say when a holder cut its answer at
 * 100 results; the legacy QUER keeps its substring-of-name rule.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import path from 'node:path'
import { startNode, tempDir, AUDIO_DIR } from '../helpers/nodes.ts'
import { taggedCopy } from '../helpers/tagged-media.ts'
import { firstResult, SEARCH_BOUND_MS } from '../helpers/search.ts'

/** A share with a tagged two-track album and a file whose name is NFD-normalised. */
async function albumShare(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const dir = await tempDir(t, 'p2ptube-music')
  await taggedCopy(dir, 'Tacvba/Re/01.ogg', { title: 'La Ingrata', artist: 'Café Tacvba', album: 'Re', genre: 'Rock', date: '1994', tracknumber: '1' })
  await taggedCopy(dir, 'Tacvba/Re/02.ogg', { title: 'El Aparato', artist: 'Café Tacvba', album: 'Re', genre: 'Rock', date: '1994', tracknumber: '2' }, path.join(AUDIO_DIR, 'track13.ogg'))
  await fs.copyFile(path.join(AUDIO_DIR, 'track10.ogg'), path.join(dir, 'Cafe\u0301 con leche.ogg'))
  return dir
}

test('SRCH finds tracks by tag (artist, album, title, genre, year, kind, dur) and HITS carry the tags', async (t) => {
  const holder = await startNode(t, { shares: [await albumShare(t)] })
  await holder.library.metadata!.idle()
  const a = await startNode(t)
  await a.join(holder.id)
  const find = async (q: string): Promise<string[]> => (await a.search(q, { timeoutMs: 3000, untilQuietMs: 300 }).finished).map((r) => r.name).sort()
  t.deepEqual(await find('artist:tacvba'), ['Tacvba/Re/01.ogg', 'Tacvba/Re/02.ogg'])
  t.deepEqual(await find('ingrata'), ['Tacvba/Re/01.ogg'], 'a title word; the file name does not have it')
  t.deepEqual(await find('album:re genre:rock year:1994 aparato'), ['Tacvba/Re/02.ogg'])
  t.deepEqual(await find('cafe kind:audio dur<20s'), ['Tacvba/Re/01.ogg'], 'track12 is 9 s, track13 longer')
  t.deepEqual(await find('CAFÉ con'), ['Cafe\u0301 con leche.ogg'], 'NFC query, NFD name')
  const r = await firstResult(a.search('la ingrata', { timeoutMs: SEARCH_BOUND_MS }))
  t.like(r?.meta, { title: 'La Ingrata', artist: 'Café Tacvba', album: 'Re', genre: 'Rock', year: 1994, track: 1, codec: 'Vorbis I' })
  t.true((r?.meta?.durationMs ?? 0) > 8000)
  t.is(r?.holderTotal, undefined, 'not cut')
})

test('a holder with more matches than one HITS holds says how many it had (holderTotal)', async (t) => {
  const dir = await tempDir(t, 'p2ptube-many')
  const src = await fs.readFile(path.join(AUDIO_DIR, 'track12.ogg'))
  // 130 different contents (one trailing byte each): 130 content ids.
  for (let i = 0; i < 130; i++) await fs.writeFile(path.join(dir, `loop ${i}.ogg`), Buffer.concat([src, Buffer.from([i])]))
  const holder = await startNode(t, { shares: [dir], metadata: false })
  const a = await startNode(t)
  await a.join(holder.id)
  const rs = await a.search('loop', { timeoutMs: 5000, untilQuietMs: 500 }).finished
  t.is(rs.length, 100)
  t.true(rs.every((r) => r.holderTotal === 130))
})

test('legacy QUER keeps the substring-of-name rule (Library.search): NFC café does not find an NFD name, tags are not searched', async (t) => {
  const holder = await startNode(t, { shares: [await albumShare(t)] })
  await holder.library.metadata!.idle()
  t.deepEqual(holder.library.search('café'), [])
  t.deepEqual(holder.library.search('ingrata'), [])
  t.deepEqual(
    holder.library.search('Re/0').map((e) => e.name),
    ['Tacvba/Re/01.ogg', 'Tacvba/Re/02.ogg']
  )
})
