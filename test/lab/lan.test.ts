/**
 * A family on one LAN, as a new user would try it: three machines (network namespaces on one
 * bridge, real multicast), p2ptube run with NO address flags. A node shares real media with
 * `--mdns`; a second machine finds it with `search --mdns`, a third fetches by `--peer LAN_IP:PORT`
 * and the file's SHA-256 is checked. Skipped, with the reason, where namespaces cannot be made.
 */
import test from 'ava'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { BIN, events, oneShot } from '../helpers/lab-process.ts'
import { labUnavailable, lanLab, type LabHost } from '../helpers/netlab.ts'

const MEDIA = '/usr/share/lebiniou/vue/media'
const CLIP = 'lebiniou-2021-06-10_12-19-53.mp4'

test('three LAN hosts, no address flags: mDNS search finds the holder, fetch by LAN address verifies', async (t) => {
  const why = await labUnavailable()
  if (why) return t.pass(`skipped: ${why}`)
  const lan = await lanLab(3)
  t.teardown(() => lan.down())
  const [h1, h2, h3] = lan.hosts as [LabHost, LabHost, LabHost]
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'p2ptube-lan-'))
  // Teardowns run last first: this one, before the one above. The folders go once the lab's
  // processes have exited (down() waits): a node still stopping writes its state into them.
  t.teardown(async () => {
    await lan.down()
    await rm(tmp, { recursive: true, force: true })
  })
  // A private mDNS service type: concurrent runs on this machine never see each other.
  const env = { P2PTUBE_MDNS_TYPE: `p2pl-${process.pid % 100000}`, P2PTUBE_MDNS_UPDATE_MS: '500' }

  const holder = h1.spawn('node', [BIN, 'node', '--share', MEDIA, '--mdns', '--json', '--stdin', '--data', path.join(tmp, 'd1')], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
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
  const exited = once(holder, 'exit')
  holder.stdin?.end()
  t.is((await exited)[0], 0, 'stdin closed: the holder stops cleanly and exits 0')
})

test('IPv6 on a LAN: a peer id "[fd42:…]:port" is joined, searched and fetched from, with no address flags', async (t) => {
  const why = await labUnavailable()
  if (why) return t.pass(`skipped: ${why}`)
  const lan = await lanLab(2, { ipv6: true })
  t.teardown(() => lan.down())
  const [h1, h2] = lan.hosts as [LabHost, LabHost]
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'p2ptube-lan6-'))
  // Teardowns run last first: this one, before the one above. The folders go once the lab's
  // processes have exited (down() waits): a node still stopping writes its state into them.
  t.teardown(async () => {
    await lan.down()
    await rm(tmp, { recursive: true, force: true })
  })
  const holder = h1.spawn('node', [BIN, 'node', '--share', MEDIA, '--json', '--stdin', '--data', path.join(tmp, 'd1')], { stdio: ['pipe', 'pipe', 'pipe'] })
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
  const exited = once(holder, 'exit')
  holder.stdin?.end()
  t.is((await exited)[0], 0, 'stdin closed: the holder stops cleanly and exits 0')
})
