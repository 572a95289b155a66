/**
 * FrameServer sessions (PROTOCOL.md §7.1, the tracker's TSES): requests on one connection are
 * answered in order, and a requester that pipelines requests without reading its replies is
 * paused (the server stops reading) and then disconnected by the write-stall timeout, instead of
 * growing an unbounded reply queue.
 */
import test from 'ava'
import { once } from 'node:events'
import net from 'node:net'
import { FrameServer, type Handler } from '../../src/net/server.ts'
import { encodeFrame, FrameDecoder } from '../../src/protocol/frame.ts'

const REPLY = Buffer.alloc(1024, 0x61)

async function start(t: import('ava').ExecutionContext, writeTimeoutMs: number): Promise<{ server: FrameServer; port: number; handled: () => number }> {
  let handled = 0
  const handlers = new Map<string, Handler>([
    ['ECHO', (ctx) => ctx.reply(ctx.payload)],
    [
      'BULK',
      (ctx) => {
        handled++
        return ctx.reply(REPLY)
      }
    ]
  ])
  const server = new FrameServer({ handlers, session: { type: 'TSES', idleMs: 30_000 }, writeTimeoutMs })
  t.teardown(() => server.close())
  const port = await server.listen(0, '127.0.0.1')
  return { server, port, handled: () => handled }
}

test('a session answers pipelined requests in order and closes after the requester ends', async (t) => {
  const { port } = await start(t, 5000)
  const s = net.connect(port, '127.0.0.1')
  const frames: string[] = []
  const dec = new FrameDecoder(() => ({ maxLength: 65536 }), { frame: (type, p) => frames.push(`${type} ${p.toString()}`) })
  s.on('data', (c: Buffer) => dec.push(c))
  await once(s, 'connect')
  s.end(Buffer.concat([encodeFrame('TSES', '{}'), ...[1, 2, 3].map((i) => encodeFrame('ECHO', String(i))), encodeFrame('TSES', '{}')]))
  await new Promise((r) => s.once('close', r))
  t.deepEqual(frames, ['REPL {"session":true,"idleMs":30000}', 'REPL 1', 'REPL 2', 'REPL 3', 'ERRO ERR_UNEXPECTED: TSES must be the first frame of a connection'])
})

test('a session that pipelines requests and never reads stops being read, then is disconnected within the stall timeout', async (t) => {
  const STALL_MS = 800
  const { port, handled } = await start(t, STALL_MS)
  const s = net.connect(port, '127.0.0.1')
  t.teardown(() => s.destroy())
  s.pause() // never read a reply
  await once(s, 'connect')
  // 1 M requests (8 MB) whose replies would be 1 GB: the server must not read them all.
  const N = 1_000_000
  const bulk = Buffer.alloc(N * 8)
  for (let i = 0; i < N; i++) bulk.write('BULK\0\0\0\0', i * 8, 'latin1')
  s.on('error', () => {})
  s.write(Buffer.concat([encodeFrame('TSES', '{}'), bulk]))
  const t0 = Date.now()
  let stalledAt = 0
  let last = -1
  // The handled count stops growing once the socket buffers are full (the server paused reading).
  const poll = setInterval(() => {
    if (handled() === last && !stalledAt) stalledAt = Date.now()
    last = handled()
  }, 50)
  await new Promise((r) => s.once('close', r))
  clearInterval(poll)
  const ms = Date.now() - t0
  t.log(`${handled()} of ${N} requests answered before the disconnect, ${ms} ms after the first write`)
  t.true(handled() < N / 10, 'the server read only what the socket buffers hold, not the whole pipeline')
  t.true(stalledAt > 0 && Date.now() - stalledAt < STALL_MS + 3000, 'disconnected within the stall timeout once stalled')
})
