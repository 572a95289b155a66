/**
 * Certificate creation for private groups (docs/SECURITY.md): the group CA and member
 * certificates, ECDSA P-256, made with the `openssl` command (Node can verify X.509 but not
 * create it). openssl is run with execFile (no shell), in a private temp folder that is removed
 * afterwards; keys are written 0600. Only the group admin needs openssl: members and the
 * tracker only load PEM files.
 */
import { execFile } from 'node:child_process'
import { randomBytes, X509Certificate } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { P2PTubeError } from '../protocol/errors.ts'

const run = promisify(execFile)

/** The openssl binary (override with P2PTUBE_OPENSSL). */
export const OPENSSL = process.env.P2PTUBE_OPENSSL ?? 'openssl'

/** A PEM key and certificate. */
export interface KeyPair {
  key: string
  cert: string
}

/** What a member certificate says (the SAN URI `p2ptube:member:NAME?group=GID&publish=0|1&role=member|tracker`). */
export interface MemberClaims {
  group: string
  name: string
  publish: boolean
  role: 'member' | 'tracker'
}

/** Member and group names: letters, digits, `.`, `_`, `-`; 1..64 characters. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run(OPENSSL, args, { cwd, timeout: 30_000 })
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string }
    if (e.code === 'ENOENT') throw new P2PTubeError('ERR_NO_OPENSSL', `the group admin needs the openssl command (${OPENSSL}): install it (apt-get install openssl)`)
    throw new P2PTubeError('ERR_OPENSSL', `openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim().slice(0, 500)}`)
  }
}

async function inTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'p2ptube-pki-'))
  await fs.chmod(dir, 0o700)
  try {
    return await fn(dir)
  } finally {
    await fs.rm(dir, { recursive: true, force: true })
  }
}

/** A random positive certificate serial: 16 hex digits, upper case, no leading zero. */
export function newSerial(): string {
  const b = randomBytes(8)
  b[0] = (b[0]! & 0x7f) | 0x10
  return b.toString('hex').toUpperCase()
}

/** Normalise a serial as Node prints it (upper-case hex, no leading zeros). */
export function normSerial(s: string): string {
  return s.toUpperCase().replace(/^0+(?=.)/, '')
}

/**
 * Create a self-signed group CA (10 years).
 * @throws P2PTubeError ERR_NO_OPENSSL / ERR_OPENSSL.
 */
export function createCa(groupId: string, groupName: string): Promise<KeyPair> {
  return inTemp(async (dir) => {
    await openssl(
      [
        'req',
        '-x509',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        'ca.key',
        '-out',
        'ca.crt',
        '-days',
        '3650',
        '-sha256',
        '-subj',
        `/O=p2ptube group ${groupName}/OU=${groupId}/CN=p2ptube group CA`,
        '-addext',
        'basicConstraints=critical,CA:TRUE,pathlen:0',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign'
      ],
      dir
    )
    return { key: await fs.readFile(path.join(dir, 'ca.key'), 'utf8'), cert: await fs.readFile(path.join(dir, 'ca.crt'), 'utf8') }
  })
}

/** A member's key with its two certificates: `cert` names it (client side), `serverCert` does not (server side). */
export interface MemberKeys extends KeyPair {
  /** The nameless server certificate (same key): see serverClaimsUri. */
  serverCert: string
}

/**
 * Issue a member (or tracker) certificate signed by the CA, with a fresh key pair, and the
 * nameless server certificate for the same key (docs/SECURITY.md "Member names"): a TLS server
 * sends its certificate to any client before the client proves anything, so the certificate a
 * node serves with carries only the member's serial (a pseudonym), group and rights; the named
 * one is sent only as a client certificate, after the server was verified as a group member.
 * @param days validity (default 825).
 * @throws P2PTubeError ERR_NO_OPENSSL / ERR_OPENSSL, ERR_BAD_NAME.
 */
export function issueCert(ca: KeyPair, claims: MemberClaims, serial: string, days = 825): Promise<MemberKeys> {
  if (!NAME_RE.test(claims.name)) throw new P2PTubeError('ERR_BAD_NAME', `a member name is 1-64 letters, digits, '.', '_' or '-', got ${JSON.stringify(claims.name)}`)
  return inTemp(async (dir) => {
    await fs.writeFile(path.join(dir, 'ca.key'), ca.key, { mode: 0o600 })
    await fs.writeFile(path.join(dir, 'ca.crt'), ca.cert)
    const ext = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth,clientAuth', `subjectAltName=URI:${claimsUri(claims)}`].join('\n')
    await fs.writeFile(path.join(dir, 'ext.cnf'), ext + '\n')
    const ou = claims.role === 'tracker' ? 'tracker' : claims.publish ? 'publish' : 'member'
    await openssl(
      ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'm.key', '-out', 'm.csr', '-subj', `/O=${claims.group}/OU=${ou}/CN=${claims.name}`],
      dir
    )
    await openssl(['x509', '-req', '-in', 'm.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${serial}`, '-days', String(days), '-sha256', '-extfile', 'ext.cnf', '-out', 'm.crt'], dir)
    // The server certificate: the same key, no name anywhere (subject nor SAN), server use only.
    const serverExt = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', `subjectAltName=URI:${serverClaimsUri(claims, serial)}`].join('\n')
    await fs.writeFile(path.join(dir, 'server-ext.cnf'), serverExt + '\n')
    await openssl(['req', '-new', '-key', 'm.key', '-out', 's.csr', '-subj', `/O=${claims.group}/OU=${ou}/CN=p2ptube member ${serial}`], dir)
    await openssl(
      ['x509', '-req', '-in', 's.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${newSerial()}`, '-days', String(days), '-sha256', '-extfile', 'server-ext.cnf', '-out', 's.crt'],
      dir
    )
    return {
      key: await fs.readFile(path.join(dir, 'm.key'), 'utf8'),
      cert: await fs.readFile(path.join(dir, 'm.crt'), 'utf8'),
      serverCert: await fs.readFile(path.join(dir, 's.crt'), 'utf8')
    }
  })
}

/**
 * The SAN URI of a nameless server certificate: `p2ptube:server:SERIAL?group=GID&publish=0|1&role=…`
 * where SERIAL is the serial of the member's named certificate (revoking it revokes both).
 */
export function serverClaimsUri(c: MemberClaims, memberSerial: string): string {
  return `p2ptube:server:${memberSerial}?group=${c.group}&publish=${c.publish ? 1 : 0}&role=${c.role}`
}

/** What a nameless server certificate says: the claims but the name, and the member's serial. */
export interface ServerClaims {
  group: string
  /** Serial of the member's named certificate (normalised). */
  member: string
  publish: boolean
  role: 'member' | 'tracker'
}

/**
 * Read a nameless server certificate's claims from its subjectAltName text (see parseClaims).
 * @returns undefined when there is no `p2ptube:server:` URI.
 */
export function parseServerClaims(subjectAltName: string | undefined): ServerClaims | undefined {
  for (const part of (subjectAltName ?? '').split(/,\s*/)) {
    const m = /^URI:p2ptube:server:([0-9A-Fa-f]{1,40})\?(.*)$/.exec(part.trim())
    if (!m) continue
    const q = new URLSearchParams(m[2])
    const group = q.get('group')
    if (!group) return undefined
    return { group, member: normSerial(m[1]!), publish: q.get('publish') === '1', role: q.get('role') === 'tracker' ? 'tracker' : 'member' }
  }
  return undefined
}

/** A member's name as others see it when only its server certificate is known: a pseudonym of its serial. */
export function pseudonym(memberSerial: string): string {
  return `member#${memberSerial}`
}

/** The SAN URI carrying the claims. */
export function claimsUri(c: MemberClaims): string {
  return `p2ptube:member:${c.name}?group=${c.group}&publish=${c.publish ? 1 : 0}&role=${c.role}`
}

/**
 * Read the claims from a certificate's subjectAltName text (as `X509Certificate.subjectAltName`
 * or `TLSSocket.getPeerCertificate().subjectaltname` give it: "URI:p2ptube:member:...").
 * @returns undefined when there is no p2ptube URI (not a member certificate).
 */
export function parseClaims(subjectAltName: string | undefined): MemberClaims | undefined {
  for (const part of (subjectAltName ?? '').split(/,\s*/)) {
    const m = /^URI:p2ptube:member:([A-Za-z0-9._-]{1,64})\?(.*)$/.exec(part.trim())
    if (!m) continue
    const q = new URLSearchParams(m[2])
    const group = q.get('group')
    const role = q.get('role') === 'tracker' ? 'tracker' : 'member'
    if (!group) return undefined
    return { group, name: m[1]!, publish: q.get('publish') === '1', role }
  }
  return undefined
}

/** Claims and serial of a PEM certificate. @throws on a malformed PEM. */
export function certInfo(pem: string): MemberClaims & { serial: string; validTo: string } {
  const x = new X509Certificate(pem)
  const c = parseClaims(x.subjectAltName)
  if (!c) throw new P2PTubeError('ERR_NOT_MEMBER_CERT', 'the certificate carries no p2ptube member claims')
  return { ...c, serial: normSerial(x.serialNumber), validTo: x.validTo }
}
