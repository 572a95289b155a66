/**
 * A family on one LAN, as a new user would try it: three machines (network namespaces on one
 * bridge, real multicast), p2ptube run with NO address flags. A node shares real media with
 * `--mdns`; a second machine finds it with `search --mdns`, a third fetches by `--peer LAN_IP:PORT`
 * and the file's SHA-256 is checked. Skipped, with the reason, where namespaces cannot be made.
 */
import test from 'ava'
import { once } from 'node:events'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import type { ChildProcess } from 'node:child_process'
import { labUnavailable, lanLab, type LabHost } from '../helpers/netlab.ts'

const BIN = path.resolve('bin/p2ptube.js')
const MEDIA = '/usr/share/lebiniou/vue/media'
const CLIP = 'lebiniou-2021-06-10_12-19-53.mp4'

/** JSON events of a p2ptube process, and a way to wait for one. */
function events(p: ChildProcess): { next(event: string, pred?: (e: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>; all: Record<string, unknown>[] } {
  const all: Record<string, unknown>[] = []
  const waiters: { event: string; pred: (e: Record<string, unknown>) => boolean; resolve(e: Record<string, unknown>): void }[] = []
  readline.createInterface({ input: p.stdout! }).on('line', (line) => {
    let e: Record<string, unknown>
    try {
      e = JSON.parse(line)
    } catch {
      return
    }
    all.push(e)
    for (const w of [...waiters]) {
      if (w.event !== e.event || !w.pred(e)) continue
      waiters.splice(waiters.indexOf(w), 1)
      w.resolve(e)
    }
  })
  p.stderr?.resume()
  return {
    all,
    next(event, pred = () => true) {
      const seen = all.find((e) => e.event === event && pred(e))
      if (seen) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        waiters.push({ event, pred, resolve })
        p.once('exit', (code) => reject(new Error(`process exited (${code}) before "${event}": ${JSON.stringify(all.slice(-5))}`)))
      })
    }
  }
}

/** Run a one-shot p2ptube command on `host` to its end: exit code and JSON events. */
async function oneShot(host: LabHost, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; events: Record<string, unknown>[] }> {
  const p = host.spawn('node', [BIN, ...args, '--json'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const ev = events(p)
  const [code] = (await once(p, 'exit')) as [number | null]
  return { code, events: ev.all }
}

test('three LAN hosts, no address flags: mDNS search finds the holder, fetch by LAN address verifies', async (t) => {
  const why = await labUnavailable()
  if (why) return t.pass(`skipped: ${why}`)
  const lan = await lanLab(3)
  t.teardown(() => lan.down())
  const [h1, h2, h3] = lan.hosts as [LabHost, LabHost, LabHost]
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'p2ptube-lan-'))
  t.teardown(() => rm(tmp, { recursive: true, force: true }))
  // A private mDNS service type: concurrent runs on this machine never see each other.
  const env = { P2PTUBE_MDNS_TYPE: `p2pl-${process.pid % 100000}`, P2PTUBE_MDNS_UPDATE_MS: '500' }

  const holder = h1.spawn('node', [BIN, 'node', '--share', MEDIA, '--mdns', '--json', '--data', path.join(tmp, 'd1')], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
  const hev = events(holder)
  const listening = await hev.next('listening')
  t.log('holder listening:', JSON.stringify(listening))
  await hev.next('indexed')
  const port = Number(listening.port)

  // mDNS: the second machine finds the holder with nothing but --mdns.
  const found = await oneShot(h2, ['search', '12-19-53', '--mdns', '--timeout', '3', '--data', path.join(tmp, 'd2'), '--downloads', path.join(tmp, 'dl2')], env)
  const results = found.events.filter((e) => e.event === 'result')
  t.is(found.code, 0, JSON.stringify(found.events.slice(-5)))
  t.true(
    results.some((r) => r.name === CLIP && String(r.holder).startsWith(`${h1.ip}:`)),
    JSON.stringify(results)
  )

  // --peer with the LAN address: the third machine fetches, and the SHA-256 matches the original.
  const dl = path.join(tmp, 'dl3')
  const fetched = await oneShot(h3, ['fetch', CLIP, '--peer', `${h1.ip}:${port}`, '--downloads', dl, '--data', path.join(tmp, 'd3')])
  t.is(fetched.code, 0, JSON.stringify(fetched.events.slice(-5)))
  const [mine, theirs] = await Promise.all([readFile(path.join(dl, CLIP)), readFile(path.join(MEDIA, CLIP))])
  t.is(createHash('sha256').update(mine).digest('hex'), createHash('sha256').update(theirs).digest('hex'))
  holder.stdin?.end()
})

test('IPv6 on a LAN: a peer id "[fd42:…]:port" is joined, searched and fetched from, with no address flags', async (t) => {
  const why = await labUnavailable()
  if (why) return t.pass(`skipped: ${why}`)
  const lan = await lanLab(2, { ipv6: true })
  t.teardown(() => lan.down())
  const [h1, h2] = lan.hosts as [LabHost, LabHost]
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'p2ptube-lan6-'))
  t.teardown(() => rm(tmp, { recursive: true, force: true }))
  const holder = h1.spawn('node', [BIN, 'node', '--share', MEDIA, '--json', '--data', path.join(tmp, 'd1')], { stdio: ['pipe', 'pipe', 'pipe'] })
  const hev = events(holder)
  const listening = await hev.next('listening')
  await hev.next('indexed')
  const reachable = listening.reachable as string[]
  t.true(reachable.includes(`[${h1.ip6}]:${listening.port}`), `node prints its IPv6 address: ${JSON.stringify(reachable)}`)
  const peer = `[${h1.ip6}]:${listening.port}`
  const dl = path.join(tmp, 'dl')
  const fetched = await oneShot(h2, ['fetch', CLIP, '--peer', peer, '--downloads', dl, '--data', path.join(tmp, 'd2')])
  t.is(fetched.code, 0, JSON.stringify(fetched.events.slice(-5)))
  const results = fetched.events.filter((e) => e.event === 'fetched' || e.event === 'result')
  t.log(JSON.stringify(results.slice(0, 2)))
  const [mine, theirs] = await Promise.all([readFile(path.join(dl, CLIP)), readFile(path.join(MEDIA, CLIP))])
  t.is(createHash('sha256').update(mine).digest('hex'), createHash('sha256').update(theirs).digest('hex'))
  holder.stdin?.end()
})
