/**
 * Resource limits of the web server (docs/SECURITY.md "Web page"): media responses open at once,
 * per client address and in total (each holds a file handle), and the free disk space a
 * download started from the browser must leave.
 */
import fs from 'node:fs/promises'
import path from 'node:path'

/** Counted slots for media responses, by client address. */
export class StreamSlots {
  private readonly byClient = new Map<string, number>()
  private total = 0

  /** @param perClient slots one address may hold. @param max slots in all. */
  constructor(
    readonly perClient: number,
    readonly max: number
  ) {}

  /** Responses open now. */
  get open(): number {
    return this.total
  }

  /**
   * Take a slot for `client`.
   * @returns the function that gives it back (call once), or null when the client or the server
   *   is at its cap.
   */
  take(client: string): (() => void) | null {
    const n = this.byClient.get(client) ?? 0
    if (n >= this.perClient || this.total >= this.max) return null
    this.byClient.set(client, n + 1)
    this.total++
    let given = false
    return () => {
      if (given) return
      given = true
      this.total--
      const left = (this.byClient.get(client) ?? 1) - 1
      if (left > 0) this.byClient.set(client, left)
      else this.byClient.delete(client)
    }
  }
}

/**
 * Bytes free for an unprivileged writer on the file system of `dir` (or of its nearest existing
 * parent: the downloads folder is made at the first download).
 * @throws the statfs error other than ENOENT.
 */
export async function freeBytes(dir: string): Promise<number> {
  let d = path.resolve(dir)
  for (;;) {
    try {
      const s = await fs.statfs(d)
      return s.bavail * s.bsize
    } catch (err) {
      const parent = path.dirname(d)
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === d) throw err
      d = parent
    }
  }
}
