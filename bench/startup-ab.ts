/**
 * Start-up A/B (issue #13): `p2ptube fetch ID --peer H:P --play` of two builds, alternated fetch
 * by fetch against one holder (a `p2ptube node` of build A capped at 2 MB/s, as bench/startup.ts),
 * so that both builds see the same machine load. Prints, per build, the medians (and minimums) of
 * spawn -> mpv's first frame ('playing') and of 'fetching' (holder found) -> first frame, in ms,
 * and B/A. Use it to keep or drop a start-up change: bench/startup.ts alone runs one build, and
 * two of its runs minutes apart differ by more than most changes gain.
 * The clip: .bench/startup/lebiniou-720p.mp4, made by bench/startup.ts (run that once first).
 * Usage: node --import=tsx bench/startup-ab.ts --a /work/main/bin/p2ptube.js [--b bin/p2ptube.js] [--runs 12]
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchEnv, events } from './throughput.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CLIP = path.join(ROOT, '.bench/startup/lebiniou-720p.mp4')
const RATE = 2_000_000
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const BINS = [path.resolve(arg('a') ?? path.join(ROOT, 'bin/p2ptube.js')), path.resolve(arg('b') ?? path.join(ROOT, 'bin/p2ptube.js'))] as const
const runs = Number(arg('runs')) || 12
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

const env = benchEnv

async function main(): Promise<void> {
  if (!existsSync(CLIP)) throw new Error(`${CLIP} is missing: run bench/startup.ts once first (it makes the clip)`)
  const share = await fs.mkdtemp(path.join(os.tmpdir(), 'p2ptube-startup-ab-'))
  const media = path.join(share, 'media')
  await fs.mkdir(media)
  await fs.copyFile(CLIP, path.join(media, path.basename(CLIP)))
  const h = spawn(process.execPath, [BINS[0], 'node', '--json', '--stdin', '--no-port-mapping', '--share', media, '--rate-limit', String(RATE), '--stabilize', '0'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: env(path.join(share, 'h'))
  })
  const total: [number[], number[]] = [[], []]
  const afterFound: [number[], number[]] = [[], []]
  try {
    const ev = events(h)
    const l = await ev.next('listening', 60_000)
    await ev.next('indexed', 60_000)
    h.stdin!.write('{"cmd":"library"}\n')
    const lib = (await ev.next('library', 60_000)) as unknown as { files: Array<{ contentId: string }> }
    const cid = lib.files[0]!.contentId
    // Two warm-up fetches (one per build: the page cache, mpv's first start), then alternated.
    for (let i = 0; i < 2 * runs + 2; i++) {
      const b = i % 2
      const t0 = performance.now()
      const f = spawn(process.execPath, [BINS[b]!, 'fetch', cid, '--peer', `127.0.0.1:${String(l.port)}`, '--play', '--json'], {
        stdio: ['ignore', 'pipe', 'ignore'],
        env: env(path.join(share, `f${i}`))
      })
      try {
        const e = events(f)
        await e.next('fetching', 60_000)
        const t1 = performance.now()
        await e.next('playing', 60_000)
        if (i >= 2) {
          total[b]!.push(performance.now() - t0)
          afterFound[b]!.push(performance.now() - t1)
        }
      } finally {
        f.kill('SIGTERM')
        await new Promise((r) => (f.exitCode !== null ? r(null) : f.once('exit', r)))
      }
    }
  } finally {
    h.stdin!.end()
    h.kill('SIGTERM')
    await new Promise((r) => (h.exitCode !== null ? r(null) : h.once('exit', r)))
    await fs.rm(share, { recursive: true, force: true })
  }
  const row = (name: string, xs: [number[], number[]]): string =>
    `${name.padEnd(32)} A ${med(xs[0]).toFixed(0).padStart(5)} ms (min ${Math.min(...xs[0]).toFixed(0)})  B ${med(xs[1]).toFixed(0).padStart(5)} ms (min ${Math.min(...xs[1]).toFixed(0)})  B/A ${(med(xs[1]) / med(xs[0])).toFixed(3)}`
  process.stdout.write(
    [
      `startup A/B: ${runs} alternated runs each, medians, load ${os.loadavg()[0]!.toFixed(2)} on ${os.cpus().length} cores; A ${BINS[0]}, B ${BINS[1]}`,
      row('spawn -> first frame', total),
      row("'fetching' -> first frame", afterFound)
    ].join('\n') + '\n'
  )
}

await main()
