/**
 * TCP hole punching inside a private group (PROTOCOL.md §7.11): home 2 and home 3 are both behind
 * routers that map nothing and drop unsolicited SYNs, the group's tracker relays nothing
 * (`--no-relay`), so the fetch has no other way than a punched hole: the requests to the tracker
 * run in the members' TLS over each side's bound port, and the punched connection carries the
 * members' TLS end to end (the fetcher as client, the holder as server). Real processes, routers
 * and NAT; skipped, with the reason, without root or nftables.
 */
import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { BIN, events, oneShot } from '../helpers/lab-process.ts'
import { labUnavailable, natLab, type LabHost } from '../helpers/netlab.ts'
import { sha256File } from '../helpers/nodes.ts'

const run = promisify(execFile)
const MEDIA = '/usr/share/lebiniou/vue/media'
const CLIP = 'lebiniou-2021-06-10_12-19-53.mp4'

test('private group, neither side dialable, no relay: home 3 fetches from home 2 through a punched hole with TLS end to end', async (t) => {
  const why = await labUnavailable({ nat: true })
  if (why) return t.pass(`skipped: ${why}`)
  const lab = await natLab({ dropInbound: true })
  t.teardown(() => lab.down())
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'p2ptube-group-punch-'))
  t.teardown(async () => {
    await lab.down()
    await rm(tmp, { recursive: true, force: true })
  })
  const tag = Math.random().toString(36).slice(2, 8)
  const admin = path.join(tmp, 'admin')
  const tracker = `${lab.tracker.ip}:9410`
  const p2p = (args: string[]) => run(process.execPath, [BIN, ...args], { env: process.env })
  await p2p(['group', 'init', `club${tag}`, '--tracker', tracker, '--data', admin, '--json'])
  const aliceCred = (await p2p(['group', 'invite', `alice${tag}`, '--publish', '--data', admin])).stdout.trim()
  const bobCred = (await p2p(['group', 'invite', `bob${tag}`, '--data', admin])).stdout.trim()

  const tp = lab.tracker.spawn('node', [BIN, 'tracker', '--port', '9410', '--json', '--data', path.join(tmp, 'tracker'), '--announce-interval', '1', '--group-admin', admin, '--no-relay'])
  const listening = await events(tp).next('listening')
  t.falsy(listening.relay, 'the group tracker relays nothing here')

  const hp = (lab.homes[1] as LabHost).spawn('node', [BIN, 'node', '--share', MEDIA, '--group', aliceCred, '--json', '--no-port-mapping', '--data', path.join(tmp, 'holder-data')], {
    stdio: ['pipe', 'pipe', 'pipe']
  })
  const hev = events(hp)
  await hev.next('indexed')
  const reach = await hev.next('reachability', (e) => e.state === 'open')
  t.is(reach.reach, 'unreachable', JSON.stringify(reach))

  // The tracker may not have the holder's announce yet: fetch until it has (each try is a full fetch command).
  const dl = path.join(tmp, 'dl')
  let r: Awaited<ReturnType<typeof oneShot>> | null = null
  for (let i = 0; i < 10; i++) {
    r = await oneShot(lab.homes[2] as LabHost, ['fetch', CLIP, '--group', bobCred, '--tracker', tracker, '--downloads', dl, '--data', path.join(tmp, `f-data-${i}`), '--verbose'])
    if (r.code === 0 || !r.events.some((e) => e.event === 'error' && /no holder|not found|no result/i.test(String(e.message)))) break
  }
  t.is(r?.code, 0, JSON.stringify(r?.events.filter((e) => e.event !== 'progress').slice(-8)))
  t.is(r?.events.find((e) => e.event === 'fetched')?.via, 'punch')
  t.is(await sha256File(path.join(dl, CLIP)), await sha256File(path.join(MEDIA, CLIP)))
  t.log(
    r?.events
      .filter((e) => e.event === 'log' && /punch/.test(String(e.msg)))
      .map((e) => e.msg)
      .join('\n')
  )
})
