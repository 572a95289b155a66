/**
 * Address helpers shared by the server, the handlers, the tracker and the group checks.
 * Pure: no I/O.
 */

/**
 * The address as a peer id carries it: an IPv4-mapped IPv6 socket address ("::ffff:127.0.0.1")
 * becomes its IPv4 form ("127.0.0.1"); anything else is returned unchanged.
 */
export function normalizeAddress(a: string): string {
  return a.startsWith('::ffff:') ? a.slice(7) : a
}
