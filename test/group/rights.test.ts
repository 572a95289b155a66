/**
 * Private groups (issue #6): publish rights (a non-publisher's files never appear in results,
 * from the flood or the tracker, and are not fetched), revocation (refused within one announce
 * interval, open connection closed), JOIN/QUIT spoofing, per-peer rate limits.
 */
import test from 'ava'
import { once } from 'node:events'
import tls from 'node:tls'
import { request, requestText } from '../../src/net/client.ts'
import { TrackerGroup } from '../../src/group/tracker-group.ts'
import { encodeFrame } from '../../src/protocol/frame.ts'
import { createTracker } from '../../src/tracker/create.ts'
import type { Tracker } from '../../src/tracker/tracker.ts'
import { rawExchange } from '../helpers/raw.ts'
import { BIG_CLIP, shareWith, SMALL_CLIP, spawnCli, startNode } from '../helpers/nodes.ts'
import { makeGroup, tlsExchange } from './helpers.ts'

async function groupTracker(t: Parameters<typeof startNode>[0], dir: string, intervalMs = 1000): Promise<Tracker> {
  const tracker = createTracker({ dataDir: null, announceIntervalMs: intervalMs, group: new TrackerGroup(dir) })
  t.teardown(() => tracker.stop())
  await tracker.start()
  return tracker
}

test("a non-publisher's files never appear in results (flood, tracker) and are not fetched from it", async (t) => {
  const g = await makeGroup(t, { alice: true, bob: false, carol: false })
  const tracker = await groupTracker(t, g.dir)
  const tr = `127.0.0.1:${tracker.port}`
  const alice = await startNode(t, { group: g.creds.alice, tracker: tr, shares: [await shareWith(t, [[SMALL_CLIP, 'alice-clip.mp4']])] })
  const bob = await startNode(t, { group: g.creds.bob, tracker: tr, shares: [await shareWith(t, [[BIG_CLIP, 'bob-secret.mp4']])] })
  const carol = await startNode(t, { group: g.creds.carol, tracker: tr })
  await Promise.all([alice.tracker!.ready, bob.tracker!.ready, carol.tracker!.ready])
  await carol.join(alice.id)
  await carol.join(bob.id)
  const flood = await carol.search('mp4', { timeoutMs: 1000 }).finished
  t.deepEqual([...new Set(flood.map((r) => r.name))], ['alice-clip.mp4'], 'only the publisher answers the flood')
  t.false(flood.some((r) => r.holder === bob.id))
  const indexed = await carol.tracker!.search('bob secret')
  t.deepEqual(indexed, [], 'the tracker did not index the non-publisher')
  t.true(tracker.stats.rejected > 0, "the tracker refused bob's announce of files")
  t.is((await carol.tracker!.search('alice clip')).length, 1)
  // Fetching from bob directly: the fetcher refuses a non-publisher holder (and bob would refuse too).
  const entry = bob.library.entries()[0]!
  const err = await carol
    .fetch({ name: entry.name, holder: bob.id, contentId: entry.cid as string, size: entry.size })
    .start()
    .then(
      () => null,
      (e: Error) => e
    )
  t.regex(String(err?.message), /may not publish|no holder|publish/)
  // bob answering a search of carol's with forged HITS is refused (not a publisher).
  const h = carol.search('mp4', { timeoutMs: 1500 })
  const hits = JSON.stringify({ qid: h.qid, holder: bob.id, results: [{ name: 'bob-secret.mp4', size: entry.size, cid: entry.cid, kind: 'video' }] })
  const frames = await request({ host: '127.0.0.1', port: carol.port }, 'HITS', hits, { transport: bob.transport })
  t.regex(frames[0]?.payload.toString() ?? '', /ERR_NOT_PUBLISHER/)
  t.false((await h.finished).some((r) => r.name === 'bob-secret.mp4'))
})

test('a revoked member is refused within one announce interval, its open connection closes, the tracker drops it', async (t) => {
  const g = await makeGroup(t, { alice: true, dave: true })
  const interval = 1000
  const tracker = await groupTracker(t, g.dir, interval)
  const tr = `127.0.0.1:${tracker.port}`
  const alice = await startNode(t, { group: g.creds.alice, tracker: tr, requestTimeoutMs: 60_000 })
  const dave = await startNode(t, { group: g.creds.dave, tracker: tr, shares: [await shareWith(t, [[SMALL_CLIP, 'dave-clip.mp4']])] })
  await Promise.all([alice.tracker!.ready, dave.tracker!.ready])
  t.is((await alice.tracker!.search('dave clip')).length, 1)
  // dave holds a connection to alice open (handshake done, request not sent yet).
  const d = g.creds.dave!
  const open = tls.connect({ host: '127.0.0.1', port: alice.port, key: d.key, cert: d.cert, ca: d.ca, checkServerIdentity: () => undefined })
  open.on('error', () => {})
  await once(open, 'secureConnect')
  open.write(Buffer.from('NAME')) // half a frame header: alice waits for the rest
  const closed = once(open, 'close')
  const updated = once(alice.group!, 'revocations')
  const cli = spawnCli(t, ['group', 'revoke', 'dave', '--data', g.dir, '--json'])
  const ev = await cli.next('revoked')
  const t0 = performance.now()
  t.is(ev.name, 'dave')
  await updated
  const ms = performance.now() - t0
  t.true(ms <= interval + 500, `alice had the new list after ${Math.round(ms)} ms (announce interval ${interval} ms)`)
  await closed
  t.pass('the open connection of the revoked member was closed')
  // New connections: refused by alice and by the tracker; dave's files left the index.
  const again = await tlsExchange(alice.port, 'NAME', '', d)
  t.is(again.frames.length, 0)
  await t.throwsAsync(requestText({ host: '127.0.0.1', port: alice.port }, 'NAME', '', { transport: dave.transport }))
  await t.throwsAsync(requestText({ host: '127.0.0.1', port: tracker.port }, 'TSTA', '{}', { transport: dave.transport }))
  t.deepEqual(await alice.tracker!.search('dave clip'), [])
  // Members are unaffected: alice still reaches the tracker.
  t.is(JSON.parse(await requestText({ host: '127.0.0.1', port: tracker.port }, 'TSTA', '{}', { transport: alice.transport })).tracker, tracker.id)
})

test('the tracker pushes a revocation to member nodes at once (announce interval 30 s); only the tracker may push', async (t) => {
  const g = await makeGroup(t, { alice: true, dave: true })
  const interval = 30_000
  const tracker = await groupTracker(t, g.dir, interval)
  const tr = `127.0.0.1:${tracker.port}`
  const alice = await startNode(t, { group: g.creds.alice, tracker: tr })
  const dave = await startNode(t, { group: g.creds.dave, tracker: tr })
  await Promise.all([alice.tracker!.ready, dave.tracker!.ready])
  // A member is not the tracker: its "push" is refused and changes nothing.
  const forged = await request({ host: '127.0.0.1', port: alice.port }, 'TREV', JSON.stringify(alice.group!.revocations.signed), { transport: dave.transport })
  t.regex(forged[0]?.payload.toString() ?? '', /ERR_NOT_TRACKER/)
  const updated = once(alice.group!, 'revocations')
  const cli = spawnCli(t, ['group', 'revoke', 'dave', '--data', g.dir, '--json'])
  await cli.next('revoked')
  const t0 = performance.now()
  await updated
  const ms = performance.now() - t0
  // The tracker notices the admin's file within 500 ms; alice's next TREV poll is 30 s away.
  t.log(`alice had the new list ${Math.round(ms)} ms after \`group revoke\` printed (interval ${interval / 1000} s)`)
  t.true(ms < interval / 6, `alice had the new list ${Math.round(ms)} ms after the revoke`)
  t.true(alice.group!.revocations.has(g.creds.dave!.serial))
  await t.throwsAsync(requestText({ host: '127.0.0.1', port: alice.port }, 'NAME', '', { transport: dave.transport }))
})

test('JOIN cannot insert another address and QUIT removes only the sender itself (plain and group)', async (t) => {
  // Plain: the payload host must be the socket's; QUIT from another host is refused.
  const plain = await startNode(t)
  const spoof = await rawExchange(plain.port, encodeFrame('JOIN', '10.9.9.9:5000 10.9.9.9 5000'))
  t.regex(spoof.frames[0]?.text ?? '', /ERR_SPOOFED_ADDRESS|not the connection/)
  t.is(plain.peers.size, 0)
  const victim = await startNode(t)
  await victim.join(plain.id)
  t.true(plain.peers.has(victim.id))
  const quit = await rawExchange(plain.port, encodeFrame('QUIT', victim.id), { localAddress: '127.0.0.2' })
  t.regex(quit.frames[0]?.text ?? '', /ERR_SPOOFED_ADDRESS|only/)
  t.true(plain.peers.has(victim.id), 'a stranger on another host cannot remove a peer')

  // Group: on one host, a member cannot JOIN another member's port nor QUIT it.
  const g = await makeGroup(t, { alice: true, bob: false, carol: false })
  const alice = await startNode(t, { group: g.creds.alice })
  const bob = await startNode(t, { group: g.creds.bob })
  const carol = await startNode(t, { group: g.creds.carol })
  const join = await request({ host: '127.0.0.1', port: alice.port }, 'JOIN', `${carol.id} 127.0.0.1 ${carol.port}`, { transport: bob.transport })
  t.regex(join[0]?.payload.toString() ?? '', /is not where bob listens/)
  t.false(alice.peers.has(carol.id), "bob could not insert carol's address")
  await carol.join(alice.id)
  t.true(alice.peers.has(carol.id))
  const q = await request({ host: '127.0.0.1', port: alice.port }, 'QUIT', carol.id, { transport: bob.transport })
  t.regex(q[0]?.payload.toString() ?? '', /bob is not the member at/)
  t.true(alice.peers.has(carol.id), 'bob could not remove carol')
  const own = await request({ host: '127.0.0.1', port: alice.port }, 'QUIT', carol.id, { transport: carol.transport })
  t.regex(own[0]?.payload.toString() ?? '', /peer removed/)
  t.false(alice.peers.has(carol.id), 'carol removed herself')
})

test('per-peer rate limits: queries and connections over the rate get ERR_RATE_LIMITED, other peers are served', async (t) => {
  const node = await startNode(t, { peerLimits: { queryBurst: 3, queriesPerS: 0.01, connectionBurst: 8, connectionsPerS: 0.01 } })
  const srch = (i: number): string => JSON.stringify({ qid: i.toString(16).padStart(32, '0'), origin: '127.0.0.1:9', q: 'x', ttl: 1, hops: 0 })
  const answers: string[] = []
  for (let i = 0; i < 5; i++) answers.push((await rawExchange(node.port, encodeFrame('SRCH', srch(i)))).frames[0]?.text ?? '')
  t.deepEqual(answers.slice(0, 3), ['ok', 'ok', 'ok'])
  t.regex(answers[3]!, /ERR_RATE_LIMITED/)
  // Five connections used; three more pass, then the address is refused at accept.
  const names: string[] = []
  for (let i = 0; i < 4; i++) names.push((await rawExchange(node.port, encodeFrame('NAME', ''))).frames[0]?.text ?? '')
  t.deepEqual(names.slice(0, 3), [node.id, node.id, node.id])
  t.regex(names[3]!, /ERR_RATE_LIMITED/)
  // Another address still gets answers.
  const other = await rawExchange(node.port, encodeFrame('NAME', ''), { localAddress: '127.0.0.2' })
  t.is(other.frames[0]?.text, node.id)
})
