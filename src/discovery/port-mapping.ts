/**
 * Port mapping (docs/NETWORK.md "Port mapping"): ask the home router to forward a public TCP port
 * to this node's listening port, so peers on the internet can dial a node that sits behind NAT.
 * UPnP IGD (v2, AddAnyPortMapping) is preferred, NAT-PMP is used when UPnP does not answer; both
 * through @achingbrain/nat-port-mapper (the library libp2p uses; it has no PCP). Its own lease
 * refresh is off: this file renews, checks and re-maps, so a lost mapping (router restarted) is
 * noticed and made again, and every state change is reported as a `status` event.
 *
 * Library quirks handled here (v4.0.5):
 *   - NAT-PMP puts `ttl` unchanged into the lifetime field, which is in seconds (UPnP takes ms);
 *   - NAT-PMP sends each request once and a request that gets no answer blocks the ones after
 *     it: a failed renewal drops the gateway and searches afresh;
 *   - UPnP `unmap(port)` deletes external port = internal port: when the router gave another
 *     public port, the mapping is left to expire instead (deleting could hit someone else's).
 *
 * One file (~400 lines) on purpose: one state machine (find → map → keep → release) whose every
 * library call sits beside the work-around that guards it; splitting it would separate the two.
 */
import { EventEmitter } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Gateway, PortMapping as LibMapping } from '@achingbrain/nat-port-mapper'
import { defaultGateway, localAddressToward } from '../net/address.ts'
import { formatPeerId } from '../protocol/messages.ts'
import type { Discovery } from './discovery.ts'

/** How the router was asked. */
export type PortMappingMethod = 'UPnP' | 'NAT-PMP'

/**
 * Where port mapping stands: `searching` (looking for a gateway), `mapped` (`public` is dialable
 * from the internet as far as the router knows), `unavailable` (no UPnP or NAT-PMP gateway
 * answered: searched again every `checkMs`), `failed` (a gateway answered but refused or lost the
 * mapping: searched again), `stopped` (the mapping was removed at stop).
 */
export interface PortMappingStatus {
  state: 'searching' | 'mapped' | 'unavailable' | 'failed' | 'stopped'
  method: PortMappingMethod | null
  /** Peer id "ip:port" others dial (the router's external address and the mapped port), when mapped. */
  public: string | null
  /** "ip:port" the router forwards to (this node's LAN address and listening port), when mapped. */
  internal: string | null
  /** The router's address on the LAN, once one answered. */
  gateway: string | null
  /** Lease asked for, seconds (renewed every `renewMs`), when mapped. */
  leaseSeconds: number | null
  /** Why, in words (for logs and the CLI). */
  reason: string
  /** Time since start(), ms. */
  ms: number
}

/** Tuning; times in ms. */
export interface PortMappingOptions {
  /** How long to look for a gateway (UPnP SSDP search and NAT-PMP request together); default 3000. */
  findMs?: number
  /**
   * How often the mapping is renewed, which is also the check that it still exists (a renewal
   * that fails means the router lost it: search and map again); also how often a node without a
   * gateway searches again. Default 300 000 (5 min); never more than half the lease.
   */
  checkMs?: number
  /** Lease to ask for, seconds (default 3600; UPnP through the library never less than 3600). */
  leaseSeconds?: number
  /** Only this method ('UPnP' or 'NAT-PMP'; tests); default both, UPnP preferred. */
  only?: PortMappingMethod
}

/** What the port mapper needs from its node. */
export interface PortMappingTarget {
  /** The TCP port the node listens on. */
  readonly port: number
  /** The LAN address to forward to; default: the local address that routes to the gateway. */
  readonly internalHost?: string
  log(level: 'debug' | 'info' | 'warn', msg: string): void
}

/** Ways to reach a router (injectable for tests; defaults: the library, the route table). */
export interface PortMappingDeps {
  upnpGateways(signal: AbortSignal): AsyncIterable<Gateway>
  pmpGateway(host: string): Promise<Gateway>
  defaultGateway(): string | null
  localAddressToward(host: string): Promise<string>
}

const DEFAULT_FIND_MS = 3000
const DEFAULT_CHECK_MS = 300_000
const DEFAULT_LEASE_S = 3600
/** One request to the router (map, renew, external address), ms. */
const REQUEST_MS = 3000
/** Once NAT-PMP answered, how much longer UPnP may take to be preferred, ms. */
const PREFER_UPNP_MS = 500
/** Removing the mapping at stop, ms (Discovery.stop is bounded to about a second). */
const UNMAP_MS = 1000
const DESCRIPTION = 'p2ptube'

/**
 * The library, loaded on first use: with its SSDP and XML dependencies it would otherwise add
 * ~100 ms and ~10 MB to every command's start, mapping or not.
 */
const natLibrary = (): Promise<typeof import('@achingbrain/nat-port-mapper')> => import('@achingbrain/nat-port-mapper')

const defaultDeps: PortMappingDeps = {
  async *upnpGateways(signal) {
    const { upnpNat } = await natLibrary()
    yield* upnpNat({ autoRefresh: false, description: DESCRIPTION }).findGateways({ signal })
  },
  async pmpGateway(host) {
    const { pmpNat } = await natLibrary()
    return pmpNat(host, { autoRefresh: false, description: DESCRIPTION })
  },
  defaultGateway: () => defaultGateway(),
  localAddressToward
}

/**
 * Tuning from the environment (tests): P2PTUBE_PORTMAP_CHECK_MS (≥ 200), P2PTUBE_PORTMAP_FIND_MS
 * (≥ 100), P2PTUBE_PORTMAP_METHOD ('upnp' or 'nat-pmp').
 */
export function portMappingOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): PortMappingOptions {
  const o: PortMappingOptions = {}
  const check = Number(env.P2PTUBE_PORTMAP_CHECK_MS)
  if (Number.isFinite(check) && check >= 200) o.checkMs = check
  const find = Number(env.P2PTUBE_PORTMAP_FIND_MS)
  if (Number.isFinite(find) && find >= 100) o.findMs = find
  const m = env.P2PTUBE_PORTMAP_METHOD?.toLowerCase()
  if (m === 'upnp') o.only = 'UPnP'
  else if (m === 'nat-pmp') o.only = 'NAT-PMP'
  return o
}

/** A gateway that answered, and how it was asked. */
interface Found {
  gateway: Gateway
  method: PortMappingMethod
}

/** The mapping in force. */
interface Held extends Found {
  mapping: LibMapping
}

/**
 * Maps the node's TCP port on the home router and keeps it mapped while started.
 * Events: 'status' (PortMappingStatus) at every change of state or public address.
 * start() returns at once (the search runs in the background); stop() removes the mapping
 * within about a second and never rejects.
 */
export class PortMapper extends EventEmitter implements Discovery {
  readonly method = 'port-mapping'
  /** The latest status (state 'searching' until the first answer). */
  status: PortMappingStatus
  private readonly ac = new AbortController()
  private readonly findMs: number
  private readonly checkMs: number
  private readonly leaseSeconds: number
  private held: Held | null = null
  private running: Promise<void> | null = null
  private t0 = 0

  /**
   * @param target the node: its listening port, LAN address, logger.
   * @param signal the node's stop signal (aborts every request).
   */
  constructor(
    private readonly target: PortMappingTarget,
    private readonly opts: PortMappingOptions = {},
    private readonly signal?: AbortSignal,
    private readonly deps: PortMappingDeps = defaultDeps
  ) {
    super()
    this.findMs = opts.findMs ?? DEFAULT_FIND_MS
    this.leaseSeconds = opts.leaseSeconds ?? DEFAULT_LEASE_S
    this.checkMs = Math.min(opts.checkMs ?? DEFAULT_CHECK_MS, (this.leaseSeconds * 1000) / 2)
    this.status = { state: 'searching', method: null, public: null, internal: null, gateway: null, leaseSeconds: null, reason: 'looking for a UPnP or NAT-PMP gateway', ms: 0 }
  }

  /** Search, map, then renew every `checkMs`, in the background. Never throws. */
  start(): void {
    if (this.running || this.ac.signal.aborted) return
    this.t0 = performance.now()
    const signal = this.ac.signal
    if (this.signal?.aborted) this.ac.abort()
    else this.signal?.addEventListener('abort', () => this.ac.abort(), { once: true })
    this.running = this.run(signal).catch((err: unknown) => {
      if (!signal.aborted) this.target.log('warn', `port mapping stopped: ${(err as Error).message}`)
    })
  }

  /** Stop renewing and remove the mapping (bounded to about a second). Never rejects. */
  async stop(): Promise<void> {
    this.ac.abort()
    await this.running
    const held = this.held
    this.held = null
    if (!held) return
    await this.release(held, held.mapping)
    this.report({ state: 'stopped', reason: `removed ${this.status.public ?? 'the mapping'} from the router` })
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const found = await this.find(signal)
      if (signal.aborted) {
        if (found) await this.release(found, null)
        return
      }
      if (!found) {
        this.report({ state: 'unavailable', method: null, public: null, internal: null, leaseSeconds: null, reason: `no UPnP or NAT-PMP gateway answered within ${this.findMs} ms${this.triedPmp()}` })
        await pause(this.checkMs, signal)
        continue
      }
      let held: Held
      try {
        held = await this.map(found, this.target.port, signal)
      } catch (err) {
        await this.release(found, null)
        if (signal.aborted) return
        this.report({
          state: 'failed',
          method: found.method,
          gateway: found.gateway.host,
          public: null,
          leaseSeconds: null,
          reason: `${found.method} gateway ${found.gateway.host} refused the mapping: ${(err as Error).message}`
        })
        await pause(this.checkMs, signal)
        continue
      }
      this.held = held
      this.reportMapped(held, 'mapped')
      await this.keep(signal)
    }
  }

  /** Renew every checkMs while the router answers; returns when it did not (or at stop). */
  private async keep(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await pause(this.checkMs, signal)
      const held = this.held
      if (!held || signal.aborted) return
      try {
        const renewed = await this.map(held, held.mapping.externalPort, signal)
        this.held = renewed
        if (renewed.mapping.externalPort !== held.mapping.externalPort || renewed.mapping.externalHost !== held.mapping.externalHost) this.reportMapped(renewed, 'mapping moved')
        else this.target.log('debug', `port mapping renewed: ${this.status.public} for ${this.leaseSeconds} s`)
      } catch (err) {
        if (signal.aborted) return
        // The router restarted, moved, or forgot us: drop this gateway and search again.
        this.held = null
        await this.release(held, null)
        this.report({ state: 'failed', reason: `renewal of ${this.status.public} failed (${(err as Error).message}): searching for the gateway again` })
        return
      }
    }
  }

  /**
   * Look for a gateway for at most findMs: SSDP for a UPnP IGD and, at the default route, a
   * NAT-PMP external-address request, at once. UPnP wins if it answers within PREFER_UPNP_MS of
   * NAT-PMP. The loser is stopped. @returns null when nothing answered.
   */
  private async find(signal: AbortSignal): Promise<Found | null> {
    const deadline = within(signal, this.findMs)
    const upnpSearch = within(deadline.signal, this.findMs)
    const upnp = this.opts.only === 'NAT-PMP' ? Promise.resolve(null) : this.findUpnp(upnpSearch.signal)
    const pmp = this.opts.only === 'UPnP' ? Promise.resolve(null) : this.findPmp(deadline.signal)
    let chosen: Found | null = await Promise.race([
      upnp.then((g) => (g ? { gateway: g, method: 'UPnP' as const } : null)),
      pmp.then(async (g) => {
        if (!g) return upnp.then((u) => (u ? { gateway: u, method: 'UPnP' as const } : null))
        await pause(PREFER_UPNP_MS, deadline.signal)
        return null
      })
    ])
    if (!chosen) {
      const [u, p] = [await Promise.race([upnp, Promise.resolve(undefined)]), await pmp]
      chosen = u ? { gateway: u, method: 'UPnP' } : p ? { gateway: p, method: 'NAT-PMP' } : null
    }
    upnpSearch.abort()
    deadline.done()
    // Stop whichever gateway lost, when it answered too.
    const drop = (g: Gateway | null): void => {
      if (g && g !== chosen?.gateway) g.stop().catch(() => {})
    }
    void upnp.then(drop)
    void pmp.then(drop)
    if (chosen) this.target.log('debug', `port mapping: ${chosen.method} gateway at ${chosen.gateway.host}`)
    return chosen
  }

  /** The first IPv4 UPnP IGD that answers the SSDP search, or null. Never rejects. */
  private async findUpnp(signal: AbortSignal): Promise<Gateway | null> {
    try {
      for await (const g of this.deps.upnpGateways(signal)) if (g.family === 'IPv4') return g
    } catch (err) {
      if (!signal.aborted) this.target.log('debug', `UPnP search failed: ${(err as Error).message}`)
    }
    return null
  }

  /** The NAT-PMP gateway at the default route when it answers an external-address request, or null. */
  private async findPmp(signal: AbortSignal): Promise<Gateway | null> {
    const host = this.deps.defaultGateway()
    if (!host) return null
    const g = await this.deps.pmpGateway(host)
    try {
      await g.externalIp({ signal })
      return g
    } catch {
      await g.stop().catch(() => {})
      return null
    }
  }

  /**
   * Ask `found` to forward public TCP port `externalPort` (else one the router picks) to this
   * node's port for `leaseSeconds`. @throws the router's refusal, or a timeout after REQUEST_MS.
   */
  private async map(found: Found, externalPort: number, signal: AbortSignal): Promise<Held> {
    const internalHost = this.target.internalHost ?? (await this.deps.localAddressToward(found.gateway.host))
    const request = within(signal, REQUEST_MS)
    try {
      const mapping = await found.gateway.map(this.target.port, internalHost, {
        protocol: 'tcp',
        externalPort,
        // NAT-PMP takes this value as seconds, UPnP as ms (see the file comment).
        ttl: found.method === 'UPnP' ? this.leaseSeconds * 1000 : this.leaseSeconds,
        autoRefresh: false,
        description: DESCRIPTION,
        signal: request.signal
      })
      return { ...found, mapping }
    } finally {
      request.done()
    }
  }

  /** Remove mapping `m` (when given and safe to) and stop the gateway, within UNMAP_MS. Never rejects. */
  private async release(found: Found, m: LibMapping | null): Promise<void> {
    const bound = within(new AbortController().signal, UNMAP_MS)
    const signal = bound.signal
    try {
      if (m && (found.method === 'NAT-PMP' || m.externalPort === m.internalPort)) await found.gateway.unmap(this.target.port, { signal })
      else if (m) this.target.log('info', `port mapping ${m.externalHost}:${m.externalPort} left to expire (the library can only remove a mapping whose public port is the node's port)`)
    } catch (err) {
      this.target.log('debug', `port mapping: cannot remove the mapping: ${(err as Error).message}`)
    }
    // UPnP: the gateway's stop() would unmap again by port; it holds no socket, nothing to close.
    if (found.method === 'NAT-PMP') await found.gateway.stop({ signal }).catch(() => {})
    bound.done()
  }

  private reportMapped(held: Held, what: string): void {
    const m = held.mapping
    this.report({
      state: 'mapped',
      method: held.method,
      gateway: held.gateway.host,
      public: formatPeerId(m.externalHost, m.externalPort),
      internal: formatPeerId(m.internalHost, m.internalPort),
      leaseSeconds: this.leaseSeconds,
      reason: `${what} with ${held.method} on ${held.gateway.host}`
    })
  }

  private triedPmp(): string {
    const gw = this.opts.only === 'UPnP' ? null : this.deps.defaultGateway()
    return gw ? ` (NAT-PMP asked ${gw})` : ''
  }

  /** Update the status and emit it when the state or the public address changed. */
  private report(change: Partial<PortMappingStatus>): void {
    const before = this.status
    this.status = { ...before, ...change, ms: Math.round(performance.now() - this.t0) }
    if (before.state !== this.status.state || before.public !== this.status.public) this.emit('status', this.status)
  }
}

/** Wait `ms`, or less when `signal` aborts. Never rejects. */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => {})
}

/**
 * A signal that aborts when `parent` does or after `ms`, with `abort()` and `done()` (clears the
 * timer and the listener). Not AbortSignal.any + AbortSignal.timeout: on Node 20 a timeout signal
 * referenced only by any() can be garbage-collected and never fire (seen here: a gateway search
 * that never ended in a busy node).
 */
function within(parent: AbortSignal, ms: number): { signal: AbortSignal; abort(): void; done(): void } {
  const ac = new AbortController()
  const abort = (): void => ac.abort()
  if (parent.aborted) ac.abort()
  else parent.addEventListener('abort', abort, { once: true })
  const timer = setTimeout(abort, ms)
  const done = (): void => {
    clearTimeout(timer)
    parent.removeEventListener('abort', abort)
  }
  return { signal: ac.signal, abort: () => (abort(), done()), done }
}
