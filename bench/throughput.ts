/**
 * Throughput and memory benchmark (issue #2): move one file between two p2ptube nodes on
 * loopback (real `p2ptube node` and `p2ptube fetch` processes, 2 KB REPL chunks, SHA-256
 * verified) and, in the same run, the same file through a plain Node socket copy (file → socket
 * → file, no framing, no hashing). Prints MB/s (10^6 bytes/s) and the peak RSS (VmHWM) of each
 * process. Targets: p2ptube ≥ 50 % of the plain copy; peak RSS < 150 MB on both sides.
 *
 * Usage: node --import=tsx bench/throughput.ts [--mib 1024] [--runs 3]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { createWriteStream, existsSync, readFileSync, statSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = path.join(ROOT, 'bin/p2ptube.js')

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
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

function watchRss(pid: number): { peak(): number; stop(): void } {
  let peak = 0
  const t = setInterval(() => (peak = Math.max(peak, peakRss(pid))), 50)
  return { peak: () => Math.max(peak, peakRss(pid)), stop: () => clearInterval(t) }
}

/** Plain copy in two child processes (server: file → socket; client: socket → file). */
async function plainCopy(src: string, dst: string): Promise<{ mbps: number; rssSender: number; rssReceiver: number }> {
  const serverCode = `const net=require('net'),fs=require('fs');const s=net.createServer(c=>fs.createReadStream(${JSON.stringify(src)}).pipe(c));s.listen(0,'127.0.0.1',()=>console.log(s.address().port));`
  const server = spawn(process.execPath, ['-e', serverCode], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((r) => server.stdout!.once('data', (d) => r(Number(String(d).trim()))))
  const clientCode = `const net=require('net'),fs=require('fs');const t0=process.hrtime.bigint();const c=net.connect(${port},'127.0.0.1');const o=fs.createWriteStream(${JSON.stringify(dst)});c.pipe(o);o.on('finish',()=>{console.log(Number(process.hrtime.bigint()-t0)/1e6)})`
  const rssS = watchRss(server.pid!)
  const client = spawn(process.execPath, ['-e', clientCode], { stdio: ['ignore', 'pipe', 'inherit'] })
  const rssC = watchRss(client.pid!)
  const ms = await new Promise<number>((r) => client.stdout!.once('data', (d) => r(Number(String(d).trim()))))
  const rssReceiver = rssC.peak()
  const rssSender = rssS.peak()
  rssC.stop()
  rssS.stop()
  server.kill()
  await new Promise((r) => client.once('exit', r))
  const bytes = statSync(dst).size
  return { mbps: bytes / 1e6 / (ms / 1000), rssSender, rssReceiver }
}

/** p2ptube: a seeder node and a one-shot fetch process. */
async function p2ptubeCopy(dir: string, outDir: string, tmp: string): Promise<{ mbps: number; rssSender: number; rssReceiver: number; ms: number }> {
  const seeder = spawn(process.execPath, [BIN, 'node', '--json', '--stdin', '--no-port-mapping', '--share', dir, '--data', path.join(tmp, 'data')], { stdio: ['pipe', 'pipe', 'inherit'] })
  const se = events(seeder)
  try {
    const listening = await se.next('listening')
    await se.next('indexed')
    seeder.stdin!.write(JSON.stringify({ cmd: 'library' }) + '\n')
    const lib = (await se.next('library')) as { files: Array<{ contentId: string; size: number }> }
    const file = lib.files[0]!
    const rssS = watchRss(seeder.pid!)
    const fetcher = spawn(process.execPath, [BIN, 'fetch', file.contentId, '--peer', String(listening.id), '--json', '--out', outDir, '--data', path.join(tmp, 'data2')], {
      stdio: ['ignore', 'pipe', 'inherit']
    })
    const rssC = watchRss(fetcher.pid!)
    const fe = events(fetcher)
    await fe.next('fetching')
    const t0 = performance.now()
    const done = await fe.next('fetched')
    const ms = performance.now() - t0
    const rssReceiver = rssC.peak()
    rssC.stop()
    const rssSender = rssS.peak()
    rssS.stop()
    if (done.sha256 !== file.contentId) throw new Error('SHA-256 mismatch')
    await new Promise((r) => fetcher.once('exit', r))
    return { mbps: file.size / 1e6 / (ms / 1000), rssSender, rssReceiver, ms }
  } finally {
    seeder.stdin!.end()
    await new Promise((r) => (seeder.exitCode !== null ? r(null) : seeder.once('exit', r)))
  }
}

async function main(): Promise<void> {
  const mib = arg('mib', 1024)
  const runs = arg('runs', 3)
  const work = path.join(ROOT, '.bench')
  const share = path.join(work, 'share')
  const src = path.join(share, `random-${mib}MiB.mp4`)
  console.log(`# throughput: ${mib} MiB over 127.0.0.1, ${runs} run(s), ${os.cpus().length} cores, node ${process.version}`)
  await makeFile(src, mib * 1024 * 1024)
  const mb = (b: number): string => `${(b / 1e6).toFixed(0)} MB`
  const rows: Array<{ plain: number; p2p: number; ratio: number; rss: number }> = []
  for (let i = 0; i < runs; i++) {
    const tmp = await fs.mkdtemp(path.join(work, 'run-'))
    try {
      // Each copy writes 1 GiB into the page cache: flush earlier runs' dirty pages first, so
      // their writeback does not land on the next measurement (it made runs vary 2x).
      execFileSync('sync')
      const plain = await plainCopy(src, path.join(tmp, 'plain.bin'))
      await fs.rm(path.join(tmp, 'plain.bin'))
      execFileSync('sync')
      const p2p = await p2ptubeCopy(share, path.join(tmp, 'out'), tmp)
      const ratio = p2p.mbps / plain.mbps
      rows.push({ plain: plain.mbps, p2p: p2p.mbps, ratio, rss: Math.max(p2p.rssSender, p2p.rssReceiver) })
      console.log(
        `run ${i + 1}: plain socket copy ${plain.mbps.toFixed(0)} MB/s (peak RSS ${mb(plain.rssSender)} / ${mb(plain.rssReceiver)});  p2ptube ${p2p.mbps.toFixed(0)} MB/s (peak RSS seeder ${mb(p2p.rssSender)}, fetcher ${mb(p2p.rssReceiver)});  ${(ratio * 100).toFixed(0)} %`
      )
    } finally {
      await fs.rm(tmp, { recursive: true, force: true })
    }
  }
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
  const ratio = med(rows.map((r) => r.ratio))
  const rss = Math.max(...rows.map((r) => r.rss))
  console.log(
    `median: plain ${med(rows.map((r) => r.plain)).toFixed(0)} MB/s, p2ptube ${med(rows.map((r) => r.p2p)).toFixed(0)} MB/s (2 KB chunks, SHA-256 verified) = ${(ratio * 100).toFixed(0)} % of plain (target >= 50 %: ${ratio >= 0.5 ? 'met' : 'NOT met'})`
  )
  console.log(`peak RSS of either p2ptube process: ${mb(rss)} (target < 150 MB: ${rss < 150e6 ? 'met' : 'NOT met'})`)
}

// Run only when executed, not when bench/streaming.ts imports the helpers above.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main()
