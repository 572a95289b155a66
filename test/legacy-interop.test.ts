/**
 * Interoperation with a legacy btpeer/btfiler peer (../shared/reference/btpeer-wire.md): real
 * child processes of test/fixtures/legacy_btpeer.py against real P2PNode instances on
 * 127.0.0.1, moving real MP4 files both ways and comparing SHA-256.
 */
import test, { type ExecutionContext } from 'ava'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { exchange, request } from '../src/net/client.ts'
import { P2PNode, type NodeOptions, type SearchHandle, type SearchResult } from '../src/app/node.ts'
import type { PeerInfo } from '../src/node/peer-table.ts'
import { parsePeerId } from '../src/protocol/messages.ts'

const FIXTURE = fileURLToPath(new URL('./fixtures/legacy_btpeer.py', import.meta.url))
const MEDIA = '/usr/share/lebiniou/vue/media'
/** ~360 KiB, ~460 KiB and ~4.1 MiB clips: the big one crosses many socket reads in one REPL frame. */
const SMALL = 'lebiniou-2021-06-10_12-19-19.mp4'
const MEDIUM = 'lebiniou-2021-06-10_12-24-29.mp4'
const BIG = 'lebiniou-2021-06-10_12-19-53.mp4'
/** Guard against a hang only; every wait below ends on an event long before. */
const WAIT_MS = 15_000

async function sha256File(file: string): Promise<string> {
  return createHash('sha256')
    .update(await fs.readFile(file))
    .digest('hex')
}

async function tempDir(t: ExecutionContext, label: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `p2ptube-legacy-${label}-`))
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  return dir
}

/** A temp share folder holding copies of the named media files. */
async function shareOf(t: ExecutionContext, ...names: string[]): Promise<string> {
  const dir = await tempDir(t, 'share')
  for (const n of names) await fs.copyFile(path.join(MEDIA, n), path.join(dir, n))
  return dir
}

function withTimeout<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
    })
  ])
}

/** A running legacy_btpeer.py child, driven through its stdin command lines. */
class LegacyProc {
  id = ''
  stderr = ''
  private readonly lines: string[] = []
  private readonly waiters: Array<{ re: RegExp; resolve: (m: RegExpMatchArray) => void }> = []
  readonly exited: Promise<unknown>

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    this.exited = once(child, 'exit')
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (s: string) => {
      this.stderr += s
    })
    createInterface({ input: child.stdout }).on('line', (line) => {
      const i = this.waiters.findIndex((w) => w.re.test(line))
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1)
        w!.resolve(line.match(w!.re) as RegExpMatchArray)
      } else {
        this.lines.push(line)
      }
    })
  }

  static async spawn(t: ExecutionContext, args: string[]): Promise<LegacyProc> {
    const child = spawn('python3', ['-u', FIXTURE, '--port', '0', ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    const p = new LegacyProc(child)
    t.teardown(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        await p.exited
      }
    })
    const m = await p.next(/^LISTENING (\S+)$/)
    p.id = m[1]!
    return p
  }

  get endpoint(): { host: string; port: number } {
    return parsePeerId(this.id)
  }

  /** The next stdout line matching `re` (lines that arrived earlier and matched nobody count). */
  next(re: RegExp): Promise<RegExpMatchArray> {
    const i = this.lines.findIndex((l) => re.test(l))
    if (i >= 0) {
      const [line] = this.lines.splice(i, 1)
      return Promise.resolve(line!.match(re) as RegExpMatchArray)
    }
    const p = new Promise<RegExpMatchArray>((resolve) => this.waiters.push({ re, resolve }))
    return withTimeout(p, `legacy peer line ${re} (stderr so far:\n${this.stderr.slice(-2000)})`)
  }

  /** Send one command line; resolve with its result line. */
  command(line: string, result: RegExp): Promise<RegExpMatchArray> {
    const p = this.next(result)
    this.child.stdin.write(line + '\n')
    return p
  }

  async peers(): Promise<string[]> {
    const m = await this.command('peers', /^PEERS(.*)$/)
    return m[1]!.split(/\s+/).filter(Boolean)
  }
}

async function startNode(t: ExecutionContext, opts: NodeOptions = {}): Promise<P2PNode> {
  const node = new P2PNode({ host: '127.0.0.1', port: 0, dataDir: null, stabilizeIntervalMs: 0, downloadsDir: await tempDir(t, 'dl'), ...opts })
  await node.start()
  t.teardown(() => node.stop())
  return node
}

function nextEvent<T extends unknown[]>(emitter: NodeJS.EventEmitter, event: string, match: (...args: T) => boolean = () => true): Promise<T> {
  return withTimeout(
    new Promise<T>((resolve) => {
      const on = (...args: unknown[]): void => {
        if (!match(...(args as T))) return
        emitter.off(event, on)
        resolve(args as T)
      }
      emitter.on(event, on)
    }),
    `event ${event}`
  )
}

/** First result of a search that satisfies `match`; rejects when the search ends without one. */
function firstResult(h: SearchHandle, match: (r: SearchResult) => boolean = () => true): Promise<SearchResult> {
  const found = h.results.find(match)
  if (found) return Promise.resolve(found)
  return new Promise((resolve, reject) => {
    const onResult = (r: SearchResult): void => {
      if (!match(r)) return
      h.off('result', onResult)
      resolve(r)
    }
    h.on('result', onResult)
    void h.finished.then((all) => {
      h.off('result', onResult)
      reject(new Error(`search "${h.query}" ended with no matching result; got ${JSON.stringify(all)}`))
    })
  })
}

/** Frame lengths of an FGET reply, read with the node's own client (streamed, never buffered). */
async function fgetFrames(to: { host: string; port: number }, name: string): Promise<{ types: string[]; lengths: number[]; hash: string }> {
  const types: string[] = []
  const lengths: number[] = []
  const h = createHash('sha256')
  await exchange(to, 'FGET', name, {
    policy: () => ({ maxLength: 64 * 1024 * 1024, stream: true }),
    frame: () => {},
    start: (type, length) => {
      types.push(type)
      lengths.push(length)
    },
    data: (_type, data) => void h.update(data)
  })
  return { types, lengths, hash: h.digest('hex') }
}

// ---------------------------------------------------------------- the fixture itself

test('the legacy fixture behaves as btpeer-wire.md says (upper-casing, unknown type, JOIN order, FGET framing)', async (t) => {
  const share = await shareOf(t, SMALL)
  const plain = await LegacyProc.spawn(t, ['--share', share, '--maxpeers', '1'])
  const chunked = await LegacyProc.spawn(t, ['--share', share, '--chunked'])

  // The type is upper-cased before dispatch; an unknown type gets only the close.
  t.deepEqual(await request(plain.endpoint, 'name'), [{ type: 'REPL', payload: Buffer.from(plain.id) }])
  t.deepEqual(await request(plain.endpoint, 'PING'), [])
  const ack = await request(plain.endpoint, 'QUER', '127.0.0.1:1 no-such-key 0')
  t.is(ack[0]?.payload.toString(), 'Query ACK: no-such-key')
  // Malformed JOIN: the legacy error path crashes, so no ERRO, just the close.
  t.deepEqual(await request(plain.endpoint, 'JOIN', 'garbage'), [])

  const join = (id: string): Promise<string> => request(plain.endpoint, 'JOIN', `${id} 127.0.0.1 ${parsePeerId(id).port}`).then((f) => `${f[0]?.type} ${f[0]?.payload.toString()}`)
  t.is(await join('127.0.0.1:7001'), 'REPL Join: peer added: 127.0.0.1:7001')
  // maxpeers 1 is now reached: "too many peers" is checked before "already inserted".
  t.is(await join('127.0.0.1:7001'), 'ERRO Join: too many peers')
  t.deepEqual(
    (await request(plain.endpoint, 'LIST')).map((f) => f.payload.toString()),
    ['1', '127.0.0.1:7001 127.0.0.1 7001']
  )
  t.deepEqual(
    (await request(plain.endpoint, 'QUIT', ' 127.0.0.1:7001 \n')).map((f) => f.payload.toString()),
    ['Quit: peer removed: 127.0.0.1:7001']
  )
  t.deepEqual(
    (await request(plain.endpoint, 'QUIT', '127.0.0.1:7001')).map((f) => `${f.type} ${f.payload.toString()}`),
    ['ERRO Quit: peer not found: 127.0.0.1:7001']
  )

  const size = (await fs.stat(path.join(share, SMALL))).size
  const want = await sha256File(path.join(share, SMALL))
  const one = await fgetFrames(plain.endpoint, SMALL)
  t.deepEqual(one.lengths, [size], 'the original sends the whole file as one REPL frame')
  t.is(one.hash, want)
  const many = await fgetFrames(chunked.endpoint, SMALL)
  t.is(many.lengths.length, Math.ceil(size / 2048))
  t.true(many.lengths.slice(0, -1).every((n) => n === 2048))
  t.true(many.types.every((x) => x === 'REPL'))
  t.is(many.hash, want)
  t.deepEqual((await fgetFrames(plain.endpoint, 'nope.mp4')).types, ['ERRO'])
})

// ---------------------------------------------------------------- legacy → p2ptube

test('legacy → p2ptube: NAME/JOIN/LIST, QUER answered with RESP, FGET of 2048-byte frames, QUIT', async (t) => {
  const share = await shareOf(t, MEDIUM)
  const node = await startNode(t, { shares: [share] })
  // A second p2ptube node already in the network, so LIST has something to teach.
  const other = await startNode(t)
  await other.join(node.id)
  t.true(node.peers.has(other.id))

  const legacy = await LegacyProc.spawn(t, ['--maxpeers', '0'])
  const added = nextEvent<[PeerInfo]>(node, 'peer-added', (p) => p.id === legacy.id)
  const joined = await legacy.command(`join ${node.id}`, /^PEERS(.*)$/)
  const [info] = await added
  t.is(info.source, 'joined')
  t.is(node.peers.get(legacy.id)?.port, legacy.endpoint.port)
  // LIST taught it `other`, which it then joined too (buildpeers, hops 2).
  t.deepEqual(joined[1]!.trim().split(/\s+/).sort(), [node.id, other.id].sort())
  t.true(other.peers.has(legacy.id))

  // QUER for a key we hold: ACK, then RESP "<name> <our id>" on a new connection.
  const key = '12-24-29'
  const searched = legacy.command(`search ${key} 4`, /^SEARCHED (\d+)$/)
  const resp = await legacy.next(/^RESP (\S+) (\S+)$/)
  t.is((await searched)[1], '2', 'both neighbours ACKed the QUER')
  t.is(resp[1], MEDIUM)
  t.is(resp[2], node.id)
  t.true(node.stats.legacyQueriesHandled >= 1)

  // FGET: our node answers in 2048-byte REPL frames; the legacy side concatenates them.
  const out = path.join(await tempDir(t, 'legacy-out'), 'got.mp4')
  const size = (await fs.stat(path.join(share, MEDIUM))).size
  const fetched = await legacy.command(`fetch ${MEDIUM} ${node.id} ${out}`, /^(FETCHED|ERROR) (.*)$/)
  t.deepEqual([fetched[1], fetched[2]], ['FETCHED', String(size)])
  t.is(await sha256File(out), await sha256File(path.join(share, MEDIUM)))
  const raw = await legacy.command(`raw ${node.id} FGET ${MEDIUM}`, /^REPLIES (\d+) (.*)$/)
  const frames = JSON.parse(raw[2]!) as Array<[string, number, string | null]>
  t.is(frames.length, Math.ceil(size / 2048))
  t.true(frames.every(([type, len], i) => type === 'REPL' && (i === frames.length - 1 ? len === size - 2048 * i : len === 2048)))
  const missing = await legacy.command(`fetch nope.mp4 ${node.id} ${out}`, /^(FETCHED|ERROR) (.*)$/)
  t.deepEqual([missing[1], missing[2]], ['ERROR', 'File not found'])

  // QUIT: both p2ptube nodes drop it; then the process exits.
  const removed = nextEvent<[PeerInfo, string]>(node, 'peer-removed', (p) => p.id === legacy.id)
  const quit = await legacy.command('quit', /^QUIT (\d+)$/)
  t.is(quit[1], '2')
  t.is((await removed)[1], 'quit')
  t.false(node.peers.has(legacy.id))
  t.false(other.peers.has(legacy.id))
  await withTimeout(legacy.exited, 'legacy exit')
})

// ---------------------------------------------------------------- p2ptube → legacy

for (const mode of ['one frame', 'chunked'] as const) {
  test(`p2ptube → legacy (${mode}): join, probe says legacy, search, fetch the whole file`, async (t) => {
    const share = await shareOf(t, BIG, SMALL)
    const legacy = await LegacyProc.spawn(t, ['--share', share, ...(mode === 'chunked' ? ['--chunked'] : [])])
    const node = await startNode(t)

    t.is(await node.join(legacy.id), 1)
    t.true(node.peers.has(legacy.id))
    t.deepEqual(await legacy.peers(), [node.id])
    // The legacy peer answers CAPS with a bare close.
    t.false(await node.probe(legacy.id))
    t.is(node.peers.get(legacy.id)?.extended, false)

    // A legacy peer matches one case-sensitive key: the query's longest word.
    const h = node.search('12-19-53', { timeoutMs: 5000 })
    const r = await firstResult(h)
    t.like(r, { name: BIG, holder: legacy.id, legacy: true, contentId: null, size: null })

    const d = node.fetch(r)
    const res = await withTimeout(d.start(), 'download')
    const size = (await fs.stat(path.join(share, BIG))).size
    t.is(res.size, size)
    t.is(res.sha256, await sha256File(path.join(share, BIG)))
    t.is(await sha256File(res.path), res.sha256)
    t.is(path.dirname(res.path), node.downloadsDir)

    // A name the legacy peer does not have: ERRO "File not found" surfaces as ERR_REMOTE.
    const err = await t.throwsAsync(node.fetch({ name: 'nope.mp4', holder: legacy.id, legacy: true }).start())
    t.is((err as { code?: string }).code, 'ERR_REMOTE')
  })
}

test('a full legacy peer refuses our JOIN with "too many peers": we do not add it, but reach its neighbours through its LIST', async (t) => {
  const legacy = await LegacyProc.spawn(t, ['--maxpeers', '1'])
  const first = await startNode(t)
  const second = await startNode(t)
  t.is(await first.join(legacy.id), 1)
  await second.join(legacy.id)
  t.false(second.peers.has(legacy.id))
  t.true(second.peers.has(first.id), "the refusing peer's LIST was read")
  t.deepEqual(await legacy.peers(), [first.id])
})

// A legacy peer matches one key and answers its first match; the node sends the longest word
// (the last of equally long ones: users type general → specific) and still checks every word.
test('multi-word search: legacy answers that lack a query word are not reported', async (t) => {
  const share = await shareOf(t, BIG, SMALL)
  const legacy = await LegacyProc.spawn(t, ['--share', share])
  const node = await startNode(t)
  await node.join(legacy.id)
  const all = await node.search('lebiniou 12-19-53', { timeoutMs: 1500 }).finished
  t.true(all.length > 0, 'the legacy peer answered something')
  t.deepEqual(
    all.filter((r) => !r.name.includes('12-19-53')),
    []
  )
})

// ---------------------------------------------------------------- p2ptube — legacy — p2ptube

test('line A — legacy L — B: A finds and fetches a file on B through L forwarding QUER', async (t) => {
  const shareB = await shareOf(t, SMALL)
  const legacy = await LegacyProc.spawn(t, ['--maxpeers', '0'])
  const a = await startNode(t)
  const b = await startNode(t, { shares: [shareB] })
  await a.join(legacy.id)
  // hops 1: B joins L only, so it does not crawl on to A; the line stays a line.
  await b.join(legacy.id, 1)
  t.deepEqual((await legacy.peers()).sort(), [a.id, b.id].sort())
  t.false(a.peers.has(b.id))
  t.false(b.peers.has(a.id))

  const h = a.search('12-19-19', { timeoutMs: 2000 })
  const r = await firstResult(h)
  // L had no match and forwarded QUER "<A> 12-19-19 3" to B, which sent RESP straight to A.
  t.like(r, { name: SMALL, holder: b.id, legacy: true })
  t.is(b.stats.legacyQueriesHandled, 1)

  const res = await withTimeout(a.fetch(r).start(), 'download from B')
  t.is(res.sha256, await sha256File(path.join(shareB, SMALL)))
  t.is(await sha256File(res.path), res.sha256)

  // No duplicate suppression in L: it also bounced the query back to A, which forwarded it
  // once more; the seen-set ended the loop (A and B handled it at most once each).
  const all = await h.finished
  t.is(all.filter((x) => x.holder === b.id && x.name === SMALL).length, 1)
  t.true(a.stats.legacyQueriesHandled <= 1)
})
