/**
 * How a node names itself (docs/PROTOCOL.md §1.3): by default it listens on every interface and
 * each id it sends is the local address of that connection; one-shot clients (search, fetch)
 * take no slot in anyone's peer table, so a node with a full table still answers them; a peer
 * that refuses a JOIN because it is full still hands out its LIST.
 */
import test from 'ava'
import { P2PNode } from '../../src/app/node.ts'
import { request } from '../../src/net/client.ts'
import { parseCaps } from '../../src/protocol/messages.ts'
import { shareWith, SMALL_CLIP, startNode } from '../helpers/nodes.ts'

test('default node: listens on every interface, answers NAME and CAPS with the address the requester reached', async (t) => {
  const node = await startNode(t, { host: undefined })
  t.is(node.host, '::')
  const to = { host: '127.0.0.1', port: node.port }
  const [name] = await request(to, 'NAME')
  t.is(name?.payload.toString(), `127.0.0.1:${node.port}`)
  const [caps] = await request(to, 'CAPS')
  const c = parseCaps(caps!.payload)
  t.is(c.id, `127.0.0.1:${node.port}`)
  t.is(c.you, '127.0.0.1', 'CAPS reports how the requester is seen')
  t.true(node.isSelf(`127.0.0.1:${node.port}`))
  t.true(node.isSelf(node.id))
  t.false(node.isSelf(`127.0.0.1:${node.port + 1}`))
})

test('a one-shot client takes no peer slot: a node with a full table still answers its search', async (t) => {
  const share = await shareWith(t, [SMALL_CLIP])
  const holder = await startNode(t, { host: undefined, shares: [share], maxPeers: 1 })
  const friend = await startNode(t, { host: undefined })
  t.is(await friend.join(`127.0.0.1:${holder.port}`), 1)
  t.true(holder.peers.full)
  const oneShot = await startNode(t, { host: undefined, announce: false })
  await oneShot.join(`127.0.0.1:${holder.port}`)
  t.true(oneShot.peers.has(`127.0.0.1:${holder.port}`), 'the one-shot knows the holder')
  t.is(holder.peers.size, 1, 'and is not in its table')
  const results = await oneShot.search('12-19-19', { timeoutMs: 3000 }).finished
  t.true(
    results.some((r) => r.name === SMALL_CLIP && r.holder === `127.0.0.1:${holder.port}`),
    JSON.stringify(results)
  )
})

test('a full peer refuses the JOIN but its LIST is read: the joiner reaches its neighbours', async (t) => {
  const full = await startNode(t, { host: undefined, maxPeers: 1 })
  const other = await startNode(t, { host: undefined })
  t.is(await other.join(`127.0.0.1:${full.port}`), 1)
  t.true(full.peers.full)
  const late = await startNode(t, { host: undefined })
  await late.join(`127.0.0.1:${full.port}`, 2)
  t.false(late.peers.has(`127.0.0.1:${full.port}`))
  t.true(late.peers.has(`127.0.0.1:${other.port}`), JSON.stringify(late.peers.list().map((p) => p.id)))
})

test('P2PNode: one-shot and default options are accepted together with an explicit host', (t) => {
  const n = new P2PNode({ host: '127.0.0.1', dataDir: null })
  t.is(n.host, '127.0.0.1')
  t.is(n.identity.advertise, '127.0.0.1')
})
