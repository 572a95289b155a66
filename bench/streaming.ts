/**
 * Streaming benchmark (issue #3), on loopback with real processes, real media and headless mpv:
 *  1. time from `p2ptube fetch --play` to mpv's first frame (playback-restart), the source
 *     rate-limited to 2 MB/s, for a non-faststart MP4 (moov after mdat) and a faststart copy;
 *     reported from the process start and from the download's start (target < 0.5 s);
 *  2. time for a seek into bytes not yet downloaded to resume playback (target < 0.3 s);
 *  3. throughput from 4 sources vs 1 source, each rate-limited to 5 MB/s (target ≥ 2.5×).
 * Usage: node --import=tsx bench/streaming.ts [--runs 3]
 */
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { P2PNode } from '../src/app/node.ts'
import { StreamServer } from '../src/media/stream-server.ts'
import { MpvPlayer } from '../src/player/mpv-player.ts'
import { events, makeFile } from './throughput.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = path.join(ROOT, 'bin/p2ptube.js')
const CLIP = '/usr/share/lebiniou/vue/media/lebiniou-2021-06-10_12-19-53.mp4'
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 3
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

function seeder(share: string, rate: number, data: string) {
  const child = spawn(process.execPath, [BIN, 'node', '--json', '--stdin', '--no-port-mapping', '--share', share, '--rate-limit', String(rate), '--data', data, '--stabilize', '0'], {
    stdio: ['pipe', 'pipe', 'inherit']
  })
  const ev = events(child)
  return {
    child,
    ev,
    async ready(): Promise<{ id: string; files: Array<{ contentId: string; size: number; name: string }> }> {
      const l = await ev.next('listening')
      await ev.next('indexed')
      child.stdin!.write('{"cmd":"library"}\n')
      const lib = (await ev.next('library')) as unknown as { files: Array<{ contentId: string; size: number; name: string }> }
      return { id: String(l.id), files: lib.files }
    },
    async stop(): Promise<void> {
      child.stdin!.end()
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)))
    }
  }
}

async function firstFrame(share: string, tmp: string): Promise<{ fromSpawn: number; fromDownload: number }> {
  const s = seeder(share, 2_000_000, path.join(tmp, 'sd'))
  try {
    const { id, files } = await s.ready()
    const out = await fs.mkdtemp(path.join(tmp, 'ff-'))
    const t0 = performance.now()
    const f = spawn(process.execPath, [BIN, 'fetch', files[0]!.contentId, '--peer', id, '--play', '--json', '--out', out, '--data', path.join(out, 'd')], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, DISPLAY: '', WAYLAND_DISPLAY: '' }
    })
    const fe = events(f)
    const playing = await fe.next('playing')
    const fromSpawn = performance.now() - t0
    f.kill('SIGTERM')
    await new Promise((r) => f.once('exit', r))
    return { fromSpawn, fromDownload: Number(playing.firstFrameMs) }
  } finally {
    await s.stop()
  }
}

async function seekResume(share: string, tmp: string, precision: 'exact' | 'keyframes'): Promise<number> {
  const seed = new P2PNode({ shares: [share], rateLimit: 2_000_000, dataDir: null, stabilizeIntervalMs: 0 })
  const view = new P2PNode({ dataDir: null, stabilizeIntervalMs: 0, downloadsDir: await fs.mkdtemp(path.join(tmp, 'sk-')) })
  await seed.start()
  await view.start()
  await seed.library.whenHashed()
  await view.join(seed.id)
  const e = seed.library.entries()[0]!
  const d = view.fetch({ name: e.name, contentId: e.cid as string, holder: seed.id, size: e.size })
  const player = new MpvPlayer({ headless: true })
  const streams = new StreamServer()
  try {
    await Promise.all([player.start(), streams.start()])
    const first = new Promise<void>((r) => player.once('playback-restart', () => r()))
    d.start().catch(() => {})
    await player.play(streams.add(d))
    await first
    const target = 8
    if (d.available(Math.floor((e.size * target) / 10.6)) > 0) throw new Error('seek target already downloaded: lower the rate ' + JSON.stringify(d.have.toJSON()))
    const t0 = performance.now()
    await player.seek(target, 'absolute', { precision })
    return performance.now() - t0
  } finally {
    d.cancel()
    await player.quit()
    await streams.stop()
    await d.close()
    await view.stop()
    await seed.stop()
  }
}

async function swarmRate(share: string, sources: number, tmp: string): Promise<number> {
  const seeds = Array.from({ length: sources }, (_, i) => seeder(share, 5_000_000, path.join(tmp, `s${sources}-${i}`)))
  const view = new P2PNode({ dataDir: null, stabilizeIntervalMs: 0, maxPeers: 0, downloadsDir: await fs.mkdtemp(path.join(tmp, 'sw-')) })
  try {
    const infos = await Promise.all(seeds.map((s) => s.ready()))
    await view.start()
    const f = infos[0]!.files[0]!
    const d = view.fetch({ name: f.name, contentId: f.contentId, holder: infos[0]!.id, size: f.size })
    for (const i of infos.slice(1)) d.addSource({ id: i.id, host: '127.0.0.1', port: Number(i.id.split(':')[1]) })
    const t0 = performance.now()
    const r = await d.start()
    const ms = performance.now() - t0
    if (r.sha256 !== f.contentId) throw new Error('SHA-256 mismatch')
    await d.close()
    return f.size / 1e6 / (ms / 1000)
  } finally {
    await view.stop()
    await Promise.all(seeds.map((s) => s.stop()))
  }
}

async function main(): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'p2ptube-bench-stream-'))
  try {
    const plain = path.join(tmp, 'plain')
    const fast = path.join(tmp, 'fast')
    await fs.mkdir(plain)
    await fs.mkdir(fast)
    await fs.copyFile(CLIP, path.join(plain, path.basename(CLIP)))
    execFileSync('ffmpeg', ['-v', 'error', '-i', CLIP, '-c', 'copy', '-movflags', '+faststart', path.join(fast, 'faststart.mp4')])
    console.log(`# streaming: ${path.basename(CLIP)} (4.34 MB, 10.6 s, H.264), ${runs} run(s), ${os.cpus().length} cores`)
    for (const [label, dir] of [
      ['non-faststart', plain],
      ['faststart', fast]
    ] as const) {
      const rs = []
      for (let i = 0; i < runs; i++) rs.push(await firstFrame(dir, tmp))
      console.log(
        `first frame, ${label.padEnd(13)} at 2 MB/s: median ${med(rs.map((r) => r.fromDownload)).toFixed(0)} ms from the download's start, ${med(rs.map((r) => r.fromSpawn)).toFixed(0)} ms from spawning \`p2ptube fetch --play\` (target < 500 ms) [${rs.map((r) => r.fromDownload.toFixed(0)).join(', ')}]`
      )
    }
    for (const precision of ['keyframes', 'exact'] as const) {
      const seeks = []
      for (let i = 0; i < runs; i++) seeks.push(await seekResume(plain, tmp, precision))
      console.log(
        `seek (${precision}) into undownloaded bytes, to 8 s at 2 MB/s: median ${med(seeks).toFixed(0)} ms until playback resumed (target < 300 ms) [${seeks.map((x) => x.toFixed(0)).join(', ')}]`
      )
    }
    const big = path.join(tmp, 'big')
    await makeFile(path.join(big, 'random-32MiB.mp4'), 32 * 1024 * 1024)
    const one = []
    const four = []
    for (let i = 0; i < runs; i++) {
      one.push(await swarmRate(big, 1, tmp))
      four.push(await swarmRate(big, 4, tmp))
    }
    const ratio = med(four) / med(one)
    console.log(`swarm, 32 MiB, each source limited to 5 MB/s: 1 source ${med(one).toFixed(1)} MB/s, 4 sources ${med(four).toFixed(1)} MB/s = ${ratio.toFixed(2)}x (target >= 2.5x)`)
  } finally {
    await fs.rm(tmp, { recursive: true, force: true })
  }
}

await main()
