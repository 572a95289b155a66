/**
 * Start-up benchmark (issue #13): how long `p2ptube` takes to get going, beside the floor, all
 * measured in the same run, alternated, on real processes:
 *  - `node -e 0` (Node's own start) and `p2ptube --version`, spawn -> exit;
 *  - time-to-listen: spawn of `p2ptube node --json` -> its 'listening' event;
 *  - mpv on a local file: MpvPlayer start() + loadfile -> first frame (playback-restart);
 *  - `p2ptube fetch ID --peer H:P --play`: spawn -> mpv's first frame (the fetcher's 'playing'
 *    event), the holder a `p2ptube node` capped at 2 MB/s (--rate-limit);
 *  - the floor = Node's start + mpv on a local file + the bytes mpv needs before its first frame
 *    (ftyp + moov + mdat up to the end of the first video packet, from ffprobe) at 2 MB/s.
 *    Goal: fetch --play's first frame within 1.5 x the floor.
 * The clip: a 720p H.264 MP4 (moov at the end, as cameras write it) made with ffmpeg from the
 * real lebiniou clip (scaled to 1280x720, 2.5 Mb/s), cached in .bench/.
 * Usage: node --import=tsx bench/startup.ts [--runs 5]
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, openSync, readSync, closeSync, statSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { MpvPlayer } from '../src/player/mpv-player.ts'
import { benchEnv, events } from './throughput.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = path.join(ROOT, 'bin/p2ptube.js')
const SOURCE = '/usr/share/lebiniou/vue/media/lebiniou-2021-06-10_12-19-53.mp4'
const RATE = 2_000_000
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 5
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

/** The 720p clip (made once). */
async function clip720(): Promise<string> {
  const dir = path.join(ROOT, '.bench/startup')
  const out = path.join(dir, 'lebiniou-720p.mp4')
  if (!existsSync(out)) {
    await fs.mkdir(dir, { recursive: true })
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', SOURCE, '-vf', 'scale=1280:720', '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '2500k', '-c:a', 'copy', out + '.tmp.mp4'])
    await fs.rename(out + '.tmp.mp4', out)
  }
  return out
}

/** Bytes mpv must have before the first frame: the top-level boxes before mdat, moov, and mdat up to the end of the first video packet. */
function bytesBeforeFirstFrame(file: string): number {
  const fd = openSync(file, 'r')
  const size = statSync(file).size
  let pos = 0
  let head = 0
  let moov = 0
  const b = Buffer.alloc(16)
  try {
    while (pos + 8 <= size) {
      readSync(fd, b, 0, 16, pos)
      let len = b.readUInt32BE(0)
      const type = b.toString('latin1', 4, 8)
      if (len === 1) len = Number(b.readBigUInt64BE(8))
      if (len === 0) len = size - pos
      if (type === 'moov') moov = len
      else if (type !== 'mdat' && moov === 0 && head === pos) head = pos + len
      pos += len
    }
  } finally {
    closeSync(fd)
  }
  const pkt = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-read_intervals', '%+#1', '-show_entries', 'packet=pos,size', '-of', 'csv=p=0', file], { encoding: 'utf8' })
  const [p, s] = pkt.trim().split('\n')[0]!.split(',').map(Number) as [number, number]
  // The first video packet ends at p + s; with moov first (faststart) `head` already covers it.
  return Math.max(head, p + s) + moov
}

const env = benchEnv

/** Spawn -> exit, ms. */
async function exitTime(args: string[]): Promise<number> {
  const t0 = performance.now()
  const c = spawn(process.execPath, args, { stdio: 'ignore' })
  const code = await new Promise((r) => c.once('exit', r))
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}`)
  return performance.now() - t0
}

/** Spawn of `p2ptube node` -> 'listening', ms; the node is then stopped (SIGTERM). */
async function listenTime(tmp: string): Promise<number> {
  const xdg = await fs.mkdtemp(path.join(tmp, 'l-'))
  const t0 = performance.now()
  const c = spawn(process.execPath, [BIN, 'node', '--json', '--no-port-mapping', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'], env: env(xdg) })
  await events(c).next('listening', 60_000)
  const ms = performance.now() - t0
  c.kill('SIGTERM')
  await new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))
  return ms
}

/** mpv (the project's MpvPlayer, headless) on a local file: start() + loadfile -> first frame, ms. */
async function mpvLocal(file: string): Promise<number> {
  const t0 = performance.now()
  const p = new MpvPlayer({ headless: true })
  try {
    const first = new Promise<void>((r) => p.once('playback-restart', () => r()))
    await p.start()
    await p.play(file)
    await first
    return performance.now() - t0
  } finally {
    await p.quit().catch(() => {})
  }
}

/** A holder: `p2ptube node` sharing `dir`, capped at RATE. */
async function holder(dir: string, tmp: string) {
  const xdg = await fs.mkdtemp(path.join(tmp, 'h-'))
  const c = spawn(process.execPath, [BIN, 'node', '--json', '--stdin', '--no-port-mapping', '--share', dir, '--rate-limit', String(RATE), '--stabilize', '0'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: env(xdg)
  })
  const ev = events(c)
  const l = await ev.next('listening', 60_000)
  await ev.next('indexed', 60_000)
  c.stdin!.write('{"cmd":"library"}\n')
  const lib = (await ev.next('library', 60_000)) as unknown as { files: Array<{ contentId: string }> }
  return {
    id: `127.0.0.1:${String(l.port)}`,
    cid: lib.files[0]!.contentId,
    async stop(): Promise<void> {
      c.stdin!.end()
      c.kill('SIGTERM')
      await new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))
    }
  }
}

/** `p2ptube fetch CID --peer H:P --play`: spawn -> 'playing' (mpv's first frame), ms. */
async function fetchPlay(h: { id: string; cid: string }, tmp: string): Promise<number> {
  const xdg = await fs.mkdtemp(path.join(tmp, 'f-'))
  const t0 = performance.now()
  const c = spawn(process.execPath, [BIN, 'fetch', h.cid, '--peer', h.id, '--play', '--json'], { stdio: ['ignore', 'pipe', 'inherit'], env: env(xdg) })
  try {
    await events(c).next('playing', 60_000)
    return performance.now() - t0
  } finally {
    c.kill('SIGTERM')
    await new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))
  }
}

async function main(): Promise<void> {
  const file = await clip720()
  const share = await fs.mkdtemp(path.join(os.tmpdir(), 'p2ptube-startup-'))
  const tmp = path.join(share, 'tmp')
  const media = path.join(share, 'media')
  await fs.mkdir(media, { recursive: true })
  await fs.mkdir(tmp, { recursive: true })
  await fs.copyFile(file, path.join(media, path.basename(file)))
  const bytes = bytesBeforeFirstFrame(file)
  const h = await holder(media, tmp)
  const r = { node: [] as number[], version: [] as number[], listen: [] as number[], mpv: [] as number[], fetch: [] as number[] }
  try {
    await fetchPlay(h, tmp) // warm-up: the page cache, mpv's first start
    for (let i = 0; i < runs; i++) {
      r.node.push(await exitTime(['-e', '0']))
      r.version.push(await exitTime([BIN, '--version']))
      r.listen.push(await listenTime(tmp))
      r.mpv.push(await mpvLocal(file))
      r.fetch.push(await fetchPlay(h, tmp))
    }
  } finally {
    await h.stop()
    await fs.rm(share, { recursive: true, force: true })
  }
  const transfer = (bytes / RATE) * 1000
  const floor = med(r.node) + med(r.mpv) + transfer
  const row = (name: string, xs: number[]): string => `${name.padEnd(44)} ${med(xs).toFixed(0).padStart(6)} ms  (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`
  const load = os.loadavg()[0]!.toFixed(2)
  process.stdout.write(
    [
      `startup bench: ${runs} runs, medians, load ${load} on ${os.cpus().length} cores; clip ${path.basename(file)} (${(statSync(file).size / 1e6).toFixed(1)} MB, 1280x720)`,
      row('node -e 0 (spawn -> exit)', r.node),
      row('p2ptube --version (spawn -> exit)', r.version),
      row('p2ptube node: spawn -> listening', r.listen),
      row('mpv on the local file: start -> first frame', r.mpv),
      `${'bytes before the first frame at 2 MB/s'.padEnd(44)} ${transfer.toFixed(0).padStart(6)} ms  (${bytes} bytes)`,
      `${'floor (node + mpv + bytes)'.padEnd(44)} ${floor.toFixed(0).padStart(6)} ms`,
      row('fetch ID --peer H:P --play: spawn -> frame', r.fetch),
      `fetch --play / floor: ${(med(r.fetch) / floor).toFixed(2)} (goal <= 1.5)`
    ].join('\n') + '\n'
  )
}

await main()
