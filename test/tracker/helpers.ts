/** Helpers for tracker tests: in-process trackers, raw tracker requests, polling, free ports. */
import type { ExecutionContext } from 'ava'
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { request, requestText } from '../../src/net/client.ts'
import type { MdnsOptions } from '../../src/discovery/mdns.ts'
import { parseHitList, parseTrackerStatus, type TrackerHit, type TrackerStatus } from '../../src/protocol/tracker-messages.ts'
import { createTracker } from '../../src/tracker/create.ts'
import type { Tracker, TrackerOptions } from '../../src/tracker/tracker.ts'

/** An in-process tracker on 127.0.0.1:0 (no store unless `dataDir`), stopped after the test. */
export async function startTracker(t: ExecutionContext, opts: Partial<TrackerOptions> = {}): Promise<Tracker & { address: string }> {
  const tr = createTracker({ dataDir: null, announceIntervalMs: 1000, ...opts })
  t.teardown(() => tr.stop())
  await tr.start()
  return Object.assign(tr, { address: `127.0.0.1:${tr.port}` })
}

function endpoint(address: string): { host: string; port: number } {
  const [host, port] = address.split(':') as [string, string]
  return { host, port: Number(port) }
}

/** Send one tracker request; returns the first reply frame's type and text. */
export async function ask(address: string, type: string, payload: string | Buffer): Promise<{ type: string; text: string }> {
  // Generous timeouts: tests run on a busy machine, and a hundred of these may be in flight.
  const frames = await request(endpoint(address), type, payload, { connectTimeoutMs: 10_000, idleTimeoutMs: 10_000 })
  const f = frames[0]
  return { type: f?.type ?? 'NONE', text: f?.payload.toString('utf8') ?? '' }
}

/** TFND: keyword search on the tracker. */
export async function find(address: string, q: string): Promise<TrackerHit[]> {
  return parseHitList(Buffer.from(await requestText(endpoint(address), 'TFND', JSON.stringify({ q }))), 'TFND reply')
}

/** TSTA. */
export async function status(address: string): Promise<TrackerStatus> {
  return parseTrackerStatus(Buffer.from(await requestText(endpoint(address), 'TSTA', '{}')))
}

/** Poll `fn` every `everyMs` until it returns a truthy value; throws after `timeoutMs`. */
export async function until<T>(fn: () => Promise<T> | T, timeoutMs = 10_000, everyMs = 50): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs
  for (;;) {
    let v: T | undefined
    try {
      v = await fn()
    } catch {
      v = undefined
    }
    if (v) return v as NonNullable<T>
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** A port free right now on 127.0.0.1 (for a process restarted on the same port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

/** mDNS kept on loopback (shared notes), with a service type private to this test. */
export function loopbackMdns(): MdnsOptions & { type: string } {
  return { interface: '127.0.0.1', bind: '0.0.0.0', updateIntervalMs: 500, type: `p2pt-${randomBytes(4).toString('hex')}` }
}

/** The same, as environment variables for a `p2ptube` child process. */
export function mdnsEnv(o: { type: string }): NodeJS.ProcessEnv {
  return { P2PTUBE_MDNS_INTERFACE: '127.0.0.1', P2PTUBE_MDNS_BIND: '0.0.0.0', P2PTUBE_MDNS_UPDATE_MS: '500', P2PTUBE_MDNS_TYPE: o.type }
}
