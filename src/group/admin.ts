/**
 * The group admin's data dir (docs/SECURITY.md "Admin data dir"): the group CA key, the member
 * register, the signed revocation list and the issued credential files.
 *
 *   group.json        {v, group, name, createdAt, trackers}
 *   ca.key, ca.crt    the group CA (key 0600)
 *   members.json      {members: [{name, serial, publish, role, issuedAt, revokedAt?, file}]}
 *   revocations.json  signed revocation list (PROTOCOL.md §8.4)
 *   credentials/      NAME.json per member, tracker.json for the tracker (0600)
 *
 * The folder is 0700. Writes replace files atomically (write + rename).
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { P2PTubeError } from '../protocol/errors.ts'
import { saveCredential, type CredentialFile } from './credential.ts'
import { createCa, issueCert, NAME_RE, newSerial, type KeyPair } from './pki.ts'
import { signRevocations, type RevocationBody, type SignedRevocations } from './revocation.ts'

/** One row of the member register. Times are epoch ms. */
export interface MemberRecord {
  name: string
  serial: string
  publish: boolean
  role: 'member' | 'tracker'
  issuedAt: number
  revokedAt?: number
  /** Credential file path. */
  file: string
}

/** group.json. */
export interface GroupInfo {
  v: 1
  group: string
  name: string
  createdAt: number
  trackers: string[]
}

/** Name reserved for the tracker's own credential. */
export const TRACKER_MEMBER = 'tracker'

function writeAtomic(file: string, text: string, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, text, { mode })
  fs.renameSync(tmp, file)
}

/** A small file's text, or null when it does not exist (any more). */
function readIfThere(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

/** Is process `pid` alive (signal 0: EPERM means alive, someone else's)? */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * A group admin's data dir. Construct with the folder; `init` creates it, the rest need it.
 * Commands that change it (init, issue, revoke, setTrackers) hold the dir's lock file
 * `admin.lock` (created exclusively, holding the pid), so two at once (two invites in two
 * terminals) cannot lose one's update of members.json or the revocation list.
 */
export class GroupAdmin {
  constructor(readonly dir: string) {}

  /**
   * Run `fn` holding `admin.lock`. A lock left by a process that no longer exists is taken over.
   * @throws P2PTubeError ERR_ADMIN_BUSY when another live process holds it for more than `waitMs` (ms).
   */
  private async locked<T>(fn: () => Promise<T> | T, waitMs = 15_000): Promise<T> {
    const lock = path.join(this.dir, 'admin.lock')
    // The lock file appears with its content at once (written aside, then hard-linked: link()
    // fails when the lock exists), so a waiter never reads an empty lock and takes it for stale.
    const mine = `${lock}.${process.pid}.${randomBytes(4).toString('hex')}`
    try {
      fs.writeFileSync(mine, String(process.pid), { mode: 0o600 })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new P2PTubeError('ERR_NO_GROUP', `no group in ${this.dir}: run \`p2ptube group init\` first (or pass --data DIR)`)
      throw err
    }
    const until = Date.now() + waitMs
    try {
      for (;;) {
        try {
          fs.linkSync(mine, lock)
          break
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
          const seen = readIfThere(lock)
          if (seen === null) continue // released meanwhile: try again at once
          const holder = Number(seen)
          // A holder that died never releases it: take it over (if it is still that lock).
          if (!Number.isInteger(holder) || holder <= 0 || !alive(holder)) {
            if (readIfThere(lock) === seen) fs.rmSync(lock, { force: true })
            continue
          }
          if (Date.now() > until) throw new P2PTubeError('ERR_ADMIN_BUSY', `another p2ptube group command (pid ${holder}) is changing ${this.dir}; try again when it is done`)
          // A file lock has no event to wait on: poll, briefly.
          await new Promise((r) => setTimeout(r, 25))
        }
      }
    } finally {
      fs.rmSync(mine, { force: true })
    }
    try {
      return await fn()
    } finally {
      fs.rmSync(lock, { force: true })
    }
  }

  get revocationsFile(): string {
    return path.join(this.dir, 'revocations.json')
  }

  /** Credential file of the tracker (made by init). */
  get trackerCredentialFile(): string {
    return path.join(this.dir, 'credentials', `${TRACKER_MEMBER}.json`)
  }

  /** Is there a group here? */
  exists(): boolean {
    return fs.existsSync(path.join(this.dir, 'group.json'))
  }

  /**
   * Create the group: CA, empty register, revocation list version 1, the tracker's credential.
   * @throws P2PTubeError ERR_GROUP_EXISTS, ERR_BAD_NAME, openssl errors.
   */
  async init(name: string, trackers: string[] = []): Promise<GroupInfo> {
    if (this.exists()) throw new P2PTubeError('ERR_GROUP_EXISTS', `${this.dir} already holds a group (remove it first to start over)`)
    if (!NAME_RE.test(name)) throw new P2PTubeError('ERR_BAD_NAME', `a group name is 1-64 letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`)
    fs.mkdirSync(path.join(this.dir, 'credentials'), { recursive: true, mode: 0o700 })
    fs.chmodSync(this.dir, 0o700)
    return this.locked(() => this.initLocked(name, trackers))
  }

  private async initLocked(name: string, trackers: string[]): Promise<GroupInfo> {
    if (this.exists()) throw new P2PTubeError('ERR_GROUP_EXISTS', `${this.dir} already holds a group (remove it first to start over)`)
    const group = randomBytes(8).toString('hex')
    const ca = await createCa(group, name)
    writeAtomic(path.join(this.dir, 'ca.key'), ca.key, 0o600)
    writeAtomic(path.join(this.dir, 'ca.crt'), ca.cert, 0o644)
    const info: GroupInfo = { v: 1, group, name, createdAt: Date.now(), trackers }
    this.saveMembers([])
    this.writeRevocations(group, ca.key, 1, [])
    writeAtomic(path.join(this.dir, 'group.json'), JSON.stringify(info, null, 2) + '\n')
    await this.issueLocked(TRACKER_MEMBER, false, 'tracker')
    return info
  }

  info(): GroupInfo {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.dir, 'group.json'), 'utf8')) as GroupInfo
    } catch {
      throw new P2PTubeError('ERR_NO_GROUP', `no group in ${this.dir}: run \`p2ptube group init\` first (or pass --data DIR)`)
    }
  }

  /** Set the tracker hints written into credentials issued from now on. */
  setTrackers(trackers: string[]): Promise<void> {
    return this.locked(() => {
      const info = { ...this.info(), trackers }
      writeAtomic(path.join(this.dir, 'group.json'), JSON.stringify(info, null, 2) + '\n')
    })
  }

  members(): MemberRecord[] {
    this.info()
    return (JSON.parse(fs.readFileSync(path.join(this.dir, 'members.json'), 'utf8')) as { members: MemberRecord[] }).members
  }

  private saveMembers(members: MemberRecord[]): void {
    writeAtomic(path.join(this.dir, 'members.json'), JSON.stringify({ members }, null, 2) + '\n')
  }

  private ca(): KeyPair {
    return { key: fs.readFileSync(path.join(this.dir, 'ca.key'), 'utf8'), cert: fs.readFileSync(path.join(this.dir, 'ca.crt'), 'utf8') }
  }

  /** The current signed revocation list. */
  revocations(): SignedRevocations {
    return JSON.parse(fs.readFileSync(this.revocationsFile, 'utf8')) as SignedRevocations
  }

  private writeRevocations(group: string, caKey: string, version: number, revoked: RevocationBody['revoked']): SignedRevocations {
    const signed = signRevocations({ v: 1, group, version, issuedAt: Date.now(), revoked }, caKey)
    writeAtomic(this.revocationsFile, JSON.stringify(signed) + '\n', 0o644)
    return signed
  }

  /**
   * Issue a credential for NAME (a new key pair and certificate). A revoked name may be invited
   * again: it gets a new serial; the old one stays revoked.
   * @returns the member record (with the credential file path).
   * @throws P2PTubeError ERR_NO_GROUP, ERR_MEMBER_EXISTS (an unrevoked member of that name),
   *   ERR_BAD_NAME, ERR_ADMIN_BUSY, openssl errors.
   */
  issue(name: string, publish: boolean, role: 'member' | 'tracker' = 'member'): Promise<MemberRecord> {
    this.info()
    return this.locked(() => this.issueLocked(name, publish, role))
  }

  private async issueLocked(name: string, publish: boolean, role: 'member' | 'tracker'): Promise<MemberRecord> {
    const info = this.info()
    const members = this.members()
    if (role === 'member' && name === TRACKER_MEMBER) throw new P2PTubeError('ERR_BAD_NAME', `"${TRACKER_MEMBER}" is reserved for the tracker's credential`)
    if (members.some((m) => m.name === name && !m.revokedAt)) throw new P2PTubeError('ERR_MEMBER_EXISTS', `${name} is already a member (revoke it first to issue a new credential)`)
    const ca = this.ca()
    const serial = newSerial()
    const pair = await issueCert(ca, { group: info.group, name, publish, role }, serial)
    const file = path.join(this.dir, 'credentials', `${name}.json`)
    const cred: CredentialFile = {
      v: 1,
      group: info.group,
      groupName: info.name,
      name,
      serial,
      publish,
      role,
      key: pair.key,
      cert: pair.cert,
      serverCert: pair.serverCert,
      ca: ca.cert,
      trackers: info.trackers,
      revocations: this.revocations()
    }
    saveCredential(file, cred)
    const rec: MemberRecord = { name, serial, publish, role, issuedAt: Date.now(), file }
    this.saveMembers([...members, rec])
    return rec
  }

  /**
   * Revoke NAME's current credential: its serial goes on the revocation list (version + 1),
   * its credential file is deleted from the admin dir.
   * @returns the revoked record and the new signed list.
   * @throws P2PTubeError ERR_NO_MEMBER, ERR_ADMIN_BUSY.
   */
  revoke(name: string): Promise<{ member: MemberRecord; revocations: SignedRevocations }> {
    this.info()
    return this.locked(() => this.revokeLocked(name))
  }

  private revokeLocked(name: string): { member: MemberRecord; revocations: SignedRevocations } {
    const info = this.info()
    const members = this.members()
    const m = members.find((x) => x.name === name && !x.revokedAt && x.role === 'member')
    if (!m) throw new P2PTubeError('ERR_NO_MEMBER', `no current member named ${name}`)
    m.revokedAt = Date.now()
    this.saveMembers(members)
    const old = JSON.parse(this.revocations().list) as RevocationBody
    const revoked = [...old.revoked, { serial: m.serial, name: m.name, at: m.revokedAt }]
    const signed = this.writeRevocations(info.group, this.ca().key, old.version + 1, revoked)
    fs.rmSync(m.file, { force: true })
    return { member: m, revocations: signed }
  }
}
