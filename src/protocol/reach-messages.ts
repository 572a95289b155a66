/**
 * Payload codecs of the messages that reach a node which cannot be dialled (docs/PROTOCOL.md
 * §7.10 connection reversal, §7.11 hole punching): TCTL, TCON, DIAL, TPCH, RVRS. UTF-8 JSON
 * objects, every field checked. Pure functions; parsers throw ProtocolError ERR_MALFORMED_PAYLOAD.
 */
import { REACH_TOKEN_BYTES } from './constants.ts'
import { int, parseJson, str } from './extension-messages.ts'
import { formatPeerId, parsePeerId } from './peer-id.ts'

const TOKEN_RE = new RegExp(`^[0-9a-f]{${REACH_TOKEN_BYTES * 2}}$`)

/**
 * How a node can be reached, as its tracker's dial-back check found it (§7.10): `direct` (its
 * address is dialable: public, or on the tracker's LAN), `mapped` (dialable through its router's
 * port mapping), `unreachable` (behind NAT without a mapping: reached by connection reversal,
 * hole punching or a relay), `unknown` (not checked).
 */
export type Reachability = 'direct' | 'mapped' | 'unreachable' | 'unknown'

/** TCTL request: the node's peer id port (the one it registered), and whether a router maps it. */
export interface ControlRequest {
  port: number
  mapped?: boolean
}

/** TCTL reply: the control connection is open; the dial-back check's result (§7.10). */
export interface ControlReply {
  control: true
  /** The peer id the tracker holds for the node. */
  peer: string
  reach: Reachability
}

/** TCON request: have `holder` connect to the asker (its socket host, `port`), or punch (§7.11). */
export interface ConnectRequest {
  holder: string
  token: string
  /** The asker's port peers dial (listening or mapped); ignored for a punch. */
  port: number
  punch: boolean
}

/** DIAL push: connect to `to` and send RVRS `token` first; `punch`: TPCH first, then connect (§7.11). */
export interface DialPush {
  to: string
  token: string
  punch: boolean
}

function peerIdField(o: Record<string, unknown>, key: string, what: string): string {
  const v = str(o, key, what, 300)
  const p = parsePeerId(v)
  return formatPeerId(p.host, p.port)
}

/** @throws ProtocolError ERR_MALFORMED_PAYLOAD */
export function parseControl(payload: Buffer): ControlRequest {
  const o = parseJson(payload, 'TCTL')
  return { port: int(o, 'port', 'TCTL', 1, 65535), mapped: o.mapped === true }
}

export function formatControl(r: ControlRequest): string {
  return JSON.stringify(r.mapped ? { port: r.port, mapped: true } : { port: r.port })
}

export function formatControlReply(r: Omit<ControlReply, 'control'>): string {
  return JSON.stringify({ control: true, peer: r.peer, reach: r.reach })
}

/** @throws ProtocolError ERR_MALFORMED_PAYLOAD */
export function parseControlReply(payload: Buffer): ControlReply {
  const o = parseJson(payload, 'TCTL reply')
  const reach = typeof o.reach === 'string' && ['direct', 'mapped', 'unreachable'].includes(o.reach) ? (o.reach as Reachability) : 'unknown'
  return { control: true, peer: peerIdField(o, 'peer', 'TCTL reply'), reach }
}

/** @throws ProtocolError ERR_MALFORMED_PAYLOAD */
export function parseConnect(payload: Buffer): ConnectRequest {
  const o = parseJson(payload, 'TCON')
  const punch = o.punch === true
  return { holder: peerIdField(o, 'holder', 'TCON'), token: str(o, 'token', 'TCON', 64, TOKEN_RE), port: punch ? 0 : int(o, 'port', 'TCON', 1, 65535), punch }
}

export function formatConnect(r: ConnectRequest): string {
  return JSON.stringify(r.punch ? { holder: r.holder, token: r.token, punch: true } : { holder: r.holder, token: r.token, port: r.port })
}

/** TCON reply: reversal `{"pushed":true}`; punch `{"punch":"<holder's public host:port>"}`. */
export function formatConnectReply(r: { punch?: string }): string {
  return JSON.stringify(r.punch ? { punch: r.punch } : { pushed: true })
}

/** @throws ProtocolError ERR_MALFORMED_PAYLOAD */
export function parseConnectReply(payload: Buffer): { punch?: string } {
  const o = parseJson(payload, 'TCON reply')
  return o.punch !== undefined ? { punch: peerIdField(o, 'punch', 'TCON reply') } : {}
}

/** @throws ProtocolError ERR_MALFORMED_PAYLOAD */
export function parseDial(payload: Buffer): DialPush {
  const o = parseJson(payload, 'DIAL')
  return { to: peerIdField(o, 'to', 'DIAL'), token: str(o, 'token', 'DIAL', 64, TOKEN_RE), punch: o.punch === true }
}

export function formatDial(d: DialPush): string {
  return JSON.stringify(d.punch ? { to: d.to, token: d.token, punch: true } : { to: d.to, token: d.token })
}

/** TPCH and RVRS carry only the token. @throws ProtocolError ERR_MALFORMED_PAYLOAD */
export function parseToken(payload: Buffer, what: string): string {
  return str(parseJson(payload, what), 'token', what, 64, TOKEN_RE)
}

export function formatToken(token: string): string {
  return JSON.stringify({ token })
}

/** One peer's reachability in the TSTA reply (§7.8): the dial-back result, and whether it has a control connection. */
export interface PeerReach {
  peer: string
  reach: Reachability
  control: boolean
}

/** The TSTA reply's optional `reach` list (at most 100 entries; bad entries are skipped). */
export function parseReachList(x: unknown): PeerReach[] | undefined {
  if (!Array.isArray(x)) return undefined
  const out: PeerReach[] = []
  for (const e of x.slice(0, 100) as unknown[]) {
    if (!e || typeof e !== 'object') continue
    const o = e as Record<string, unknown>
    if (typeof o.peer !== 'string' || o.peer.length > 300) continue
    const reach = typeof o.reach === 'string' && ['direct', 'mapped', 'unreachable'].includes(o.reach) ? (o.reach as Reachability) : 'unknown'
    out.push({ peer: o.peer, reach, control: o.control === true })
  }
  return out
}
