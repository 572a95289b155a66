/**
 * Port mapping in the NAT lab (docs/NETWORK.md): a node behind home 1's router (miniupnpd: UPnP
 * IGD + NAT-PMP) gets a public port, and the public host fetches a real file through the router's
 * WAN address; after the router restarts (mappings flushed) the node maps again; a clean stop
 * removes the mapping. A node behind home 2's router (no UPnP) says `unavailable` at once and
 * keeps working. Real processes, real routers, no mocks. Skipped, with the reason, without root.
 */
import test, { type ExecutionContext } from 'ava'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { labUnavailable, natLab, type LabHost, type NatLab } from '../helpers/netlab.ts'
import { BIN, events, oneShot, type EventLog } from '../helpers/lab-process.ts'

const MEDIA = '/usr/share/lebiniou/vue/media'
const CLIP = 'lebiniou-2021-06-10_12-19-53.mp4'
/** Short renewal/check period so a router restart is noticed within the test. */
const CHECK_MS = 1000

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex')
}

/** The forwarding rules miniupnpd holds in home 1's router (the nft chain it writes to). */
async function routerRules(lab: NatLab): Promise<string> {
  return (await (lab.routers[0] as LabHost).exec('/usr/sbin/nft', ['list', 'chain', 'inet', 'filter', 'UPnP'])).stdout
}

/** A lab and a temp folder, both removed at the test's end. */
async function setup(t: ExecutionContext): Promise<{ lab: NatLab; tmp: string } | null> {
  const why = await labUnavailable({ nat: true })
  if (why) {
    t.pass(`skipped: ${why}`)
    return null
  }
  const lab = await natLab()
  t.teardown(() => lab.down())
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'p2ptube-portmap-'))
  // Teardowns run last first: this one, before lab.down() above. The folders go once the lab's
  // processes have exited (down() waits): a node still stopping writes its state into them.
  t.teardown(async () => {
    await lab.down()
    await rm(tmp, { recursive: true, force: true })
  })
  return { lab, tmp }
}

/** Start `p2ptube node --share MEDIA --json` on `host`; its event log once it listens. */
async function startNode(host: LabHost, tmp: string, env: NodeJS.ProcessEnv) {
  const p = host.spawn('node', [BIN, 'node', '--share', MEDIA, '--json', '--stdin', '--data', path.join(tmp, 'data')], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
  const ev = events(p)
  const listening = await ev.next('listening')
  return { p, ev, listening, t0: performance.now() }
}

/** From the public host: fetch CLIP through `peer`, and check its SHA-256 against the original. */
async function fetchFromPub(t: ExecutionContext, lab: NatLab, tmp: string, peer: string, name: string): Promise<void> {
  const dl = path.join(tmp, name)
  const t0 = performance.now()
  const r = await oneShot(lab.pub, ['fetch', CLIP, '--peer', peer, '--downloads', dl, '--data', path.join(tmp, `${name}-data`)])
  t.is(r.code, 0, JSON.stringify(r.events.slice(-5)))
  const fetching = r.events.find((e) => e.event === 'fetching')
  t.is(fetching?.holder, peer, 'the holder names itself by its mapped address to a peer on the internet')
  t.is(await sha256(path.join(dl, CLIP)), await sha256(path.join(MEDIA, CLIP)))
  t.log(`${name}: pub fetched ${CLIP} through ${peer} in ${Math.round(performance.now() - t0)} ms`)
}

/** The first port-mapping event after the first `skip` events, with state `state`. */
function mappingAfter(ev: EventLog, skip: number, state: string, timeoutMs = 20_000) {
  return ev.next('port-mapping', (e) => ev.all.indexOf(e) >= skip && e.state === state, timeoutMs)
}

test('UPnP: home 1 gets a public port, pub fetches through it; after a router restart it maps again; stop removes it', async (t) => {
  const s = await setup(t)
  if (!s) return
  const { lab, tmp } = s
  const r1 = lab.routers[0] as LabHost
  const node = await startNode(lab.homes[0] as LabHost, tmp, { P2PTUBE_PORTMAP_CHECK_MS: String(CHECK_MS) })
  const port = Number(node.listening.port)
  t.is(node.listening.portMapping, 'searching', 'start-up does not wait for the router')

  const mapped = await mappingAfter(node.ev, 0, 'mapped')
  t.log(`mapped ${JSON.stringify(mapped)} ${Math.round(performance.now() - node.t0)} ms after listening`)
  t.is(mapped.method, 'UPnP')
  t.is(mapped.public, `${r1.ip}:${port}`, 'same public port as the listening port when it is free')
  t.is(mapped.internal, `192.168.1.10:${port}`)
  t.is(mapped.leaseSeconds, 3600)
  t.regex(await routerRules(lab), new RegExp(`dport ${port} dnat ip to 192\\.168\\.1\\.10:${port}`))
  await node.ev.next('indexed')
  await fetchFromPub(t, lab, tmp, String(mapped.public), 'first')

  // The router reboots: miniupnpd restarts on a new HTTP port and its mappings are flushed.
  const mark = node.ev.all.length
  const tRestart = performance.now()
  await lab.restartGateway()
  t.notRegex(await routerRules(lab), new RegExp(`dport ${port} `))
  const failed = await mappingAfter(node.ev, mark, 'failed')
  const again = await mappingAfter(node.ev, mark, 'mapped')
  t.log(`after restart: failed "${failed.reason}" then mapped again ${Math.round(performance.now() - tRestart)} ms after the restart`)
  t.is(again.public, mapped.public)
  t.regex(await routerRules(lab), new RegExp(`dport ${port} `))
  await fetchFromPub(t, lab, tmp, String(again.public), 'after-restart')

  // A clean stop removes the mapping from the router.
  const tStop = performance.now()
  node.p.stdin?.end()
  await once(node.p, 'exit')
  t.log(`node stopped in ${Math.round(performance.now() - tStop)} ms`)
  t.truthy(node.ev.all.find((e) => e.event === 'port-mapping' && e.state === 'stopped'))
  t.notRegex(await routerRules(lab), new RegExp(`dport ${port} `))
})

test('NAT-PMP: home 1 maps with NAT-PMP alone, pub fetches through it, stop removes it', async (t) => {
  const s = await setup(t)
  if (!s) return
  const { lab, tmp } = s
  const node = await startNode(lab.homes[0] as LabHost, tmp, { P2PTUBE_PORTMAP_METHOD: 'nat-pmp' })
  const port = Number(node.listening.port)
  const mapped = await mappingAfter(node.ev, 0, 'mapped')
  t.log(`mapped ${JSON.stringify(mapped)} ${Math.round(performance.now() - node.t0)} ms after listening`)
  t.is(mapped.method, 'NAT-PMP')
  t.is(mapped.public, `${(lab.routers[0] as LabHost).ip}:${port}`)
  t.regex(await routerRules(lab), new RegExp(`dport ${port} `))
  await node.ev.next('indexed')
  await fetchFromPub(t, lab, tmp, String(mapped.public), 'nat-pmp')
  node.p.stdin?.end()
  await once(node.p, 'exit')
  t.notRegex(await routerRules(lab), new RegExp(`dport ${port} `))
})

test('no UPnP or NAT-PMP (home 2): "unavailable" within seconds, start-up not delayed, the node keeps working', async (t) => {
  const s = await setup(t)
  if (!s) return
  const { lab, tmp } = s
  const node = await startNode(lab.homes[1] as LabHost, tmp, {})
  t.is(node.listening.portMapping, 'searching')
  const st = await mappingAfter(node.ev, 0, 'unavailable', 10_000)
  const ms = Math.round(performance.now() - node.t0)
  t.log(`unavailable ${ms} ms after listening: ${st.reason}`)
  t.true(ms < 6000, `unavailable after ${ms} ms`)
  t.is(st.public, null)
  t.regex(String(st.reason), /192\.168\.2\.1/, 'says which gateway NAT-PMP asked')
  // Still a working node: it answers commands and holds its library.
  await node.ev.next('indexed')
  node.p.stdin?.write('{"cmd":"library","id":1}\n')
  const lib = await node.ev.next('library')
  t.true((lib.files as { name: string }[]).some((f) => f.name === CLIP))
  node.p.stdin?.end()
  await once(node.p, 'exit')
})
