/**
 * A member credential file (docs/SECURITY.md "Credential file"): one JSON object with the
 * member's private key and certificate, the group CA certificate, the group id, tracker hints
 * and the revocation list current when it was issued. Written with mode 0600; a credential
 * readable by others is refused.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto'
import fs from 'node:fs'
import { P2PTubeError } from '../protocol/errors.ts'
import { certInfo, normSerial, parseServerClaims, type MemberClaims } from './pki.ts'
import type { SignedRevocations } from './revocation.ts'

/** Credential file content (format version 1). PEM strings. */
export interface CredentialFile {
  v: 1
  group: string
  groupName: string
  name: string
  serial: string
  publish: boolean
  role: 'member' | 'tracker'
  key: string
  cert: string
  /**
   * The nameless certificate (same key) this member's node serves with (pki.ts issueCert);
   * absent in credentials issued before it existed: such a node serves with `cert`, name and all.
   */
  serverCert?: string
  ca: string
  /** Tracker addresses "host:port" the member should use. */
  trackers: string[]
  revocations?: SignedRevocations
}

/** A loaded, checked credential. */
export interface GroupCredential extends MemberClaims {
  groupName: string
  serial: string
  key: string
  cert: string
  /** The nameless server certificate, checked (see CredentialFile). */
  serverCert?: string
  ca: string
  trackers: string[]
  revocations?: SignedRevocations
  /** Where it was loaded from, if from a file. */
  file?: string
}

/**
 * Check a credential: the certificate is signed by the CA, its claims match the file, the key
 * belongs to the certificate.
 * @throws P2PTubeError ERR_BAD_CREDENTIAL.
 */
export function checkCredential(c: CredentialFile, file?: string): GroupCredential {
  const where = file ? ` (${file})` : ''
  const bad = (why: string): P2PTubeError => new P2PTubeError('ERR_BAD_CREDENTIAL', `not a valid p2ptube group credential${where}: ${why}`)
  if (c?.v !== 1 || typeof c.key !== 'string' || typeof c.cert !== 'string' || typeof c.ca !== 'string' || typeof c.group !== 'string') throw bad('missing fields')
  if (c.serverCert !== undefined && typeof c.serverCert !== 'string') throw bad('serverCert is not a PEM string')
  let info: ReturnType<typeof certInfo>
  try {
    const x = new X509Certificate(c.cert)
    const ca = new X509Certificate(c.ca)
    if (!x.verify(ca.publicKey)) throw bad('the certificate is not signed by the group CA')
    if (!x.checkPrivateKey(createPrivateKey(c.key))) throw bad('the key does not belong to the certificate')
    info = certInfo(c.cert)
    if (c.serverCert !== undefined) {
      const sx = new X509Certificate(c.serverCert)
      if (!sx.verify(ca.publicKey)) throw bad('the server certificate is not signed by the group CA')
      if (!sx.checkPrivateKey(createPrivateKey(c.key))) throw bad('the key does not belong to the server certificate')
      const sc = parseServerClaims(sx.subjectAltName)
      if (!sc || sc.group !== info.group || sc.member !== normSerial(info.serial) || sc.publish !== info.publish || sc.role !== info.role) {
        throw bad("the server certificate does not carry the member certificate's serial, group and rights")
      }
    }
  } catch (err) {
    if (err instanceof P2PTubeError) throw err
    throw bad((err as Error).message)
  }
  if (info.group !== c.group) throw bad(`certificate is for group ${info.group}, file says ${c.group}`)
  return {
    group: info.group,
    groupName: typeof c.groupName === 'string' ? c.groupName : info.group,
    name: info.name,
    publish: info.publish,
    role: info.role,
    serial: info.serial,
    key: c.key,
    cert: c.cert,
    ...(typeof c.serverCert === 'string' ? { serverCert: c.serverCert } : {}),
    ca: c.ca,
    trackers: Array.isArray(c.trackers) ? c.trackers.filter((t) => typeof t === 'string') : [],
    ...(c.revocations ? { revocations: c.revocations } : {}),
    ...(file ? { file } : {})
  }
}

/**
 * Load a credential file.
 * @throws P2PTubeError ERR_NO_CREDENTIAL (missing), ERR_CREDENTIAL_MODE (readable by group or
 *   others), ERR_BAD_CREDENTIAL.
 */
export function loadCredential(file: string): GroupCredential {
  let st: fs.Stats
  try {
    st = fs.statSync(file)
  } catch {
    throw new P2PTubeError('ERR_NO_CREDENTIAL', `no credential file at ${file}`)
  }
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new P2PTubeError('ERR_CREDENTIAL_MODE', `${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}): run chmod 600 ${file}`)
  }
  let c: CredentialFile
  try {
    c = JSON.parse(fs.readFileSync(file, 'utf8')) as CredentialFile
  } catch (err) {
    throw new P2PTubeError('ERR_BAD_CREDENTIAL', `${file} is not JSON: ${(err as Error).message}`)
  }
  return checkCredential(c, file)
}

/** Write a credential file with mode 0600 (replacing an existing one). */
export function saveCredential(file: string, c: CredentialFile): void {
  fs.rmSync(file, { force: true })
  fs.writeFileSync(file, JSON.stringify(c, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
}
