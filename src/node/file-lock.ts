/**
 * A lock file across processes on one machine: `<path>` holds the pid of its holder. It appears
 * with its content at once (written aside, then hard-linked: link() fails when the lock exists,
 * as the group admin's `admin.lock` does), so another process never reads an empty lock and
 * takes it for stale. A lock whose process no longer exists (killed, crashed) is taken over.
 * Linux/macOS semantics (link, kill(pid, 0)); a pid reused by an unrelated process keeps the
 * lock until that process ends.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'

/** Does process `pid` exist (EPERM: it does, owned by someone else)? */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function readIfThere(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

/**
 * Take the lock at `lockPath` now, without waiting.
 * @returns the release function (idempotent; removes the lock file), or the pid of the live
 *   process holding it.
 * @throws fs errors (EACCES, ENOSPC...) of writing the lock.
 */
export async function tryLock(lockPath: string): Promise<(() => Promise<void>) | { heldBy: number }> {
  const mine = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}`
  await fs.writeFile(mine, String(process.pid), { mode: 0o600 })
  try {
    for (let tries = 0; ; tries++) {
      try {
        await fs.link(mine, lockPath)
        break
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 20) throw err
        const seen = await readIfThere(lockPath)
        if (seen === null) continue // released meanwhile: try again at once
        const holder = Number(seen)
        if (Number.isInteger(holder) && holder > 0 && processAlive(holder)) return { heldBy: holder }
        // Its holder died without releasing it: take it over (if it is still that lock).
        if ((await readIfThere(lockPath)) === seen) await fs.rm(lockPath, { force: true })
      }
    }
  } finally {
    await fs.rm(mine, { force: true })
  }
  let released = false
  return async () => {
    if (released) return
    released = true
    await fs.rm(lockPath, { force: true })
  }
}
