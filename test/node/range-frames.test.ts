/**
 * Issue #15: RGET large data frames (PROTOCOL.md §4.4, §4.7): asked for with `frame`, landing in
 * place at the requester; without `frame`, and for legacy FGET, frames stay exactly 2 048 bytes.
 * Every limit holds: a frame over what was asked is refused at its header.
 */
import test from 'ava'
import fs from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { CHUNK_SIZE, MAX_RANGE_FRAME } from '../../src/protocol/constants.ts'
import { encodeFrame, FrameDecoder } from '../../src/protocol/frame.ts'
import { BIG_CLIP, contentIdFile, shareWith, startNode, VIDEO_DIR } from '../helpers/nodes.ts'
import { rawExchange } from '../helpers/raw.ts'

const request = (o: Record<string, unknown>): Buffer => encodeFrame('RGET', JSON.stringify(o))

test('RGET with "frame": data frames of that size, the last shorter, the bytes of the file', async (t) => {
  const node = await startNode(t, { shares: [await shareWith(t, [BIG_CLIP])] })
  const entry = node.library.get(BIG_CLIP)!
  const r = await rawExchange(node.port, request({ cid: entry.cid, offset: 1000, frame: 65536 }), { timeoutMs: 20_000 })
  const [meta, ...data] = r.frames
  t.like(JSON.parse(meta!.text), { offset: 1000, length: entry.size - 1000 })
  t.true(data.length > 1)
  t.true(
    data.slice(0, -1).every((f) => f.type === 'REPL' && f.payload.length === 65536),
    'every frame but the last is 64 KiB'
  )
  t.true(data.at(-1)!.payload.length <= 65536)
  const file = await fs.readFile(path.join(VIDEO_DIR, BIG_CLIP))
  t.true(Buffer.concat(data.map((f) => f.payload)).equals(file.subarray(1000)))
})

test('RGET without "frame" and FGET keep exactly 2 048-byte frames (legacy wire)', async (t) => {
  const node = await startNode(t, { shares: [await shareWith(t, [BIG_CLIP])] })
  const entry = node.library.get(BIG_CLIP)!
  const rget = await rawExchange(node.port, request({ cid: entry.cid, offset: 0, length: 300_000 }), { timeoutMs: 20_000 })
  t.true(rget.frames.slice(1, -1).every((f) => f.payload.length === CHUNK_SIZE))
  const fget = await rawExchange(node.port, encodeFrame('FGET', BIG_CLIP), { timeoutMs: 20_000 })
  t.true(fget.frames.length > 2)
  t.true(fget.frames.slice(0, -1).every((f) => f.payload.length === CHUNK_SIZE))
})

test('RGET "frame" outside 2 048 B–1 MiB is a malformed request', async (t) => {
  const node = await startNode(t, { shares: [await shareWith(t, [BIG_CLIP])] })
  const cid = node.library.get(BIG_CLIP)!.cid
  for (const frame of [1000, MAX_RANGE_FRAME + 1, 'big']) {
    const r = await rawExchange(node.port, request({ cid, offset: 0, frame }))
    t.is(r.frames.length, 1)
    t.regex(r.frames[0]!.text, /^ERR_MALFORMED_PAYLOAD: /, `frame ${frame}`)
  }
})

/** A forged holder: answers RGET with a valid meta frame, then announces a data frame of `frameLength` bytes. */
async function oversizeHolder(t: import('ava').ExecutionContext, size: number, cid: string, frameLength: number): Promise<number> {
  const server = net.createServer((socket) => {
    const decoder = new FrameDecoder(() => ({ maxLength: 4096 }), {
      frame: (type, payload) => {
        if (type !== 'RGET') return void socket.end()
        const q = JSON.parse(payload.toString()) as { offset: number; length: number }
        socket.write(encodeFrame('REPL', JSON.stringify({ name: BIG_CLIP, size, cid, offset: q.offset, length: q.length })))
        const header = Buffer.alloc(8)
        header.write('REPL')
        header.writeUInt32BE(frameLength, 4)
        socket.write(header)
        socket.write(Buffer.alloc(64 * 1024))
      }
    })
    socket.on('data', (c: Buffer) => decoder.push(c))
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  return (server.address() as net.AddressInfo).port
}

test('a holder sending a data frame over 1 MiB is dropped at the frame header; the file completes from the honest holder', async (t) => {
  const honest = await startNode(t, { shares: [await shareWith(t, [BIG_CLIP])], rateLimit: 1_000_000 })
  const entry = honest.library.get(BIG_CLIP)!
  const port = await oversizeHolder(t, entry.size, entry.cid!, MAX_RANGE_FRAME + 1)
  const viewer = await startNode(t)
  const d = viewer.fetch({ name: BIG_CLIP, contentId: entry.cid!, holder: honest.id, size: entry.size })
  const forged = `127.0.0.1:${port}`
  d.addSource({ id: forged, host: '127.0.0.1', port })
  const droppedFor = new Map<string, string>()
  d.on('source-dropped', (id: string, why: string) => droppedFor.set(id, why))
  const res = await d.start()
  t.is(res.sha256, entry.cid!)
  t.is(await contentIdFile(res.path), entry.cid!)
  t.regex(droppedFor.get(forged) ?? '', /exceeds the limit of 1048576 bytes/)
  t.false(droppedFor.has(honest.id))
})
