/**
 * Throughput benchmark (issues #2, #15): move one file between two p2ptube processes on
 * loopback (a real `p2ptube node` seeder and a one-shot `p2ptube fetch`, every piece verified
 * against the content id) and, in the same run, the same file through `nc` (netcat-openbsd:
 * file → socket → file, no framing, no hashing; scripts/setup.sh installs it). Prints MB/s
 * (10^6 bytes/s), the ratio to nc of the same run, the CPU seconds of the fetcher per GiB (and
 * of the seeder and both nc ends), the fetch's whole-process time (spawn to exit: the start
 * cost that matters for small files) and the peak RSS (VmHWM) of each process; the seeder's
 * peak is split into indexing (hashing the shared file at start) and serving (VmHWM reset
 * through /proc/PID/clear_refs once indexed). Fetcher CPU is given for the whole process and
 * for the transfer alone ('fetching' to 'fetched'). The load average is printed with each run:
 * the machine is shared, and nc's speed moves with it.
 * With --builds, several builds (folders holding bin/p2ptube.js and dist/) are measured in
 * turn inside each run (A B C, then B C A, …) so a drift of the machine hits them alike.
 * --dir puts the shared file and every copy's output in another folder (e.g. /dev/shm: no disk
 * writeback in the figures; nc and p2ptube alike).
 * Targets: p2ptube ≥ 0.8 × nc (issue #15); peak RSS < 150 MB on both sides.
 *
 * Usage: node --import=tsx bench/throughput.ts [--mib 1024] [--runs 3] [--builds DIR,DIR,...] [--dir DIR]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { createWriteStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}

function argText(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : undefined
}

/** CPU seconds (user + system, every thread) a live process has used so far; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / 100 // clock ticks: CLK_TCK = 100 on Linux
  } catch {
    return 0
  }
}

/** Peak resident set (VmHWM) of a live process, bytes. */
export function peakRss(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0 // the process has exited
  }
}

/** Reset a live process's VmHWM to its current RSS (Linux: `5` into /proc/PID/clear_refs); false when not allowed. */
function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

/** The 1-minute load average, as printed beside every figure. */
const load = (): string => os.loadavg()[0]!.toFixed(1)

/** Make (or reuse) a file of random bytes. */
export async function makeFile(file: string, bytes: number): Promise<void> {
  if (existsSync(file) && statSync(file).size === bytes) return
  await fs.mkdir(path.dirname(file), { recursive: true })
  const out = createWriteStream(file)
  const block = Buffer.allocUnsafe(4 << 20)
  for (let done = 0; done < bytes;) {
    const n = Math.min(block.length, bytes - done)
    randomFillSync(block, 0, n)
    if (!out.write(block.subarray(0, n))) await new Promise<void>((r) => out.once('drain', () => r()))
    done += n
  }
  await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())))
}

/** The environment of a headless p2ptube child with its own XDG folders under `xdg` (no display: mpv headless). */
export function benchEnv(xdg: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DISPLAY: '',
    WAYLAND_DISPLAY: '',
    XDG_CONFIG_HOME: path.join(xdg, 'c'),
    XDG_DATA_HOME: path.join(xdg, 'd'),
    XDG_CACHE_HOME: path.join(xdg, 'k'),
    XDG_DOWNLOAD_DIR: path.join(xdg, 'dl')
  }
}

/** JSON-lines reader over a child's stdout. */
export function events(child: ChildProcess): { next(name: string, timeoutMs?: number): Promise<Record<string, unknown>> } {
  const seen: Array<Record<string, unknown>> = []
  const waiters: Array<{ name: string; resolve: (e: Record<string, unknown>) => void }> = []
  readline.createInterface({ input: child.stdout! }).on('line', (l) => {
    let e: Record<string, unknown>
    try {
      e = JSON.parse(l)
    } catch {
      return
    }
    const w = waiters.findIndex((x) => x.name === e.event)
    if (w >= 0) waiters.splice(w, 1)[0]!.resolve(e)
    else seen.push(e)
  })
  return {
    next(name, timeoutMs = 600_000) {
      const i = seen.findIndex((e) => e.event === name)
      if (i >= 0) return Promise.resolve(seen.splice(i, 1)[0]!)
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for "${name}"`)), timeoutMs)
        waiters.push({ name, resolve: (e) => (clearTimeout(t), resolve(e)) })
        child.once('exit', (c) => reject(new Error(`process exited (${c}) before "${name}"`)))
      })
    }
  }
}

/** Peak RSS and CPU seconds of a process, sampled every 20 ms (the last sample before it exits counts). */
function watchRss(pid: number): { peak(): number; cpu(): number; stop(): void } {
  let peak = 0
  let cpu = 0
  const sample = (): void => {
    peak = Math.max(peak, peakRss(pid))
    cpu = Math.max(cpu, cpuSeconds(pid))
  }
  const t = setInterval(sample, 20)
  return {
    peak: () => (sample(), peak),
    cpu: () => (sample(), cpu),
    stop: () => clearInterval(t)
  }
}

/** True once something listens on 127.0.0.1:`port` (read from /proc/net/tcp: no connection is made). */
function listening(port: number): boolean {
  const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((l) => l.includes(` ${hex} `) && l.split(/\s+/)[4] === '0A')
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
async function freePort(): Promise<number> {
  const { createServer } = await import('node:net')
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise((r) => srv.close(r))
  return port
}

/** nc copy: `nc -l` writes the socket to `dst`, `nc -N` sends `src`; timed from the sender's start to the receiver's exit. */
async function ncCopy(src: string, dst: string): Promise<{ mbps: number; ms: number; cpu: number }> {
  const port = await freePort()
  const receiver = spawn('sh', ['-c', `exec nc -l 127.0.0.1 ${port} > '${dst}'`], { stdio: 'ignore' })
  const rr = watchRss(receiver.pid!)
  while (!listening(port)) await new Promise((r) => setTimeout(r, 5))
  const t0 = performance.now()
  const sender = spawn('sh', ['-c', `exec nc -N 127.0.0.1 ${port} < '${src}'`], { stdio: 'ignore' })
  const rs = watchRss(sender.pid!)
  const done = new Promise((r) => receiver.once('exit', r))
  const sent = new Promise((r) => sender.once('exit', r))
  await done
  const ms = performance.now() - t0
  await sent
  const cpu = rr.cpu() + rs.cpu()
  rr.stop()
  rs.stop()
  return { mbps: statSync(dst).size / 1e6 / (ms / 1000), ms, cpu }
}

/** What one p2ptube copy measured. Times in ms, CPU in seconds. */
interface P2PCopy {
  mbps: number
  ms: number
  /** Spawn of `p2ptube fetch` to its exit. */
  wholeMs: number
  cpuFetcher: number
  /** Fetcher CPU from 'fetching' to 'fetched' (the transfer, without start-up). */
  cpuTransfer: number
  cpuSeeder: number
  /** Seeder peak RSS while serving (after a reset once indexed), or the whole life's when the reset is not allowed. */
  rssSender: number
  /** Seeder peak RSS up to the end of indexing. */
  rssIndexing: number
  rssReceiver: number
}

/** p2ptube of the build in `build`: a seeder node and a one-shot fetch process. */
async function p2ptubeCopy(build: string, dir: string, outDir: string, tmp: string): Promise<P2PCopy> {
  const bin = path.join(build, 'bin/p2ptube.js')
  // Older builds have no port mapping (nor its flag); newer ones must not touch the real router.
  const noMapping = readFileSync(path.join(build, 'dist/cli/commands/node.js'), 'utf8').includes('port-mapping') ? ['--no-port-mapping'] : []
  const stdin = readFileSync(path.join(build, 'dist/cli/commands/node.js'), 'utf8').includes("'stdin'") ? ['--stdin'] : []
  const seeder = spawn(process.execPath, [bin, 'node', '--json', ...stdin, ...noMapping, '--share', dir, '--data', path.join(tmp, 'data')], { stdio: ['pipe', 'pipe', 'inherit'] })
  const se = events(seeder)
  try {
    const listening = await se.next('listening')
    await se.next('indexed')
    seeder.stdin!.write(JSON.stringify({ cmd: 'library' }) + '\n')
    const lib = (await se.next('library')) as { files: Array<{ contentId: string; size: number }> }
    const file = lib.files[0]!
    const rssIndexing = peakRss(seeder.pid!)
    resetPeakRss(seeder.pid!)
    const rssS = watchRss(seeder.pid!)
    const seederCpu0 = rssS.cpu()
    const spawned = performance.now()
    const fetcher = spawn(process.execPath, [bin, 'fetch', file.contentId, '--peer', String(listening.id), '--json', '--out', outDir, '--data', path.join(tmp, 'data2')], {
      stdio: ['ignore', 'pipe', 'inherit']
    })
    const exited = new Promise((r) => fetcher.once('exit', r))
    const rssC = watchRss(fetcher.pid!)
    const fe = events(fetcher)
    await fe.next('fetching')
    const t0 = performance.now()
    const cpu0 = rssC.cpu()
    const done = await fe.next('fetched')
    const ms = performance.now() - t0
    const cpuSeeder = rssS.cpu() - seederCpu0
    const rssReceiver = rssC.peak()
    const cpuFetcher = rssC.cpu()
    const rssSender = rssS.peak()
    rssS.stop()
    if (done.sha256 !== file.contentId) throw new Error('content id mismatch')
    await exited
    const wholeMs = performance.now() - spawned
    rssC.stop()
    return { mbps: file.size / 1e6 / (ms / 1000), ms, wholeMs, cpuFetcher, cpuTransfer: cpuFetcher - cpu0, cpuSeeder, rssSender, rssIndexing, rssReceiver }
  } finally {
    seeder.stdin!.end()
    await new Promise((r) => (seeder.exitCode !== null ? r(null) : seeder.once('exit', r)))
  }
}

async function main(): Promise<void> {
  const mib = arg('mib', 1024)
  const runs = arg('runs', 3)
  const builds = (argText('builds') ?? ROOT).split(',').map((b) => path.resolve(b))
  const work = path.resolve(argText('dir') ?? path.join(ROOT, '.bench'))
  const share = path.join(work, 'share')
  const src = path.join(share, `random-${mib}MiB.mp4`)
  const gib = (mib * 1024 * 1024) / 2 ** 30
  console.log(`# throughput: ${mib} MiB over 127.0.0.1, ${runs} run(s), ${os.cpus().length} cores, node ${process.version}, files in ${work}; builds: ${builds.join(', ')}; load ${load()}`)
  await makeFile(src, mib * 1024 * 1024)
  const mb = (b: number): string => `${(b / 1e6).toFixed(0)} MB`
  const rows = new Map<string, Array<P2PCopy & { ratio: number; ncMbps: number; ncMs: number; ncCpu: number; load: number }>>(builds.map((b) => [b, []]))
  for (let i = 0; i < runs; i++) {
    const tmp = await fs.mkdtemp(path.join(work, 'run-'))
    try {
      // Each copy writes the file into the page cache: flush earlier runs' dirty pages first, so
      // their writeback does not land on the next measurement (it made runs vary 2x).
      execFileSync('sync')
      const nc = await ncCopy(src, path.join(tmp, 'nc.bin'))
      await fs.rm(path.join(tmp, 'nc.bin'))
      console.log(`run ${i + 1}: nc ${nc.mbps.toFixed(0)} MB/s (${nc.ms.toFixed(0)} ms, both ends ${(nc.cpu / gib).toFixed(2)} CPU s/GiB); load ${load()}`)
      // Rotate the order of the builds from run to run.
      for (let k = 0; k < builds.length; k++) {
        const build = builds[(i + k) % builds.length]!
        execFileSync('sync')
        const p = await p2ptubeCopy(build, share, path.join(tmp, `out-${k}`), path.join(tmp, `b${k}`))
        await fs.rm(path.join(tmp, `out-${k}`), { recursive: true, force: true })
        const ratio = p.mbps / nc.mbps
        rows.get(build)!.push({ ...p, ratio, ncMbps: nc.mbps, ncMs: nc.ms, ncCpu: nc.cpu, load: os.loadavg()[0]! })
        console.log(
          `  ${build}: ${p.mbps.toFixed(0)} MB/s = ${ratio.toFixed(2)} × nc; fetch ${p.ms.toFixed(0)} ms (whole process ${p.wholeMs.toFixed(0)} ms); CPU s/GiB fetcher ${(p.cpuFetcher / gib).toFixed(2)} (transfer ${(p.cpuTransfer / gib).toFixed(2)}), seeder ${(p.cpuSeeder / gib).toFixed(2)}; peak RSS seeder ${mb(p.rssSender)} serving (${mb(p.rssIndexing)} indexing), fetcher ${mb(p.rssReceiver)}; load ${load()}`
        )
      }
    } finally {
      await fs.rm(tmp, { recursive: true, force: true })
    }
  }
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
  for (const [build, r] of rows) {
    const ratio = med(r.map((x) => x.ratio))
    const rss = Math.max(...r.map((x) => Math.max(x.rssSender, x.rssIndexing, x.rssReceiver)))
    const loads = r.map((x) => x.load)
    console.log(
      `median ${build}: nc ${med(r.map((x) => x.ncMbps)).toFixed(0)} MB/s, p2ptube ${med(r.map((x) => x.mbps)).toFixed(0)} MB/s, ratio ${ratio.toFixed(2)} (target >= 0.8: ${ratio >= 0.8 ? 'met' : 'NOT met'}; best run ${Math.max(...r.map((x) => x.ratio)).toFixed(2)}); ` +
        `fetcher ${(med(r.map((x) => x.cpuFetcher)) / gib).toFixed(2)} CPU s/GiB (transfer ${(med(r.map((x) => x.cpuTransfer)) / gib).toFixed(2)}), seeder ${(med(r.map((x) => x.cpuSeeder)) / gib).toFixed(2)}, nc both ends ${(med(r.map((x) => x.ncCpu)) / gib).toFixed(2)}; ` +
        `whole fetch process ${med(r.map((x) => x.wholeMs)).toFixed(0)} ms vs nc ${med(r.map((x) => x.ncMs)).toFixed(0)} ms; ` +
        `peak RSS seeder ${mb(Math.max(...r.map((x) => x.rssSender)))} serving, ${mb(Math.max(...r.map((x) => x.rssIndexing)))} indexing, fetcher ${mb(Math.max(...r.map((x) => x.rssReceiver)))} (target < 150 MB: ${rss < 150e6 ? 'met' : 'NOT met'}); ` +
        `load ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}`
    )
  }
}

// Run only when executed, not when bench/streaming.ts imports the helpers above.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main()
