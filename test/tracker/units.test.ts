/** Units: swarm index (search, holders, expiry, sampling), token index, store, limiter, codecs. */
import test from 'ava'
import fs from 'node:fs/promises'
import path from 'node:path'
import { tempDir } from '../helpers/nodes.ts'
import { formatAnnounce, formatHitList, parseAnnounce, parseHitList } from '../../src/protocol/tracker-messages.ts'
import { TokenBuckets } from '../../src/net/token-bucket.ts'
import { TrackerStore } from '../../src/tracker/store.ts'
import { SwarmIndex } from '../../src/tracker/swarm-index.ts'
import { tokenize } from '../../src/tracker/token-index.ts'

const cid = (i: number): string => i.toString(16).padStart(64, '0')
const f = (i: number, name: string) => ({ cid: cid(i), name, size: i, kind: 'video' })

function indexWith(): SwarmIndex {
  const ix = new SwarmIndex()
  for (const [id, files] of [
    ['h:1', [f(1, 'Holiday 2024/beach.mp4'), f(2, 'holiday-2023.mp4'), f(3, 'Lebiniou 12-19-53.mp4')]],
    ['h:2', [f(1, 'Holiday 2024/beach.mp4'), f(4, 'concert holidays.ogg')]],
    ['h:3', [f(1, 'Holiday 2024/beach.mp4')]]
  ] as const) {
    ix.register('h', Number(id.slice(2)), id, 1000)
    ix.announce(id, { port: 1, base: 0, seq: 1, add: [...files], remove: [] }, 1000)
  }
  return ix
}

test('search: every word as a substring, ranked as a node ranks (file name) plus whole-token matches, then holders', (t) => {
  const ix = indexWith()
  const r = ix.search('holiday', 10)
  t.deepEqual(
    r.map((x) => x.name),
    ['holiday-2023.mp4', 'Holiday 2024/beach.mp4', 'concert holidays.ogg']
  )
  t.is(r[1]!.holders, 3)
  t.deepEqual(r[1]!.peers, ['h:1', 'h:2', 'h:3'])
  t.deepEqual(
    ix.search('HOLIDAY beach', 10).map((x) => x.cid),
    [cid(1)]
  )
  t.deepEqual(
    ix.search('12-19', 10).map((x) => x.cid),
    [cid(3)],
    'a word spanning tokens still matches'
  )
  t.deepEqual(
    ix.search('biniou', 10).map((x) => x.cid),
    [cid(3)],
    'a substring inside a token matches'
  )
  t.deepEqual(ix.search('holiday nothing', 10), [])
  t.is(ix.search('mp4', 1).length, 1)
})

test('holders, removal and expiry keep the indexes clean', (t) => {
  const ix = indexWith()
  t.deepEqual(ix.holders(cid(1), 2)[0]!.peers.length, 2)
  t.is(ix.holders(cid(1), 50)[0]!.holders, 3)
  t.true(ix.remove('h:2'))
  t.deepEqual(ix.search('concert', 10), [])
  t.is(ix.files, 3)
  ix.touch('h:1', 5000)
  t.deepEqual(ix.expire(2000), ['h:3'])
  t.deepEqual([...ix.peers.keys()], ['h:1'])
  t.is(ix.holders(cid(1), 50)[0]!.holders, 1)
  ix.remove('h:1')
  t.is(ix.files, 0)
  t.is(ix.names, 0)
  t.deepEqual(ix.search('holiday', 10), [])
})

test('a rename is a remove and an add; re-registering forgets the old library', (t) => {
  const ix = indexWith()
  ix.announce('h:3', { port: 3, base: 1, seq: 2, add: [f(1, 'renamed.mp4')], remove: [cid(1)] }, 2000)
  t.deepEqual(ix.search('renamed', 10)[0]!.peers, ['h:3'])
  t.is(ix.search('beach', 10)[0]!.holders, 2)
  ix.register('h', 3, 'h:3', 3000)
  t.deepEqual(ix.search('renamed', 10), [])
  t.is(ix.peers.get('h:3')!.ver, 0)
})

test('sample excludes the asker and caps the count', (t) => {
  const ix = new SwarmIndex()
  for (let i = 1; i <= 100; i++) ix.register('h', i, `h:${i}`, 0)
  const s = ix.sample(50, 'h:7')
  t.is(s.length, 50)
  t.false(s.includes('h:7'))
  t.is(new Set(s).size, 50)
  t.deepEqual(new SwarmIndex().sample(5, undefined), [])
  t.is(ix.countHost('h'), 100)
})

test('tokenize splits on anything but letters and digits', (t) => {
  t.deepEqual(tokenize('Lebiniou 2021-06_10.MP4'), ['lebiniou', '2021', '06', '10', 'mp4'])
  t.deepEqual(tokenize('Été à Paris'), ['été', 'à', 'paris'])
})

test('limiter: burst, then the refill rate', (t) => {
  const l = new TokenBuckets(3, 2)
  t.true(l.take('a', 0))
  t.true(l.take('a', 0))
  t.true(l.take('a', 0))
  t.false(l.take('a', 0))
  t.is(l.waitMs('a', 0), 500)
  t.true(l.take('a', 500))
  t.true(l.take('b', 0))
  l.sweep(10_000)
  t.is(l.size, 0)
})

test('store: survives reopen, skips a torn journal line, compacts atomically', async (t) => {
  const dir = await tempDir(t)
  const s1 = new TrackerStore({ dir })
  await s1.open()
  s1.put('meta', 'identity', { id: 'abc' })
  s1.put('peers', 'x:1', { n: 1 })
  s1.put('peers', 'x:2', { n: 2 })
  s1.delete('peers', 'x:1')
  await s1.flush()
  // A crash: no close. Then a half-written line at the end of the journal.
  await fs.appendFile(path.join(dir, 'journal.ndjson'), '{"t":"peers","k":"x:3","v":')
  const s2 = new TrackerStore({ dir })
  await s2.open()
  t.deepEqual(s2.get('meta', 'identity'), { id: 'abc' })
  t.deepEqual([...s2.all('peers').keys()], ['x:2'])
  t.is(s2.skipped, 1)
  t.is(await fs.readFile(path.join(dir, 'journal.ndjson'), 'utf8'), '', 'open compacts into a fresh snapshot')
  s2.putSoft('peers', 'x:2', { n: 3 })
  await s2.close()
  const s3 = new TrackerStore({ dir, compactAfter: 2 })
  await s3.open()
  t.deepEqual(s3.get('peers', 'x:2'), { n: 3 })
  s3.put('peers', 'y', 1)
  s3.put('peers', 'z', 2)
  await s3.flush()
  t.is(await fs.readFile(path.join(dir, 'journal.ndjson'), 'utf8'), '', 'compacted after 2 records')
  t.deepEqual((await fs.readdir(dir)).sort(), ['journal.ndjson', 'snapshot.json'], 'no temp files left')
  await fs.writeFile(path.join(dir, 'snapshot.json'), '{broken')
  await t.throwsAsync(new TrackerStore({ dir }).open(), { message: /unreadable/ })
})

test('codecs: announce round trip; hit lists trimmed to the reply limit', (t) => {
  const a = { port: 9, base: 1, seq: 2, add: [f(1, 'a.mp4')], remove: [cid(2)] }
  t.deepEqual(parseAnnounce(Buffer.from(formatAnnounce(a)), '127.0.0.1'), a)
  t.deepEqual(parseAnnounce(Buffer.from(formatAnnounce({ ...a, seq: 1, add: [], remove: [] })), '127.0.0.1').add, [])
  const many = Array.from({ length: 100 }, (_, i) => ({ ...f(i, 'n'.repeat(1000)), holders: 1, peers: ['127.0.0.1:1'] }))
  const text = formatHitList(many)
  t.true(Buffer.byteLength(text) < 65536)
  t.true(parseHitList(Buffer.from(text), 'TFND reply').length > 10)
})
