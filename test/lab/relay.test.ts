/**
 * The relay across homes (issue 10, PROTOCOL.md §10): home 2 and home 3 are both behind NAT
 * routers that map nothing, so neither can dial the other; the tracker's relay carries the fetch,
 * and `fetch --play` plays it in real (headless) mpv. In a private group the same works with the
 * members' TLS end to end through the relay: a packet capture on the relay host holds none of the
 * file's bytes and none of the member names. A non-member is refused by the relay, and an attempt
 * to use it as an open proxy gets ERR_NO_RESERVATION. A fetcher the tracker can dial is reached by
 * the relayed holder itself (reversal): the relay carries none of the file. Real processes,
 * routers and tcpdump; skipped, with the reason, without root or nftables.
 */
import test, { type ExecutionContext } from 'ava'
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import type { LabHost, NatLab } from '../helpers/netlab.ts'
import { BIN, events, natLabFor, oneShot, type LabEvent } from '../helpers/lab-process.ts'
import { sha256File } from '../helpers/nodes.ts'

const run = promisify(execFile)
const MEDIA = '/usr/share/lebiniou/vue/media'
const CLIP = 'lebiniou-2021-06-10_12-19-53.mp4'
const HEADLESS = { DISPLAY: '', WAYLAND_DISPLAY: '' }
const PROBE = path.resolve('test/fixtures/relay-probe.ts')

const setup = (t: ExecutionContext) => natLabFor(t, 'p2ptube-relay-lab')

/** tcpdump on the relay host's interface (every TCP packet, whole); `stop()` ends it and returns the capture. */
async function capture(host: LabHost, file: string): Promise<{ stop(): Promise<Buffer> }> {
  const dump = host.spawn('tcpdump', ['-i', 't0', '-s', '0', '-U', '-w', file, 'tcp'])
  let err = ''
  dump.stdout?.resume()
  await new Promise<void>((resolve, reject) => {
    dump.stderr?.on('data', (d) => {
      err += String(d)
      if (err.includes('listening on')) resolve()
    })
    dump.once('exit', (c) => reject(new Error(`tcpdump exited ${c}: ${err}`)))
  })
  return {
    async stop() {
      dump.kill('SIGINT')
      if (dump.exitCode === null) await once(dump, 'exit')
      return readFile(file)
    }
  }
}

/** How many of 256 48-byte windows spread over `file` appear in `captured`. */
function windowsFound(captured: Buffer, file: Buffer): number {
  let found = 0
  for (let i = 0; i < 256; i++) {
    const at = Math.floor(((i + 0.5) * (file.length - 64)) / 256)
    if (captured.includes(file.subarray(at, at + 48))) found++
  }
  return found
}

/** `p2ptube tracker` on the lab's tracker host, port 9410 (relay data port 9411). */
async function startTracker(lab: NatLab, tmp: string, args: string[]): Promise<string> {
  const p = lab.tracker.spawn('node', [BIN, 'tracker', '--port', '9410', '--json', '--data', path.join(tmp, 'tracker'), '--announce-interval', '1', ...args])
  const l = await events(p).next('listening')
  if (l.relay !== 9411) throw new Error(`tracker relay data port ${String(l.relay)}`)
  return `${lab.tracker.ip}:9410`
}

/** A node sharing MEDIA on `host`, once its reservation on the tracker's relay is granted. */
async function startHolder(host: LabHost, tmp: string, args: string[]): Promise<{ id: string; events: LabEvent[] }> {
  const p = host.spawn('node', [BIN, 'node', '--share', MEDIA, '--json', '--no-port-mapping', '--data', path.join(tmp, 'holder-data'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  const ev = events(p)
  const reserved = await ev.next('relay', (e) => e.state === 'reserved')
  await ev.next('indexed')
  return { id: String(reserved.id), events: ev.all }
}

/** Run `search CLIP` on `host` until the tracker has the holder's announce (at most ~20 tries). */
async function searchUntilFound(host: LabHost, args: string[]): Promise<LabEvent> {
  let last: LabEvent[] = []
  for (let i = 0; i < 20; i++) {
    const r = await oneShot(host, ['search', CLIP, '--timeout', '1', ...args])
    const hit = r.events.find((e) => e.event === 'result')
    if (hit) return hit
    last = r.events
  }
  throw new Error(`no search result for ${CLIP}: ${JSON.stringify(last.slice(-8))}`)
}

test('neither reachable (home 2 holds, home 3 fetches): fetch and fetch --play go through the tracker relay, "via relay" in search and fetch output', async (t) => {
  const s = await setup(t)
  if (!s) return
  const { lab, tmp } = s
  const dump = await capture(lab.tracker, path.join(tmp, 'plain.pcap'))
  const tracker = await startTracker(lab, tmp, ['--relay'])
  const holder = await startHolder(lab.homes[1] as LabHost, tmp, ['--tracker', tracker])
  t.is(holder.id.split(':')[0], (lab.routers[1] as LabHost).ip, 'the relay names the holder by its router address, as the tracker does')
  const home3 = lab.homes[2] as LabHost
  const hit = await searchUntilFound(home3, ['--tracker', tracker])
  t.is(hit.holder, holder.id)
  t.is(hit.via, 'relay')

  const dl = path.join(tmp, 'dl')
  const t0 = performance.now()
  const r = await oneShot(home3, ['fetch', CLIP, '--tracker', tracker, '--downloads', dl, '--data', path.join(tmp, 'f-data')])
  t.is(r.code, 0, JSON.stringify(r.events.slice(-5)))
  const fetching = r.events.find((e) => e.event === 'fetching')
  t.is(fetching?.holder, holder.id)
  t.is(fetching?.via, 'relay')
  t.is(await sha256File(path.join(dl, CLIP)), await sha256File(path.join(MEDIA, CLIP)))
  t.log(`home 3 fetched ${CLIP} from home 2 through the relay in ${Math.round(performance.now() - t0)} ms (the whole command)`)
  // The control for the group test below: outside a group the relay does see the file's bytes.
  const seen = windowsFound(await dump.stop(), await readFile(path.join(MEDIA, CLIP)))
  t.true(seen > 200, `${seen} of 256 file windows in the capture of a plain relay`)

  const out = path.join(tmp, 'play')
  const play = await oneShot(home3, ['fetch', CLIP, '--play', '--tracker', tracker, '--downloads', out, '--data', path.join(tmp, 'p-data')], HEADLESS)
  t.is(play.code, 0, JSON.stringify(play.events.slice(-5)))
  const playing = play.events.find((e) => e.event === 'playing')
  t.truthy(playing, 'mpv showed a first frame')
  t.log(`--play through the relay: first frame after ${String(playing?.firstFrameMs)} ms`)
  t.is(play.events.find((e) => e.event === 'fetched')?.via, 'relay')
  t.is(await sha256File(path.join(out, CLIP)), await sha256File(path.join(MEDIA, CLIP)))
})

test('private group across homes through the relay: the capture on the relay host holds no file bytes and no member names; a non-member and an open-proxy attempt are refused', async (t) => {
  const s = await setup(t)
  if (!s) return
  const { lab, tmp } = s
  const tag = Math.random().toString(36).slice(2, 8)
  const [alice, bob, mallory] = [`alice${tag}`, `bob${tag}`, `mallory${tag}`]
  const admin = path.join(tmp, 'admin')
  const other = path.join(tmp, 'other-admin')
  const p2p = (args: string[]) => run(process.execPath, [BIN, ...args], { env: process.env })
  await p2p(['group', 'init', `club${tag}`, '--tracker', `${lab.tracker.ip}:9410`, '--data', admin, '--json'])
  const aliceCred = (await p2p(['group', 'invite', alice, '--publish', '--data', admin])).stdout.trim()
  const bobCred = (await p2p(['group', 'invite', bob, '--data', admin])).stdout.trim()
  await p2p(['group', 'init', `rivals${tag}`, '--tracker', `${lab.tracker.ip}:9410`, '--data', other, '--json'])
  const malloryCred = (await p2p(['group', 'invite', mallory, '--publish', '--data', other])).stdout.trim()

  // Capture everything on the relay host's interface from before the first member connects.
  const dump = await capture(lab.tracker, path.join(tmp, 'relay.pcap'))
  const tracker = await startTracker(lab, tmp, ['--group-admin', admin])
  const holder = await startHolder(lab.homes[1] as LabHost, tmp, ['--group', aliceCred])
  const home3 = lab.homes[2] as LabHost
  const hit = await searchUntilFound(home3, ['--group', bobCred, '--tracker', tracker])
  t.is(hit.via, 'relay')
  const dl = path.join(tmp, 'gdl')
  const r = await oneShot(home3, ['fetch', CLIP, '--group', bobCred, '--tracker', tracker, '--downloads', dl, '--data', path.join(tmp, 'g-data')])
  t.is(r.code, 0, JSON.stringify(r.events.slice(-5)))
  t.is(r.events.find((e) => e.event === 'fetching')?.via, 'relay')
  t.is(await sha256File(path.join(dl, CLIP)), await sha256File(path.join(MEDIA, CLIP)))

  // A stranger: a member of another group is refused at the relay's TLS; no credential at all too.
  const probe = async (host: LabHost, args: string[]): Promise<LabEvent> => JSON.parse((await host.exec('node', ['--import=tsx', PROBE, ...args])).stdout.trim().split('\n').pop()!) as LabEvent
  const foreign = await probe(home3, ['rcon', tracker, holder.id, malloryCred])
  t.false(foreign.ok)
  t.regex(String(foreign.code), /^ERR_(NOT_MEMBER|CONNECTION_CLOSED|CONNECT)$/, JSON.stringify(foreign))
  const plain = await probe(home3, ['rcon', tracker, holder.id])
  t.false(plain.ok, 'plain TCP gets nothing from a group relay')
  // A member asking for an address that holds no reservation (the public host's ssh): refused.
  const proxy = await probe(home3, ['rcon', tracker, `${lab.pub.ip}:22`, bobCred])
  t.false(proxy.ok)
  t.is(proxy.code, 'ERR_NO_RESERVATION')
  const token = await probe(lab.pub, ['rjoi', `${lab.tracker.ip}:9411`, 'ab'.repeat(16)])
  t.is(token.code, 'ERR_BAD_TOKEN')

  const captured = await dump.stop()
  const file = await readFile(path.join(MEDIA, CLIP))
  t.true(captured.length > file.length, `the capture holds the relayed stream (${captured.length} bytes for a ${file.length}-byte file)`)
  t.is(windowsFound(captured, file), 0, 'no 48-byte window of the file appears in the capture')
  for (const name of [alice, bob, `club${tag}`, mallory]) t.false(captured.includes(Buffer.from(name)), `${name} does not appear in the capture`)
  t.log(`capture on the relay host: ${captured.length} bytes, no file window, no member names`)
})

test('a dialable node fetching from a relayed holder lets the holder connect to it (reversal): the relay carries none of the file', async (t) => {
  const s = await setup(t)
  if (!s) return
  const { lab, tmp } = s
  const tracker = await startTracker(lab, tmp, ['--relay'])
  const holder = await startHolder(lab.homes[1] as LabHost, tmp, ['--tracker', tracker])
  // A long-running node on the public host: the tracker's dial-back check finds it dialable.
  const dl = path.join(tmp, 'pub-dl')
  const p = lab.pub.spawn('node', [BIN, 'node', '--tracker', tracker, '--json', '--stdin', '--no-port-mapping', '--downloads', dl, '--data', path.join(tmp, 'pub-data')], {
    stdio: ['pipe', 'pipe', 'pipe']
  })
  const ev = events(p)
  const reach = await ev.next('reachability', (e) => e.state === 'open')
  t.is(reach.reach, 'direct')
  // The tracker has the holder's announce once a search finds it (marked relayed).
  const hit = await searchUntilFound(lab.homes[2] as LabHost, ['--tracker', tracker])
  t.is(hit.via, 'relay')
  p.stdin!.write(`${JSON.stringify({ cmd: 'fetch', name: CLIP, id: 'f1' })}\n`)
  await ev.next('fetched', () => true, 60_000)
  t.is(await sha256File(path.join(dl, CLIP)), await sha256File(path.join(MEDIA, CLIP)))
  const st = (await oneShot(lab.pub, ['tracker', 'status', '--tracker', tracker])).events.find((e) => e.event === 'status')
  const relay = st?.relay as { bytesRelayed: number; reservations: number } | undefined
  t.is(relay?.reservations, 1, 'the holder is reserved on the tracker relay')
  t.true((relay?.bytesRelayed ?? -1) < 4096, `the relay carried ${String(relay?.bytesRelayed)} bytes`)
  t.log(`holder ${holder.id} reached by reversal; the relay carried ${String(relay?.bytesRelayed)} bytes`)
})
