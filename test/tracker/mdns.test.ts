/**
 * mDNS discovery, kept on loopback ({ interface: '127.0.0.1', bind: '0.0.0.0' }, shared notes)
 * with a service type private to each test, so no packet leaves the machine and concurrent
 * tests do not find each other.
 */
import test from 'ava'
import { BIG_CLIP, SMALL_CLIP, contentIdFile, shareWith, spawnCli, startNode, tempDir } from '../helpers/nodes.ts'
import { MdnsDiscovery, mdnsOptionsFromEnv, multicastProblem } from '../../src/discovery/mdns.ts'
import { loopbackMdns, mdnsEnv, startTracker, until } from './helpers.ts'

test('two nodes on loopback find each other by mDNS alone and one fetches from the other', async (t) => {
  const mdns = loopbackMdns()
  const share = await shareWith(t, [SMALL_CLIP])
  const a = await startNode(t, { shares: [share], mdns })
  const aFound: string[] = []
  a.mdns!.on('found', (f: { id: string }) => aFound.push(f.id)) // before b exists: nothing missed
  const b = await startNode(t, { mdns })
  await until(() => b.peers.has(a.id) && a.peers.has(b.id), 10_000)
  // Whichever node's browser saw the other first dialled it (source 'mdns'); the other side then
  // recorded that JOIN (source 'joined'). When both browsers see each other at once, each may
  // record the other's JOIN first (both 'joined'): then a's browser did find b. Nothing but mDNS
  // told either of them an address.
  const sources = [a.peers.get(b.id)!.source, b.peers.get(a.id)!.source].sort()
  t.true(sources.includes('mdns') || aFound.includes(b.id), `sources: ${sources.join(', ')}; a's browser found ${aFound.join(', ') || 'nothing'}`)
  t.true(sources.every((x) => x === 'mdns' || x === 'joined'))
  t.is(a.mdns!.status.state, 'ok')
  const h = b.search('12-19-19', { timeoutMs: 1500 })
  const r = await new Promise<{ name: string; holder: string; contentId: string | null; size: number | null }>((res) => h.once('result', res))
  t.is(r.holder, a.id)
  const d = b.fetch(r)
  const done = await d.start()
  t.is(await contentIdFile(done.path), r.contentId!)
  await d.close()
})

test('p2ptube fetch --mdns needs no address; a tracker published over mDNS is found and used', async (t) => {
  const mdns = loopbackMdns()
  const tr = await startTracker(t, { mdns })
  const share = await shareWith(t, [BIG_CLIP])
  // A node process that knows no address at all.
  const seeder = spawnCli(t, ['node', '--json', '--mdns', '--share', share, '--data', await tempDir(t)], mdnsEnv(mdns))
  const up = await seeder.next('listening')
  // The tracker (found over mDNS on loopback) names the node by the address it connected from.
  await until(() => tr.index.peers.has(`127.0.0.1:${up.port}`) && tr.index.files === 1, 15_000)
  const cid = tr.index.search('12-19-53', 1)[0]!.cid
  const out = await tempDir(t)
  const fetch = spawnCli(t, ['fetch', cid, '--mdns', '--json', '--out', out, '--data', await tempDir(t)], mdnsEnv(mdns))
  const done = await fetch.next('fetched', 30_000)
  t.is(done.sha256, cid)
  t.is(await fetch.exited, 0)
})

test('discovery says when it cannot work instead of finding nothing silently', (t) => {
  t.is(multicastProblem({ interface: '127.0.0.1' }), null)
  const noRoute = multicastProblem({}, '/dev/null')
  // On a host with an external interface and no routes at all: ENETUNREACH is named.
  if (noRoute !== null) t.regex(noRoute, /ENETUNREACH|no network interface/)
  t.deepEqual(mdnsOptionsFromEnv({ P2PTUBE_MDNS_INTERFACE: '127.0.0.1', P2PTUBE_MDNS_TYPE: 'p2pt-1' }), { interface: '127.0.0.1', bind: '0.0.0.0', type: 'p2pt-1' })
  const a = new MdnsDiscovery({ role: 'node', peerId: '127.0.0.1:1', port: 1 })
  const b = new MdnsDiscovery({ role: 'node', peerId: '127.0.0.1:1', port: 1 })
  t.not(a.name, b.name, 'two publishers of one peer id still get unique names')
  t.is(a.status.state, 'off')
})
