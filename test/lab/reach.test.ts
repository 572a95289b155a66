/**
 * Reaching holders across homes in the NAT lab (docs/NETWORK.md "How a node is reached"): a
 * tracker on the "internet", nodes behind real nftables NAT routers (only home 1's maps ports).
 * (a) a holder with a port mapping (home 1) is fetched from home 2 directly; (b) a holder that
 * cannot be dialled (home 2) is fetched from the public host by connection reversal: the tracker
 * pushes DIAL down the holder's control connection, the holder connects to the fetcher; (c) neither
 * side dialable: TCP hole punching. Each case also with `fetch --play` (real mpv, headless), as a
 * test of its own. The nodes' dial-back reachability shows in their `reachability` event and in
 * `tracker status`. Real processes, no mocks; skipped, with the reason, where namespaces cannot
 * be made.
 */
import test, { type ExecutionContext } from 'ava'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { findMpv } from '../../src/player/find-mpv.ts'
import { BIN, events, oneShot, type EventLog, type LabEvent } from '../helpers/lab-process.ts'
import { labUnavailable, natLab, type LabHost, type NatLab, type NatLabOptions } from '../helpers/netlab.ts'

const MEDIA = '/usr/share/lebiniou/vue/media'
const CLIP = 'lebiniou-2021-06-10_12-19-53.mp4'

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex')
}

interface Setup {
  lab: NatLab
  tmp: string
  tracker: string
}

/** A NAT lab with a tracker on its public host, and a temp folder; all removed at the end. */
async function setup(t: ExecutionContext, labOpts: NatLabOptions = {}): Promise<Setup | null> {
  const why = await labUnavailable({ nat: true })
  if (why) {
    t.pass(`skipped: ${why}`)
    return null
  }
  const lab = await natLab(labOpts)
  t.teardown(() => lab.down())
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'p2ptube-reach-'))
  // Teardowns run last first: this one, before lab.down() above. The folders go once the lab's
  // processes have exited (down() waits): a node still stopping writes its state into them.
  t.teardown(async () => {
    await lab.down()
    await rm(tmp, { recursive: true, force: true })
  })
  const trk = lab.tracker.spawn('node', [BIN, 'tracker', '--port', '0', '--json', '--data', path.join(tmp, 'trk'), '--announce-interval', '2'], { stdio: ['pipe', 'pipe', 'pipe'] })
  const listening = await events(trk).next('listening')
  return { lab, tmp, tracker: `${lab.tracker.ip}:${listening.port}` }
}

/**
 * `p2ptube node --share MEDIA --tracker T --json --stdin` on `host`, once the tracker's dial-back
 * check answered. `stop()` closes its stdin (only `--stdin` makes a node quit on that; without it
 * the node is a service that runs until SIGTERM) and fails if the node has not exited 30 s later.
 */
async function holder(s: Setup, host: LabHost, name: string): Promise<{ ev: EventLog; reach: LabEvent; stop(): Promise<void> }> {
  const p = host.spawn('node', [BIN, 'node', '--share', MEDIA, '--tracker', s.tracker, '--json', '--stdin', '--data', path.join(s.tmp, name)], { stdio: ['pipe', 'pipe', 'pipe'] })
  const ev = events(p)
  await ev.next('indexed')
  const reach = await ev.next('reachability', (e) => e.state === 'open')
  return {
    ev,
    reach,
    async stop() {
      if (p.exitCode !== null || p.signalCode !== null) return
      const exited = once(p, 'exit')
      p.stdin?.end()
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`holder ${name} still running 30 s after its stdin closed`)), 30_000)
      })
      try {
        await Promise.race([exited, late])
      } finally {
        clearTimeout(timer)
      }
    }
  }
}

/** Fetch CLIP through the tracker from `host`; check its SHA-256 and return the events. */
async function fetchVia(t: ExecutionContext, s: Setup, host: LabHost, name: string, extra: string[] = []): Promise<LabEvent[]> {
  const dl = path.join(s.tmp, `dl-${name}`)
  const t0 = performance.now()
  const r = await oneShot(host, ['fetch', CLIP, '--tracker', s.tracker, '--downloads', dl, '--data', path.join(s.tmp, `data-${name}`), ...extra])
  t.is(r.code, 0, JSON.stringify(r.events.slice(-5)))
  t.is(await sha256(path.join(dl, CLIP)), await sha256(path.join(MEDIA, CLIP)))
  const fetched = r.events.find((e) => e.event === 'fetched')
  const first = r.events.find((e) => e.event === 'progress')
  t.log(
    `${name}: fetched in ${Math.round(performance.now() - t0)} ms, via ${String(fetched?.via ?? 'direct')}${fetched?.firstFrameMs !== undefined ? `, first frame ${String(fetched.firstFrameMs)} ms` : ''}; first progress ${JSON.stringify(first ?? null)}`
  )
  return r.events
}

/** The same fetch with `--play` (real mpv, headless): a first frame, and the same route. */
async function playToo(t: ExecutionContext, s: Setup, host: LabHost, name: string, via: string | undefined): Promise<void> {
  const played = await fetchVia(t, s, host, name, ['--play'])
  t.truthy(
    played.find((e) => e.event === 'playing'),
    'mpv showed a first frame'
  )
  t.is(played.find((e) => e.event === 'fetched')?.via, via)
}

/** Home 1's holder once the tracker lists it as mapped: its mapping and that reachability event. */
async function mappedHolder(s: Setup, name: string): Promise<{ h: Awaited<ReturnType<typeof holder>>; mapped: LabEvent; reach: LabEvent }> {
  const h = await holder(s, s.lab.homes[0] as LabHost, name)
  const mapped = await h.ev.next('port-mapping', (e) => e.state === 'mapped')
  // The mapping may come after the first check: the node then asks for another one.
  const reach = await h.ev.next('reachability', (e) => e.reach === 'mapped')
  return { h, mapped, reach }
}

// Each route has a plain fetch test and a --play test, each in its own lab: a --play fetch lasts
// as long as the clip plays, and one test doing both ran ~30 s here, too near ava's 120 s
// inactivity budget on a machine 3x slower.

test('holder mapped (home 1) is fetched from home 2 directly; the tracker records the mapped id', async (t) => {
  const s = await setup(t)
  if (!s) return
  const { h, mapped, reach } = await mappedHolder(s, 'h1')
  t.log(`reachability events: ${JSON.stringify(h.ev.all.filter((e) => e.event === 'reachability' || e.event === 'port-mapping'))}`)
  t.is(reach.peer, mapped.public, 'the tracker holds the public (mapped) id')
  const ev = await fetchVia(t, s, s.lab.homes[1] as LabHost, 'a')
  t.is(ev.find((e) => e.event === 'fetched')?.via, undefined, 'reached directly')
  const status = await oneShot(s.lab.pub, ['tracker', 'status', '--tracker', s.tracker])
  const st = status.events.find((e) => e.event === 'status') as { reach?: { peer: string; reach: string }[] } | undefined
  t.deepEqual(
    st?.reach?.find((r) => r.peer === mapped.public),
    { peer: String(mapped.public), reach: 'mapped', control: true },
    JSON.stringify(st)
  )
  await h.stop()
})

test('holder mapped (home 1) is fetched from home 2 directly with --play: mpv shows a first frame', async (t) => {
  if (!findMpv()) return t.pass('skipped: mpv not installed')
  const s = await setup(t)
  if (!s) return
  const { h } = await mappedHolder(s, 'h1-play')
  await playToo(t, s, s.lab.homes[1] as LabHost, 'a-play', undefined)
  await h.stop()
})

test('holder unreachable (home 2) is fetched by the public host via connection reversal', async (t) => {
  const s = await setup(t)
  if (!s) return
  const h = await holder(s, s.lab.homes[1] as LabHost, 'h2')
  t.is(h.reach.reach, 'unreachable', JSON.stringify(h.reach))
  t.is(h.reach.peer, `${(s.lab.routers[1] as LabHost).ip}:${String(h.reach.peer).split(':')[1]}`, 'the tracker sees the router address')
  // search shows the route the tracker's hint picks for the holder.
  const found = await oneShot(s.lab.pub, ['search', '12-19-53', '--tracker', s.tracker, '--data', path.join(s.tmp, 'search-b'), '--timeout', '2'])
  t.is(found.events.find((e) => e.event === 'result')?.via, 'reversal', JSON.stringify(found.events.slice(-3)))
  const ev = await fetchVia(t, s, s.lab.pub, 'b')
  t.is(ev.find((e) => e.event === 'fetched')?.via, 'reversal')
  await h.stop()
})

test('holder unreachable (home 2) is fetched by the public host via connection reversal with --play: mpv shows a first frame', async (t) => {
  if (!findMpv()) return t.pass('skipped: mpv not installed')
  const s = await setup(t)
  if (!s) return
  const h = await holder(s, s.lab.homes[1] as LabHost, 'h2-play')
  t.is(h.reach.reach, 'unreachable', JSON.stringify(h.reach))
  await playToo(t, s, s.lab.pub, 'b-play', 'reversal')
  await h.stop()
})

test('neither side dialable (home 2 holder, home 3 fetcher): TCP hole punching through two masquerading routers that drop unsolicited SYNs', async (t) => {
  const s = await setup(t, { dropInbound: true })
  if (!s) return
  const h = await holder(s, s.lab.homes[1] as LabHost, 'h2p')
  t.is(h.reach.reach, 'unreachable')
  const ev = await fetchVia(t, s, s.lab.homes[2] as LabHost, 'punch', ['--verbose'])
  t.log(
    ev
      .filter((e) => e.event === 'log' && /punch|reversal|tracker/.test(String(e.msg)))
      .map((e) => e.msg)
      .join('\n')
  )
  t.is(ev.find((e) => e.event === 'fetched')?.via, 'punch')
  await h.stop()
})

test('neither side dialable (home 2 holder, home 3 fetcher): hole punching with --play, mpv shows a first frame', async (t) => {
  if (!findMpv()) return t.pass('skipped: mpv not installed')
  const s = await setup(t, { dropInbound: true })
  if (!s) return
  const h = await holder(s, s.lab.homes[1] as LabHost, 'h2p-play')
  t.is(h.reach.reach, 'unreachable')
  await playToo(t, s, s.lab.homes[2] as LabHost, 'punch-play', 'punch')
  await h.stop()
})
