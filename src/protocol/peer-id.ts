/**
 * Peer ids and ports (docs/PROTOCOL.md §3 Peer id): the legacy "host:port" id every message that
 * names a peer carries, and the ProtocolError every payload parser throws. Pure functions.
 */
import { ProtocolError } from './errors.ts'

/** A dialable peer address; `id` is "host:port" (PROTOCOL.md §3 Peer id). */
export interface PeerAddress {
  id: string
  host: string
  port: number
}

/** ProtocolError ERR_MALFORMED_PAYLOAD with `what` as the message. */
export function malformed(what: string): ProtocolError {
  return new ProtocolError('ERR_MALFORMED_PAYLOAD', what)
}

/**
 * Parse a decimal port. @throws ProtocolError ERR_MALFORMED_PAYLOAD unless 1..65535.
 */
export function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text)) throw malformed(`port must be a number from 1 to 65535, got ${JSON.stringify(text.slice(0, 32))}`)
  const port = Number(text)
  if (port < 1 || port > 65535) throw malformed(`port must be from 1 to 65535, got ${port}`)
  return port
}

/** A host as it may appear in a peer id or a JOIN/LIST line: a name, IPv4, or IPv6 (in brackets or bare). */
export const HOST_RE = /^[A-Za-z0-9._\-[\]:]{1,253}$/

/**
 * Parse a peer id "host:port" (the last colon splits, so "[::1]:9000" works).
 * @throws ProtocolError ERR_MALFORMED_PAYLOAD
 */
export function parsePeerId(id: string): PeerAddress {
  const at = id.lastIndexOf(':')
  if (at <= 0) throw malformed(`peer id must be host:port, got ${JSON.stringify(id.slice(0, 64))}`)
  const host = id.slice(0, at)
  if (!HOST_RE.test(host)) throw malformed(`bad host in peer id ${JSON.stringify(id.slice(0, 64))}`)
  const port = parsePort(id.slice(at + 1))
  return { id, host: host.replace(/^\[(.*)\]$/, '$1'), port }
}

/** "host:port" for a host and port. */
export function formatPeerId(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
