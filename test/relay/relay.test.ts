/**
 * The relay on loopback (PROTOCOL.md §10): a holder keeps a reservation on a tracker's relay, a
 * fetcher reaches it through a circuit and downloads a real clip (verified); the relay refuses to
 * be an open proxy (no reservation, unknown token, an address instead of a peer id) and holds its
 * caps (reservations, circuits per peer, bytes per peer, idle pairs, bandwidth). Real sockets.
 */
import test, { type ExecutionContext } from 'ava'
import { once } from 'node:events'
import net from 'node:net'
import path from 'node:path'
import { controlPolicy, exchange, requestText, request } from '../../src/net/client.ts'
import { MSG } from '../../src/protocol/constants.ts'
import { encodeFrame } from '../../src/protocol/frame.ts'
import { formatJoin } from '../../src/protocol/relay-messages.ts'
import { RemoteError } from '../../src/protocol/errors.ts'
import type { RelayOptions } from '../../src/relay/relay.ts'
import { RelayRoute } from '../../src/relay/route.ts'
import { firstFrame } from '../../src/net/route.ts'
import { parseTrackerStatus } from '../../src/protocol/tracker-messages.ts'
import { relayLines } from '../../src/cli/commands/tracker.ts'
import { plainTransport } from '../../src/net/transport.ts'
import { createTracker } from '../../src/tracker/create.ts'
import type { Tracker } from '../../src/tracker/tracker.ts'
import type { P2PNode } from '../../src/app/node.ts'
import { rawExchange } from '../helpers/raw.ts'
import { BIG_CLIP, contentIdFile, shareWith, SMALL_CLIP, startNode, VIDEO_DIR } from '../helpers/nodes.ts'

async function relayTracker(t: ExecutionContext, relay: RelayOptions = {}): Promise<Tracker> {
  const tr = createTracker({ host: '127.0.0.1', port: 0, dataDir: null, relay })
  t.teardown(() => tr.stop())
  await tr.start()
  return tr
}

/** A holder of `files` reserved on `tr`'s relay (its reservation granted). */
async function reservedHolder(t: ExecutionContext, tr: Tracker, files: string[] = [SMALL_CLIP]): Promise<P2PNode> {
  const holder = await startNode(t, { shares: [await shareWith(t, files)], relay: { via: [`127.0.0.1:${tr.port}`] } })
  const r = holder.relay.reservations[0]!
  if (r.status.state !== 'reserved') await once(r, 'status')
  t.is(r.status.state, 'reserved')
  t.is(r.status.id, holder.id, 'the relay names the holder by the address it sees and its port')
  return holder
}

test('a fetcher reaches a reserved holder through the relay and downloads a real clip (verified, relay counted the bytes)', async (t) => {
  const tr = await relayTracker(t)
  const holder = await reservedHolder(t, tr, [BIG_CLIP])
  t.true(tr.relay!.has(holder.id))
  const fetcher = await startNode(t)
  // The tracker marked the holder relayed: the route goes first, no direct dial.
  fetcher.relayedAt(holder.id, { host: '127.0.0.1', port: tr.port })
  const entry = holder.library.entries().find((e) => e.name === BIG_CLIP)!
  const d = fetcher.fetch({ name: BIG_CLIP, holder: holder.id, contentId: entry.cid!, size: entry.size })
  const res = await d.start()
  t.is(res.sha256, await contentIdFile(path.join(VIDEO_DIR, BIG_CLIP)))
  const st = tr.relay!.status()
  t.true(st.bytesRelayed >= entry.size, `relayed ${st.bytesRelayed} bytes for a ${entry.size}-byte file`)
  t.true(fetcher.relay.via(holder.id))
  // TSTA carries the same figures (PROTOCOL.md §7.8), and `tracker status` prints them.
  const tsta = parseTrackerStatus(Buffer.from(await requestText({ host: '127.0.0.1', port: tr.port }, MSG.TSTA, '{}')))
  t.is(tsta.relay?.reservations, 1)
  t.true((tsta.relay?.bytesRelayed ?? 0) >= entry.size)
  t.is(tsta.memberRelays, undefined, 'no member relay registered')
  t.regex(relayLines(tsta), /^ {2}relay: 1 reservations, \d+ circuits \(\d+ spliced\), [\d.]+ [kMG]?B relayed, 0 requests refused$/)
})

test('not an open proxy: RCON to an address without a reservation, RJOI with a made-up token, garbage on the data port: ERRO and close', async (t) => {
  const tr = await relayTracker(t)
  // A real server listening, but it never reserved: the relay will not connect to it.
  const other = net.createServer((s) => s.destroy())
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r))
  t.teardown(() => other.close())
  const port = (other.address() as net.AddressInfo).port
  for (const to of [`127.0.0.1:${port}`, '10.0.0.1:22', `127.0.0.1:${tr.port}`]) {
    const err = await t.throwsAsync(requestText({ host: '127.0.0.1', port: tr.port }, MSG.RCON, JSON.stringify({ to })), { instanceOf: RemoteError })
    t.is(err?.remoteCode, 'ERR_NO_RESERVATION', to)
  }
  const bad = await t.throwsAsync(requestText({ host: '127.0.0.1', port: tr.port }, MSG.RCON, JSON.stringify({ to: 'example.com:80/../x' })), { instanceOf: RemoteError })
  t.is(bad?.remoteCode, 'ERR_MALFORMED_PAYLOAD')
  const data = tr.relay!.dataPort
  const made = await rawExchange(data, encodeFrame(MSG.RJOI, formatJoin({ token: 'ab'.repeat(16) })))
  t.regex(made.frames[0]?.text ?? '', /^ERR_BAD_TOKEN: /)
  const http = await rawExchange(data, Buffer.from('CONNECT 10.0.0.1:22 HTTP/1.1\r\n\r\n'))
  t.regex(http.frames[0]?.text ?? '', /^ERR_(UNKNOWN_TYPE|BAD_TYPE): /)
  const big = await rawExchange(data, Buffer.concat([Buffer.from('RJOI'), Buffer.from([0, 1, 0, 0])]))
  t.regex(big.frames[0]?.text ?? '', /^ERR_FRAME_TOO_LARGE: /, 'a huge length is refused at the header')
  t.true(tr.relay!.status().refused >= 4)
})

test('a token works once: the second join with it is ERR_BAD_TOKEN', async (t) => {
  const tr = await relayTracker(t)
  const holder = await reservedHolder(t, tr)
  const reply = JSON.parse(await requestText({ host: '127.0.0.1', port: tr.port }, MSG.RCON, JSON.stringify({ to: holder.id }))) as { token: string; data: number }
  const first = net.connect(reply.data, '127.0.0.1')
  first.write(encodeFrame(MSG.RJOI, formatJoin({ token: reply.token })))
  t.teardown(() => first.destroy())
  await once(first, 'data')
  const again = await rawExchange(reply.data, encodeFrame(MSG.RJOI, formatJoin({ token: reply.token })))
  t.regex(again.frames[0]?.text ?? '', /^ERR_BAD_TOKEN: /)
})

test('caps: a second reservation over maxReservations, a circuit over maxCircuitsPerPeer: ERR_RELAY_LIMIT', async (t) => {
  const tr = await relayTracker(t, { maxReservations: 1, maxCircuitsPerPeer: 1 })
  const holder = await reservedHolder(t, tr)
  const second = await startNode(t, { relay: { via: [`127.0.0.1:${tr.port}`] } })
  const r2 = second.relay.reservations[0]!
  const [st] = (await once(r2, 'status')) as [{ state: string; reason: string }]
  t.is(st.state, 'refused')
  t.regex(st.reason, /ERR_RELAY_LIMIT/)
  t.false(tr.relay!.has(second.id))
  await requestText({ host: '127.0.0.1', port: tr.port }, MSG.RCON, JSON.stringify({ to: holder.id }))
  const err = await t.throwsAsync(requestText({ host: '127.0.0.1', port: tr.port }, MSG.RCON, JSON.stringify({ to: holder.id })), { instanceOf: RemoteError })
  t.is(err?.remoteCode, 'ERR_RELAY_LIMIT')
})

test('bytes per peer: a circuit is cut when the peer passes its bytes, the next RCON is refused', async (t) => {
  const tr = await relayTracker(t, { bytesPerPeerHour: 256 * 1024 })
  const holder = await reservedHolder(t, tr, [BIG_CLIP])
  const fetcher = await startNode(t)
  fetcher.relayedAt(holder.id, { host: '127.0.0.1', port: tr.port })
  const entry = holder.library.entries().find((e) => e.name === BIG_CLIP)!
  const limited = circuitEnd(tr, 'limit')
  const d = fetcher.fetch({ name: BIG_CLIP, holder: holder.id, contentId: entry.cid!, size: entry.size })
  // The relay is tried first (the tracker said so); once it cuts the circuit the download may go on
  // over a direct dial (this holder is on loopback, so dialable): only the relay's cut is asserted.
  await d.start().catch(() => undefined)
  const c = await limited
  t.true(c.bytes < 512 * 1024, `${c.bytes} bytes carried`)
  const err = await t.throwsAsync(requestText({ host: '127.0.0.1', port: tr.port }, MSG.RCON, JSON.stringify({ to: holder.id })), { instanceOf: RemoteError })
  t.is(err?.remoteCode, 'ERR_RELAY_LIMIT')
})

test('an idle spliced pair is closed after idleMs', async (t) => {
  const tr = await relayTracker(t, { idleMs: 300 })
  const holder = await reservedHolder(t, tr)
  const route = new RelayRoute({ transport: plainTransport, relays: () => [{ host: '127.0.0.1', port: tr.port }] })
  const idle = circuitEnd(tr, 'idle')
  const socket = await route.open({ host: '127.0.0.1', port: holder.port }, { type: 'NAME' })
  t.teardown(() => socket.destroy())
  socket.resume()
  const ended = once(socket, 'end')
  await idle
  await ended
  t.is(tr.relay!.status().circuits, 0)
})

test('a circuit whose holder never joins: the fetcher gets ERR_TIMEOUT after joinTimeoutMs, the circuit is released', async (t) => {
  const tr = await relayTracker(t, { joinTimeoutMs: 400 })
  // A reservation made by hand that ignores its incoming circuits.
  const events: string[] = []
  const ac = new AbortController()
  t.teardown(() => ac.abort())
  const held = exchange(
    { host: '127.0.0.1', port: tr.port },
    MSG.RRES,
    JSON.stringify({ port: 4242 }),
    { policy: controlPolicy, frame: (_t, p) => void events.push(p.toString()) },
    { signal: ac.signal }
  )
  held.catch(() => {})
  while (!tr.relay!.has('127.0.0.1:4242')) await new Promise((r) => setImmediate(r))
  const reply = JSON.parse(await requestText({ host: '127.0.0.1', port: tr.port }, MSG.RCON, JSON.stringify({ to: '127.0.0.1:4242' }))) as { token: string; data: number }
  const frames = await request({ host: '127.0.0.1', port: reply.data }, MSG.RJOI, formatJoin({ token: reply.token }))
  t.is(frames[0]?.type, MSG.ERRO)
  t.regex(frames[0]!.payload.toString(), /^ERR_TIMEOUT: /)
  t.is(tr.relay!.status().circuits, 0)
  t.true(
    events.some((e) => e.includes('"incoming"')),
    'the holder was told of the circuit on its reservation'
  )
})

test('bandwidth cap: a 358 KiB fetch through a relay capped at 128 KiB/s takes at least the time the bucket allows', async (t) => {
  const rate = 128 * 1024
  const tr = await relayTracker(t, { rate })
  const holder = await reservedHolder(t, tr, [SMALL_CLIP])
  const fetcher = await startNode(t)
  fetcher.relayedAt(holder.id, { host: '127.0.0.1', port: tr.port })
  const entry = holder.library.entries().find((e) => e.name === SMALL_CLIP)!
  const t0 = performance.now()
  const res = await fetcher.fetch({ name: SMALL_CLIP, holder: holder.id, contentId: entry.cid!, size: entry.size }).start()
  const ms = performance.now() - t0
  t.is(res.size, entry.size)
  // The bucket starts full (a 16 KiB burst) and a chunk read (64 KiB at most) is paid for after
  // it is written: the rest can go no faster than `rate`.
  const least = ((entry.size - 16384 - 65536) / rate) * 1000
  t.log(`${entry.size} bytes in ${Math.round(ms)} ms through a ${rate} B/s relay (at least ${Math.round(least)} ms)`)
  t.true(ms >= least, `${Math.round(ms)} ms`)
})

test('spare circuits: after a relayed HASH or RGET the next circuit to the holder is opened ahead, the next request starts on it, and an unused spare is closed after spareMs', async (t) => {
  const tr = await relayTracker(t)
  const holder = await reservedHolder(t, tr)
  const route = new RelayRoute({ transport: plainTransport, relays: () => [{ host: '127.0.0.1', port: tr.port }], spareMs: 300 })
  t.teardown(() => route.close())
  const to = { host: '127.0.0.1', port: holder.port }
  ;(await route.open(to, { type: MSG.RGET })).destroy()
  // The next connection is the spare (a NAME opens no new spare): a live circuit to the holder.
  const spare = await route.open(to, { type: MSG.NAME })
  t.deepEqual({ ...route.counts }, { circuits: 2, sparesUsed: 1, sparesWasted: 0 })
  spare.write(encodeFrame(MSG.NAME, ''))
  const reply = await firstFrame(spare, controlPolicy, 5000)
  spare.destroy()
  t.is(reply.type, MSG.REPL, 'the holder answered on the spare circuit')
  // A HASH opens a circuit and a spare; nobody takes the spare: it is closed after 300 ms.
  ;(await route.open(to, { type: MSG.HASH })).destroy()
  while (route.counts.sparesWasted === 0) await new Promise((r) => setTimeout(r, 20))
  t.deepEqual({ ...route.counts }, { circuits: 4, sparesUsed: 1, sparesWasted: 1 })
  while (tr.relay!.status().circuits > 0) await new Promise((r) => setTimeout(r, 20))
  t.pass('the relay released every circuit')
})

/** The next circuit of `tr`'s relay that ends with `end`. */
function circuitEnd(tr: Tracker, end: string): Promise<{ end: string; bytes: number }> {
  return new Promise((resolve) => {
    const on = (c: { end: string; bytes: number }): void => {
      if (c.end !== end) return
      tr.relay!.off('circuit', on)
      resolve(c)
    }
    tr.relay!.on('circuit', on)
  })
}
