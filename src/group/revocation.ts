/**
 * The group's revocation list: the serials of revoked member certificates, versioned and signed
 * with the group CA key (ECDSA P-256, SHA-256), so a tracker or a peer can pass it on without
 * being trusted (docs/PROTOCOL.md §8.4). Wire and file form:
 * `{"list":"<JSON text of RevocationBody>","sig":"<base64 DER signature of that text>"}`.
 */
import { createPublicKey, sign, verify, X509Certificate, type KeyObject } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { ProtocolError } from '../protocol/errors.ts'
import { normSerial } from './pki.ts'

/** One revoked member. `at` is epoch ms. */
export interface Revoked {
  serial: string
  name: string
  at: number
}

/** The signed content. `version` grows by one per change; `issuedAt` is epoch ms. */
export interface RevocationBody {
  v: 1
  group: string
  version: number
  issuedAt: number
  revoked: Revoked[]
}

/** The signed envelope. */
export interface SignedRevocations {
  list: string
  sig: string
}

/** Largest envelope accepted (bytes): about 700 revoked members. */
export const MAX_REVOCATIONS_BYTES = 60_000

/** Sign a body with the CA key (PEM). */
export function signRevocations(body: RevocationBody, caKeyPem: string): SignedRevocations {
  const list = JSON.stringify(body)
  return { list, sig: sign('sha256', Buffer.from(list), caKeyPem).toString('base64') }
}

/**
 * Check an envelope against the group CA and return its body.
 * @throws ProtocolError ERR_BAD_REVOCATIONS (malformed, too large, wrong group) or
 *   ERR_BAD_SIGNATURE (not signed by this group's CA).
 */
export function verifyRevocations(input: Buffer | string | SignedRevocations, caCertPem: string, group: string): RevocationBody {
  let env: SignedRevocations
  if (typeof input === 'object' && !Buffer.isBuffer(input)) env = input
  else {
    if (input.length > MAX_REVOCATIONS_BYTES) throw new ProtocolError('ERR_BAD_REVOCATIONS', 'revocation list too large')
    try {
      env = JSON.parse(input.toString()) as SignedRevocations
    } catch {
      throw new ProtocolError('ERR_BAD_REVOCATIONS', 'revocation list is not JSON')
    }
  }
  if (typeof env?.list !== 'string' || typeof env.sig !== 'string') throw new ProtocolError('ERR_BAD_REVOCATIONS', 'revocation list needs "list" and "sig"')
  const key: KeyObject = new X509Certificate(caCertPem).publicKey
  if (!verify('sha256', Buffer.from(env.list), key, Buffer.from(env.sig, 'base64'))) throw new ProtocolError('ERR_BAD_SIGNATURE', 'revocation list not signed by the group CA')
  const b = JSON.parse(env.list) as RevocationBody
  if (b.v !== 1 || b.group !== group || !Number.isInteger(b.version) || b.version < 0 || !Array.isArray(b.revoked)) {
    throw new ProtocolError('ERR_BAD_REVOCATIONS', `revocation list malformed or for another group (${String(b.group)})`)
  }
  for (const r of b.revoked) if (typeof r?.serial !== 'string' || typeof r.name !== 'string') throw new ProtocolError('ERR_BAD_REVOCATIONS', 'revocation entry malformed')
  return b
}

/** Check a CA PEM parses and holds a public key (used when loading credentials). */
export function caPublicKey(caCertPem: string): KeyObject {
  return createPublicKey(new X509Certificate(caCertPem).publicKey.export({ type: 'spki', format: 'pem' }))
}

/**
 * The revocation state a node or tracker holds: the newest verified list. Events: 'update'
 * (body, newly revoked serials: string[]).
 */
export class Revocations extends EventEmitter {
  private serials = new Set<string>()
  body: RevocationBody | null = null
  /** The envelope of `body`, to pass on (TREV). */
  signed: SignedRevocations | null = null

  constructor(
    readonly caCertPem: string,
    readonly group: string
  ) {
    super()
  }

  /** Version held (0 = none). */
  get version(): number {
    return this.body?.version ?? 0
  }

  /** Is this certificate serial revoked? */
  has(serial: string): boolean {
    return this.serials.has(normSerial(serial))
  }

  /**
   * Apply an envelope when it verifies and is newer than the one held.
   * @returns true when it was applied.
   * @throws as verifyRevocations.
   */
  apply(input: Buffer | string | SignedRevocations): boolean {
    const body = verifyRevocations(input, this.caCertPem, this.group)
    if (this.body && body.version <= this.body.version) return false
    const env = typeof input === 'object' && !Buffer.isBuffer(input) ? input : (JSON.parse(input.toString()) as SignedRevocations)
    const next = new Set(body.revoked.map((r) => normSerial(r.serial)))
    const added = [...next].filter((s) => !this.serials.has(s))
    this.serials = next
    this.body = body
    this.signed = { list: env.list, sig: env.sig }
    this.emit('update', body, added)
    return true
  }
}
