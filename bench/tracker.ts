/**
 * Tracker load test (issue #5): 10,000 simulated peers announcing 100 files each at their
 * interval, on loopback, against a real `p2ptube tracker` process pinned to one core
 * (`taskset -c 0`); this load generator runs on the other core. Each phase runs twice: with
 * one connection per announce (what a node does) and over tracker sessions (TSES, PROTOCOL.md
 * §7.1: 16 kept-open connections carrying every peer's announces). Reports:
 *   - registration + full announce rate (100 files per peer, one TANN each, over sessions),
 *   - announces/s sustained at the peers' interval (1 % of announces carry a delta),
 *   - the most announces/s the tracker takes (closed loop, as fast as it answers),
 *   - search (TFND) latency p50/p99 under that load and idle, measured by the requester,
 *     connection set-up included,
 *   - the tracker's RSS (VmRSS, VmHWM).
 * Targets: ≥ 5,000 announces/s on one core; search p99 < 20 ms.
 *
 * Usage: node --import=tsx bench/tracker.ts [--peers 10000] [--files 100] [--interval 1]
 *   [--seconds 10] [--catalog 50000] [--json]
 */
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import { TrackerSession } from '../src/tracker/session.ts'
import { prng } from '../src/app/testnet.ts'
import { arg } from './args.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const PEERS = arg('peers', 10_000)
const FILES = arg('files', 100)
const INTERVAL_S = arg('interval', 1)
const SECONDS = arg('seconds', 10)
const CATALOG = arg('catalog', 50_000)
const JSON_OUT = process.argv.includes('--json')

// ------------------------------------------------------------------ lean one-request client

/** One request on a new connection (the protocol's model); resolves with the first reply frame. */
function call(port: number, type: string, payload: string, localAddress?: string): Promise<{ type: string; text: string }> {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(payload)
    const frame = Buffer.allocUnsafe(8 + body.length)
    frame.write(type, 0, 'latin1')
    frame.writeUInt32BE(body.length, 4)
    body.copy(frame, 8)
    const s = net.connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) })
    const chunks: Buffer[] = []
    s.setNoDelay(true)
    // Send, then close after the tracker does, as a node's requester (net/client.ts): the
    // tracker's side keeps the TIME_WAIT, not this generator's ephemeral ports.
    s.on('connect', () => s.write(frame))
    s.on('data', (d: Buffer) => chunks.push(d))
    s.on('end', () => s.end())
    s.on('error', reject)
    s.on('close', () => {
      const all = Buffer.concat(chunks)
      if (all.length < 8) return reject(new Error(`${type}: no reply`))
      const n = all.readUInt32BE(4)
      resolve({ type: all.toString('latin1', 0, 4), text: all.toString('utf8', 8, 8 + n) })
    })
  })
}

// ------------------------------------------------------------------ synthetic catalogue

const rand = prng(42) // deterministic, so runs are comparable
const SYL = ['ka', 'lo', 'mi', 'ne', 'ru', 'ta', 'vi', 'so', 'da', 'pe', 'zu', 'ba', 'gri', 'fo', 'hel', 'mar', 'tin', 'qua', 'sol', 'ven']
const WORDS = Array.from({ length: 3000 }, () => Array.from({ length: 2 + Math.floor(rand() * 3) }, () => SYL[Math.floor(rand() * SYL.length)]).join(''))
const KINDS = ['video', 'audio', 'image']
const EXT: Record<string, string> = { video: 'mp4', audio: 'ogg', image: 'jpg' }
interface File {
  cid: string
  name: string
  size: number
  kind: string
}
const catalog: File[] = Array.from({ length: CATALOG }, (_, i) => {
  const kind = KINDS[i % 3] as string
  const w = () => WORDS[Math.floor(rand() * WORDS.length)]
  return { cid: i.toString(16).padStart(64, '0'), name: `${w()} ${w()} ${w()} ${2000 + (i % 25)}.${EXT[kind]}`, size: 1_000_000 + i * 13, kind }
})
/** Zipf-like pick: popular files are held by many peers (a group shares the same media). */
const pick = (): File => catalog[Math.floor(CATALOG * rand() ** 2.5)] as File

interface Peer {
  port: number
  ver: number
  files: Map<string, File>
}
const peers: Peer[] = Array.from({ length: PEERS }, (_, i) => {
  const files = new Map<string, File>()
  while (files.size < FILES) {
    const f = pick()
    files.set(f.cid, f)
  }
  return { port: 10_000 + i, ver: 0, files }
})

// ------------------------------------------------------------------ measurement helpers

function pct(sorted: number[], p: number): number {
  return sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number) : NaN
}
function procStatus(pid: number, key: string): number {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : 0
}
const mb = (n: number): string => `${(n / 1e6).toFixed(0)} MB`

async function searchLatency(port: number, ms: number, everyMs: number): Promise<number[]> {
  const lat: number[] = []
  const end = performance.now() + ms
  const r = prng(7)
  while (performance.now() < end) {
    const q = r() < 0.5 ? (WORDS[Math.floor(r() * WORDS.length)] as string) : `${WORDS[Math.floor(r() * WORDS.length)]} ${2000 + Math.floor(r() * 25)}`
    const t0 = performance.now()
    const rep = await call(port, 'TFND', JSON.stringify({ q }))
    lat.push(performance.now() - t0)
    if (rep.type !== 'REPL') throw new Error(`search failed: ${rep.text}`)
    await new Promise((res) => setTimeout(res, everyMs))
  }
  return lat.sort((a, b) => a - b)
}

function announcePayload(p: Peer, delta: boolean): string {
  if (!delta) return JSON.stringify({ port: p.port, base: p.ver, seq: p.ver })
  const drop = p.files.keys().next().value as string
  p.files.delete(drop)
  let f = pick()
  while (p.files.has(f.cid)) f = pick()
  p.files.set(f.cid, f)
  return JSON.stringify({ port: p.port, base: p.ver, seq: p.ver + 1, add: [f], remove: [drop] })
}

type Send = (p: Peer, type: string, payload: string) => Promise<{ type: string; text: string }>

/** One announce; a peer the tracker dropped (expired) registers again, counted in `reregistered`. */
async function announce(send: Send, p: Peer, delta: boolean, counters: { reregistered: number }): Promise<boolean> {
  const r = await send(p, 'TANN', announcePayload(p, delta))
  if (r.type !== 'REPL') return false
  const o = JSON.parse(r.text) as { ok?: boolean; seq?: number; register?: boolean; resync?: boolean }
  if (o.ok) p.ver = o.seq as number
  else if (o.register || o.resync) {
    counters.reregistered++
    await send(p, 'TREG', JSON.stringify({ port: p.port }))
    const a = await send(p, 'TANN', JSON.stringify({ port: p.port, base: 0, seq: 1, add: [...p.files.values()] }))
    if (a.type === 'REPL') p.ver = 1
  }
  return !!o.ok
}

interface Counters {
  done: number
  failed: number
  reregistered: number
  registered: number
  secs: number
}

/**
 * Every registered peer announces once per interval, 1 % with a delta (open loop, at most 512
 * in flight); unregistered peers register and send their full library when there is room,
 * heartbeats first (peers joining over time). Runs for `seconds`, or, with seconds = 0, until
 * every peer is registered.
 */
async function drive(send: Send, seconds: number, queue: Peer[], joining: Peer[]): Promise<Counters> {
  const c: Counters = { done: 0, failed: 0, reregistered: 0, registered: 0, secs: 0 }
  const due = new Map<Peer, number>()
  let inflight = 0
  let registering = 0
  const t0 = performance.now()
  for (const [i, p] of queue.entries()) due.set(p, t0 + (i / queue.length) * INTERVAL_S * 1000)
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now()
      if (seconds ? now - t0 >= seconds * 1000 : !joining.length && !registering) {
        clearInterval(timer)
        return resolve()
      }
      while (queue.length && (due.get(queue[0] as Peer) as number) <= now && inflight < 512) {
        const p = queue.shift() as Peer
        inflight++
        announce(send, p, rand() < 0.01, c)
          .then(
            (ok) => (ok ? c.done++ : c.failed++),
            () => c.failed++
          )
          .finally(() => {
            inflight--
            due.set(p, now + INTERVAL_S * 1000)
            queue.push(p)
          })
      }
      while (joining.length && registering < 32 && inflight < 256) {
        const p = joining.shift() as Peer
        registering++
        inflight++
        register(send, p)
          .then(
            () => {
              c.registered++
              due.set(p, performance.now() + INTERVAL_S * 1000)
              queue.push(p)
            },
            () => c.failed++
          )
          .finally(() => {
            registering--
            inflight--
          })
      }
    }, 5)
  })
  while (inflight > 0) await new Promise((r) => setTimeout(r, 5))
  c.secs = (performance.now() - t0) / 1000
  return c
}

async function register(send: Send, p: Peer): Promise<void> {
  const r = await send(p, 'TREG', JSON.stringify({ port: p.port }))
  if (r.type !== 'REPL') throw new Error(r.text)
  const a = await send(p, 'TANN', JSON.stringify({ port: p.port, base: 0, seq: 1, add: [...p.files.values()] }))
  if (a.type !== 'REPL') throw new Error(a.text)
  p.ver = 1
}

/** Closed loop: `parallel` announcers as fast as the tracker answers, for `ms`. @returns announces/s. */
async function saturate(send: Send, parallel: number, ms: number): Promise<number> {
  let n = 0
  const c = { reregistered: 0 }
  const end = performance.now() + ms
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: parallel }, async (_, k) => {
      for (let i = k; performance.now() < end; i += parallel) if (await announce(send, peers[i % PEERS] as Peer, false, c)) n++
    })
  )
  return n / ((performance.now() - t0) / 1000)
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const cores = os.cpus().length
  if (cores >= 2) execFileSync('taskset', ['-pc', '1', String(process.pid)], { stdio: 'ignore' })
  const data = await fs.mkdtemp(path.join(os.tmpdir(), 'p2ptube-bench-tracker-'))
  const bin = [path.join(ROOT, 'bin/p2ptube.js')] // dist/: `npm run bench` builds first
  // A young generation of 64 MB: the per-request garbage dies there instead of being promoted,
  // which keeps full collections of the ~300 MB index (the search tail) rare (docs/TRACKER.md).
  const flags = (process.env.TRACKER_NODE_FLAGS ?? '--max-semi-space-size=64').split(' ').filter(Boolean)
  const args = [
    ...flags,
    ...bin,
    'tracker',
    '--json',
    '--port',
    '0',
    '--data',
    data,
    '--announce-interval',
    String(INTERVAL_S),
    '--max-peers-per-host',
    '0',
    '--max-names-per-host',
    '0',
    '--max-names',
    '0',
    '--search-rate',
    '0',
    '--status-interval',
    '0'
  ]
  const child =
    cores >= 2 ? spawn('taskset', ['-c', '0', process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }) : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = readline.createInterface({ input: child.stdout! })
  const listening = await new Promise<{ port: number }>((resolve) => lines.on('line', (l) => l.includes('"listening"') && resolve(JSON.parse(l))))
  const port = listening.port
  const log = (s: string): void => void (JSON_OUT || process.stderr.write(s + '\n'))
  log(`tracker pid ${child.pid} on 127.0.0.1:${port} (core 0); ${PEERS} peers × ${FILES} files from a catalogue of ${CATALOG}, interval ${INTERVAL_S} s`)
  const idle = await searchLatency(port, 500, 2)

  // Simulated peers come from 16 loopback addresses (127.1.0.1-16): a peer is its address + port
  // to the tracker, and 16 × 28k ephemeral ports outlast the TIME_WAITs of one-shot connections.
  const ipOf = (p: Peer): string => `127.1.0.${1 + (p.port % 16)}`
  const sessions = await Promise.all(
    Array.from({ length: 16 }, async (_, i) => {
      const x = new TrackerSession({ host: '127.0.0.1', port }, 5000, `127.1.0.${1 + i}`)
      await x.open()
      return x
    })
  )
  const viaSession: Send = (p, type, payload) => (sessions[p.port % sessions.length] as TrackerSession).request(type, payload)
  const oneShot: Send = (p, type, payload) => call(port, type, payload, ipOf(p))

  // 1. Peers join (register + full library) while those already in announce at their interval.
  const queue: Peer[] = []
  const ramp = await drive(viaSession, 0, queue, [...peers])
  const fullSecs = ramp.secs
  log(
    `joined: ${ramp.registered} peers in ${fullSecs.toFixed(1)} s (${(PEERS / fullSecs).toFixed(0)} peers/s) with ${ramp.done} heartbeats alongside, ${ramp.reregistered} expired; tracker RSS ${mb(procStatus(child.pid!, 'VmRSS'))}`
  )

  // 2. Steady state at the peers' interval, searches alongside; sessions first, then one-shot.
  const runs: Record<string, { sustained: number; failed: number; reregistered: number; p50: number; p99: number; n: number; max: number }> = {}
  for (const [mode, send] of [
    ['session', viaSession],
    ['one connection per announce', oneShot]
  ] as const) {
    const searches = searchLatency(port, SECONDS * 1000, 20)
    const st = await drive(send, SECONDS, queue, [])
    const lat = await searches
    const max = await saturate(send, mode === 'session' ? 256 : 128, 4000)
    runs[mode] = {
      sustained: Math.round(st.done / st.secs),
      failed: st.failed,
      reregistered: st.reregistered,
      p50: +pct(lat, 50).toFixed(2),
      p99: +pct(lat, 99).toFixed(2),
      n: lat.length,
      max: Math.round(max)
    }
    log(
      `${mode}: ${st.done} announces in ${st.secs.toFixed(1)} s = ${runs[mode]!.sustained}/s (offered ${PEERS / INTERVAL_S}/s), ${st.failed} failed, ${st.reregistered} re-registered; at most ${runs[mode]!.max}/s; search p50 ${runs[mode]!.p50} ms p99 ${runs[mode]!.p99} ms`
    )
  }
  for (const x of sessions) x.close()
  const status = JSON.parse((await call(port, 'TSTA', '{}')).text) as { peers: number; files: number; names: number }
  const rss = procStatus(child.pid!, 'VmRSS')
  const hwm = procStatus(child.pid!, 'VmHWM')
  child.kill('SIGTERM')
  await new Promise((r) => child.once('exit', r))
  await fs.rm(data, { recursive: true, force: true })

  const result = {
    peers: PEERS,
    filesPerPeer: FILES,
    catalog: CATALOG,
    intervalS: INTERVAL_S,
    indexed: status,
    fullAnnouncePeersPerS: Math.round(PEERS / fullSecs),
    modes: runs,
    searchIdle: { n: idle.length, p50Ms: +pct(idle, 50).toFixed(2), p99Ms: +pct(idle, 99).toFixed(2) },
    trackerRssBytes: rss,
    trackerPeakRssBytes: hwm
  }
  if (JSON_OUT) process.stdout.write(JSON.stringify(result) + '\n')
  else {
    const ok = (b: boolean): string => (b ? 'PASS' : 'FAIL')
    console.log(
      `\ntracker load test: ${PEERS} peers × ${FILES} files (${status.files} distinct files, ${status.names} names indexed), interval ${INTERVAL_S} s (offered ${PEERS / INTERVAL_S} announces/s), tracker on one core`
    )
    console.log(`  full announces (100 files)   ${result.fullAnnouncePeersPerS} peers/s`)
    for (const [mode, r] of Object.entries(runs)) {
      console.log(`  ${mode}:`)
      console.log(`    announces/s sustained      ${r.sustained}   (target ≥ 5000: ${ok(r.sustained >= 5000)}); at most ${r.max}/s closed-loop`)
      console.log(`    search p50 / p99 (loaded)  ${r.p50} / ${r.p99} ms over ${r.n} searches   (target p99 < 20 ms: ${ok(r.p99 < 20)})`)
    }
    console.log(`  search p50 / p99 (idle)      ${result.searchIdle.p50Ms} / ${result.searchIdle.p99Ms} ms`)
    console.log(`  tracker RSS                  ${mb(rss)} (peak ${mb(hwm)})`)
  }
}

await main()
