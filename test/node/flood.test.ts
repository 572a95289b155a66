/**
 * The overlay's search and join at small scale (docs/PROTOCOL.md §3.3, §4.2): a query is never
 * sent back to the peer it came from (so it costs exactly N·(d̄−1)+1 frames with duplicate
 * suppression), a one-shot search ends once answers stop instead of waiting out its timeout, and
 * a join is not held up by a peer that accepts connections and never answers.
 */
import test from 'ava'
import net from 'node:net'
import type { P2PNode } from '../../src/app/node.ts'
import { shareWith, SMALL_CLIP, startNode } from '../helpers/nodes.ts'

/** Links `a` and `b` both ways (JOIN from a to b, one hop). */
async function link(a: P2PNode, b: P2PNode): Promise<void> {
  await a.join(b.id, 1)
}

test('never back to the sender: A–B, B–C, B–D, C–D; a search from A costs N(d-1)+1 = 5 SRCH frames, not 7', async (t) => {
  const [a, b, c, d] = [await startNode(t), await startNode(t), await startNode(t, { shares: [await shareWith(t, [SMALL_CLIP])] }), await startNode(t)]
  await link(a, b)
  await link(c, b)
  await link(d, b)
  await link(d, c)
  t.deepEqual(
    [a, b, c, d].map((n) => n.peers.size),
    [1, 3, 2, 2]
  )
  const others = [b, c, d]
  let arrivals = 0
  const five = new Promise<void>((resolve) => {
    for (const n of others) n.on('search', () => ++arrivals === 5 && resolve())
  })
  const h = a.search('lebiniou', { ttl: 4, timeoutMs: 1500 })
  await five
  const results = await h.finished
  const handled = others.reduce((s, n) => s + n.stats.searchesHandled, 0)
  const duplicates = others.reduce((s, n) => s + n.stats.searchesDuplicate, 0)
  t.is(handled, 3, 'each node handled the query once')
  t.is(handled + duplicates, 5, `frames: ${handled} new + ${duplicates} duplicates (without the via rule: 7)`)
  t.is(results.length, 1)
})

test('a search with untilQuietMs ends soon after the last answer, not at its timeout', async (t) => {
  const holder = await startNode(t, { shares: [await shareWith(t, [SMALL_CLIP])] })
  const a = await startNode(t)
  await a.join(holder.id)
  const t0 = performance.now()
  const results = await a.search('lebiniou', { timeoutMs: 20_000, untilQuietMs: 300 }).finished
  const ms = performance.now() - t0
  t.log(`search ended after ${Math.round(ms)} ms (timeout 20 000 ms)`)
  t.is(results.length, 1)
  t.true(ms < 10_000, `ended after ${ms} ms`)
})

test("a hung peer in the bootstrap's LIST does not hold the join: it ends within the connect timeout, with the others joined", async (t) => {
  // A "peer" that accepts connections and never answers, listed by the bootstrap.
  const sockets = new Set<net.Socket>()
  const hung = net.createServer((s) => sockets.add(s))
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    hung.close()
  })
  const hungPort = (hung.address() as net.AddressInfo).port
  const bootstrap = await startNode(t)
  bootstrap.peers.add({ id: `127.0.0.1:${hungPort}`, host: '127.0.0.1', port: hungPort }, 'crawl')
  const friend = await startNode(t)
  await friend.join(bootstrap.id, 1)
  const joiner = await startNode(t, { connectTimeoutMs: 1000 })
  const t0 = performance.now()
  await joiner.join(bootstrap.id, 2)
  const ms = performance.now() - t0
  t.log(`join with a hung peer listed: ${Math.round(ms)} ms (idle timeout 30 000 ms)`)
  t.true(joiner.peers.has(friend.id), 'the live peer of the list was joined')
  t.false(joiner.peers.has(`127.0.0.1:${hungPort}`))
  t.true(ms < 5_000, `join took ${ms} ms`)
})
