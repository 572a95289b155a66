/**
 * Another way to reach a peer when dialling it fails (docs/NETWORK.md "Relay"; issue 10): a
 * Route hands back a connected socket whose far end is the server side of the peer, over which
 * the exchange then runs as on a direct connection (a group's TLS handshake included, end to end).
 * Routes: connection reversal and hole punching (src/net, the reach work) and the relay
 * (src/relay/route.ts). A transport carries its routes (transport.ts withRoutes).
 */
import type net from 'node:net'

export interface Route {
  readonly name: 'reversal' | 'punch' | 'relay'
  /** A connected socket whose far end is the server side of peer `to`, or throws (P2PTubeError). */
  open(to: { host: string; port: number }, opts: { signal?: AbortSignal; type: string }): Promise<net.Socket>
  /**
   * Optional: true when this route is known to be needed for `to` (a direct dial would only time
   * out: the tracker said the holder is reached through a relay, or an earlier dial failed), so
   * it is tried before the direct dial.
   */
  first?(to: { host: string; port: number }): boolean
}
