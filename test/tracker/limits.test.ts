/**
 * One client must not take the tracker down (issue #11 item 3): names indexed per host address
 * and in all are capped, a search's work is bounded whatever the query, searches are rate
 * limited per host address. (A session that pipelines and never reads is paused, then
 * disconnected: test/net/server-session.test.ts.)
 */
import test from 'ava'
import { MAX_QUERY_WORDS, SEARCH_BURST, SEARCH_WORK_BUDGET, TRACKER_NAMES_PER_HOST } from '../../src/protocol/constants.ts'
import { parseHitList } from '../../src/protocol/tracker-messages.ts'
import { SwarmIndex } from '../../src/tracker/swarm-index.ts'
import { TrackerSession, type SessionReply } from '../../src/tracker/session.ts'
import { ask, startTracker } from './helpers.ts'

const cid = (i: number): string => i.toString(16).padStart(64, '0')

async function session(t: import('ava').ExecutionContext, port: number, localAddress?: string): Promise<TrackerSession> {
  const s = new TrackerSession({ host: '127.0.0.1', port }, 5000, localAddress)
  t.teardown(() => s.close())
  await s.open()
  return s
}

test('one address announcing 1 M names is refused at the per-host cap with ERR_TOO_MANY_FILES; RSS stays bounded; other hosts are served', async (t) => {
  const tr = await startTracker(t, { announceBurst: 1e9, announceRefillPerS: 1e9, announceIntervalMs: 600_000 })
  let s = await session(t, tr.port)
  const PEERS = 64
  for (let p = 1; p <= PEERS; p++) t.is((await s.request('TREG', JSON.stringify({ port: p }))).type, 'REPL')
  const ver = new Array<number>(PEERS + 1).fill(0)
  const rss0 = process.memoryUsage.rss()
  let sent = 0
  let accepted = 0
  let dropped = 0
  const refusals = new Map<string, number>()
  let firstRefusal = ''
  // 5,000 announces of 200 fresh names each, 64 peers in turn, 32 in flight. A session is
  // closed after 8 refusals (its strikes): the sender opens another, as an attacker would.
  for (let batch = 0; sent < 1_000_000; batch++) {
    const replies: Array<Promise<SessionReply & { p: number }>> = []
    for (let k = 0; k < 32 && sent < 1_000_000; k++, sent += 200) {
      const p = ((batch * 32 + k) % PEERS) + 1
      const add = Array.from({ length: 200 }, (_, i) => ({ cid: cid(sent + i), name: `attack name ${sent + i} padding-padding`, size: 1, kind: 'video' }))
      replies.push(s.request('TANN', JSON.stringify({ port: p, base: ver[p], seq: ver[p]! + 1, add })).then((r) => Object.assign(r, { p })))
    }
    for (const r of await Promise.allSettled(replies)) {
      if (r.status === 'rejected') dropped++
      else if (r.value.type === 'REPL' && r.value.text.startsWith('{"ok":true')) {
        accepted++
        ver[r.value.p]!++
      } else {
        const code = r.value.text.split(':')[0]!
        refusals.set(code, (refusals.get(code) ?? 0) + 1)
        firstRefusal ||= r.value.text
      }
    }
    if (dropped && s.inFlight === 0) s = await session(t, tr.port)
    // Today's code accepted all of it (1.9 GB): stop early instead of eating the machine.
    if (tr.index.heldNames > TRACKER_NAMES_PER_HOST) break
  }
  const grown = process.memoryUsage.rss() - rss0
  t.log(
    `accepted ${accepted} announces (${tr.index.heldNames} names), refused ${[...refusals].map(([c, n]) => `${n} ${c}`).join(', ')}, ${dropped} dropped with their session; first: ${firstRefusal}; RSS +${Math.round(grown / 1e6)} MB`
  )
  t.is(tr.index.heldNames, TRACKER_NAMES_PER_HOST, 'exactly the per-host cap is indexed')
  t.is(accepted, TRACKER_NAMES_PER_HOST / 200)
  t.deepEqual([...refusals.keys()], ['ERR_TOO_MANY_FILES'], 'every refusal has the clear code')
  t.is(refusals.get('ERR_TOO_MANY_FILES')! + dropped, 5000 - accepted, 'every later announce is refused')
  t.regex(firstRefusal, /^ERR_TOO_MANY_FILES: Announce: host 127\.0\.0\.1 would have 100200 names indexed, at most 100000 per host$/)
  t.true(grown < 600e6, `RSS grew ${grown} bytes`)
  // Another host still announces and finds; the capped host still searches.
  const other = await session(t, tr.port, '127.0.0.2')
  t.is((await other.request('TREG', JSON.stringify({ port: 9 }))).type, 'REPL')
  const ok = await other.request('TANN', JSON.stringify({ port: 9, base: 0, seq: 1, add: [{ cid: cid(9e6), name: 'holiday beach.mp4', size: 5, kind: 'video' }] }))
  t.is(ok.type, 'REPL', ok.text)
  const found = await s.request('TFND', JSON.stringify({ q: 'holiday' }))
  t.deepEqual(
    parseHitList(Buffer.from(found.text), 'TFND').map((h) => h.name),
    ['holiday beach.mp4']
  )
})

test('the index caps names and name bytes per host and in all (nothing of a refused announce is applied)', (t) => {
  const ix = new SwarmIndex({ namesPerHost: 0, nameBytesPerHost: 1000, names: 5, nameBytes: 0 })
  ix.register('a', 1, 'a:1', 0)
  ix.register('b', 1, 'b:1', 0)
  const files = (from: number, n: number, len = 10) => Array.from({ length: n }, (_, i) => ({ cid: cid(from + i), name: 'x'.repeat(len - 1) + String.fromCharCode(97 + i), size: 1, kind: 'video' }))
  t.deepEqual(ix.announce('a:1', { port: 1, base: 0, seq: 1, add: files(0, 3), remove: [] }, 0), { ok: true, seq: 1 })
  const full = t.throws(() => ix.announce('b:1', { port: 1, base: 0, seq: 1, add: files(10, 3), remove: [] }, 0))
  t.is((full as { code?: string }).code, 'ERR_INDEX_FULL')
  t.is(ix.heldNames, 3, 'nothing of the refused announce was applied')
  // A rename or a remove never grows the index: always allowed.
  t.deepEqual(ix.announce('a:1', { port: 1, base: 1, seq: 2, add: [], remove: [cid(0)] }, 0), { ok: true, seq: 2 })
  t.deepEqual(ix.announce('b:1', { port: 1, base: 0, seq: 1, add: files(10, 3), remove: [] }, 0), { ok: true, seq: 1 })
  t.is(ix.heldNames, 5)
  // A full resend (base 0) replaces what the peer held: counted as the difference.
  t.deepEqual(ix.announce('b:1', { port: 1, base: 0, seq: 1, add: files(20, 3), remove: [] }, 0), { ok: true, seq: 1 })
  const bytes = t.throws(() => ix.announce('a:1', { port: 1, base: 2, seq: 3, add: [{ cid: cid(99), name: 'y'.repeat(1000), size: 1, kind: 'video' }], remove: [cid(1)] }, 0))
  t.regex((bytes as Error).message, /bytes of names indexed, at most 1000 per host/)
  t.deepEqual(ix.hostUse('a'), { names: 2, bytes: 20 })
  ix.remove('a:1')
  t.deepEqual(ix.hostUse('a'), { names: 0, bytes: 0 })
  t.is(ix.heldNames, 3)
  t.is(ix.heldNameBytes, 30)
})

function bigIndex(n: number): SwarmIndex {
  const ix = new SwarmIndex({ namesPerHost: 0, names: 0 })
  const letters = 'abcdefghijklmnopqrstuvwxyz'
  // Names of many distinct short tokens: a large vocabulary where every letter is common.
  const word = (i: number): string => letters[i % 26]! + letters[Math.floor(i / 26) % 26]! + letters[Math.floor(i / 676) % 26]! + (i % 97)
  for (let p = 0; p < n / 100; p++) {
    const id = `h:${p + 1}`
    ix.register('h', p + 1, id, 0)
    for (let b = 0; b < 100; b += 100) {
      const add = Array.from({ length: 100 }, (_, i) => {
        const k = p * 100 + i
        return { cid: cid(k), name: `${word(k)} ${word(k * 7 + 3)} ${word(k * 13 + 5)}.mp4`, size: k, kind: 'video' }
      })
      ix.announce(id, { port: p + 1, base: 0, seq: 1, add, remove: [] }, 0)
    }
  }
  return ix
}

test('a crafted query (a hundred short words) costs at most the work budget; ordinary queries stay complete', (t) => {
  const ix = bigIndex(100_000)
  const hundred = Array.from({ length: 100 }, () => 'a').join(' ')
  const r1 = ix.query(hundred, 100)
  t.log(`"a" x100: work ${r1.work}, partial ${r1.partial}, ${r1.hits.length} hits`)
  t.true(r1.work <= SEARCH_WORK_BUDGET + MAX_QUERY_WORDS, `work ${r1.work}`)
  t.is(r1.hits.length, 100)
  for (const h of r1.hits) t.true(h.name.includes('a'))
  // 16 distinct one-letter words: each selects most of the vocabulary.
  const sixteen = 'abcdefghijklmnop'.split('').join(' ')
  const r2 = ix.query(sixteen, 100)
  t.log(`16 letters: work ${r2.work}, partial ${r2.partial}, ${r2.hits.length} hits`)
  t.true(r2.work <= SEARCH_WORK_BUDGET + MAX_QUERY_WORDS, `work ${r2.work}`)
  for (const h of r2.hits) for (const w of 'abcdefghijklmnop') t.true(h.name.includes(w))
  // More distinct words than MAX_QUERY_WORDS: refused with its own code.
  const e = t.throws(() => ix.query('abcdefghijklmnopq'.split('').join(' '), 100))
  t.is((e as { code?: string }).code, 'ERR_TOO_MANY_WORDS')
  // Words inside other words add nothing: "ab a b abc" is "abc".
  t.deepEqual(ix.query('ab a b abc a', 5).hits, ix.query('abc', 5).hits)
  // An ordinary query: complete (one indexOf scan of the 270,000-token vocabulary, then its few candidates).
  const name = ix.search('mp4', 1)[0]!.name
  const r3 = ix.query(`${name.split(' ')[0]} mp4`, 100)
  t.false(r3.partial)
  t.true(r3.work < SEARCH_WORK_BUDGET / 2, `work ${r3.work}`)
  t.true(r3.hits.length > 0)
})

test('a crafted query at a live tracker is answered within the work budget and the tracker keeps serving', async (t) => {
  const tr = await startTracker(t, { announceBurst: 1e9, announceRefillPerS: 1e9, announceIntervalMs: 600_000, limits: { namesPerHost: 0 } })
  const s = await session(t, tr.port)
  for (let p = 1; p <= 50; p++) {
    await s.request('TREG', JSON.stringify({ port: p }))
    for (let b = 0; b < 5; b++) {
      const add = Array.from({ length: 200 }, (_, i) => {
        const k = (p * 5 + b) * 200 + i
        return { cid: cid(k), name: `a${k % 1000} b${(k * 7) % 1000} c${k}.mp4`, size: 1, kind: 'video' }
      })
      const r = await s.request('TANN', JSON.stringify({ port: p, base: b, seq: b + 1, add }))
      if (!r.text.startsWith('{"ok":true')) return t.fail(r.text)
    }
  }
  const r = await s.request('TFND', JSON.stringify({ q: Array.from({ length: 100 }, () => 'a').join(' ') }))
  t.is(r.type, 'REPL')
  t.true(tr.stats.searchWork > 0 && tr.stats.searchWork <= SEARCH_WORK_BUDGET + MAX_QUERY_WORDS, `work ${tr.stats.searchWork}`)
  const many = await s.request('TFND', JSON.stringify({ q: 'q w e r t y u i o p l k j h g f d s' }))
  t.is(many.type, 'ERRO')
  t.regex(many.text, /^ERR_TOO_MANY_WORDS: Find: 18 distinct words, at most 16$/)
  t.is((await s.request('TSTA', '{}')).type, 'REPL')
})

test('a TFND/TWHO flood from one address is rate limited; another address is still served', async (t) => {
  // A frozen clock: the bucket does not refill during the test (no timing window).
  const tr = await startTracker(t, { now: () => 1_000_000 })
  // One-shot requests (a session would be closed after 8 refusals: its strikes).
  const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? ask(tr.address, 'TFND', JSON.stringify({ q: `x${i}` })) : ask(tr.address, 'TWHO', JSON.stringify({ cid: cid(i) })))))
  const ok = replies.filter((r) => r.type === 'REPL').length
  const limited = replies.filter((r) => /^ERR_RATE_LIMITED: (Find|Who): rate limited, retry in \d+ ms$/.test(r.text)).length
  t.is(ok, SEARCH_BURST)
  t.is(limited, 100 - SEARCH_BURST)
  t.is(tr.stats.searches, SEARCH_BURST)
  const b = await session(t, tr.port, '127.0.0.2')
  t.is((await b.request('TFND', JSON.stringify({ q: 'x' }))).type, 'REPL')
  // Announces are not searches: the flooding host still registers.
  t.is((await ask(tr.address, 'TREG', JSON.stringify({ port: 5 }))).type, 'REPL')
})
