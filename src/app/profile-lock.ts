/**
 * One writer per state folder: the long-running node (`p2ptube node`, the TUI) that holds
 * `node.lock` in it owns its state.json and its content id cache; every other p2ptube process
 * on the machine only reads them (a one-shot `fetch` never replaces a running node's files).
 *
 * The lock is a pid file created with O_EXCL. A lock whose process is gone (a crash, a kill -9)
 * is stale and taken over: the pid no longer runs, or on Linux it now runs something that is not
 * node (a reused pid). Why not proper-lockfile: it detects staleness by mtime, so a live holder
 * must touch the file every few seconds and a crashed one blocks the next start for that long; a
 * pid is exact on one machine, which is all a state folder is shared on.
 */
import { readFileSync, rmSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'

/** What the lock file says about its holder. `port`: where the holder's node listens (once it does). */
export interface LockInfo {
  pid: number
  port?: number
  startedAt: number
}

/** Whether `pid` is a running node process (on Linux, checked in /proc against pid reuse). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  try {
    return /(^|\/)node[^/]*$|p2ptube/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '') || pid === process.pid
  } catch {
    return true // no /proc: trust kill(0)
  }
}

/** The live holder of the lock `file`, or null (none, or a stale one). */
export function lockHolder(file: string): LockInfo | null {
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as LockInfo
    return Number.isInteger(info.pid) && running(info.pid) ? info : null
  } catch {
    return null
  }
}

/** A held lock: `update` rewrites its info (the port once listening), `release` removes it. */
export class ProfileLock {
  private released = false

  private constructor(
    readonly file: string,
    private info: LockInfo
  ) {}

  /**
   * Take the lock `file` (its folder is created), replacing a stale one.
   * @returns the lock, or the live holder's info when another process holds it.
   * @throws the file system's error (EACCES...).
   */
  static async acquire(file: string): Promise<ProfileLock | { heldBy: LockInfo }> {
    await fs.mkdir(path.dirname(file), { recursive: true })
    const info: LockInfo = { pid: process.pid, startedAt: Date.now() }
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await fs.writeFile(file, JSON.stringify(info), { flag: 'wx' })
        return new ProfileLock(file, info)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const holder = lockHolder(file)
      if (holder) return { heldBy: holder }
      // Stale: remove it and try again (another process may win the race: then it holds it).
      await fs.rm(file, { force: true })
    }
    const holder = lockHolder(file)
    return { heldBy: holder ?? { pid: 0, startedAt: 0 } }
  }

  /** Add to the holder's info (e.g. the port once the node listens). Errors are ignored: the lock itself stands. */
  async update(more: Partial<LockInfo>): Promise<void> {
    if (this.released) return
    this.info = { ...this.info, ...more }
    const tmp = `${this.file}.${process.pid}.tmp`
    await fs
      .writeFile(tmp, JSON.stringify(this.info))
      .then(() => fs.rename(tmp, this.file))
      .catch(() => {})
  }

  /** Remove the lock file now, unless released already (for a process 'exit' handler: a crash or process.exit() skips release()). */
  releaseSync(): void {
    if (this.released) return
    this.released = true
    rmSync(this.file, { force: true })
  }

  /** Remove the lock file (idempotent). */
  async release(): Promise<void> {
    if (this.released) return
    this.released = true
    await fs.rm(this.file, { force: true })
  }
}
