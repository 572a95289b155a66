/**
 * Neighbour management (docs/PROTOCOL.md §3.9): a default 30-node network is one connected
 * graph whose search reaches every holder within TTL; at most `maxPeersPerHost` entries per
 * address; CAPS at JOIN on both sides; graph repair when a neighbour quits; pruning a
 * well-connected neighbour to admit a newcomer at the high water mark.
 */
import test, { type ExecutionContext } from 'ava'
import type { P2PNode } from '../../src/app/node.ts'
import { Testnet } from '../../src/app/testnet.ts'
import { requestText } from '../../src/net/client.ts'
import { MSG } from '../../src/protocol/constants.ts'
import { RemoteError } from '../../src/protocol/errors.ts'
import { formatJoin } from '../../src/protocol/messages.ts'
import { shareWith, SMALL_CLIP, startNode, tempDir } from '../helpers/nodes.ts'

/** Resolves on the node's next 'peer-added' whose peer matches. */
function added(n: P2PNode, pred: (id: string) => boolean = () => true): Promise<string> {
  return new Promise((resolve) => {
    const on = (p: { id: string }): void => {
      if (!pred(p.id)) return
      n.off('peer-added', on)
      resolve(p.id)
    }
    n.on('peer-added', on)
  })
}

/** x (low water mark 2) has two neighbours, hub and leaver; the hub has one more, spare. */
async function repairScene(t: ExecutionContext): Promise<{ hub: P2PNode; spare: P2PNode; x: P2PNode; leaver: P2PNode }> {
  const hub = await startNode(t, { minPeers: 0 })
  const spare = await startNode(t, { minPeers: 0 })
  await spare.join(hub.id, 1)
  const x = await startNode(t, { minPeers: 2 })
  const leaver = await startNode(t, { minPeers: 0 })
  await x.join(hub.id, 1)
  await x.join(leaver.id, 1)
  return { hub, spare, x, leaver }
}

test('30 nodes with default options (each joins one random earlier node): one connected component, and a search reaches every holder within TTL', async (t) => {
  const net = await Testnet.start({ nodes: 30, dir: await tempDir(t), seed: 30, holders: 4 })
  t.teardown(() => net.stop())
  const comps = net.components()
  t.log(`components ${JSON.stringify(comps)}, neighbours mean ${net.meanDegree().toFixed(2)}`)
  t.deepEqual(comps, [30], 'one connected component')
  const origin = net.nodes.find((n) => !net.holders.has(n)) as P2PNode
  // A generous timeout: the network shares this process with a busy machine; the flood is what is tested.
  const m = await net.measureSearch(origin, 4, 20_000)
  t.log(`found ${m.found} of ${m.withinTtl} holders within TTL 4; ${m.frames} frames (ideal ${m.ideal.toFixed(0)}); last answer ${m.lastAnswerMs} ms`)
  t.true(m.withinTtl >= 1)
  t.is(m.found, m.withinTtl, 'every holder within TTL answered')
  t.true(m.frames <= Math.ceil(m.ideal), `frames ${m.frames} <= N(d-1)+1 = ${m.ideal}`)
})

test('peers per host: a node keeps at most maxPeersPerHost entries of one address; the next JOIN from it is refused (ERR_TOO_MANY_PEERS)', async (t) => {
  const hub = await startNode(t, { maxPeersPerHost: 2, limitLoopback: true })
  const joiners = [await startNode(t), await startNode(t), await startNode(t)]
  await joiners[0]!.join(hub.id, 1)
  await joiners[1]!.join(hub.id, 1)
  t.is(hub.peers.size, 2)
  // The third port of 127.0.0.1: refused, whatever the table's size.
  const third = joiners[2]!
  const err = await t.throwsAsync(requestText(hub, MSG.JOIN, formatJoin({ id: third.id, host: '127.0.0.1', port: third.port })), { instanceOf: RemoteError })
  t.is(err?.remoteCode, 'ERR_TOO_MANY_PEERS')
  t.is(hub.peers.size, 2)
  t.false(hub.peers.has(third.id))
  // The crawling side applies it too: a node limited to one entry per host joins one of two.
  const lone = await startNode(t, { maxPeersPerHost: 1, limitLoopback: true, minPeers: 0 })
  await lone.join(hub.id, 2)
  t.is(lone.peers.size, 1, 'one entry for 127.0.0.1, though the crawl saw three nodes there')
})

test('CAPS at JOIN: both sides know the other is extended before any search or stabilizer run', async (t) => {
  const a = await startNode(t)
  const b = await startNode(t)
  const probedOnA = new Promise<void>((resolve) => {
    const check = (): void => void (a.peers.get(b.id)?.extended === true ? resolve() : setImmediate(check))
    a.once('peer-added', () => check())
  })
  await b.join(a.id, 1)
  await probedOnA
  t.is(a.peers.get(b.id)?.extended, true, 'the node that accepted the JOIN probed the joiner')
  await b.probe(a.id)
  t.is(b.peers.get(a.id)?.extended, true)
  t.is(a.stats.searchesHandled + b.stats.searchesHandled, 0)
})

test("graph repair: when a neighbour quits and the node falls below its low water mark, it joins a replacement from its other neighbours' LISTs", async (t) => {
  const { spare, x, leaver } = await repairScene(t)
  t.is(x.peers.size, 2)
  const replaced = added(x)
  await leaver.stop() // QUIT to x: x drops to 1 neighbour, below its low water mark of 2
  t.is(await replaced, spare.id, "the replacement came from the hub's LIST")
  t.false(x.peers.has(leaver.id))
  t.is(x.peers.size, 2)
})

test('high water mark: a JOIN to a full node prunes its best-connected neighbour (QUIT to it) instead of refusing the newcomer', async (t) => {
  const hub = await startNode(t, { maxPeers: 2, minPeers: 1 })
  const a = await startNode(t, { minPeers: 0 })
  const b = await startNode(t, { minPeers: 0 })
  const c = await startNode(t, { minPeers: 0 })
  await hub.join(a.id, 1)
  await hub.join(b.id, 1)
  // a has two more neighbours besides the hub: the hub reads that in a's LIST.
  await c.join(a.id, 1)
  const d = await startNode(t, { minPeers: 0 })
  await d.join(a.id, 1)
  await hub.join(a.id, 2) // a known neighbour: only its LIST is read (degree 3)
  t.is(hub.peers.get(a.id)?.degree, 3)
  const newcomer = await startNode(t, { minPeers: 0 })
  const aLost = new Promise<void>((resolve) => a.on('peer-removed', (p) => p.id === hub.id && resolve()))
  await newcomer.join(hub.id, 1)
  t.true(hub.peers.has(newcomer.id), 'the newcomer got in')
  t.false(hub.peers.has(a.id), 'a (3 neighbours of its own) was pruned')
  t.true(hub.peers.has(b.id), 'b (LIST never read) was kept')
  await aLost
  t.false(a.peers.has(hub.id), 'the QUIT told a')
})

test('persistent neighbour links (§4.10): after the JOIN each side opens one link; five searches then cost no new connection either way (SRCH a→b and HITS b→a on the links)', async (t) => {
  const b = await startNode(t, { shares: [await shareWith(t, [SMALL_CLIP])] })
  const a = await startNode(t)
  await a.join(b.id, 1)
  // Both sides probe (CAPS lists LINK) and open their link; wait for both.
  const linkUp = async (from: P2PNode, to: P2PNode): Promise<void> => {
    while (!(from.peers.get(to.id)?.link && (await from.peerManager.links.open(from.peers.get(to.id)!)))) await new Promise((r) => setTimeout(r, 20))
  }
  await linkUp(a, b)
  await linkUp(b, a)
  const before = [a.stats.connectionsAccepted, b.stats.connectionsAccepted]
  for (let i = 0; i < 5; i++) {
    const h = a.search('lebiniou', { timeoutMs: 10_000 })
    await new Promise((resolve) => h.once('result', resolve))
    a.flood.finishAll()
  }
  t.is(b.stats.searchesHandled, 5)
  t.deepEqual([a.stats.connectionsAccepted, b.stats.connectionsAccepted], before, 'no connection accepted on either side: SRCH and HITS went on the links')
  t.true(a.peerManager.links.stats.onLink >= 5, 'SRCH on the link')
  // b counts a HITS once a's REPL to it is back.
  while (b.peerManager.links.stats.onLink < 5) await new Promise((r) => setTimeout(r, 10))
  t.is(b.peerManager.links.stats.oneShot, 0, 'HITS on the link')
  t.is(a.peerManager.links.stats.opened, 1)
})

test('a neighbour whose link closes and which no longer answers is dropped at once, and the node repairs from its other neighbours', async (t) => {
  const { spare, x, leaver: crasher } = await repairScene(t)
  while (!(x.peers.get(crasher.id)?.link && (await x.peerManager.links.open(x.peers.get(crasher.id)!)))) await new Promise((r) => setTimeout(r, 20))
  const replaced = added(x)
  const lost = new Promise<string>((resolve) => x.on('peer-removed', (p, reason: string) => p.id === crasher.id && resolve(reason)))
  crasher.peers.remove(x.id, 'test: a crash sends no QUIT')
  await crasher.stop()
  t.regex(await lost, /link lost/)
  t.is(await replaced, spare.id)
})
