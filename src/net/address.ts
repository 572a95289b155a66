/**
 * Address helpers shared by the server, the handlers, the tracker and the group checks, and the
 * machine's own addresses: which a node listens on by default and which it advertises
 * (docs/PROTOCOL.md §1.3 Peer id).
 */
import { createSocket } from 'node:dgram'
import { readFileSync } from 'node:fs'
import { isIPv4, isIPv6 } from 'node:net'
import os from 'node:os'

/**
 * The address as a peer id carries it: an IPv4-mapped IPv6 socket address ("::ffff:127.0.0.1")
 * becomes its IPv4 form ("127.0.0.1"); anything else is returned unchanged.
 */
export function normalizeAddress(a: string): string {
  return a.startsWith('::ffff:') ? a.slice(7) : a
}

/** What a node listens on when no address is given: every interface, IPv6 and IPv4 (dual stack). */
export const ANY_ADDRESS = '::'
/** The fallback when the host has no IPv6 at all. */
export const ANY_IPV4 = '0.0.0.0'

/** Is `a` one of the wildcard addresses (listen everywhere, never advertised)? */
export function isWildcard(a: string): boolean {
  return a === '::' || a === '0.0.0.0' || a === ''
}

/**
 * Every address of this machine's interfaces (IPv4 and IPv6, link-local IPv6 without its zone),
 * loopback included. Read fresh at each call (~20 µs): interfaces come and go.
 */
export function localAddresses(): Set<string> {
  const out = new Set<string>(['127.0.0.1', '::1'])
  for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) out.add(i.address.replace(/%.*$/, ''))
  return out
}

/**
 * The addresses other machines can dial this one on: every non-loopback interface address, IPv4
 * first, IPv6 link-local ones left out (they need a zone). Read fresh at each call.
 */
export function interfaceAddresses(): string[] {
  const v4: string[] = []
  const v6: string[] = []
  for (const list of Object.values(os.networkInterfaces())) {
    for (const i of list ?? []) {
      if (i.internal) continue
      if (i.family === 'IPv4') v4.push(i.address)
      else if (!i.address.toLowerCase().startsWith('fe80')) v6.push(i.address)
    }
  }
  return [...v4, ...v6]
}

/**
 * The address other machines most likely reach this one on: the IPv4 address of the interface
 * that holds the default route (/proc/net/route), else the first non-internal IPv4 address,
 * else the first global IPv6 address, else 127.0.0.1. Used only where no connection tells which
 * interface reaches a peer (logs, mDNS TXT, the id printed at start).
 * @param routeTable path of the kernel's IPv4 route table (tests).
 */
export function primaryAddress(routeTable = '/proc/net/route'): string {
  const ifaces = os.networkInterfaces()
  const v4 = (name: string): string | undefined => ifaces[name]?.find((i) => i.family === 'IPv4' && !i.internal)?.address
  try {
    for (const line of readFileSync(routeTable, 'utf8').split('\n').slice(1)) {
      const [name, destination] = line.trim().split(/\s+/)
      if (name && destination === '00000000') {
        const a = v4(name)
        if (a) return a
      }
    }
  } catch {
    // no /proc (not Linux): fall through
  }
  for (const name of Object.keys(ifaces)) {
    const a = v4(name)
    if (a) return a
  }
  for (const list of Object.values(ifaces)) {
    const a = list?.find((i) => i.family === 'IPv6' && !i.internal && !i.address.startsWith('fe80'))
    if (a) return a.address
  }
  return '127.0.0.1'
}

/**
 * Is `a` a public (global unicast) address: not loopback, private (RFC 1918), shared
 * (100.64/10, carrier NAT), link-local, unspecified, or IPv6 unique-local?
 */
export function isPublicAddress(a: string): boolean {
  const n = normalizeAddress(a).toLowerCase()
  if (isIPv4(n)) {
    const [x = 0, y = 0] = n.split('.').map(Number)
    return !(x === 0 || x === 10 || x === 127 || (x === 100 && y >= 64 && y < 128) || (x === 169 && y === 254) || (x === 172 && y >= 16 && y < 32) || (x === 192 && y === 168) || x >= 224)
  }
  if (isIPv6(n)) return !(n === '::' || n === '::1' || /^fe[89ab]/.test(n) || /^f[cd]/.test(n) || /^ff/.test(n))
  return false
}

/** Is `a` a loopback address (127.0.0.0/8, ::1, "localhost")? */
export function isLoopback(a: string): boolean {
  const n = normalizeAddress(a)
  return n === '::1' || n === 'localhost' || n.startsWith('127.')
}

/**
 * The IPv4 address of the default gateway (the home router), from the kernel's route table, or
 * null (no default route, or not Linux).
 * @param routeTable path of the kernel's IPv4 route table (tests).
 */
export function defaultGateway(routeTable = '/proc/net/route'): string | null {
  try {
    for (const line of readFileSync(routeTable, 'utf8').split('\n').slice(1)) {
      const [, destination, gateway] = line.trim().split(/\s+/)
      if (destination !== '00000000' || !gateway || gateway === '00000000') continue
      // The kernel prints the address as a little-endian hex word: 0101A8C0 is 192.168.1.1.
      const n = Number.parseInt(gateway, 16)
      return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join('.')
    }
  } catch {
    // no /proc (not Linux)
  }
  return null
}

/**
 * The local address this machine uses to reach IPv4 `host` (the interface the kernel routes it
 * through): a connected UDP socket, no packet sent.
 * @throws the socket error (ENETUNREACH: no route to `host`).
 */
export async function localAddressToward(host: string): Promise<string> {
  const s = createSocket('udp4')
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.connect(9, host, () => resolve())
    })
    return s.address().address
  } finally {
    s.close()
  }
}
