/**
 * Tag search through the tracker (issue #12): nodes announce their files' tags (TANN `meta`,
 * PROTOCOL.md §7.3) and TFND answers the node's query language over names and tags (§7.7), with
 * the tags in each hit; bad tags are cleaned, tags count against the byte caps, and a query
 * stays within the work budget.
 */
import test from 'ava'
import { SwarmIndex } from '../../src/tracker/swarm-index.ts'
import { formatAnnounce, parseAnnounce } from '../../src/protocol/tracker-messages.ts'
import { announceDelta } from '../../src/discovery/announce-delta.ts'
import { startNode, tempDir } from '../helpers/nodes.ts'
import { taggedCopy } from '../helpers/tagged-media.ts'
import { find, startTracker, until } from './helpers.ts'

const cid = (i: number): string => i.toString(16).padStart(64, '0')

function tagged(): SwarmIndex {
  const ix = new SwarmIndex()
  ix.register('h', 1, 'h:1', 0)
  ix.register('h', 2, 'h:2', 0)
  const add = [
    { cid: cid(1), name: 'music/01.ogg', size: 10, kind: 'audio', meta: { title: 'Tiempo', artist: 'Café Tacvba', album: 'Re', genre: 'Rock', year: 1994, durationMs: 200_000 } },
    { cid: cid(2), name: 'music/02.ogg', size: 20, kind: 'audio', meta: { title: 'Ingrata', artist: 'Café Tacvba', album: 'Cuatro Caminos', genre: 'Rock', year: 2003, durationMs: 700_000 } },
    { cid: cid(3), name: 'music/03.ogg', size: 30, kind: 'audio', meta: { title: 'Rock Song', artist: 'Other', album: 'Re', genre: 'Jazz' } },
    { cid: cid(4), name: 'video/tacvba live.mp4', size: 40, kind: 'video' }
  ]
  ix.announce('h:1', { port: 1, base: 0, seq: 1, add: add.slice(0, 3), remove: [] }, 0)
  ix.announce('h:2', { port: 2, base: 0, seq: 1, add: add.slice(1), remove: [] }, 0)
  return ix
}

const names = (ix: SwarmIndex, q: string): string[] => ix.search(q, 10).map((h) => h.name)

test('TFND matches tags with field filters, accents folded, ranges and kinds; hits carry the tags', (t) => {
  const ix = tagged()
  t.deepEqual(names(ix, 'artist:cafe').sort(), ['music/01.ogg', 'music/02.ogg'], 'artist: without the accent finds Café')
  t.deepEqual(names(ix, 'artist:"café tacvba" album:cuatro'), ['music/02.ogg'])
  t.deepEqual(names(ix, 'genre:jazz'), ['music/03.ogg'])
  t.deepEqual(names(ix, 'album:re genre:rock'), ['music/01.ogg'])
  t.deepEqual(names(ix, 'caminos'), ['music/02.ogg'], 'album words are plain words too')
  t.deepEqual(names(ix, 'tacvba dur>10m'), ['music/02.ogg'])
  t.deepEqual(names(ix, 'tacvba year<2000'), ['music/01.ogg'])
  t.deepEqual(names(ix, 'tacvba kind:video'), ['video/tacvba live.mp4'])
  t.deepEqual(names(ix, 'tacvba -ingrata').sort(), ['music/01.ogg', 'video/tacvba live.mp4'])
  // Ranked as a node ranks: the exact title first.
  t.deepEqual(names(ix, 'rock')[0], 'music/03.ogg')
  const [hit] = ix.search('ingrata', 10)
  t.deepEqual(hit!.meta, { title: 'Ingrata', artist: 'Café Tacvba', album: 'Cuatro Caminos', genre: 'Rock', year: 2003, durationMs: 700_000 })
  t.is(hit!.holders, 2)
  // Filters alone (no token to pick candidates with) still answer, within the budget.
  t.deepEqual(
    ix.query('kind:audio year>2000', 10, 1000).hits.map((h) => h.name),
    ['music/02.ogg']
  )
})

test('announced tags are cleaned (control characters, over-long, bad numbers) and count against the byte caps', (t) => {
  const payload = JSON.stringify({
    port: 1,
    base: 0,
    seq: 1,
    add: [{ cid: cid(9), name: 'a.ogg', size: 1, kind: 'audio', meta: { artist: 'Evil\u001b[31m\u202eName', album: 'x'.repeat(5000), year: 1e9, track: 'seven', extra: 'dropped' } }]
  })
  const a = parseAnnounce(Buffer.from(payload), '127.0.0.1')
  const m = a.add[0]!.meta!
  t.is(m.artist, 'Evil [31m Name')
  t.is(Buffer.byteLength(m.album!), 256)
  t.false('year' in m || 'track' in m || 'extra' in m)
  // A host's byte cap counts the tags: names alone would fit, names and tags do not.
  const ix = new SwarmIndex({ nameBytesPerHost: 1000 })
  ix.register('h', 1, 'h:1', 0)
  const err = t.throws(() =>
    ix.announce('h:1', { ...a, add: [...a.add, { ...a.add[0]!, cid: cid(10), name: 'b.ogg' }, { ...a.add[0]!, cid: cid(11), name: 'c.ogg' }, { ...a.add[0]!, cid: cid(12), name: 'd.ogg' }] }, 0)
  )
  t.is((err as { code?: string }).code, 'ERR_TOO_MANY_FILES')
  ix.announce('h:1', a, 0)
  t.true(ix.hostUse('h').bytes > 256, 'the tags are counted')
})

test('tags read after a file was announced are announced again (the tracker finds them)', (t) => {
  const entry: { cid: string; name: string; size: number; kind: string; meta?: { artist: string } } = { cid: cid(1), name: 'a.ogg', size: 1, kind: 'audio' }
  const first = announceDelta([entry], new Map())
  const sent = new Map(first.add.map((f) => [f.cid, f]))
  t.deepEqual(announceDelta([entry], sent), { add: [], remove: [] })
  entry.meta = { artist: 'Late Tags' }
  const again = announceDelta([entry], sent)
  t.deepEqual(again.remove, [cid(1)])
  t.deepEqual(again.add[0]!.meta, { artist: 'Late Tags' })
  const ix = new SwarmIndex()
  ix.register('h', 1, 'h:1', 0)
  ix.announce('h:1', parseAnnounce(Buffer.from(formatAnnounce({ port: 1, base: 0, seq: 1, add: first.add, remove: [] })), '127.0.0.1'), 0)
  t.deepEqual(ix.search('artist:late', 10), [])
  ix.announce('h:1', { port: 1, base: 1, seq: 2, ...again }, 0)
  t.is(ix.search('artist:late', 10)[0]?.name, 'a.ogg')
})

test('a node finds files by their tags through the tracker alone (real tagged Ogg files), with the tags in each result', async (t) => {
  const tr = await startTracker(t)
  const share = await tempDir(t)
  await taggedCopy(share, 'Tacvba/Re/01 - a.ogg', { artist: 'Café Tacvba', album: 'Re', title: 'El Aparato', genre: 'Rock', date: '1994' })
  await taggedCopy(share, 'Tacvba/Re/02 - b.ogg', { artist: 'Café Tacvba', album: 'Re', title: 'La Ingrata', genre: 'Rock', date: '1994' })
  await taggedCopy(share, 'other/x.ogg', { artist: 'Somebody', album: 'Else', title: 'Other', genre: 'Jazz' })
  const holder = await startNode(t, { tracker: tr.address, shares: [share] })
  await until(() => tr.index.search('artist:tacvba', 10).length === 2, 30_000)
  const hits = await find(tr.address, 'artist:cafe genre:rock')
  t.deepEqual(hits.map((h) => h.meta?.title).sort(), ['El Aparato', 'La Ingrata'])
  t.deepEqual(hits[0]!.peers, [holder.id])
  // Through a node that knows no peer: only the tracker can answer.
  const asker = await startNode(t, { tracker: tr.address, trackerRegister: false })
  const h = asker.search('"la ingrata"', { timeoutMs: 2000 })
  const r = (await h.finished).find((x) => x.holder === holder.id)
  t.is(r?.name, 'Tacvba/Re/02 - b.ogg')
  t.is(r?.meta?.artist, 'Café Tacvba')
  t.is(r?.meta?.year, 1994)
})
