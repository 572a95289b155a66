/**
 * Relay vs direct (issue 10, docs/NETWORK.md "Relay"): on a lab LAN of three hosts (network
 * namespaces, real veth links), a holder (`p2ptube node`) on h1 keeps a reservation on a
 * tracker's relay (`p2ptube tracker --relay`) on h2; a fetcher on h3 fetches the same file by
 * dialling h1 and through the relay on h2, alternated in one run. Prints per mode the throughput
 * (MB/s, 10^6 B/s) and time to first byte, the ratio relay/direct (goal ≥ 0.8 when the relay's
 * link is not the bottleneck: here every link is a veth), and the relay process's CPU time per
 * MB relayed (/proc/PID/stat utime+stime). Skipped, with the reason, where namespaces cannot be made.
 *
 * Usage: node --import=tsx bench/relay.ts [--mib 64] [--runs 3]
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

async function fetchOnce(h: LabHost, holder: string, cid: string, size: number, out: string, via: string): Promise<{ ms: number; ttfbMs: number; connectMs: number; via: string }> {
  await fs.rm(out, { recursive: true, force: true })
  const r = await h.exec('node', ['--import=tsx', WORKER, holder, cid, String(size), out, via])
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms: number; ttfbMs: number; connectMs: number; via: string }
}

async function main(): Promise<void> {
  const why = await labUnavailable()
  if (why) {
    console.log(`relay bench skipped: ${why}`)
    return
  }
  const mib = arg('mib', 64)
  const runs = arg('runs', 3)
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'p2ptube-relay-bench-'))
  const lab = await lanLab(3)
  try {
    const [h1, h2, h3] = lab.hosts as [LabHost, LabHost, LabHost]
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
    const rows: Record<'direct' | 'relay', Array<{ mbps: number; ttfbMs: number; connectMs: number }>> = { direct: [], relay: [] }
    let relayCpu = 0
    let relayBytes = 0
    for (let i = 0; i < runs; i++) {
      for (const mode of i % 2 ? (['relay', 'direct'] as const) : (['direct', 'relay'] as const)) {
        const c0 = mode === 'relay' ? await cpuMs(tracker.pid!) : 0
        const r = await fetchOnce(h3, holder, file.contentId, file.size, path.join(tmp, `out-${mode}`), mode === 'direct' ? 'direct' : relay)
        if (r.via !== mode) throw new Error(`${mode} run went ${r.via}`)
        if (mode === 'relay') {
          relayCpu += (await cpuMs(tracker.pid!)) - c0
          relayBytes += file.size
        }
        rows[mode].push({ mbps: file.size / 1e6 / (r.ms / 1000), ttfbMs: r.ttfbMs, connectMs: r.connectMs })
        console.log(`run ${i + 1} ${mode.padEnd(6)} ${(file.size / 1e6 / (r.ms / 1000)).toFixed(1)} MB/s, first byte after ${r.ttfbMs.toFixed(1)} ms, one NAME request ${r.connectMs.toFixed(1)} ms`)
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    const d = median(rows.direct.map((r) => r.mbps))
    const rl = median(rows.relay.map((r) => r.mbps))
    console.log(`relay bench (${mib} MiB file, ${runs} runs each, medians): direct ${d.toFixed(1)} MB/s, relay ${rl.toFixed(1)} MB/s, relay/direct ${(rl / d).toFixed(2)} (goal >= 0.80)`)
    console.log(`  time to first byte: direct ${median(rows.direct.map((r) => r.ttfbMs)).toFixed(1)} ms, relay ${median(rows.relay.map((r) => r.ttfbMs)).toFixed(1)} ms`)
    console.log(
      `  one request on a new connection (NAME): direct ${median(rows.direct.map((r) => r.connectMs)).toFixed(1)} ms, through the relay ${median(rows.relay.map((r) => r.connectMs)).toFixed(1)} ms`
    )
    console.log(`  relay process CPU: ${((relayCpu / relayBytes) * 1e6).toFixed(2)} ms per MB relayed (${relayCpu} ms for ${(relayBytes / 1e6).toFixed(0)} MB)`)
  } finally {
    await lab.down()
    await fs.rm(tmp, { recursive: true, force: true })
  }
}

await main()
