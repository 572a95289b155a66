/**
 * Tracker integration (issue #5 "Done when"): bootstrap from the tracker alone, indexed search
 * from nodes that never flooded, expiry of a killed node, clean leave, restart with persistent
 * state and re-registration, and the CLI's --tracker in place of --peer.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import path from 'node:path'
import { BIG_CLIP, SMALL_CLIP, contentIdFile, shareWith, spawnCli, startNode, tempDir } from '../helpers/nodes.ts'
import { ANNOUNCE_EXPIRY_INTERVALS } from '../../src/protocol/constants.ts'
import { find, freePort, startTracker, status, until } from './helpers.ts'

test('nodes bootstrap from the tracker alone', async (t) => {
  const tr = await startTracker(t)
  const share = await shareWith(t, [SMALL_CLIP])
  const a = await startNode(t, { tracker: tr.address, shares: [share] })
  const b = await startNode(t, { tracker: tr.address })
  await Promise.all([a.tracker!.ready, b.tracker!.ready])
  // c knows nothing but the tracker's address.
  const c = await startNode(t, { tracker: tr.address })
  await until(() => c.peers.has(a.id) && c.peers.has(b.id))
  t.is(c.peers.get(a.id)!.source, 'tracker')
  t.is(c.peers.get(b.id)!.source, 'tracker')
  // And the flood reaches a through those peers: a one-shot searcher that only queries the tracker.
  const s = await startNode(t, { tracker: tr.address, trackerRegister: false })
  await s.tracker!.ready
  t.true(s.peers.size >= 2)
  t.false(tr.index.peers.has(s.id), 'a query-only client is not registered')
})

test('tracker search returns holders from nodes that never flooded, ranked, with holder counts', async (t) => {
  const tr = await startTracker(t)
  const shareA = await shareWith(t, [SMALL_CLIP, BIG_CLIP])
  const shareB = await shareWith(t, [SMALL_CLIP])
  const a = await startNode(t, { tracker: tr.address, shares: [shareA] })
  const b = await startNode(t, { tracker: tr.address, shares: [shareB] })
  // Both announces indexed: two files, and the shared clip with both holders.
  await until(() => tr.index.files === 2 && tr.index.peers.size === 2 && tr.index.search('12-19-19', 1)[0]?.holders === 2)
  const hits = await find(tr.address, 'lebiniou 12-19')
  t.is(hits.length, 2)
  // The clip both hold comes first (more holders), with both holders listed.
  t.is(hits[0]!.name, SMALL_CLIP)
  t.is(hits[0]!.holders, 2)
  t.deepEqual([...hits[0]!.peers].sort(), [a.id, b.id].sort())
  t.is(hits[1]!.holders, 1)
  // Neither node ever received a flood search.
  t.is(a.stats.searchesHandled + b.stats.searchesHandled, 0)
  // A node with a tracker shows the indexed results at once, before any flood answer.
  const c = await startNode(t, { tracker: tr.address, trackerRegister: false })
  const h = c.search('12-19-53', { timeoutMs: 1500 })
  const first = await new Promise<{ holder: string; contentId: string | null }>((r) => h.once('result', r))
  t.is(first.holder, a.id)
  t.truthy(first.contentId)
  // By content id (TWHO) through the node.
  const holders = await c.tracker!.search('', first.contentId!)
  t.deepEqual(
    holders.map((x) => x.holder),
    [a.id]
  )
})

test('a node leaving cleanly unregisters at once; a killed node disappears within its expiry', async (t) => {
  const tr = await startTracker(t, { announceIntervalMs: 1000 })
  const share = await shareWith(t, [SMALL_CLIP])
  const leaver = await startNode(t, { tracker: tr.address, shares: [share] })
  await until(async () => (await find(tr.address, '12-19-19')).length === 1)
  await leaver.stop()
  t.is((await find(tr.address, '12-19-19')).length, 0, 'gone right after the clean leave')

  // A real node process, killed with SIGKILL: no TBYE, so only the expiry can remove it.
  const child = spawnCli(t, ['node', '--json', '--tracker', tr.address, '--share', share, '--data', await tempDir(t)])
  const listening = await child.next('listening')
  // One machine, several ids: the tracker names the node by the address it connected from.
  await until(async () => (await find(tr.address, '12-19-19'))[0]?.peers.includes(`127.0.0.1:${listening.port}`), 20_000)
  const killedAt = Date.now()
  child.child.kill('SIGKILL')
  await until(async () => (await find(tr.address, '12-19-19')).length === 0, 15_000, 100)
  const gone = Date.now() - killedAt
  t.log(`killed node gone from results after ${gone} ms (expiry ${tr.expiryMs} ms)`)
  // Expiry is 3 intervals after the last announce; the sweep runs every half interval.
  t.true(gone <= tr.expiryMs + tr.intervalMs, `gone after ${gone} ms`)
  t.is(tr.expiryMs, 1000 * ANNOUNCE_EXPIRY_INTERVALS)
})

test('a tracker restart keeps persistent state and nodes re-register', async (t) => {
  const data = await tempDir(t, 'p2ptube-tracker-data')
  const port = await freePort()
  const args = ['tracker', '--json', '--host', '127.0.0.1', '--port', String(port), '--data', data, '--announce-interval', '1', '--status-interval', '0']
  const first = spawnCli(t, args)
  const up = await first.next('listening')
  const address = String(up.id)
  const share = await shareWith(t, [SMALL_CLIP])
  const a = await startNode(t, { tracker: address, shares: [share] })
  const peerOnly = await startNode(t)
  await a.join(peerOnly.id)
  await until(async () => (await find(address, '12-19-19')).length === 1)
  const before = await status(address)
  t.is(before.knownPeers, 1)

  // A crash: no clean shutdown, so the journal (not the final snapshot) must hold the state.
  first.child.kill('SIGKILL')
  await first.exited
  await until(() => a.tracker!.state === 'down', 10_000)
  t.true(a.peers.has(peerOnly.id), 'the node keeps its peers while the tracker is down')

  const second = spawnCli(t, args)
  const again = await second.next('listening')
  t.is(again.tracker, up.tracker, 'same tracker identity')
  t.is(again.knownPeers, 1, 'the registry of known peers survived')
  // The node notices, registers again and re-announces its library.
  const hits = await until(async () => {
    const h = await find(address, '12-19-19')
    return h.length === 1 ? h : null
  }, 10_000)
  t.deepEqual(hits[0]!.peers, [a.id])
  t.is(a.tracker!.state, 'online')
  await fs.access(path.join(data, 'snapshot.json'))
})

test('search and fetch take --tracker in place of --peer', async (t) => {
  const tr = await startTracker(t)
  const share = await shareWith(t, [BIG_CLIP])
  const a = await startNode(t, { tracker: tr.address, shares: [share] })
  await until(() => tr.index.files === 1)
  const cid = a.library.entries()[0]!.cid!
  const search = spawnCli(t, ['search', '12-19-53', '--tracker', tr.address, '--json', '--timeout', '1', '--data', await tempDir(t)])
  const r = await search.next('result')
  t.is(r.holder, a.id)
  t.is(r.contentId, cid)
  t.is(await search.exited, 0)
  const out = await tempDir(t)
  const fetch = spawnCli(t, ['fetch', cid, '--tracker', tr.address, '--json', '--out', out, '--data', await tempDir(t)])
  const done = await fetch.next('fetched')
  t.is(done.sha256, cid)
  t.is(await contentIdFile(String(done.path)), cid)
  t.is(await fetch.exited, 0)
  t.false(tr.index.peers.size > 1, 'one-shot commands do not register')
})

test('p2ptube tracker status prints peers online, files indexed and announces/s', async (t) => {
  const tr = await startTracker(t)
  const share = await shareWith(t, [SMALL_CLIP])
  await startNode(t, { tracker: tr.address, shares: [share] })
  await until(() => tr.index.files === 1)
  const s = spawnCli(t, ['tracker', 'status', '--tracker', tr.address, '--json'])
  const e = await s.next('status')
  t.is(e.peers, 1)
  t.is(e.files, 1)
  t.is(typeof e.announcesPerSecond, 'number')
  t.is(await s.exited, 0)
})
