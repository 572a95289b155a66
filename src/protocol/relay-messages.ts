/**
 * Payload codecs of the relay messages (docs/PROTOCOL.md §10; model: libp2p circuit relay v2's
 * RESERVE / CONNECT / STATUS, specs/relay/circuit-v2.md): UTF-8 JSON objects, every field checked.
 * Pure functions; parsers throw ProtocolError ERR_MALFORMED_PAYLOAD.
 */
import { RELAY_TOKEN_BYTES } from './constants.ts'
import { int, parseJson, str } from './extension-messages.ts'
import { malformed, parsePeerId } from './peer-id.ts'

const TOKEN_RE = new RegExp(`^[0-9a-f]{${RELAY_TOKEN_BYTES * 2}}$`)

/** RRES request (§10.2): the holder's listening port; the host is the socket's, never the payload's. */
export interface Reserve {
  port: number
}

/** First REPL of a reservation: the id fetchers reach the holder by, the data port, the heartbeat period (ms). */
export interface ReserveReply {
  id: string
  data: number
  heartbeatMs: number
}

/** Later REPLs on a reservation: an incoming circuit (join the data port with `token`) or a heartbeat. */
export type ReservationEvent = { incoming: { token: string } } | { ping: number }

/** RCON request (§10.3): the peer id to reach; it must hold a reservation on this relay. */
export interface Connect {
  to: string
}

/** RCON reply: the fetcher's one-time token and the data port to join on. */
export interface ConnectReply {
  token: string
  data: number
}

/** RJOI request (§10.4): the one-time token of one end of a circuit. */
export interface Join {
  token: string
}

export function formatReserve(r: Reserve): string {
  return JSON.stringify({ port: r.port })
}

/** @throws ProtocolError */
export function parseReserve(payload: Buffer): Reserve {
  const o = parseJson(payload, 'RRES')
  return { port: int(o, 'port', 'RRES', 1, 65535) }
}

export function formatReserveReply(r: ReserveReply): string {
  return JSON.stringify(r)
}

/** @throws ProtocolError */
export function parseReserveReply(payload: Buffer): ReserveReply {
  const o = parseJson(payload, 'RRES reply')
  const id = str(o, 'id', 'RRES reply', 300)
  parsePeerId(id)
  return { id, data: int(o, 'data', 'RRES reply', 1, 65535), heartbeatMs: int(o, 'heartbeatMs', 'RRES reply', 100, 3_600_000) }
}

export function formatReservationEvent(e: ReservationEvent): string {
  return JSON.stringify(e)
}

/** @throws ProtocolError for an event that is neither an incoming circuit nor a heartbeat. */
export function parseReservationEvent(payload: Buffer): ReservationEvent {
  const o = parseJson(payload, 'RRES event')
  if (typeof o.incoming === 'object' && o.incoming !== null) return { incoming: { token: str(o.incoming as Record<string, unknown>, 'token', 'RRES incoming', 64, TOKEN_RE) } }
  if (typeof o.ping === 'number') return { ping: o.ping }
  throw malformed('RRES event: neither "incoming" nor "ping"')
}

export function formatConnect(c: Connect): string {
  return JSON.stringify({ to: c.to })
}

/** @throws ProtocolError (a `to` that is not a peer id). */
export function parseConnect(payload: Buffer): Connect {
  const o = parseJson(payload, 'RCON')
  const to = str(o, 'to', 'RCON', 300)
  parsePeerId(to)
  return { to }
}

export function formatConnectReply(r: ConnectReply): string {
  return JSON.stringify(r)
}

/** @throws ProtocolError */
export function parseConnectReply(payload: Buffer): ConnectReply {
  const o = parseJson(payload, 'RCON reply')
  return { token: str(o, 'token', 'RCON reply', 64, TOKEN_RE), data: int(o, 'data', 'RCON reply', 1, 65535) }
}

export function formatJoin(j: Join): string {
  return JSON.stringify({ token: j.token })
}

/** @throws ProtocolError */
export function parseJoin(payload: Buffer): Join {
  return { token: str(parseJson(payload, 'RJOI'), 'token', 'RJOI', 64, TOKEN_RE) }
}

// §10.7 member relays: the optional fields of TANN (both ways), TFND/TWHO hits and TSTA.

/** Member relays named in one TANN (either way) at most (PROTOCOL.md §10.7). */
export const MAX_ANNOUNCED_RELAYS = 4

/** An optional list of at most MAX_ANNOUNCED_RELAYS peer ids. @throws ProtocolError */
export function peerIds(x: unknown, what: string): string[] {
  if (!Array.isArray(x) || x.length > MAX_ANNOUNCED_RELAYS) throw malformed(`${what} must be an array of at most ${MAX_ANNOUNCED_RELAYS} peer ids`)
  return x.map((p) => {
    if (typeof p !== 'string' || !isPeerIdText(p)) throw malformed(`${what} must hold peer ids ("host:port")`)
    return p
  })
}

/** Does `p` parse as a peer id (host:port)? */
export function isPeerIdText(p: string): boolean {
  try {
    parsePeerId(p)
    return p.length <= 300
  } catch {
    return false
  }
}

/** TSTA `relay`: reservations held, circuits open (pending or spliced) and spliced, bytes copied both ways and requests refused since start. */
export interface TrackerRelayStatus {
  reservations: number
  circuits: number
  spliced: number
  bytesRelayed: number
  refused: number
}

/** TSTA's optional `relay` and `memberRelays` (§7.8) from a parsed reply object; absent ones stay absent. */
export function parseRelayFigures(o: Record<string, unknown>): { relay?: TrackerRelayStatus; memberRelays?: { relays: number; reserved: number } } {
  return {
    ...(isObject(o.relay) ? { relay: numbers(o.relay, ['reservations', 'circuits', 'spliced', 'bytesRelayed', 'refused']) } : {}),
    ...(isObject(o.memberRelays) ? { memberRelays: numbers(o.memberRelays, ['relays', 'reserved']) } : {})
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

/** The named fields of `o` as finite numbers (anything else: 0). */
function numbers<K extends string>(o: Record<string, unknown>, keys: readonly K[]): Record<K, number> {
  const out = {} as Record<K, number>
  for (const k of keys) out[k] = typeof o[k] === 'number' && Number.isFinite(o[k]) ? o[k] : 0
  return out
}
