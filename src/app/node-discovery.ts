/**
 * A node's discovery methods (src/discovery; docs/TRACKER.md, PROTOCOL.md §7-8): the tracker
 * (from options, or the first one mDNS finds), mDNS on the LAN, and the group's revocation sync
 * through the tracker. Holds them in one list and stops them together; starts none once the
 * node's signal has aborted.
 */
import { requestText } from '../net/client.ts'
import type { Transport } from '../net/transport.ts'
import type { NodeGroup } from '../group/node-group.ts'
import { MSG } from '../protocol/constants.ts'
import type { Discovery } from '../discovery/discovery.ts'
import { MdnsDiscovery, type MdnsFound, type MdnsOptions } from '../discovery/mdns.ts'
import { TrackerClient, type TrackedNode } from '../discovery/tracker-client.ts'
import { errText } from '../node/stats.ts'

/** What the discovery methods need of their node. */
export interface DiscoveringNode extends TrackedNode {
  readonly group: NodeGroup | null
  readonly transport: Transport
  join(address: string, hops?: number, source?: 'tracker' | 'mdns'): Promise<number>
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
    tc.start()
    node.group?.startSync(
      () => requestText(tc.endpoint, MSG.TREV, '', dial),
      () => tc.intervalMs
    )
    return tc
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

  /** Stop every discovery method together (each is bounded to about a second). Never rejects. */
  async stop(): Promise<void> {
    this.node.group?.stop()
    await Promise.allSettled(this.list.map((d) => d.stop()))
  }
}
