/**
 * A member relay found by itself (issue 10, PROTOCOL.md §10.7): the tracker relays nothing; a
 * member on a public address runs `node --relay`; home 2 (behind a router that maps nothing)
 * shares with no `--relay-via`: the tracker lists the member relay in its announce replies, home
 * 2 reserves on it and names it in its announces, and home 3 (behind NAT too) finds the file with
 * `via relay` and fetches it through the member; `tracker status` counts the member relay and the
 * holder reserved on it. Real processes and routers; skipped, with the
 * reason, without root or nftables.
 */
import test from 'ava'
import path from 'node:path'
import type { LabHost } from '../helpers/netlab.ts'
import { BIN, events, natLabFor, oneShot, type LabEvent } from '../helpers/lab-process.ts'
import { sha256File } from '../helpers/nodes.ts'

const MEDIA = '/usr/share/lebiniou/vue/media'
const CLIP = 'lebiniou-2021-06-10_12-19-53.mp4'

test('a public member with node --relay is found through the tracker: a holder behind NAT reserves on it without --relay-via, a fetcher behind NAT fetches through it', async (t) => {
  const s = await natLabFor(t, 'p2ptube-member-relay-lab')
  if (!s) return
  const { lab, tmp } = s
  // The tracker itself relays nothing (no --relay).
  const tp = lab.tracker.spawn('node', [BIN, 'tracker', '--port', '9410', '--json', '--data', path.join(tmp, 'tracker'), '--announce-interval', '1'])
  const listening = await events(tp).next('listening')
  t.falsy(listening.relay, 'the tracker has no relay')
  const tracker = `${lab.tracker.ip}:9410`

  // The member relay on the public host: its dial-back check must say it is dialable.
  const rp = lab.pub.spawn('node', [BIN, 'node', '--relay', '--tracker', tracker, '--json', '--no-port-mapping', '--data', path.join(tmp, 'relay-data')], { stdio: ['pipe', 'pipe', 'pipe'] })
  const rev = events(rp)
  const rl = await rev.next('listening')
  t.truthy(rl.relaying, 'node --relay serves a data port')
  const reach = await rev.next('reachability', (e) => e.reach !== undefined && e.reach !== 'unknown')
  t.is(reach.reach, 'direct')
  const relayId = `${lab.pub.ip}:${String(rl.port)}`

  // Home 2 shares with no relay flag: it reserves on the member relay the tracker lists.
  const hp = (lab.homes[1] as LabHost).spawn('node', [BIN, 'node', '--share', MEDIA, '--tracker', tracker, '--json', '--no-port-mapping', '--data', path.join(tmp, 'holder-data')], {
    stdio: ['pipe', 'pipe', 'pipe']
  })
  const hev = events(hp)
  const reserved = await hev.next('relay', (e) => e.state === 'reserved', 60_000)
  t.is(reserved.relay, relayId, 'reserved on the member relay')
  const holderId = String(reserved.id)
  t.is(holderId.split(':')[0], (lab.routers[1] as LabHost).ip, 'the member relay names the holder by its router address')
  await hev.next('indexed')

  // Home 3: the tracker's hit names the member relay (`via`), the fetch goes through it.
  const home3 = lab.homes[2] as LabHost
  let hit: LabEvent | undefined
  let last: LabEvent[] = []
  for (let i = 0; i < 20 && !hit; i++) {
    const r = await oneShot(home3, ['search', CLIP, '--timeout', '1', '--tracker', tracker])
    hit = r.events.find((e) => e.event === 'result' && e.holder === holderId && e.via === 'relay')
    last = r.events
  }
  t.truthy(hit, `search shows the holder via relay: ${JSON.stringify(last.slice(-6))}`)
  const dl = path.join(tmp, 'dl')
  const t0 = performance.now()
  const r = await oneShot(home3, ['fetch', CLIP, '--tracker', tracker, '--downloads', dl, '--data', path.join(tmp, 'f-data')])
  t.is(r.code, 0, JSON.stringify(r.events.slice(-5)))
  const fetching = r.events.find((e) => e.event === 'fetching')
  t.is(fetching?.holder, holderId)
  t.is(fetching?.via, 'relay')
  t.is(await sha256File(path.join(dl, CLIP)), await sha256File(path.join(MEDIA, CLIP)))
  t.log(`home 3 fetched ${CLIP} from home 2 through the member relay ${relayId} in ${Math.round(performance.now() - t0)} ms (the whole command)`)

  // `tracker status` (TSTA, §7.8): one member relay, one holder reserved on it; no relay of its own.
  const st = (await oneShot(lab.pub, ['tracker', 'status', '--tracker', tracker])).events.find((e) => e.event === 'status')
  t.deepEqual(st?.memberRelays, { relays: 1, reserved: 1 })
  t.is(st?.relay, undefined)
})
