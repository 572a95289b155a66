/**
 * Ways a node finds peers and holders besides the peers it already knows: the tracker client and
 * mDNS today; port mapping, relays and a DHT plug in here next. Each is started by the node once
 * it listens and stopped (bounded) when it stops.
 */

/** What every discovery method offers its node. */
export interface Discovery {
  /** Short name for logs and status ("tracker", "mdns"). */
  readonly method: string
  /** Begin (announce, browse...). Never throws: failures are reported as status/log events. */
  start(): void
  /** Stop and withdraw what was announced; resolves within about a second, never rejects. */
  stop(): Promise<void>
}
