/**
 * A real P2PNode fed bad input over raw sockets. For every case the node must answer ERRO with
 * a reason, close the connection, and keep serving (STYLE.md "Errors": bad remote input → log,
 * ERRO, close). The legacy defects it must not copy are listed in
 * ../shared/reference/btpeer-wire.md "Known defects of the legacy peer".
 */
import test, { type ExecutionContext } from 'ava'
import fc from 'fast-check'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { copyFile, mkdtemp, readdir, readFile, realpath, rm, stat } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { requestText } from '../../src/net/client.ts'
import { P2PNode } from '../../src/app/node.ts'
import { encodeFrame } from '../../src/protocol/frame.ts'
import { handlesClosed } from '../helpers/nodes.ts'
import { rawExchange, type RawResult } from '../helpers/raw.ts'
import { slow } from '../helpers/slow.ts'

const MEDIA_DIR = '/usr/share/lebiniou/vue/media'
/**
 * Request timeouts of the node under test: the tests of the timeout itself use a short one; every
 * other test a long one, so a loaded machine (CI runs test files in parallel) never turns their
 * expected answer into ERR_TIMEOUT, and "at once" means well before it.
 */
const SHORT_REQUEST_TIMEOUT_MS = 300
const REQUEST_TIMEOUT_MS = 10_000

let shareDir = ''
let fileName = ''
let fileBytes = Buffer.alloc(0)

test.before(async () => {
  const mp4s = (await readdir(MEDIA_DIR)).filter((f) => f.endsWith('.mp4'))
  const sized = await Promise.all(mp4s.map(async (f) => ({ f, size: (await stat(path.join(MEDIA_DIR, f))).size })))
  const smallest = sized.sort((a, b) => a.size - b.size)[0]
  if (!smallest) throw new Error(`no MP4 in ${MEDIA_DIR}`)
  shareDir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'p2ptube-bad-input-')))
  fileName = smallest.f
  await copyFile(path.join(MEDIA_DIR, fileName), path.join(shareDir, fileName))
  fileBytes = await readFile(path.join(shareDir, fileName))
})

test.after.always(async () => {
  if (shareDir) await rm(shareDir, { recursive: true, force: true })
})

async function startNode(t: ExecutionContext, requestTimeoutMs = REQUEST_TIMEOUT_MS): Promise<P2PNode> {
  const node = new P2PNode({
    host: '127.0.0.1',
    port: 0,
    dataDir: null,
    stabilizeIntervalMs: 0,
    requestTimeoutMs,
    connectTimeoutMs: 1000,
    idleTimeoutMs: 2000,
    shares: [shareDir],
    downloadsDir: path.join(shareDir, '.downloads')
  })
  t.teardown(() => node.stop())
  await node.start()
  return node
}

/** The node still answers NAME with its own id. */
async function stillServes(t: ExecutionContext, node: P2PNode): Promise<void> {
  t.is(await requestText({ host: '127.0.0.1', port: node.port }, 'NAME', '', { connectTimeoutMs: slow(15_000), idleTimeoutMs: slow(15_000) }), node.id, 'node still answers NAME')
}

/** Exactly one reply frame, an ERRO matching `reason`; the stream was well framed. */
function assertErro(t: ExecutionContext, r: RawResult, reason: RegExp | string): string {
  t.is(r.decodeError, undefined, 'reply is well-framed')
  t.deepEqual(
    r.frames.map((f) => f.type),
    ['ERRO'],
    `one ERRO, got ${JSON.stringify(r.frames.map((f) => `${f.type} ${f.text.slice(0, 80)}`))}`
  )
  const text = r.frames[0]?.text ?? ''
  if (typeof reason === 'string') t.is(text, reason)
  else t.regex(text, reason)
  return text
}

function header(type: string, length: number): Buffer {
  const h = Buffer.alloc(8)
  h.write(type, 0, 'latin1')
  h.writeUInt32BE(length, 4)
  return h
}

// ------------------------------------------------------------------------------ framing

test('control: a valid NAME gets one REPL with the id, and the node closes', async (t) => {
  const node = await startNode(t)
  const r = await rawExchange(node.port, encodeFrame('NAME'))
  t.deepEqual(
    r.frames.map((f) => [f.type, f.text]),
    [['REPL', node.id]]
  )
  // The type is upper-cased before dispatch, as the legacy peer does (btpeer-wire.md "Frame").
  const lower = await rawExchange(node.port, encodeFrame('name'))
  t.deepEqual(
    lower.frames.map((f) => [f.type, f.text]),
    [['REPL', node.id]]
  )
  t.is(node.stats.badInput, 0)
})

test('oversize length: a JOIN header announcing 1 MiB is refused at once, before any body', async (t) => {
  const node = await startNode(t)
  const r = await rawExchange(node.port, header('JOIN', 1 << 20))
  assertErro(t, r, /ERR_FRAME_TOO_LARGE/)
  // Refused from the header, not by the request timeout.
  t.true(r.elapsedMs < REQUEST_TIMEOUT_MS / 2, `replied after ${r.elapsedMs.toFixed(0)} ms`)
  t.is(node.stats.badInput, 1)
  await stillServes(t, node)
})

test('oversize length: a NAME header announcing 4 GiB - 1 is refused at once', async (t) => {
  const node = await startNode(t)
  const r = await rawExchange(node.port, header('NAME', 0xffffffff))
  assertErro(t, r, /ERR_FRAME_TOO_LARGE/)
  t.true(r.elapsedMs < REQUEST_TIMEOUT_MS / 2, `replied after ${r.elapsedMs.toFixed(0)} ms`)
  await stillServes(t, node)
})

test('truncated header: 5 bytes then end → ERRO ERR_TRUNCATED_FRAME', async (t) => {
  const node = await startNode(t)
  const r = await rawExchange(node.port, encodeFrame('NAME').subarray(0, 5), { end: true })
  assertErro(t, r, /ERR_TRUNCATED_FRAME/)
  await stillServes(t, node)
})

test('truncated body: half a QUER then end → ERRO ERR_TRUNCATED_FRAME', async (t) => {
  const node = await startNode(t)
  const f = encodeFrame('QUER', '127.0.0.1:9400 clip 4')
  const r = await rawExchange(node.port, f.subarray(0, 15), { end: true })
  assertErro(t, r, /ERR_TRUNCATED_FRAME/)
  await stillServes(t, node)
})

test('no request: connect and end at once → ERRO ERR_NO_REQUEST', async (t) => {
  const node = await startNode(t)
  const r = await rawExchange(node.port, Buffer.alloc(0), { end: true })
  assertErro(t, r, /ERR_NO_REQUEST/)
  await stillServes(t, node)
})

test('slow sender: 10 of 100 promised bytes, then silence → ERRO ERR_TIMEOUT from the request timeout', async (t) => {
  const node = await startNode(t, SHORT_REQUEST_TIMEOUT_MS)
  const r = await rawExchange(node.port, Buffer.concat([header('FGET', 100), Buffer.alloc(10, 0x61)]))
  assertErro(t, r, /ERR_TIMEOUT/)
  t.true(r.elapsedMs >= SHORT_REQUEST_TIMEOUT_MS - 50, `closed after ${r.elapsedMs.toFixed(0)} ms`)
  await stillServes(t, node)
})

test('silent connection: nothing sent, socket left open → ERRO ERR_TIMEOUT', async (t) => {
  const node = await startNode(t, SHORT_REQUEST_TIMEOUT_MS)
  const r = await rawExchange(node.port, Buffer.alloc(0))
  assertErro(t, r, /ERR_TIMEOUT/)
  await stillServes(t, node)
})

test('unknown type: ABCD → ERRO naming the unknown type', async (t) => {
  const node = await startNode(t)
  const r = await rawExchange(node.port, encodeFrame('ABCD'))
  const text = assertErro(t, r, /ERR_UNKNOWN_TYPE/)
  t.regex(text, /unknown/i)
  t.regex(text, /ABCD/)
  t.is(node.stats.badInput, 1)
  await stillServes(t, node)
})

test('PING (the legacy stabilizer\'s check) gets no reply, only the close (btpeer-wire.md "Connection model")', async (t) => {
  const node = await startNode(t)
  for (const type of ['PING', 'ping']) {
    const r = await rawExchange(node.port, encodeFrame(type))
    t.deepEqual(r.frames, [], type)
    t.is(r.bytes.length, 0, type)
    t.true(r.elapsedMs < REQUEST_TIMEOUT_MS / 2, 'closed at once, not by the request timeout')
  }
  t.is(node.stats.badInput, 0)
  // A PING is not exempt from the length limit.
  assertErro(t, await rawExchange(node.port, header('PING', 1 << 20)), /ERR_FRAME_TOO_LARGE/)
  await stillServes(t, node)
})

test('reply types are not requests: REPL and ERRO sent to a node → ERRO ERR_UNKNOWN_TYPE', async (t) => {
  const node = await startNode(t)
  for (const type of ['REPL', 'ERRO']) assertErro(t, await rawExchange(node.port, encodeFrame(type, 'x')), /ERR_UNKNOWN_TYPE/)
  await stillServes(t, node)
})

test('garbage: bytes with a non-printable type → ERRO ERR_BAD_TYPE', async (t) => {
  const node = await startNode(t)
  const garbage = Buffer.concat([Buffer.from([0x00, 0xff, 0x13, 0x37]), randomBytes(60)])
  assertErro(t, await rawExchange(node.port, garbage), /ERR_BAD_TYPE/)
  await stillServes(t, node)
})

test('garbage (property): random bytes always get one ERRO with a frame error code, and the node survives', async (t) => {
  const node = await startNode(t, SHORT_REQUEST_TIMEOUT_MS) // bytes left unended wait for it
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.boolean(), async (bytes, end) => {
      const r = await rawExchange(node.port, Buffer.from(bytes), { end })
      const [f, ...rest] = r.frames
      if (r.decodeError || rest.length || f?.type !== 'ERRO') throw new Error(`reply ${JSON.stringify(r.frames.map((x) => [x.type, x.text]))}`)
      if (!/^ERR_(BAD_TYPE|UNKNOWN_TYPE|FRAME_TOO_LARGE|TRUNCATED_FRAME|TIMEOUT): /.test(f.text)) throw new Error(`ERRO ${f.text}`)
    }),
    { numRuns: 30 }
  )
  t.is(node.stats.badInput, 30)
  await stillServes(t, node)
})

test('only one request per connection: a second frame in the same write is ignored', async (t) => {
  const node = await startNode(t)
  const r = await rawExchange(node.port, Buffer.concat([encodeFrame('NAME'), encodeFrame('LIST')]))
  t.deepEqual(
    r.frames.map((f) => [f.type, f.text]),
    [['REPL', node.id]]
  )
})

// ------------------------------------------------------------------------------ payloads

test('malformed JOIN with 2 tokens → ERRO "Join: incorrect arguments"', async (t) => {
  const node = await startNode(t)
  assertErro(t, await rawExchange(node.port, encodeFrame('JOIN', '127.0.0.1:9400 127.0.0.1')), 'Join: incorrect arguments')
  t.is(node.peers.size, 0)
  await stillServes(t, node)
})

test('malformed QUER with TTL "x" → ERRO "Query: incorrect arguments …"', async (t) => {
  const node = await startNode(t)
  assertErro(t, await rawExchange(node.port, encodeFrame('QUER', '127.0.0.1:9400 clip x')), /^Query: incorrect arguments/)
  t.is(node.stats.legacyQueriesHandled, 0)
  await stillServes(t, node)
})

test('malformed JOIN with port "abc" → ERRO naming the port', async (t) => {
  const node = await startNode(t)
  const text = assertErro(t, await rawExchange(node.port, encodeFrame('JOIN', '127.0.0.1:9400 127.0.0.1 abc')), /port/)
  t.regex(text, /abc/)
  t.is(node.peers.size, 0)
  await stillServes(t, node)
})

// btpeer-wire.md documents one reply for every malformed JOIN, "Join: incorrect arguments".
test('malformed JOIN with port "abc" → ERRO starts with "Join: incorrect arguments" (the documented text)', async (t) => {
  const node = await startNode(t)
  assertErro(t, await rawExchange(node.port, encodeFrame('JOIN', '127.0.0.1:9400 127.0.0.1 abc')), /^Join: incorrect arguments/)
})

test('malformed SRCH (not JSON) → ERRO, node survives', async (t) => {
  const node = await startNode(t)
  assertErro(t, await rawExchange(node.port, encodeFrame('SRCH', '{"qid":')), /SRCH: payload is not JSON/)
  await stillServes(t, node)
})

// ------------------------------------------------------------------------------ FGET and paths

const headBytes = (): Buffer => fileBytes.subarray(0, 64)

test('control: FGET of the shared name returns exactly the file in REPL frames of 2048 bytes', async (t) => {
  const node = await startNode(t)
  const r = await rawExchange(node.port, encodeFrame('FGET', fileName))
  t.true(r.frames.length > 1)
  t.true(r.frames.every((f) => f.type === 'REPL'))
  t.true(r.frames.slice(0, -1).every((f) => f.payload.length === 2048))
  t.true(Buffer.concat(r.frames.map((f) => f.payload)).equals(fileBytes))
})

test('FGET names that leave the shared folders → ERRO "File not found" and no byte of any file', async (t) => {
  const node = await startNode(t)
  const names = [
    '../../etc/passwd',
    '/etc/passwd',
    '%2e%2e/%2e%2e/etc/passwd',
    '..%2F..%2Fetc%2Fpasswd',
    `../${path.basename(shareDir)}/${fileName}`,
    path.join(shareDir, fileName), // the absolute path of the shared file itself
    `./${fileName}`,
    `sub/../${fileName}`,
    `file://${path.join(shareDir, fileName)}`
  ]
  for (const name of names) {
    const r = await rawExchange(node.port, encodeFrame('FGET', name))
    assertErro(t, r, 'File not found')
    t.false(r.bytes.includes(headBytes()), `no file bytes for ${name}`)
    t.false(r.bytes.includes(Buffer.from('root:')), `no /etc/passwd for ${name}`)
  }
  await stillServes(t, node)
})

test('RESP "/etc/passwd 127.0.0.1:1" then FGET "/etc/passwd" → RESP refused, file not served (legacy defect)', async (t) => {
  const node = await startNode(t)
  const resp = await rawExchange(node.port, encodeFrame('RESP', '/etc/passwd 127.0.0.1:1'))
  assertErro(t, resp, 'ERR_UNSOLICITED: Response: no open query matches it')
  const r = await rawExchange(node.port, encodeFrame('FGET', '/etc/passwd'))
  assertErro(t, r, 'File not found')
  t.false(r.bytes.includes(Buffer.from('root:')))
  // Also with an open search whose key matches the name: the name is still never a path.
  const search = node.search('passwd', { timeoutMs: 5000 })
  const resp2 = await rawExchange(node.port, encodeFrame('RESP', '/etc/passwd 127.0.0.1:1'))
  t.deepEqual(resp2.frames, [], 'an answer to an open search gets no reply')
  t.is(search.results.length, 1)
  const r2 = await rawExchange(node.port, encodeFrame('FGET', '/etc/passwd'))
  assertErro(t, r2, 'File not found')
  t.false(r2.bytes.includes(Buffer.from('root:')))
})

test('RGET by a path outside the shares → ERRO "ERR_NOT_FOUND: File not found" (an extension: the code travels)', async (t) => {
  const node = await startNode(t)
  for (const name of ['/etc/passwd', '../../etc/passwd', path.join(shareDir, fileName)]) {
    const r = await rawExchange(node.port, encodeFrame('RGET', JSON.stringify({ name, offset: 0 })))
    assertErro(t, r, 'ERR_NOT_FOUND: File not found')
    t.false(r.bytes.includes(headBytes()))
  }
})

// ------------------------------------------------------------------------------ peer table

test('JOIN whose host is not the connecting address → refused, not added', async (t) => {
  const node = await startNode(t)
  const r = await rawExchange(node.port, encodeFrame('JOIN', '10.9.9.9:1 10.9.9.9 1'))
  assertErro(t, r, /^ERR_SPOOFED_ADDRESS: Join: address 10\.9\.9\.9 is not the connection's address/)
  t.is(node.peers.size, 0)
  // Control: the same JOIN from the real address is accepted.
  const ok = await rawExchange(node.port, encodeFrame('JOIN', '127.0.0.1:9 127.0.0.1 9'))
  t.deepEqual(
    ok.frames.map((f) => [f.type, f.text]),
    [['REPL', 'Join: peer added: 127.0.0.1:9']]
  )
  await stillServes(t, node)
})

// Were only the <host> token compared with the connection's address, a host could register
// (squat) any other peer's id, which that peer then could neither JOIN ("already inserted") nor
// QUIT (host differs). The id must be "<host>:<port>" of the same payload.
test('JOIN whose peer id is not "<host>:<port>" of the payload → refused, not added', async (t) => {
  const node = await startNode(t)
  for (const payload of ['10.9.9.9:1 127.0.0.1 9', '127.0.0.1:9400 127.0.0.1 1']) {
    const r = await rawExchange(node.port, encodeFrame('JOIN', payload))
    assertErro(t, r, /^Join: incorrect arguments/)
  }
  t.is(node.peers.size, 0)
})

test("QUIT of another peer's id from a different address → refused, the peer stays", async (t) => {
  const node = await startNode(t)
  // 127.0.0.2 is loopback too on Linux: a second "host" for the test.
  const other = '127.0.0.2:5000'
  const join = await rawExchange(node.port, encodeFrame('JOIN', `${other} 127.0.0.2 5000`), { localAddress: '127.0.0.2' })
  t.deepEqual(
    join.frames.map((f) => f.text),
    [`Join: peer added: ${other}`]
  )
  const quit = await rawExchange(node.port, encodeFrame('QUIT', other))
  assertErro(t, quit, /^ERR_SPOOFED_ADDRESS: Quit: only 127\.0\.0\.2:5000 itself may remove/)
  t.true(node.peers.has(other))
  // The peer itself may leave.
  const own = await rawExchange(node.port, encodeFrame('QUIT', ` ${other}\n`), { localAddress: '127.0.0.2' })
  t.deepEqual(
    own.frames.map((f) => [f.type, f.text]),
    [['REPL', `Quit: peer removed: ${other}`]]
  )
  t.false(node.peers.has(other))
  await stillServes(t, node)
})

test('QUIT of an unknown peer → ERRO "Quit: peer not found: …"', async (t) => {
  const node = await startNode(t)
  assertErro(t, await rawExchange(node.port, encodeFrame('QUIT', '127.0.0.1:1')), 'Quit: peer not found: 127.0.0.1:1')
})

test('HITS for an unknown query id → ERRO, no result recorded', async (t) => {
  const node = await startNode(t)
  const hits = { qid: randomBytes(16).toString('hex'), holder: '127.0.0.1:1', results: [{ name: 'x.mp4', size: 1, cid: 'a'.repeat(64), kind: 'video' }] }
  const r = await rawExchange(node.port, encodeFrame('HITS', JSON.stringify(hits)))
  assertErro(t, r, /unknown query id/)
  await stillServes(t, node)
})

test('HITS for an open query but from a host other than the holder → ERRO, no result', async (t) => {
  const node = await startNode(t)
  const search = node.search('clip', { timeoutMs: 5000 })
  const hits = { qid: search.qid, holder: '10.9.9.9:1', results: [{ name: 'x.mp4', size: 1, cid: 'a'.repeat(64), kind: 'video' }] }
  assertErro(t, await rawExchange(node.port, encodeFrame('HITS', JSON.stringify(hits))), /HITS:/)
  t.is(search.results.length, 0)
})

// ------------------------------------------------------------------------------ load

test('20 requesters that reset mid-download: the node keeps serving, every file handle is closed, nothing is left half-read', async (t) => {
  const node = new P2PNode({ host: '127.0.0.1', port: 0, dataDir: null, stabilizeIntervalMs: 0, shares: [shareDir], rateLimit: 1_000_000 })
  t.teardown(() => node.stop())
  await node.start()
  const file = path.join(shareDir, fileName)
  const resets = Array.from({ length: 20 }, async () => {
    const s = net.connect({ host: '127.0.0.1', port: node.port })
    s.on('error', () => {})
    s.write(encodeFrame('FGET', fileName))
    await once(s, 'data') // the upload has started (rate-limited: it is far from done)
    s.resetAndDestroy()
    await once(s, 'close')
  })
  await Promise.all(resets)
  // The node's side winds down asynchronously (limiter wait aborted, pending read settled).
  t.is(await handlesClosed(file), 0, 'no file handle left open on the shared file')
  await stillServes(t, node)
  const r = await rawExchange(node.port, encodeFrame('FGET', fileName), { timeoutMs: 10_000 })
  t.true(Buffer.concat(r.frames.map((f) => f.payload)).equals(fileBytes), 'a full FGET afterwards gets the exact file')
})

test('200 connections opened in parallel that send nothing, then close → the node keeps serving', async (t) => {
  const node = await startNode(t)
  const closed: Array<Promise<unknown>> = []
  const sockets = Array.from({ length: 200 }, () => {
    const s = net.connect({ host: '127.0.0.1', port: node.port })
    t.teardown(() => s.destroy())
    s.on('error', () => {}) // a reset from the node's side is fine here
    s.resume() // drain the node's ERRO
    // Listen for the close now: on a slow machine the request timeout may close some first.
    closed.push(once(s, 'close'))
    return s
  })
  await Promise.all(sockets.map((s) => (s.connecting ? once(s, 'connect') : undefined)))
  // While they are all open, the node answers.
  await stillServes(t, node)
  for (const s of sockets) s.end()
  await Promise.all(closed)
  await stillServes(t, node)
  t.is(node.stats.badInput, 200, 'each empty connection is counted as bad input (ERR_NO_REQUEST)')
})

test('200 connections held open and silent are all closed by the request timeout', async (t) => {
  const node = await startNode(t, SHORT_REQUEST_TIMEOUT_MS)
  const results = await Promise.all(Array.from({ length: 200 }, () => rawExchange(node.port, Buffer.alloc(0), { timeoutMs: 10_000 })))
  for (const r of results) if (r.frames[0]?.type !== 'ERRO' || !/ERR_TIMEOUT/.test(r.frames[0].text)) return t.fail(JSON.stringify(r.frames))
  await stillServes(t, node)
})
