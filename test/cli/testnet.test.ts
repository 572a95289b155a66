/**
 * `p2ptube testnet --nodes N --json` (README "Test networks"): N nodes in one process, their ids
 * printed, one connected overlay, RSS per node reported; a search from outside finds the shared
 * clip; SIGINT stops every node and exits 130.
 */
import test from 'ava'
import { spawnCli } from '../helpers/nodes.ts'

test('testnet --nodes 8 --json: prints 8 ids and a ready line (1 component, RSS per node); a one-shot search through any node finds the holders; SIGINT stops them all (exit 130)', async (t) => {
  const net = spawnCli(t, ['testnet', '--nodes', '8', '--holders', '2', '--seed', '7', '--json'])
  const ready = await net.next('ready')
  const nodes = net.events.filter((e) => e.event === 'node')
  t.is(nodes.length, 8)
  t.is(new Set(nodes.map((e) => e.id)).size, 8, 'distinct ids')
  t.is(ready.components, 1)
  t.is(typeof ready.rssPerNode, 'number')
  t.is(nodes.filter((e) => e.holder === true).length, 2)
  const search = spawnCli(t, ['search', ...String(ready.query).split(' '), '--peer', String(nodes[5]?.id), '--json', '--timeout', '20'])
  t.is(await search.exited, 0)
  const holders = new Set(search.events.filter((e) => e.event === 'result').map((e) => e.holder))
  t.is(holders.size, 2, 'both holders answered')
  net.child.kill('SIGINT')
  t.is(await net.exited, 130)
  t.truthy(net.events.find((e) => e.event === 'stopped'))
})
