import test from 'ava'
import { shareWith, startNode, BIG_CLIP, SMALL_CLIP } from '../helpers/nodes.ts'
import type { P2PNode } from '../../src/app/node.ts'

test('3-node chain A—B—C: TTL 1 stops at B, TTL 2 reaches C, whose holder answers A directly', async (t) => {
  const c = await startNode(t, { shares: [await shareWith(t, [[BIG_CLIP, 'Chain Clip Ünïcode.mp4']])] })
  const b = await startNode(t)
  const a = await startNode(t)
  await a.join(b.id, 1)
  await c.join(b.id, 1)
  t.deepEqual(
    a.peers.list().map((p) => p.id),
    [b.id]
  )
  t.false(a.peers.has(c.id))

  const short = await a.search('chain ünïcode', { ttl: 1, timeoutMs: 800 }).finished
  t.deepEqual(short, [])
  t.is(b.stats.searchesHandled, 1)
  t.is(c.stats.searchesHandled, 0, 'TTL 1 must not be forwarded past B')

  const long = await a.search('chain ünïcode', { ttl: 2, timeoutMs: 1500 }).finished
  t.is(long.length, 1)
  t.is(long[0]?.name, 'Chain Clip Ünïcode.mp4')
  t.is(long[0]?.holder, c.id)
  t.is(long[0]?.contentId, c.library.get('Chain Clip Ünïcode.mp4')?.cid)
  t.is(c.stats.searchesHandled, 1)
})

test('full mesh of 4: every node handles a query once; duplicates are dropped; one query costs N(d-1)+1 = 9 messages', async (t) => {
  const nodes: P2PNode[] = []
  for (let i = 0; i < 4; i++) nodes.push(await startNode(t, i === 3 ? { shares: [await shareWith(t, [SMALL_CLIP])] } : {}))
  for (const n of nodes.slice(1)) await n.join(nodes[0]!.id, 3)
  for (const n of nodes) t.is(n.peers.size, 3, `${n.id} knows every other node`)
  const [a, ...others] = nodes as [P2PNode, ...P2PNode[]]
  let arrivals = 0
  const all9 = new Promise<void>((resolve) => {
    for (const n of others) n.on('search', () => ++arrivals === 9 && resolve())
  })
  const h = a.search('lebiniou', { ttl: 4, timeoutMs: 1500 })
  await all9
  const results = await h.finished
  for (const n of others) t.is(n.stats.searchesHandled, 1, `${n.id} handled the query once`)
  t.is(
    others.reduce((s, n) => s + n.stats.searchesDuplicate, 0),
    6
  )
  t.is(a.stats.searchesHandled, 0, 'the origin drops its own query coming back')
  t.is(results.length, 1)
  t.is(results[0]?.holder, nodes[3]!.id)
})

test('search by content id finds the holder; answers for a query id the node never sent are refused', async (t) => {
  const holder = await startNode(t, { shares: [await shareWith(t, [SMALL_CLIP, BIG_CLIP])] })
  const a = await startNode(t)
  await a.join(holder.id)
  const cid = holder.library.get(BIG_CLIP)?.cid as string
  const r = await a.search('', { cid, timeoutMs: 800 }).finished
  t.deepEqual(
    r.map((x) => x.name),
    [BIG_CLIP]
  )
  t.false(a.flood.onHits({ qid: 'f'.repeat(32), holder: holder.id, results: [] }, '127.0.0.1'))
})

test('maxpeers caps the table and JOIN answers "too many peers"', async (t) => {
  const hub = await startNode(t, { maxPeers: 1 })
  const a = await startNode(t)
  const b = await startNode(t)
  await a.join(hub.id)
  t.is(hub.peers.size, 1)
  await b.join(hub.id)
  t.is(hub.peers.size, 1)
  t.false(b.peers.has(hub.id), 'the full hub was not added')
  t.true(b.peers.has(a.id), "but its LIST was read: b reached the hub's neighbour")
})

test('the stabilizer drops a peer that stopped answering', async (t) => {
  const a = await startNode(t)
  const b = await startNode(t)
  await a.join(b.id)
  t.true(a.peers.has(b.id))
  b.peers.remove(a.id, 'test: vanish without QUIT') // a crash sends no QUIT
  const gone = new Promise<string>((resolve) => a.on('peer-removed', (p, reason: string) => p.id === b.id && resolve(reason)))
  await b.stop()
  // Its link (PROTOCOL.md §4.10) closing may already have dropped it; else the stabilizer does.
  const dropped = await a.stabilize()
  t.log(`dropped: ${await gone}`)
  t.true(dropped.length === 0 || dropped[0] === b.id)
  t.false(a.peers.has(b.id))
})
