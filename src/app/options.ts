/** The options of a P2PNode (src/app/node.ts), with their defaults. Sizes in bytes, times in ms. */
import type { GroupCredential } from '../group/credential.ts'
import type { PeerLimitOptions } from '../group/peer-limits.ts'
import type { MdnsOptions } from '../discovery/mdns.ts'
import type { PortMappingOptions } from '../discovery/port-mapping.ts'
import type { MetadataReaderOptions } from '../node/metadata.ts'
import type { NodeState } from './state.ts'
import type { NodeRelayOptions } from './node-relay.ts'

/** Node options. Sizes in bytes, times in ms. */
export interface NodeOptions {
  /**
   * One address to listen on AND to advertise (the old `--host`: never looked up). Without it a
   * node listens on every interface and names itself by the address of each connection.
   */
  host?: string
  /** Address to listen on (default: every interface, IPv6 and IPv4; `host` when given). */
  listen?: string
  /**
   * The one host to put in this node's peer id for everybody (a public name or address), instead
   * of the local address of each connection (default; `host` when given).
   */
  advertise?: string
  /**
   * false: a one-shot client (`search`, `fetch`): it learns peers (NAME, LIST) without joining
   * them, so it takes no slot in their peer tables, and sends no QUIT (default true).
   */
  announce?: boolean
  /** Port (default 0: any free port). */
  port?: number
  /**
   * Most neighbours, the high water mark: JOINs are accepted up to it, then only by pruning a
   * well-connected neighbour (0 = unlimited; default 12, PROTOCOL.md §3.9).
   */
  maxPeers?: number
  /** Neighbours to keep, the low water mark: a join stops crawling there, repair dials up to it (default 4; 0 = fill the table, no repair). */
  minPeers?: number
  /** Most peer-table entries per IP address (default 4; 0 = unlimited), an eclipse defence. */
  maxPeersPerHost?: number
  /** Apply maxPeersPerHost to loopback too (default false: this machine's processes, e.g. a testnet, are not limited). */
  limitLoopback?: boolean
  /** Crawl depth when joining (default 2, as the legacy peer at start-up). */
  hops?: number
  shares?: string[]
  /** How the library reads tags (ffprobe path, timeout); false: not at all (src/node/metadata.ts). */
  metadata?: MetadataReaderOptions | false
  /** Where fetched files go (default $XDG_DOWNLOAD_DIR/p2ptube, else ~/Downloads/p2ptube: app/dirs.ts). */
  downloadsDir?: string
  /** Where the content id cache lives (default $XDG_CACHE_HOME/p2ptube: app/dirs.ts); null = no cache. */
  dataDir?: string | null
  /** Upload cap, bytes/s (0 = none). */
  rateLimit?: number
  /** How often peers are checked for liveness (default 10 000; 0 = never). */
  stabilizeIntervalMs?: number
  connectTimeoutMs?: number
  idleTimeoutMs?: number
  requestTimeoutMs?: number
  /** Tracker "host:port" to register and announce with, bootstrap from and search first (docs/TRACKER.md). */
  tracker?: string
  /** false: only query the tracker (one-shot search/fetch), never register (default true). */
  trackerRegister?: boolean
  /** Publish and browse on the LAN over mDNS (true = default options). */
  mdns?: boolean | MdnsOptions
  /**
   * Ask the home router for a public port, UPnP IGD or NAT-PMP, in the background (true =
   * default options; docs/NETWORK.md). Default false here; `p2ptube node` and the TUI turn it on.
   * Never done for a node that listens on loopback only.
   */
  portMapping?: boolean | PortMappingOptions
  /** Private group credential: speak only mutual TLS with members, enforce publish rights (PROTOCOL.md §8). */
  group?: GroupCredential
  /** Per-peer connection and query rate limits (defaults in PeerLimits). */
  peerLimits?: PeerLimitOptions
  /**
   * The node's saved state (app/state.ts): its shares and downloaded files are shared again at
   * start, then it follows the library, peers and downloads until stop (the CLI resumes the
   * transfers and rejoins the peers: NodeState.resume). Only for the process holding the state
   * folder's lock.
   */
  state?: NodeState
  /** Relays: serve as one (`serve`), reserve on some (`via`), or on the tracker's when behind NAT (docs/NETWORK.md "Relay"). */
  relay?: NodeRelayOptions
}
