/**
 * LAN discovery over mDNS/DNS-SD with bonjour-service (docs/TRACKER.md "mDNS"): publish this
 * node (or tracker) as `_p2ptube._tcp` and browse for the others. Handles the traps in
 * ../shared/reference/discovery-and-trackers.md:
 *   - `service.addresses` is empty on loopback: dial `service.referer.address` + the SRV port;
 *   - the browser queries once: `browser.update()` on a timer;
 *   - a crashed publisher never sends `down`: liveness stays with the TCP peer table;
 *   - a second publisher of a name makes browsers drop the first: names carry the peer id,
 *     the host name and random bytes;
 *   - without a route for multicast every send fails with ENETUNREACH and the library drops the
 *     error: `status` says so instead of silently finding nothing.
 */
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { Bonjour, type Browser, type Service } from 'bonjour-service'
import { formatPeerId } from '../protocol/messages.ts'
import type { Discovery } from './discovery.ts'

/** mDNS options. Tests use `{ interface: '127.0.0.1', bind: '0.0.0.0' }` so no packet leaves the machine. */
export interface MdnsOptions {
  /** Interface address to send and receive multicast on (multicast-dns `interface`). */
  interface?: string
  /** Address the UDP socket binds (multicast-dns `bind`); '0.0.0.0' is needed with a loopback interface. */
  bind?: string
  /** How often to re-query, ms (default 10 000, as libp2p). */
  updateIntervalMs?: number
  /** DNS-SD service type without underscores (default 'p2ptube'). */
  type?: string
}

/** A p2ptube service seen on the LAN; `id` is the "host:port" to dial. */
export interface MdnsFound {
  id: string
  host: string
  port: number
  role: 'node' | 'tracker'
  /** Peer id the publisher put in its TXT record (informative: may name 127.0.0.1). */
  peerId: string | null
  name: string
}

/** Discovery state: `degraded` finds only what the reason allows, `failed` finds nothing. */
export interface MdnsStatus {
  state: 'off' | 'ok' | 'degraded' | 'failed'
  reason: string
}

/**
 * Why multicast cannot leave this host, or null. Reads the interfaces and /proc/net/route
 * (no default route and no 224.0.0.0/4 route → ENETUNREACH on every send).
 */
export function multicastProblem(opts: MdnsOptions, routeTable = '/proc/net/route'): string | null {
  if (opts.interface) return null
  const external = Object.values(os.networkInterfaces())
    .flat()
    .some((i) => i && !i.internal && i.family === 'IPv4')
  if (!external) return 'no network interface besides loopback: only nodes on this machine can be found, and only with an mDNS interface of 127.0.0.1 (P2PTUBE_MDNS_INTERFACE=127.0.0.1)'
  try {
    const rows = readFileSync(routeTable, 'utf8').trim().split('\n').slice(1)
    const dests = rows.map((r) => r.trim().split(/\s+/)[1])
    // Destinations are little-endian hex: 00000000 is the default route, 000000E0 is 224.0.0.0.
    if (!dests.includes('00000000') && !dests.includes('000000E0')) {
      return 'no default route and no multicast route: mDNS sends fail with ENETUNREACH (bonjour-service drops that error), so nothing can be found; add a route for 224.0.0.0/4'
    }
  } catch {
    // not Linux: cannot tell
  }
  return null
}

/**
 * Publishes one service and browses for the others.
 * Events: 'found' (MdnsFound; first sighting of a service), 'status' (MdnsStatus).
 */
export class MdnsDiscovery extends EventEmitter implements Discovery {
  readonly method = 'mdns'
  private bonjour: Bonjour | null = null
  private browser: Browser | null = null
  private timer: NodeJS.Timeout | null = null
  private readonly seen = new Map<string, MdnsFound>()
  /** This publisher's unique instance name. */
  readonly name: string
  status: MdnsStatus = { state: 'off', reason: 'not started' }

  /**
   * @param self what to publish: role, peer id and listening port.
   */
  constructor(
    private readonly self: { role: 'node' | 'tracker'; peerId: string; port: number },
    private readonly opts: MdnsOptions = {}
  ) {
    super()
    const label = (s: string): string => s.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')
    this.name = `p2ptube ${self.role} ${label(os.hostname()).slice(0, 20)} ${label(self.peerId)} ${randomBytes(3).toString('hex')}`
  }

  /** Every service seen so far (crashed ones included: mDNS cannot tell). */
  found(): MdnsFound[] {
    return [...this.seen.values()]
  }

  /** Publish and browse. Never throws: problems go to `status`. */
  start(): void {
    const problem = multicastProblem(this.opts)
    const config: Record<string, unknown> = {}
    if (this.opts.interface) config.interface = this.opts.interface
    if (this.opts.bind) config.bind = this.opts.bind
    try {
      this.bonjour = new Bonjour(config as never, (err: Error) => this.setStatus('failed', `mDNS socket error: ${err.message}`))
      const type = this.opts.type ?? 'p2ptube'
      this.bonjour.publish({ name: this.name, type, port: this.self.port, txt: { id: this.self.peerId, role: this.self.role, v: '1' }, disableIPv6: true })
      this.browser = this.bonjour.find({ type }, (s) => this.onUp(s))
    } catch (err) {
      this.setStatus('failed', `mDNS could not start: ${(err as Error).message}`)
      return
    }
    this.timer = setInterval(() => this.browser?.update(), this.opts.updateIntervalMs ?? 10_000)
    this.timer.unref()
    this.setStatus(problem ? 'degraded' : 'ok', problem ?? `publishing "${this.name}" and browsing _${this.opts.type ?? 'p2ptube'}._tcp${this.opts.interface ? ` on ${this.opts.interface}` : ''}`)
  }

  /** Stop browsing, send goodbyes (bounded to 1 s), close the socket. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    this.browser?.stop()
    this.browser = null
    const b = this.bonjour
    this.bonjour = null
    if (!b) return
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000)
      b.unpublishAll(() => {
        clearTimeout(t)
        resolve()
      })
    })
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000)
      b.destroy(() => {
        clearTimeout(t)
        resolve()
      })
    })
    this.setStatus('off', 'stopped')
  }

  private onUp(s: Service): void {
    if (s.name === this.name) return
    // The packet's source address first: it is on the interface we share with the publisher
    // (A records list every address of its host, and are empty on loopback).
    const host = s.referer?.address ?? s.addresses?.find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a))
    if (!host || !s.port) return
    const txt = (s.txt ?? {}) as Record<string, unknown>
    const f: MdnsFound = {
      id: formatPeerId(host, s.port),
      host,
      port: s.port,
      role: txt.role === 'tracker' ? 'tracker' : 'node',
      peerId: typeof txt.id === 'string' ? txt.id : null,
      name: s.name
    }
    if (this.seen.has(f.name)) return
    this.seen.set(f.name, f)
    this.emit('found', f)
  }

  private setStatus(state: MdnsStatus['state'], reason: string): void {
    this.status = { state, reason }
    this.emit('status', this.status)
  }
}

/**
 * mDNS options from the environment, for tests and scripts: P2PTUBE_MDNS_INTERFACE (e.g.
 * 127.0.0.1, which also binds 0.0.0.0 as the shared notes require), P2PTUBE_MDNS_BIND,
 * P2PTUBE_MDNS_UPDATE_MS, P2PTUBE_MDNS_TYPE (a private service type, so concurrent test runs
 * on one machine do not find each other).
 */
export function mdnsOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): MdnsOptions {
  const o: MdnsOptions = {}
  if (env.P2PTUBE_MDNS_INTERFACE) {
    o.interface = env.P2PTUBE_MDNS_INTERFACE
    o.bind = env.P2PTUBE_MDNS_BIND ?? '0.0.0.0'
  } else if (env.P2PTUBE_MDNS_BIND) o.bind = env.P2PTUBE_MDNS_BIND
  const ms = Number(env.P2PTUBE_MDNS_UPDATE_MS)
  if (Number.isFinite(ms) && ms >= 100) o.updateIntervalMs = ms
  if (env.P2PTUBE_MDNS_TYPE && /^[a-z0-9-]{1,15}$/.test(env.P2PTUBE_MDNS_TYPE)) o.type = env.P2PTUBE_MDNS_TYPE
  return o
}
