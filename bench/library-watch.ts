/**
 * Folder watcher bench (src/node/library-watch.ts, issues #11/#12): a library of `--files` small
 * media files (default 10,000 × 4 KiB, random bytes) in `--folders` folders (default 100),
 * hashed once into a content id cache, then:
 *   - warm addShare with the watcher on and off (alternated, 3 each): what watching costs at start;
 *   - the delay from a file's deletion to the library's 'removed' event, and from a new file's
 *     creation to its 'hashed' event (includes the 1 s settle of a new file), `--events` each;
 *   - one periodic rescan pass over the whole library (readdir of every folder, lstat of every
 *     file): wall time and the longest event-loop stall during it.
 *
 * Usage: node --import=tsx bench/library-watch.ts [--files 10000] [--folders 100] [--events 20] [--json]
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Library, type LibraryEntry } from '../src/node/library.ts'
import { arg } from './args.ts'

const FILES = arg('files', 10_000)
const FOLDERS = arg('folders', 100)
const EVENTS = arg('events', 20)
const JSON_OUT = process.argv.includes('--json')

// The watcher keeps nothing alive (a node's server does): hold the process up while waiting for events.
const keepAlive = setInterval(() => {}, 1000)
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'p2ptube-watch-bench-'))
const share = path.join(dir, 'share')
const cacheFile = path.join(dir, 'state', 'content-ids.json')
await fs.mkdir(path.dirname(cacheFile), { recursive: true })
for (let f = 0; f < FOLDERS; f++) {
  const folder = path.join(share, `folder ${f}`)
  await fs.mkdir(folder, { recursive: true })
  for (let i = f; i < FILES; i += FOLDERS) await fs.writeFile(path.join(folder, `clip ${i}.mp4`), randomBytes(4096))
}

/** A library on the cache; `watch` on or off; resolves once every file has its content id. */
async function open(watch: boolean): Promise<{ lib: Library; ms: number }> {
  const t0 = performance.now()
  const lib = new Library({ cacheFile, metadata: false, ...(watch ? { watch: { debounceMs: 200 } } : { watch: false }) })
  await lib.addShare(share)
  await lib.whenHashed()
  return { lib, ms: performance.now() - t0 }
}

const cold = await open(false)
await cold.lib.stop()
const warm: Record<'on' | 'off', number[]> = { on: [], off: [] }
for (let i = 0; i < 3; i++) {
  for (const mode of ['off', 'on'] as const) {
    const { lib, ms } = await open(mode === 'on')
    warm[mode].push(ms)
    await lib.stop()
  }
}

const { lib } = await open(true)
const watched = lib.watcher!.watched
/** ms from `act` to the first `event` of `lib` for an entry named `name`. */
async function delay(event: 'removed' | 'hashed', name: string, act: () => Promise<void>): Promise<number> {
  const t0 = performance.now()
  const seen = new Promise<void>((resolve) => {
    const on = (e: LibraryEntry): void => {
      if (e.name !== name) return
      lib.off(event, on)
      resolve()
    }
    lib.on(event, on)
  })
  await act()
  await seen
  return performance.now() - t0
}
const removed: number[] = []
const added: number[] = []
for (let i = 0; i < EVENTS; i++) {
  const f = i % FOLDERS
  const gone = `folder ${f}/clip ${f + FOLDERS * i}.mp4`
  removed.push(await delay('removed', gone, () => fs.rm(path.join(share, gone))))
  const fresh = `folder ${f}/new ${i}.mp4`
  added.push(await delay('hashed', fresh, () => fs.writeFile(path.join(share, fresh), randomBytes(4096))))
}

// Baseline: the longest stall of an idle loop over 2 s on this machine now (other processes' load).
const idle = monitorEventLoopDelay({ resolution: 10 })
idle.enable()
await new Promise((r) => setTimeout(r, 2000))
idle.disable()
const loop = monitorEventLoopDelay({ resolution: 10 })
loop.enable()
const r0 = performance.now()
await lib.watcher!.rescan()
const rescanMs = performance.now() - r0
loop.disable()
await lib.stop()
await fs.rm(dir, { recursive: true, force: true })
clearInterval(keepAlive)

const q = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN
const row = {
  files: FILES,
  folders: FOLDERS,
  watched,
  coldMs: Math.round(cold.ms),
  warmOffMs: warm.off.map(Math.round),
  warmOnMs: warm.on.map(Math.round),
  removedP50: Math.round(q(removed, 0.5)),
  removedMax: Math.round(Math.max(...removed)),
  addedP50: Math.round(q(added, 0.5)),
  addedMax: Math.round(Math.max(...added)),
  rescanMs: Math.round(rescanMs),
  rescanMaxStallMs: Math.round(loop.max / 1e6),
  idleMaxStallMs: Math.round(idle.max / 1e6)
}
if (JSON_OUT) console.log(JSON.stringify(row))
else {
  console.log(
    `bench/library-watch.ts: ${os.cpus().length} cores, Node ${process.version}, load ${os.loadavg()[0]!.toFixed(1)}; ${FILES} files in ${FOLDERS} folders (${watched} watched), cold index ${row.coldMs} ms`
  )
  console.log(`  warm addShare → every content id known: watcher off ${row.warmOffMs.join(' / ')} ms, on ${row.warmOnMs.join(' / ')} ms`)
  console.log(`  delete → 'removed': p50 ${row.removedP50} ms, max ${row.removedMax} ms (${EVENTS} files)`)
  console.log(`  new file → 'hashed': p50 ${row.addedP50} ms, max ${row.addedMax} ms (includes the ${1000} ms settle)`)
  console.log(`  one rescan pass: ${row.rescanMs} ms, longest event-loop stall ${row.rescanMaxStallMs} ms (idle loop over 2 s just before: ${row.idleMaxStallMs} ms)`)
}
