/**
 * Payload codecs of the legacy btpeer messages (docs/PROTOCOL.md §3): ASCII text split on
 * whitespace, exactly as a btpeer peer sends it (../shared/reference/btpeer-wire.md "Messages").
 * Pure functions: they throw ProtocolError ERR_MALFORMED_PAYLOAD.
 */
import { MAX_QUERY_LENGTH, MAX_TTL } from './constants.ts'
import { HOST_RE, malformed, parsePeerId, parsePort, type PeerAddress } from './peer-id.ts'

function tokens(payload: string): string[] {
  const t = payload.trim()
  return t === '' ? [] : t.split(/\s+/)
}

/** JOIN "<peerid> <host> <port>" (PROTOCOL.md §3.3). @throws ProtocolError */
export function parseJoin(payload: string, what = 'Join'): PeerAddress {
  const t = tokens(payload)
  if (t.length !== 3) throw malformed(`${what}: incorrect arguments`)
  const [id, host, portText] = t as [string, string, string]
  try {
    const p = parsePeerId(id)
    if (!HOST_RE.test(host)) throw malformed('bad host')
    const port = parsePort(portText)
    // The peer id is "host:port" of the same peer: a mismatch would advertise another address.
    if (p.host !== host.replace(/^\[(.*)\]$/, '$1') || p.port !== port) throw malformed('peer id does not match host and port')
    return { id, host, port }
  } catch (err) {
    throw malformed(`${what}: incorrect arguments (${(err as Error).message})`)
  }
}

/** JOIN payload for an address. */
export function formatJoin(p: PeerAddress): string {
  return `${p.id} ${p.host} ${p.port}`
}

/** One LIST line "<peerid> <host> <port>" (PROTOCOL.md §3.2); same shape as JOIN. */
export const parseListLine = (line: string): PeerAddress => parseJoin(line, 'List')
export const formatListLine = formatJoin

/** Legacy QUER "<return-peerid> <key> <ttl>" (PROTOCOL.md §3.4). */
export interface LegacyQuery {
  returnId: string
  key: string
  ttl: number
}

/** @throws ProtocolError ERR_MALFORMED_PAYLOAD "Query: incorrect arguments" */
export function parseQuer(payload: string): LegacyQuery {
  const t = tokens(payload)
  if (t.length !== 3) throw malformed('Query: incorrect arguments')
  const [returnId, key, ttlText] = t as [string, string, string]
  try {
    parsePeerId(returnId)
  } catch (err) {
    throw malformed(`Query: incorrect arguments (${(err as Error).message})`)
  }
  if (!/^\d{1,3}$/.test(ttlText)) throw malformed(`Query: incorrect arguments (ttl must be a number, got ${JSON.stringify(ttlText.slice(0, 16))})`)
  if (Buffer.byteLength(key) > MAX_QUERY_LENGTH) throw malformed('Query: key too long')
  return { returnId, key, ttl: Math.min(Number(ttlText), MAX_TTL) }
}

export function formatQuer(q: LegacyQuery): string {
  return `${q.returnId} ${q.key} ${q.ttl}`
}

/** Legacy RESP "<filename> <holder-peerid>" (PROTOCOL.md §3.5). */
export interface LegacyResponse {
  name: string
  holder: string
}

/** @throws ProtocolError. The name is decoded from its legacy form (see encodeLegacyName). */
export function parseResp(payload: string): LegacyResponse {
  const t = tokens(payload)
  if (t.length !== 2) throw malformed('Response: incorrect arguments')
  const [name, holder] = t as [string, string]
  parsePeerId(holder)
  return { name: decodeLegacyName(name), holder }
}

export function formatResp(r: LegacyResponse): string {
  return `${encodeLegacyName(r.name)} ${r.holder}`
}

/**
 * A legacy peer splits payloads on whitespace, so a name travels in legacy messages with
 * whitespace and '%' percent-encoded (PROTOCOL.md §3.5): "My clip.mp4" → "My%20clip.mp4".
 */
export function encodeLegacyName(name: string): string {
  return name.replace(/[%\s]/gu, (c) => Array.from(Buffer.from(c, 'utf8'), (b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join(''))
}

/** Inverse of encodeLegacyName; a name with no valid escapes is returned as is. */
export function decodeLegacyName(name: string): string {
  if (!name.includes('%')) return name
  try {
    return decodeURIComponent(name)
  } catch {
    return name
  }
}
