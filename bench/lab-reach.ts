/**
 * Reaching holders across homes, in the NAT lab (docs/NETWORK.md; test/helpers/netlab.ts: Linux
 * network namespaces, nftables masquerade, miniupnpd on home 1's router). For each case, the time
 * from spawning `p2ptube fetch NAME --tracker T` to its first `progress` event (the first 64 KiB
 * received: node start, tracker search, the route, HASH, the first RGET), the whole fetch, and
 * the throughput after the first byte, for a 32 MiB file:
 *  - public: holder on the public host, fetched from home 2 (direct dial, the baseline);
 *  - mapped: holder in home 1 (UPnP mapping), fetched from home 2 (direct dial to the mapping);
 *  - reversal: holder in home 2 (not dialable), fetched from the public host;
 *  - punch: holder in home 2, fetched from home 3 (neither dialable), routers that drop
 *    unsolicited SYNs (most home routers);
 *  - punch-rst: the same with routers that answer unsolicited SYNs with a reset (the lab's plain
 *    masquerade routers): how often the punch gets through.
 * Runs are alternated between cases. Needs root (namespaces): without, says why and exits 0.
 * Usage: node --import=tsx bench/lab-reach.ts [--runs 3]
 */
import { once } from 'node:events'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { BIN, events } from '../test/helpers/lab-process.ts'
import { labUnavailable, natLab, type LabHost, type NatLab } from '../test/helpers/netlab.ts'
import { makeFile } from './throughput.ts'

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 3
const SIZE = 32 << 20
const med = (xs: number[]): number => (xs.length ? ([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number) : NaN)

interface Row {
  firstByteMs: number[]
  totalMs: number[]
  mbps: number[]
  via: Set<string>
  failed: number
  errors: string[]
}

async function tracker(lab: NatLab, tmp: string): Promise<string> {
  const p = lab.tracker.spawn('node', [BIN, 'tracker', '--port', '0', '--json', '--data', path.join(tmp, `trk-${lab.tracker.ns}`), '--announce-interval', '2'], { stdio: ['pipe', 'pipe', 'pipe'] })
  const l = await events(p).next('listening')
  return `${lab.tracker.ip}:${String(l.port)}`
}

async function holder(host: LabHost, trk: string, share: string, data: string): Promise<() => Promise<void>> {
  const p = host.spawn('node', [BIN, 'node', '--share', share, '--tracker', trk, '--json', '--stdin', '--data', data], { stdio: ['pipe', 'pipe', 'pipe'] })
  const ev = events(p)
  await ev.next('indexed', undefined, 120_000)
  await ev.next('reachability', (e) => e.state === 'open' && e.reach !== 'unknown', 60_000)
  // Home 1: wait for the check after the mapping, so the tracker lists the holder as dialable.
  if (host.ip.startsWith('192.168.1.')) await ev.next('reachability', (e) => e.reach === 'mapped', 60_000)
  return async () => {
    p.stdin?.end()
    await once(p, 'exit')
  }
}

async function fetchOnce(host: LabHost, trk: string, name: string, tmp: string, row: Row): Promise<void> {
  const dl = await fs.mkdtemp(path.join(tmp, 'dl-'))
  const t0 = performance.now()
  const p = host.spawn('node', [BIN, 'fetch', name, '--tracker', trk, '--downloads', dl, '--data', path.join(dl, 'data'), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const ev = events(p)
  let first = 0
  void ev.next('progress', undefined, 120_000).then(
    () => (first = performance.now() - t0),
    () => {}
  )
  const [code] = (await once(p, 'exit')) as [number | null]
  const total = performance.now() - t0
  if (code !== 0 || !first) {
    row.failed++
    const err = ev.all.find((e) => e.event === 'error')
    row.errors.push(String(err?.message ?? `exit ${code}`).slice(0, 300))
  } else {
    row.firstByteMs.push(first)
    row.totalMs.push(total)
    row.mbps.push(SIZE / 1e6 / ((total - first) / 1000))
    row.via.add(String(ev.all.find((e) => e.event === 'fetched')?.via ?? 'direct'))
  }
  await fs.rm(dl, { recursive: true, force: true })
}

/** A share folder with one random file of SIZE bytes named `name`. */
async function shareOf(tmp: string, name: string): Promise<string> {
  const dir = path.join(tmp, `share-${name}`)
  await makeFile(path.join(dir, name), SIZE)
  return dir
}

async function main(): Promise<void> {
  const why = await labUnavailable({ nat: true })
  if (why) {
    console.log(`lab-reach: skipped (${why})`)
    return
  }
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'p2ptube-labreach-'))
  const labs: NatLab[] = []
  const stops: Array<() => Promise<void>> = []
  try {
    // Lab A: routers that reset unsolicited SYNs (plain masquerade). Lab B: routers that drop them.
    const a = await natLab()
    labs.push(a)
    const b = await natLab({ dropInbound: true })
    labs.push(b)
    const [trkA, trkB] = [await tracker(a, tmp), await tracker(b, tmp)]
    const [a1, a2, a3] = a.homes as [LabHost, LabHost, LabHost]
    const [, b2, b3] = b.homes as [LabHost, LabHost, LabHost]
    // One file per holder, so each fetch has exactly one holder.
    const cases: Array<{ name: string; holder: LabHost; fetcher: LabHost; trk: string; file: string }> = [
      { name: 'public', holder: a.pub, fetcher: a2, trk: trkA, file: 'reach-pub.mp4' },
      { name: 'mapped', holder: a1, fetcher: a2, trk: trkA, file: 'reach-h1.mp4' },
      { name: 'reversal', holder: a2, fetcher: a.pub, trk: trkA, file: 'reach-h2.mp4' },
      { name: 'punch', holder: b2, fetcher: b3, trk: trkB, file: 'reach-b2.mp4' },
      { name: 'punch-rst', holder: a2, fetcher: a3, trk: trkA, file: 'reach-h2.mp4' }
    ]
    const started = new Set<string>()
    for (const c of cases) {
      const key = `${c.holder.ns}/${c.file}`
      if (started.has(key)) continue
      started.add(key)
      stops.push(await holder(c.holder, c.trk, await shareOf(tmp, c.file), path.join(tmp, `data-${c.holder.ns}`)))
    }
    const rows = new Map(cases.map((c) => [c.name, { firstByteMs: [], totalMs: [], mbps: [], via: new Set<string>(), failed: 0, errors: [] } as Row]))
    for (let i = 0; i < runs; i++) for (const c of cases) await fetchOnce(c.fetcher, c.trk, c.file, tmp, rows.get(c.name) as Row)
    console.log(`lab-reach: ${runs} run(s) per case, ${SIZE >> 20} MiB file, alternated; medians (min-max)`)
    console.log('case        ok   via         spawn→first byte ms    whole fetch ms       MB/s after first byte')
    const range = (xs: number[], f = (x: number) => x.toFixed(0)): string => (xs.length ? `${f(med(xs))} (${f(Math.min(...xs))}-${f(Math.max(...xs))})` : '-')
    for (const c of cases) {
      const r = rows.get(c.name) as Row
      console.log(
        `${c.name.padEnd(11)} ${`${r.firstByteMs.length}/${runs}`.padEnd(4)} ${[...r.via].join(',').padEnd(11)} ${range(r.firstByteMs).padEnd(22)} ${range(r.totalMs).padEnd(20)} ${range(r.mbps, (x) => x.toFixed(1))}`
      )
      for (const e of new Set(r.errors)) console.log(`            failed: ${e}`)
    }
  } finally {
    for (const stop of stops) await stop().catch(() => {})
    for (const l of labs) await l.down()
    await fs.rm(tmp, { recursive: true, force: true })
  }
}

await main()
