/**
 * Tracker faults (issue #5 "Bad input and faults"): malformed and oversized announces get ERRO
 * and are not indexed, nobody registers another host's address, announce floods are rate
 * limited, and the announce version protocol asks for a register or a resync when needed.
 */
import test from 'ava'
import net from 'node:net'
import { encodeFrame } from '../../src/protocol/frame.ts'
import { ask, startTracker } from './helpers.ts'

const CID = 'a'.repeat(64)
const file = (i: number) => ({ cid: i.toString(16).padStart(64, '0'), name: `clip ${i}.mp4`, size: 1000 + i, kind: 'video' })

async function register(address: string, port: number): Promise<void> {
  const r = await ask(address, 'TREG', JSON.stringify({ port }))
  if (r.type !== 'REPL') throw new Error(r.text)
}

test('malformed announces get ERRO and index nothing', async (t) => {
  // A long announce interval: the peer must not expire while the 12 asks run on a busy machine.
  const tr = await startTracker(t, { announceIntervalMs: 600_000 })
  await register(tr.address, 4000)
  const bad: Array<[string, string]> = [
    ['not JSON', '{"port":4000,'],
    ['array', '[1,2]'],
    ['no port', JSON.stringify({ base: 0, seq: 1, add: [file(1)] })],
    ['port 0', JSON.stringify({ port: 0, base: 0, seq: 1, add: [file(1)] })],
    ['bad cid', JSON.stringify({ port: 4000, base: 0, seq: 1, add: [{ ...file(1), cid: 'XYZ' }] })],
    ['upper-case cid', JSON.stringify({ port: 4000, base: 0, seq: 1, add: [{ ...file(1), cid: CID.toUpperCase() }] })],
    ['negative size', JSON.stringify({ port: 4000, base: 0, seq: 1, add: [{ ...file(1), size: -1 }] })],
    ['control characters in a name', JSON.stringify({ port: 4000, base: 0, seq: 1, add: [{ ...file(1), name: 'a\u0000b' }] })],
    ['empty name', JSON.stringify({ port: 4000, base: 0, seq: 1, add: [{ ...file(1), name: '' }] })],
    ['seq below base', JSON.stringify({ port: 4000, base: 5, seq: 4 })],
    ['too many entries', JSON.stringify({ port: 4000, base: 0, seq: 1, add: Array.from({ length: 201 }, (_, i) => ({ cid: i.toString(16).padStart(64, '0'), name: 'x', size: 1 })) })],
    ['a bad entry among good ones', JSON.stringify({ port: 4000, base: 0, seq: 1, add: [file(1), file(2), { cid: CID }] })]
  ]
  for (const [what, payload] of bad) {
    const r = await ask(tr.address, 'TANN', payload)
    t.is(r.type, 'ERRO', what)
  }
  t.is(tr.index.files, 0)
  t.is(tr.index.peers.get('127.0.0.1:4000')!.ver, 0)
  t.true(tr.stats.badInput >= bad.length)
  // The tracker still works for a good announce.
  const ok = await ask(tr.address, 'TANN', JSON.stringify({ port: 4000, base: 0, seq: 1, add: [file(1)] }))
  t.is(ok.type, 'REPL')
  t.is(tr.index.files, 1)
})

test('an oversized announce is refused before its body is read', async (t) => {
  const tr = await startTracker(t)
  const reply = await new Promise<string>((resolve, reject) => {
    const s = net.connect(tr.port, '127.0.0.1', () => {
      // Header only: 70 000 bytes announced, none sent.
      const h = Buffer.alloc(8)
      h.write('TANN', 0, 'latin1')
      h.writeUInt32BE(70_000, 4)
      s.write(h)
    })
    let got = Buffer.alloc(0)
    s.on('data', (d: Buffer) => (got = Buffer.concat([got, d])))
    s.on('close', () => resolve(got.subarray(8).toString('utf8')))
    s.on('error', reject)
  })
  t.regex(reply, /^ERR_FRAME_TOO_LARGE/)
})

test('one node cannot register or announce another host’s address', async (t) => {
  const tr = await startTracker(t)
  const r = await ask(tr.address, 'TREG', JSON.stringify({ port: 5000, host: '10.9.8.7' }))
  t.is(r.type, 'ERRO')
  t.regex(r.text, /own address/)
  t.is(tr.index.peers.size, 0)
  const a = await ask(tr.address, 'TANN', JSON.stringify({ port: 5000, host: '10.9.8.7', base: 0, seq: 1, add: [file(1)] }))
  t.is(a.type, 'ERRO')
  // Whatever the payload says, the host is the socket's.
  await register(tr.address, 5000)
  t.deepEqual([...tr.index.peers.keys()], ['127.0.0.1:5000'])
})

test('announce floods from one peer are rate limited; other peers are not affected', async (t) => {
  // A frozen clock: no refill during the test, however slow the machine (no timing window).
  const tr = await startTracker(t, { announceBurst: 10, announceRefillPerS: 1, now: () => 1_000_000 })
  await register(tr.address, 6000)
  await register(tr.address, 6001)
  let refused = 0
  let accepted = 0
  for (let i = 0; i < 30; i++) {
    const r = await ask(tr.address, 'TANN', JSON.stringify({ port: 6000, base: 0, seq: 0 }))
    if (r.type === 'ERRO') {
      refused++
      t.regex(r.text, /rate limited, retry in \d+ ms/)
    } else accepted++
  }
  t.is(accepted, 9, 'the burst of 10 less the registration')
  t.is(refused, 21)
  t.is((await ask(tr.address, 'TANN', JSON.stringify({ port: 6001, base: 0, seq: 1, add: [file(2)] }))).type, 'REPL')
  t.true(tr.stats.rejected >= 19)
})

test('unknown peers are told to register; a version mismatch asks for a resync', async (t) => {
  const tr = await startTracker(t)
  const unknown = await ask(tr.address, 'TANN', JSON.stringify({ port: 7000, base: 0, seq: 1, add: [file(1)] }))
  t.deepEqual(JSON.parse(unknown.text), { register: true })
  t.is(tr.index.files, 0)
  await register(tr.address, 7000)
  t.is(JSON.parse((await ask(tr.address, 'TANN', JSON.stringify({ port: 7000, base: 0, seq: 1, add: [file(1)] }))).text).seq, 1)
  // A delta against a version the tracker does not hold.
  const stale = await ask(tr.address, 'TANN', JSON.stringify({ port: 7000, base: 5, seq: 6, add: [file(2)] }))
  t.deepEqual(JSON.parse(stale.text), { resync: true, have: 1 })
  t.is(tr.index.files, 1)
  // Incremental: add one, remove one.
  const d = await ask(tr.address, 'TANN', JSON.stringify({ port: 7000, base: 1, seq: 2, add: [file(3)], remove: [file(1).cid] }))
  t.is(JSON.parse(d.text).seq, 2)
  t.deepEqual([...tr.index.peers.get('127.0.0.1:7000')!.files.keys()], [file(3).cid])
  // Too many hosts' worth of peers from one address.
  const capped = await startTracker(t, { maxPeersPerHost: 2 })
  await register(capped.address, 1)
  await register(capped.address, 2)
  const third = await ask(capped.address, 'TREG', JSON.stringify({ port: 3 }))
  t.is(third.type, 'ERRO')
  t.regex(third.text, /already has 2 peers/)
})

test('unknown message types and garbage frames get ERRO, the tracker keeps serving', async (t) => {
  const tr = await startTracker(t)
  for (const [type, body] of [
    ['SRCH', '{}'],
    ['TFND', '{"q":""}'],
    ['TWHO', '{"cid":"nothex"}'],
    ['TPRS', '{"max":1000}']
  ] as const) {
    const r = await ask(tr.address, type, body).catch((err: Error) => ({ type: 'ERROR', text: err.message }))
    t.not(r.type, 'REPL', type)
  }
  const raw = await new Promise<string>((resolve) => {
    const s = net.connect(tr.port, '127.0.0.1', () => s.end(encodeFrame('TANN', '\u0000\u0001garbage')))
    let got = ''
    s.on('data', (d) => (got += d.toString('latin1')))
    s.on('close', () => resolve(got))
  })
  t.true(raw.startsWith('ERRO'))
  t.is((await ask(tr.address, 'TSTA', '{}')).type, 'REPL')
})

test('a session (TSES) carries many requests in order; TSES later in a connection is refused', async (t) => {
  const { TrackerSession } = await import('../../src/tracker/session.ts')
  const tr = await startTracker(t)
  const s = new TrackerSession({ host: '127.0.0.1', port: tr.port })
  await s.open()
  t.teardown(() => s.close())
  const replies = await Promise.all([
    s.request('TREG', JSON.stringify({ port: 8000 })),
    s.request('TANN', JSON.stringify({ port: 8000, base: 0, seq: 1, add: [file(1)] })),
    s.request('TANN', '{broken'),
    s.request('TFND', JSON.stringify({ q: 'clip' }))
  ])
  t.deepEqual(
    replies.map((r) => r.type),
    ['REPL', 'REPL', 'ERRO', 'REPL']
  )
  t.is(JSON.parse(replies[3]!.text).results[0].peers[0], '127.0.0.1:8000')
  // A bad request is answered and the session goes on; TSES as a second frame is refused.
  const again = await s.request('TSES', '{}')
  t.is(again.type, 'ERRO')
  t.regex(again.text, /first frame/)
})

test.serial('a session pipelining TSTA without reading is disconnected within the stall timeout; the tracker stays bounded', async (t) => {
  const STALL_MS = 1000
  const tr = await startTracker(t, { writeTimeoutMs: STALL_MS })
  const N = 1_000_000
  const tsta = encodeFrame('TSTA', '{}')
  const bulk = Buffer.alloc(N * tsta.length)
  for (let i = 0; i < N; i++) tsta.copy(bulk, i * tsta.length)
  global.gc?.()
  const before = process.memoryUsage().rss
  const s = net.connect(tr.port, '127.0.0.1')
  s.pause() // never read
  s.on('error', () => {})
  await new Promise((r) => s.once('connect', r))
  const t0 = Date.now()
  s.write(Buffer.concat([encodeFrame('TSES', '{}'), bulk]))
  let peak = 0
  const poll = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss - before)), 20)
  await new Promise((r) => s.once('close', r))
  clearInterval(poll)
  const ms = Date.now() - t0
  t.log(`disconnected after ${ms} ms; RSS grew by at most ${(peak / 1e6).toFixed(1)} MB (the ${(bulk.length / 1e6).toFixed(0)} MB pipeline included)`)
  t.true(ms < STALL_MS + 10_000, 'disconnected by the stall timeout')
  t.true(peak < 120e6, 'no reply queue of the whole pipeline (+174 MB before FrameServer sessions)')
  t.is((await ask(tr.address, 'TSTA', '{}')).type, 'REPL', 'the tracker keeps serving')
})
