/**
 * A node's discovery methods (src/discovery; docs/TRACKER.md, docs/NETWORK.md, PROTOCOL.md §7-8):
 * the tracker (from options, or the first one mDNS finds), mDNS on the LAN, port mapping on the
 * home router, and the group's revocation sync through the tracker. Holds them in one list and
 * stops them together; starts none once the node's signal has aborted.
 */
import { requestText } from '../net/client.ts'
import { isPublicAddress } from '../net/address.ts'
import type { Transport } from '../net/transport.ts'
import type { NodeGroup } from '../group/node-group.ts'
import { MSG } from '../protocol/constants.ts'
import type { Discovery } from '../discovery/discovery.ts'
import { MdnsDiscovery, type MdnsFound, type MdnsOptions } from '../discovery/mdns.ts'
import { PortMapper, type PortMappingOptions, type PortMappingStatus } from '../discovery/port-mapping.ts'
import { TrackerClient, type TrackedNode } from '../discovery/tracker-client.ts'
import { ControlChannel, type ControlStatus } from '../discovery/control-channel.ts'
import type { DialPush, Reachability } from '../protocol/reach-messages.ts'
import { errText } from '../node/stats.ts'

/** What the discovery methods need of their node. */
export interface DiscoveringNode extends TrackedNode {
  readonly group: NodeGroup | null
  readonly transport: Transport
  join(address: string, hops?: number, source?: 'tracker' | 'mdns'): Promise<number>
  /** Where the node's own addresses are kept: the port mapper records the public id here. */
  readonly identity: { mapped: string | null }
  /** The node re-emits the port mapper's status as its 'port-mapping' event. */
  emit(event: 'port-mapping', status: PortMappingStatus): boolean
  /** ... and the control connection's status as its 'reachability' event. */
  emit(event: 'reachability', status: ControlStatus): boolean
  /** Where DIAL pushes go, and where the tracker's dial-back result is kept (src/app/reach.ts). */
  readonly reach: { reachability: Reachability; onDial(d: DialPush): void }
}

/** How discoveries dial; times in ms. */
export interface NodeDiscoveryOptions {
  connectTimeoutMs: number
  /** false: only query the tracker, never register (default true). */
  register?: boolean
  /** The node's stop signal: aborts every discovery request, and no discovery starts after it. */
  signal: AbortSignal
}

export class NodeDiscovery {
  /** Every discovery method started. */
  readonly list: Discovery[] = []
  /** The tracker in use, if any. */
  tracker: TrackerClient | null = null
  /** LAN discovery, when on. */
  mdns: MdnsDiscovery | null = null
  /** Port mapping on the home router, when on. */
  portMapper: PortMapper | null = null
  /** The control connection to the tracker (registered nodes: reversal, punching, dial-back). */
  control: ControlChannel | null = null

  constructor(
    private readonly node: DiscoveringNode,
    private readonly opts: NodeDiscoveryOptions
  ) {}

  /**
   * Start using a tracker (once; a later call, or one after the signal aborted, returns the
   * current one, maybe null). @throws ProtocolError for a bad address.
   */
  useTracker(address: string): TrackerClient | null {
    const { node, opts } = this
    if (this.tracker || opts.signal.aborted) return this.tracker
    const dial = { connectTimeoutMs: opts.connectTimeoutMs, transport: node.transport, signal: opts.signal }
    const tc = new TrackerClient(node, address, { register: opts.register ?? true, ...dial })
    this.tracker = tc
    this.list.push(tc)
    if (opts.register ?? true) this.startControl(tc)
    tc.start()
    node.group?.startSync(
      () => requestText(tc.endpoint, MSG.TREV, '', dial),
      () => tc.intervalMs
    )
    return tc
  }

  /**
   * Keep a control connection to the tracker, opened at each registration (PROTOCOL.md §7.10):
   * the tracker's dial-back check says how this node is reachable, and DIAL pushes reach the node.
   */
  private startControl(tc: TrackerClient): void {
    const { node, opts } = this
    const ctl = new ControlChannel(tc.endpoint, {
      transport: node.transport,
      connectTimeoutMs: opts.connectTimeoutMs,
      signal: opts.signal,
      port: () => tc.registeredPort,
      mapped: () => node.identity.mapped !== null && isPublicAddress(tc.endpoint.host),
      onDial: (d) => node.reach.onDial(d),
      log: node.log.bind(node)
    })
    this.control = ctl
    this.list.push(ctl)
    tc.on('registered', () => ctl.open())
    ctl.on('status', (st: ControlStatus) => {
      if (st.state === 'open') {
        node.reach.reachability = st.reach
        node.log('info', reachabilityText(st))
      }
      node.emit('reachability', st)
    })
  }

  /** Publish and browse on the LAN: a found node is joined like a --peer, a found tracker used like --tracker. */
  startMdns(o: MdnsOptions): void {
    const { node, opts } = this
    if (this.mdns || opts.signal.aborted) return
    const mdns = new MdnsDiscovery({ role: 'node', peerId: node.id, port: node.port }, o)
    this.mdns = mdns
    this.list.push(mdns)
    mdns.on('status', (st: { state: string; reason: string }) => node.log(st.state === 'ok' || st.state === 'off' ? 'info' : 'warn', `mDNS ${st.state}: ${st.reason}`))
    mdns.on('found', (f: MdnsFound) => {
      if (opts.signal.aborted) return
      if (f.role === 'tracker') this.useTracker(f.id)
      else if (!node.peers.has(f.id) && !node.isSelf(f.id)) void node.join(f.id, 1, 'mdns').catch((err) => node.log('debug', `mDNS: cannot join ${f.id}: ${errText(err)}`))
    })
    mdns.start()
  }

  /**
   * Ask the home router (UPnP IGD, else NAT-PMP) for a public port in the background: the
   * public id goes to `identity.mapped` (first in `reachable()`), each change is logged at info
   * and emitted as the node's 'port-mapping' event. `internalHost`: the node's one listening
   * address, when it listens on one.
   */
  startPortMapping(o: PortMappingOptions, internalHost?: string): void {
    const { node, opts } = this
    if (this.portMapper || opts.signal.aborted) return
    const target = { port: node.port, ...(internalHost ? { internalHost } : {}), log: node.log.bind(node) }
    const pm = new PortMapper(target, o, opts.signal)
    this.portMapper = pm
    this.list.push(pm)
    pm.on('status', (st: PortMappingStatus) => {
      const was = node.identity.mapped
      node.identity.mapped = st.state === 'mapped' ? st.public : null
      if (was !== node.identity.mapped) {
        // Register again when the advertised port changed, else check the reachability again.
        const port = this.tracker?.registeredPort
        this.tracker?.portChanged()
        if (port === this.tracker?.advertisedPort) this.control?.recheck()
      }
      node.log(st.state === 'failed' ? 'warn' : 'info', portMappingText(st))
      node.emit('port-mapping', st)
    })
    pm.start()
  }

  /** Stop every discovery method together (each is bounded to about a second). Never rejects. */
  async stop(): Promise<void> {
    this.node.group?.stop()
    await Promise.allSettled(this.list.map((d) => d.stop()))
  }
}

/** One line for the log: "port mapping: mapped 20.0.0.1:9400 → 192.168.1.10:9400 (UPnP, lease 3600 s)". */
export function portMappingText(st: PortMappingStatus): string {
  if (st.state === 'mapped') return `port mapping: ${st.public} → ${st.internal} (${st.method} on ${st.gateway}, lease ${st.leaseSeconds} s, after ${st.ms} ms)`
  return `port mapping ${st.state}: ${st.reason}`
}

/** One line for the log: how the tracker's dial-back check reached this node. */
export function reachabilityText(st: ControlStatus): string {
  switch (st.reach) {
    case 'direct':
      return `reachable: the tracker dialled ${st.peer} directly`
    case 'mapped':
      return `reachable: the tracker dialled ${st.peer} through the router's port mapping`
    case 'unreachable':
      return `not dialable from the tracker at ${st.peer} (behind NAT, no port mapping): peers reach this node by connection reversal`
    default:
      return `reachability of ${st.peer || 'this node'} unknown`
  }
}

/**
 * A few words on how peers reach a node, for the TUI header and `node` status: "mapped
 * 20.0.0.21:41753", "direct", "reversal (not dialable)", "" while nothing is known.
 */
export function reachSummary(mapped: string | null, reach: Reachability): string {
  if (reach === 'unreachable') return 'reversal (not dialable)'
  if (mapped) return `mapped ${mapped}`
  return reach === 'unknown' ? '' : reach
}
