/**
 * Relay vs direct (issue 10, docs/NETWORK.md "Relay"): on a lab LAN of three hosts (network
 * namespaces, real veth links), a holder (`p2ptube node`) on h1 keeps a reservation on a
 * tracker's relay (`p2ptube tracker --relay`) on h2; a fetcher on h3 fetches the same file by
 * dialling h1 and through the relay on h2, alternated in one run. Prints per mode the throughput
 * (MB/s, 10^6 B/s) and time to first byte, the ratio relay/direct (goal ≥ 0.8 when the relay's
 * link is not the bottleneck: here every link is a veth), and the relay process's CPU time per
 * MB relayed (/proc/PID/stat utime+stime). Skipped, with the reason, where namespaces cannot be made.
 *
 * The three processes share this machine's cores, so unshaped the relay's CPU competes with both
 * ends (a real relay runs on its own machine). `--shape MBps` limits the holder's uplink (h1's
 * egress, a `tc tbf` token bucket) for all modes, the typical home case where the holder's upload
 * is the bottleneck and not the relay's link. Three modes alternate: direct, relay, and relay without spare circuits (one circuit
 * set-up per RGET run, as before spares: src/relay/route.ts).
 *
 * Usage: node --import=tsx bench/relay.ts [--mib 64] [--runs 3] [--shape 40]
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { labUnavailable, lanLab, type LabHost } from '../test/helpers/netlab.ts'
import { events } from '../test/helpers/lab-process.ts'
import { makeFile } from './throughput.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = path.join(ROOT, 'bin/p2ptube.js')
const WORKER = path.join(ROOT, 'bench/relay-fetch.ts')

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}

/** CPU time (user + system) of a process so far, ms. */
async function cpuMs(pid: number): Promise<number> {
  const f = (await fs.readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100 // utime, stime in clock ticks (USER_HZ = 100)
}

interface FetchResult {
  ms: number
  ttfbMs: number
  connectMs: number
  via: string
  /** Circuits the fetcher opened (RCON + joins) and spare circuits it used (bench/relay-fetch.ts). */
  circuits: number
  sparesUsed: number
  /** ms each RGET waited for its circuit. */
  waits: number[]
}

async function fetchOnce(h: LabHost, holder: string, cid: string, size: number, out: string, via: string, spares: boolean): Promise<FetchResult> {
  await fs.rm(out, { recursive: true, force: true })
  const r = await h.exec('node', ['--import=tsx', WORKER, holder, cid, String(size), out, via, spares ? 'spares' : 'no-spares'])
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as FetchResult
}

/** The machine's load averages (1, 5, 15 min), as `uptime` prints them. */
async function load(): Promise<string> {
  return (await fs.readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')
}

async function main(): Promise<void> {
  const why = await labUnavailable()
  if (why) {
    console.log(`relay bench skipped: ${why}`)
    return
  }
  const mib = arg('mib', 64)
  const runs = arg('runs', 3)
  const shape = arg('shape', 0)
  const load0 = await load()
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'p2ptube-relay-bench-'))
  const lab = await lanLab(3)
  try {
    const [h1, h2, h3] = lab.hosts as [LabHost, LabHost, LabHost]
    // The holder's uplink (h1's only interface, e1) as a home upload of `shape` MB/s (a token
    // bucket; this kernel has no netem, so no added delay).
    if (shape > 0) await h1.exec('tc', ['qdisc', 'add', 'dev', 'e1', 'root', 'tbf', 'rate', `${shape * 8}mbit`, 'burst', '256kb', 'latency', '100ms'])
    const share = path.join(tmp, 'share')
    await makeFile(path.join(share, 'bench.mp4'), mib * 1024 * 1024)
    const tracker = h2.spawn('node', [BIN, 'tracker', '--port', '9410', '--relay', '--json', '--data', path.join(tmp, 'tracker')])
    await events(tracker).next('listening')
    const relay = `${h2.ip}:9410`
    const holderP = h1.spawn('node', [BIN, 'node', '--share', share, '--json', '--stdin', '--no-port-mapping', '--data', path.join(tmp, 'hd'), '--relay-via', relay], {
      stdio: ['pipe', 'pipe', 'pipe']
    })
    const hev = events(holderP)
    const reserved = await hev.next('relay', (e) => e.state === 'reserved')
    await hev.next('indexed', () => true, 120_000)
    holderP.stdin!.write('{"cmd":"library"}\n')
    const lib = (await hev.next('library')) as unknown as { files: Array<{ contentId: string; size: number }> }
    const file = lib.files[0]!
    const holder = String(reserved.id)
    type Mode = 'direct' | 'relay' | 'relay1'
    const modes: Mode[] = ['direct', 'relay', 'relay1']
    const rows: Record<Mode, Array<{ mbps: number; ttfbMs: number; connectMs: number }>> = { direct: [], relay: [], relay1: [] }
    const circuits: Record<Mode, { opened: number; spares: number; waits: number[] }> = {
      direct: { opened: 0, spares: 0, waits: [] },
      relay: { opened: 0, spares: 0, waits: [] },
      relay1: { opened: 0, spares: 0, waits: [] }
    }
    let relayCpu = 0
    let relayBytes = 0
    for (let i = 0; i < runs; i++) {
      // Each run starts with another mode: every mode goes first, second and third as often.
      for (const mode of [...modes.slice(i % 3), ...modes.slice(0, i % 3)]) {
        const c0 = mode !== 'direct' ? await cpuMs(tracker.pid!) : 0
        const r = await fetchOnce(h3, holder, file.contentId, file.size, path.join(tmp, `out-${mode}`), mode === 'direct' ? 'direct' : relay, mode !== 'relay1')
        if (r.via !== (mode === 'direct' ? 'direct' : 'relay')) throw new Error(`${mode} run went ${r.via}`)
        if (mode !== 'direct') {
          relayCpu += (await cpuMs(tracker.pid!)) - c0
          relayBytes += file.size
        }
        circuits[mode].opened += r.circuits
        circuits[mode].spares += r.sparesUsed
        circuits[mode].waits.push(...r.waits)
        rows[mode].push({ mbps: file.size / 1e6 / (r.ms / 1000), ttfbMs: r.ttfbMs, connectMs: r.connectMs })
        console.log(`run ${i + 1} ${mode.padEnd(6)} ${(file.size / 1e6 / (r.ms / 1000)).toFixed(1)} MB/s, first byte after ${r.ttfbMs.toFixed(1)} ms, one NAME request ${r.connectMs.toFixed(1)} ms`)
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    const med = (m: Mode, k: 'mbps' | 'ttfbMs' | 'connectMs'): number => median(rows[m].map((r) => r[k]))
    const pairs = (m: Mode): number[] => rows[m].map((r, i) => r.mbps / rows.direct[i]!.mbps)
    const link = shape > 0 ? `holder's uplink shaped to ${shape} MB/s` : "unshaped (holder, relay and fetcher share this machine's cores)"
    console.log(`relay bench (${mib} MiB file, ${runs} runs of each mode, ${link}; load ${load0} at the start, ${await load()} at the end):`)
    console.log(`  medians: direct ${med('direct', 'mbps').toFixed(1)} MB/s, relay ${med('relay', 'mbps').toFixed(1)} MB/s, relay without spare circuits ${med('relay1', 'mbps').toFixed(1)} MB/s`)
    for (const m of ['relay', 'relay1'] as const) {
      const name = m === 'relay' ? 'relay/direct' : 'relay without spares/direct'
      console.log(
        `  ${name}: paired ${pairs(m)
          .map((p) => p.toFixed(2))
          .join(' ')}, median ${median(pairs(m)).toFixed(2)} (goal >= 0.80)`
      )
    }
    const c = (m: Mode): string => `${circuits[m].opened} circuits opened, ${circuits[m].spares} runs on a spare`
    console.log(`  circuits per fetch (5 NAME requests included): relay ${c('relay')}; without spares ${c('relay1')} (${runs} fetches each)`)
    const w = (m: Mode): string => `median ${median(circuits[m].waits).toFixed(1)} ms, max ${Math.max(...circuits[m].waits).toFixed(1)} ms over ${circuits[m].waits.length}`
    console.log(`  wait for a circuit before an RGET run: relay ${w('relay')}; without spares ${w('relay1')}`)
    console.log(`  time to first byte: direct ${med('direct', 'ttfbMs').toFixed(1)} ms, relay ${med('relay', 'ttfbMs').toFixed(1)} ms, without spares ${med('relay1', 'ttfbMs').toFixed(1)} ms`)
    console.log(`  one request on a new connection (NAME): direct ${med('direct', 'connectMs').toFixed(1)} ms, through the relay ${med('relay', 'connectMs').toFixed(1)} ms`)
    console.log(`  relay process CPU: ${((relayCpu / relayBytes) * 1e6).toFixed(2)} ms per MB relayed (${relayCpu} ms for ${(relayBytes / 1e6).toFixed(0)} MB)`)
  } finally {
    await lab.down()
    await fs.rm(tmp, { recursive: true, force: true })
  }
}

await main()
