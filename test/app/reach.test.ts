/**
 * Connection reversal on loopback (PROTOCOL.md §7.10, src/app/reach.ts, src/tracker/control.ts):
 * a registered holder keeps a control connection to its tracker and learns the dial-back result;
 * a fetcher told by the tracker that the holder cannot be dialled asks for a reversal, the
 * holder connects back with the token and serves the download (SHA-256 verified). Bad input:
 * unknown tokens, TCTL/TCON for peers that are not registered, malformed TCON, the push rate
 * limit. Real sockets, real nodes and tracker in process. The NAT lab runs the same across homes
 * (test/lab/reach.test.ts).
 */
import test from 'ava'
import { once } from 'node:events'
import path from 'node:path'
import type { P2PNode } from '../../src/app/node.ts'
import type { ControlStatus } from '../../src/discovery/control-channel.ts'
import { MSG, PUSH_BURST } from '../../src/protocol/constants.ts'
import { encodeFrame } from '../../src/protocol/frame.ts'
import { rawExchange } from '../helpers/raw.ts'
import { BIG_CLIP, sha256File, shareWith, startNode, VIDEO_DIR } from '../helpers/nodes.ts'
import { ask, startTracker } from '../tracker/helpers.ts'
import { makeGroup } from '../group/helpers.ts'
import { TrackerGroup } from '../../src/group/tracker-group.ts'
import { createTracker } from '../../src/tracker/create.ts'

const TOKEN = 'ab'.repeat(16)

/** The node's control connection status once open (the dial-back check answered). */
async function controlOpen(node: P2PNode): Promise<ControlStatus> {
  const ctl = node.discovery.control
  if (!ctl) throw new Error('no control connection')
  if (ctl.status.state === 'open') return ctl.status
  for (;;) {
    const [st] = (await once(node, 'reachability')) as [ControlStatus]
    if (st.state === 'open') return st
  }
}

test('reversal: the holder connects back to the fetcher and serves the download; the fetcher says "via reversal"', async (t) => {
  const tr = await startTracker(t)
  const share = await shareWith(t, [BIG_CLIP])
  const holder = await startNode(t, { tracker: tr.address, shares: [share] })
  const st = await controlOpen(holder)
  t.is(st.reach, 'direct', 'loopback is dialable')
  t.is(st.peer, holder.id)
  t.is(tr.control.open, 1)
  const fetcher = await startNode(t, { tracker: tr.address, trackerRegister: false })
  // As when the tracker lists the holder as unreachable (TWHO/TFND "unreachable"): reversal first.
  fetcher.reach.hint(holder.id)
  const entry = holder.library.entries().find((e) => e.name === BIG_CLIP)!
  const d = fetcher.fetch({ name: entry.name, holder: holder.id, contentId: entry.cid ?? null, size: entry.size })
  const res = await d.start()
  t.is(await sha256File(res.path), await sha256File(path.join(VIDEO_DIR, BIG_CLIP)))
  t.is(fetcher.reach.via(holder.id), 'reversal')
  t.true(fetcher.reach.stats.routed.reversal >= 1)
  t.true(holder.reach.stats.dialled >= 1, 'the holder dialled for the tracker')
  t.true(tr.control.stats.pushes >= 1)
})

test('TWHO/TFND name the holders the dial-back check could not dial; a fetcher then goes straight to reversal', async (t) => {
  const tr = await startTracker(t)
  const share = await shareWith(t, [BIG_CLIP])
  const holder = await startNode(t, { tracker: tr.address, shares: [share] })
  await controlOpen(holder)
  await once(holder.tracker!, 'synced')
  // Pretend the check failed (a NAT): the tracker now lists the holder as unreachable.
  ;(tr.control as unknown as { reach: Map<string, string> }).reach.set(holder.id, 'unreachable')
  const fetcher = await startNode(t, { tracker: tr.address, trackerRegister: false })
  const hits = await fetcher.tracker!.search('12-19-53')
  t.is(hits[0]?.holder, holder.id)
  t.is(fetcher.reach.via(holder.id), 'reversal', 'hinted by the tracker')
})

test('RVRS with a token nobody waits for: ERRO ERR_UNKNOWN_TOKEN and the close; the node keeps serving', async (t) => {
  const node = await startNode(t)
  const r = await rawExchange(node.port, encodeFrame(MSG.RVRS, JSON.stringify({ token: TOKEN })))
  t.is(r.frames[0]?.type, 'ERRO')
  t.regex(r.frames[0]?.text ?? '', /^ERR_UNKNOWN_TOKEN: /)
  const bad = await rawExchange(node.port, encodeFrame(MSG.RVRS, '{"token":"nothex"}'))
  t.regex(bad.frames[0]?.text ?? '', /^ERR_MALFORMED_PAYLOAD: /)
  const name = await rawExchange(node.port, encodeFrame(MSG.NAME, ''))
  t.is(name.frames[0]?.text, node.id)
})

test('the tracker forwards only for registered peers with a control connection, and rate-limits pushes', async (t) => {
  // A clock that stands still: the push buckets do not refill during the test.
  const tr = await startTracker(t, { now: () => 1_000_000 })
  // TCTL from a peer that never registered.
  const ctl = await ask(tr.address, MSG.TCTL, JSON.stringify({ port: 40000 }))
  t.is(ctl.type, 'ERRO')
  t.regex(ctl.text, /^ERR_NOT_REGISTERED: /)
  // TCON for a holder the tracker has no control connection for.
  const con = await ask(tr.address, MSG.TCON, JSON.stringify({ holder: '127.0.0.1:40000', token: TOKEN, port: 40001 }))
  t.regex(con.text, /^ERR_NOT_REGISTERED: /)
  const bad = await ask(tr.address, MSG.TCON, JSON.stringify({ holder: 'nowhere', token: TOKEN, port: 40001 }))
  t.regex(bad.text, /^ERR_MALFORMED_PAYLOAD: /)
  const tpch = await ask(tr.address, MSG.TPCH, JSON.stringify({ token: TOKEN }))
  t.regex(tpch.text, /^ERR_UNKNOWN_TOKEN: /)
  // A registered holder with its control connection: pushes are limited per holder.
  const holder = await startNode(t, { tracker: tr.address })
  await controlOpen(holder)
  const replies: string[] = []
  // A requester the tracker cannot dial back gets no reversal (its holder could not connect either).
  const closed = await ask(tr.address, MSG.TCON, JSON.stringify({ holder: holder.id, token: TOKEN, port: 1 }))
  t.regex(closed.text, /^ERR_NO_ROUTE: TCON: the tracker cannot connect to 127\.0\.0\.1:1 either/)
  // The requester's address: the tracker's own port here (something dialable on 127.0.0.1).
  for (let i = 0; i < PUSH_BURST + 1; i++) replies.push((await ask(tr.address, MSG.TCON, JSON.stringify({ holder: holder.id, token: TOKEN, port: tr.port }))).text)
  t.is(replies.filter((r) => r === '{"pushed":true}').length, PUSH_BURST - 1, 'the refused one took a token too')
  t.regex(replies.at(-1) ?? '', /^ERR_RATE_LIMITED: /)
  // The holder, told to dial a tracker with a token, keeps serving.
  t.is((await rawExchange(holder.port, encodeFrame(MSG.NAME, ''))).frames[0]?.text, holder.id)
})

test('reversal in a private group: mutual TLS end to end on the reversed connection (the holder is the TLS client)', async (t) => {
  const g = await makeGroup(t, { alice: true, bob: true })
  const tracker = createTracker({ dataDir: null, announceIntervalMs: 1000, group: new TrackerGroup(g.dir) })
  t.teardown(() => tracker.stop())
  await tracker.start()
  const tr = `127.0.0.1:${tracker.port}`
  const holder = await startNode(t, { group: g.creds.alice, tracker: tr, shares: [await shareWith(t, [BIG_CLIP])] })
  t.is((await controlOpen(holder)).reach, 'direct', 'the dial-back check passes the TLS handshake')
  const fetcher = await startNode(t, { group: g.creds.bob, tracker: tr, trackerRegister: false })
  fetcher.reach.hint(holder.id)
  const entry = holder.library.entries().find((e) => e.name === BIG_CLIP)!
  const res = await fetcher.fetch({ name: entry.name, holder: holder.id, contentId: entry.cid ?? null, size: entry.size }).start()
  t.is(await sha256File(res.path), await sha256File(path.join(VIDEO_DIR, BIG_CLIP)))
  t.is(fetcher.reach.via(holder.id), 'reversal')
  // A plain RVRS (no TLS) to a group node is not even read: the TLS server refuses the bytes.
  const plain = await rawExchange(fetcher.port, encodeFrame(MSG.RVRS, JSON.stringify({ token: TOKEN }))).catch((err: Error) => err)
  t.false(!(plain instanceof Error) && plain.frames.some((f) => f.type === 'REPL'))
})
