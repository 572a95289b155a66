/**
 * Property-based fuzzer over every message type of src/protocol/table.ts (issue #11): frames
 * made by fast-check — random bytes, random JSON, payloads shaped like each type's with hostile
 * field values, legacy space-separated texts, wrong lengths, tracker sessions — sent each on its
 * own connection to a live server. The property: the server closes every connection, its reply
 * is whole frames, it never answers ERR_INTERNAL or emits 'handler-error', and it answers a good
 * request afterwards. Used by test/fuzz.test.ts (a few thousand frames) and bench/fuzz.ts
 * (`npm run fuzz`, 10⁵ frames, prints figures).
 */
import fc from 'fast-check'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { P2PNode } from '../../src/app/node.ts'
import { MESSAGES } from '../../src/protocol/table.ts'
import { createTracker } from '../../src/tracker/create.ts'
import type { Tracker } from '../../src/tracker/tracker.ts'
import { SMALL_CLIP, VIDEO_DIR } from './nodes.ts'
import { rawExchange, type RawResult } from './raw.ts'

/** Every message type of the table (new rows are fuzzed without a change here). */
export const ALL_TYPES = Object.keys(MESSAGES)

/** 64 lowercase hex digits: the shape of a content id. */
const hex64 = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 })

/** Values that tend to break parsers: edges of numbers, long, odd and hostile strings. */
function hostileValue(known: string[]): fc.Arbitrary<unknown> {
  const leaf = fc.oneof(
    fc.integer(),
    fc.constantFrom(0, -1, 1, 65535, 65536, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 53), 1e308, Number.MAX_SAFE_INTEGER, 0.5, NaN),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom(
      '',
      ' ',
      '\u0000',
      '\u001b]0;x\u0007',
      '\u009b2J',
      '../../etc/passwd',
      '/etc/passwd',
      '127.0.0.1:1',
      '127.0.0.1:0',
      '[::1]:80',
      'x'.repeat(300),
      'a '.repeat(120),
      '%s%n',
      '__proto__',
      'constructor'
    ),
    fc.constantFrom(...known),
    hex64,
    fc.boolean(),
    fc.constant(null)
  )
  return fc.oneof({ depthSize: 'small' }, leaf, fc.array(leaf, { maxLength: 8 }), fc.dictionary(fc.constantFrom(...FIELDS), leaf, { maxKeys: 4 }))
}

/** Field names the JSON messages use (§4, §7, §8): objects made of them reach deep into parsers. */
const FIELDS = [
  'port',
  'base',
  'seq',
  'add',
  'remove',
  'cid',
  'name',
  'size',
  'kind',
  'q',
  'max',
  'id',
  'qid',
  'ttl',
  'hops',
  'origin',
  'host',
  'offset',
  'length',
  'features',
  'list',
  'sig',
  'holder',
  'hits',
  'results',
  'peers',
  'piece',
  'from',
  'count',
  'you',
  'session'
]

/** A JSON payload shaped like the messages' own, with hostile values. */
function jsonPayload(known: string[]): fc.Arbitrary<Buffer> {
  const file = fc.record({ cid: fc.oneof(fc.constantFrom(...known), hex64), name: hostileValue(known), size: hostileValue(known), kind: fc.constantFrom('video', 'audio', 'x') }, { requiredKeys: [] })
  const obj = fc.dictionary(fc.constantFrom(...FIELDS), fc.oneof(hostileValue(known), fc.array(file, { maxLength: 5 })), { maxKeys: 8 })
  return fc.oneof(
    obj.map((o) => Buffer.from(JSON.stringify(o))),
    fc.json().map((j) => Buffer.from(j))
  )
}

/** A legacy-style text: space-separated words, numbers and peer ids (§3). */
function textPayload(known: string[]): fc.Arbitrary<Buffer> {
  const word = fc.oneof(fc.constantFrom(...known, '127.0.0.1', '127.0.0.1:1', 'x', '-1', '99999999999', '0'), fc.integer().map(String), fc.string({ maxLength: 20 }))
  return fc.array(word, { maxLength: 8 }).map((w) => Buffer.from(w.join(' ')))
}

/** One frame header + payload; `declared` lies about the length when set. */
function frame(type: string, payload: Buffer, declared?: number): Buffer {
  const h = Buffer.alloc(8)
  h.write(type.padEnd(4, ' ').slice(0, 4), 0, 'latin1')
  h.writeUInt32BE(declared ?? payload.length, 4)
  return Buffer.concat([h, payload])
}

/** What one fuzz case sends: bytes, and a label for reports. */
export interface FuzzCase {
  type: string
  shape: string
  bytes: Buffer
}

/**
 * Frames for `types`. `known` seeds values the server knows (its shared names, content ids,
 * peer ids), so parsers get past their first checks. `session`: the server takes TSES.
 */
export function fuzzCases(types: string[], known: string[], session = false): fc.Arbitrary<FuzzCase> {
  const type = fc.constantFrom(...types)
  const payload = fc.oneof(
    { arbitrary: jsonPayload(known), weight: 4 },
    { arbitrary: textPayload(known), weight: 2 },
    { arbitrary: fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)), weight: 2 },
    { arbitrary: fc.constant(Buffer.alloc(0)), weight: 1 }
  )
  const one = fc.tuple(type, payload)
  const arbs: Array<{ arbitrary: fc.Arbitrary<FuzzCase>; weight: number }> = [
    { arbitrary: one.map(([t, p]) => ({ type: t, shape: 'frame', bytes: frame(t, p) })), weight: 10 },
    // A length that lies: longer (truncated body) or shorter (trailing bytes).
    { arbitrary: fc.tuple(one, fc.integer({ min: 0, max: 70_000 })).map(([[t, p], n]) => ({ type: t, shape: 'bad-length', bytes: frame(t, p, n) })), weight: 2 },
    // Cut anywhere, header included.
    { arbitrary: fc.tuple(one, fc.nat()).map(([[t, p], n]) => ({ type: t, shape: 'cut', bytes: frame(t, p).subarray(0, n % (p.length + 9)) })), weight: 1 },
    // Garbage type bytes.
    { arbitrary: fc.uint8Array({ minLength: 8, maxLength: 64 }).map((a) => ({ type: '????', shape: 'garbage', bytes: Buffer.from(a) })), weight: 1 }
  ]
  if (session) {
    arbs.push({
      arbitrary: fc
        .array(one, { minLength: 1, maxLength: 12 })
        .map((fs) => ({ type: 'TSES', shape: 'session', bytes: Buffer.concat([frame('TSES', Buffer.from('{}')), ...fs.map(([t, p]) => frame(t, p))]) })),
      weight: 2
    })
  }
  return fc.oneof(...arbs)
}

/** Tally of a fuzz run. */
export interface FuzzReport {
  frames: number
  connections: number
  /** Reply frames by type (REPL, ERRO...) and ERRO codes seen. */
  replies: Record<string, number>
  codes: Record<string, number>
  /** Property violations: a hang, bytes that are not frames, ERR_INTERNAL. */
  failures: Array<{ case: string; why: string }>
  elapsedMs: number
}

/**
 * Send `n` fuzz cases to 127.0.0.1:`port`, `concurrency` at a time, each on its own connection
 * (half-closed after sending, as a requester that is done).
 * @param seed fast-check seed (printed by callers, so a failure can be replayed).
 */
export async function fuzz(port: number, arb: fc.Arbitrary<FuzzCase>, n: number, seed: number, concurrency = 16, timeoutMs = 20_000): Promise<FuzzReport> {
  const report: FuzzReport = { frames: 0, connections: 0, replies: {}, codes: {}, failures: [], elapsedMs: 0 }
  const t0 = performance.now()
  const cases = fc.sample(arb, { numRuns: n, seed })
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const c = cases[next++]!
      report.connections++
      report.frames += c.shape === 'session' ? (c.bytes.length > 0 ? countFrames(c.bytes) : 0) : 1
      let r: RawResult
      try {
        r = await rawExchange(port, c.bytes, { end: true, timeoutMs })
      } catch (err) {
        report.failures.push({ case: describe(c), why: (err as Error).message })
        continue
      }
      if (r.decodeError) report.failures.push({ case: describe(c), why: `reply is not frames: ${r.decodeError.message}` })
      for (const f of r.frames) {
        report.replies[f.type] = (report.replies[f.type] ?? 0) + 1
        if (f.type !== 'ERRO') continue
        const code = /^(ERR_[A-Z0-9_]+):/.exec(f.text)?.[1] ?? 'legacy text'
        report.codes[code] = (report.codes[code] ?? 0) + 1
        if (code === 'ERR_INTERNAL') report.failures.push({ case: describe(c), why: f.text })
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  report.elapsedMs = performance.now() - t0
  return report
}

function countFrames(bytes: Buffer): number {
  let n = 0
  for (let at = 0; at + 8 <= bytes.length; n++) at += 8 + bytes.readUInt32BE(at + 4)
  return n
}

function describe(c: FuzzCase): string {
  return `${c.type} ${c.shape} ${c.bytes.length} B: ${c.bytes.subarray(0, 120).toString('hex')}`
}

/** A live node (sharing one real clip) and a live tracker to fuzz, with their local-bug counters. */
export interface FuzzTargets {
  node: P2PNode
  tracker: Tracker
  /** Names, content ids and peer ids the targets know (seeds for the generators). */
  known: string[]
  /** 'handler-error' events (local bugs) and uncaught exceptions seen while fuzzing. */
  bugs: string[]
  stop(): Promise<void>
}

/** Start the targets on 127.0.0.1 with rate limits lifted (the fuzzer must reach the handlers). */
export async function startFuzzTargets(): Promise<FuzzTargets> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'p2ptube-fuzz-'))
  const share = path.join(dir, 'share')
  await fs.mkdir(share)
  await fs.copyFile(path.join(VIDEO_DIR, SMALL_CLIP), path.join(share, SMALL_CLIP))
  const bugs: string[] = []
  const node = new P2PNode({
    host: '127.0.0.1',
    dataDir: null,
    stabilizeIntervalMs: 0,
    maxPeers: 4,
    connectTimeoutMs: 500,
    idleTimeoutMs: 1000,
    shares: [share],
    downloadsDir: path.join(dir, 'downloads'),
    peerLimits: { connectionBurst: 1e9, connectionsPerS: 1e9, queryBurst: 1e9, queriesPerS: 1e9 }
  })
  const tracker = createTracker({ dataDir: path.join(dir, 'tracker'), announceIntervalMs: 600_000, announceBurst: 1e9, announceRefillPerS: 1e9, searchRefillPerS: 0 })
  for (const owner of [node, tracker] as const) {
    owner.on('log', (l: { level: string; msg: string }) => {
      if (l.level === 'error') bugs.push(l.msg)
    })
  }
  const onUncaught = (err: Error): void => void bugs.push(`uncaught: ${err.stack ?? err.message}`)
  process.on('uncaughtException', onUncaught)
  await node.start()
  await node.library.whenHashed()
  await tracker.start()
  const cids = node.library.entries().map((e) => e.cid ?? '')
  const known = [SMALL_CLIP, ...cids, node.id, `127.0.0.1:${tracker.port}`, 'lebiniou', '12-19-19']
  return {
    node,
    tracker,
    known,
    bugs,
    async stop() {
      await node.stop()
      await tracker.stop()
      process.off('uncaughtException', onUncaught)
      await fs.rm(dir, { recursive: true, force: true })
    }
  }
}
