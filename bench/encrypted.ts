/**
 * Encrypted vs plain throughput (issue #6): the same file fetched between two real processes
 * (`p2ptube node` seeder, `p2ptube fetch`), once over plain TCP and once inside a private group
 * (mutual TLS 1.3, AES-128-GCM), in one run. Prints MB/s (10^6 bytes/s) for both and the ratio;
 * target: encrypted ≥ 70 % of plain.
 *
 * Usage: node --import=tsx bench/encrypted.ts [--mib 1024] [--runs 3]
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { GroupAdmin } from '../src/group/admin.ts'
import { events, makeFile } from './throughput.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = path.join(ROOT, 'bin/p2ptube.js')

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}

/** One fetch of the shared file; `group` = [seeder credential, fetcher credential] or null for plain. */
async function fetchOnce(share: string, tmp: string, group: [string, string] | null): Promise<{ mbps: number; ms: number }> {
  const g = (i: 0 | 1): string[] => (group ? ['--group', group[i]] : [])
  // Fresh data dirs per run: a warm content-id cache means no 'indexed' event to wait for.
  tmp = await fs.mkdtemp(path.join(tmp, group ? 'group-' : 'plain-'))
  const seeder = spawn(process.execPath, [BIN, 'node', '--json', '--stdin', '--no-port-mapping', '--share', share, '--data', path.join(tmp, 'data'), ...g(0)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const se = events(seeder)
  try {
    const listening = await se.next('listening')
    await se.next('indexed')
    seeder.stdin!.write(JSON.stringify({ cmd: 'library' }) + '\n')
    const lib = (await se.next('library')) as { files: Array<{ contentId: string; size: number }> }
    const file = lib.files.find((f) => f.size > 0) ?? lib.files[0]!
    const out = path.join(tmp, group ? 'out-group' : 'out-plain')
    const fetcher = spawn(process.execPath, [BIN, 'fetch', file.contentId, '--peer', String(listening.id), '--json', '--out', out, '--data', path.join(tmp, 'data2'), ...g(1)], {
      stdio: ['ignore', 'pipe', 'inherit']
    })
    const fe = events(fetcher)
    await fe.next('fetching')
    const t0 = performance.now()
    const done = await fe.next('fetched')
    const ms = performance.now() - t0
    if (done.sha256 !== file.contentId) throw new Error('SHA-256 mismatch')
    await new Promise((r) => (fetcher.exitCode !== null ? r(null) : fetcher.once('exit', r)))
    await fs.rm(out, { recursive: true, force: true })
    return { mbps: file.size / 1e6 / (ms / 1000), ms }
  } finally {
    seeder.stdin!.end()
    await new Promise((r) => (seeder.exitCode !== null ? r(null) : seeder.once('exit', r)))
  }
}

async function main(): Promise<void> {
  const mib = arg('mib', 1024)
  const runs = arg('runs', 3)
  const work = path.join(ROOT, '.bench')
  // A share of its own (other benches leave other files in .bench/share); the same random file
  // is hard-linked from there when it exists, else made.
  const share = path.join(work, 'encrypted-share')
  const src = path.join(share, `random-${mib}MiB.mp4`)
  await fs.mkdir(share, { recursive: true })
  await fs.link(path.join(work, 'share', `random-${mib}MiB.mp4`), src).catch(() => {})
  console.log(`# encrypted vs plain: ${mib} MiB over 127.0.0.1 between p2ptube processes, ${runs} run(s), ${os.cpus().length} cores, node ${process.version}`)
  await makeFile(src, mib * 1024 * 1024)
  const tmp = await fs.mkdtemp(path.join(work, 'enc-'))
  try {
    const admin = new GroupAdmin(path.join(tmp, 'group'))
    await admin.init('bench')
    const seederCred = (await admin.issue('seeder', true)).file
    const fetcherCred = (await admin.issue('fetcher', false)).file
    const rows: Array<{ plain: number; group: number }> = []
    for (let i = 0; i < runs; i++) {
      const plain = await fetchOnce(share, tmp, null)
      const group = await fetchOnce(share, tmp, [seederCred, fetcherCred])
      rows.push({ plain: plain.mbps, group: group.mbps })
      console.log(
        `run ${i + 1}: plain ${plain.mbps.toFixed(0)} MB/s (${(plain.ms / 1000).toFixed(1)} s);  group (mutual TLS 1.3, AES-128-GCM) ${group.mbps.toFixed(0)} MB/s (${(group.ms / 1000).toFixed(1)} s);  ${((group.mbps / plain.mbps) * 100).toFixed(0)} %`
      )
    }
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
    const p = med(rows.map((r) => r.plain))
    const e = med(rows.map((r) => r.group))
    const ratio = e / p
    console.log(`median: plain ${p.toFixed(0)} MB/s, encrypted ${e.toFixed(0)} MB/s = ${(ratio * 100).toFixed(0)} % of plain (target >= 70 %: ${ratio >= 0.7 ? 'met' : 'NOT met'})`)
  } finally {
    await fs.rm(tmp, { recursive: true, force: true })
  }
}

await main()
