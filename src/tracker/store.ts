/**
 * The tracker's persistent state (docs/TRACKER.md "Store"): a small embedded key-value store of
 * named tables, kept in a folder as
 *   - `snapshot.json`: every table, replaced atomically (write a temp file, fsync, rename, fsync
 *     the folder), and
 *   - `journal.ndjson`: one JSON line per change since that snapshot, appended and fdatasync'd
 *     (group commit: changes made in one tick share one write).
 * Opening reads the snapshot and replays the journal; a torn last line (a crash mid-append) is
 * skipped. Every record is an upsert or a delete, so replaying a journal over a newer snapshot
 * changes nothing. The journal is folded into a new snapshot when it passes `compactAfter`
 * records and on close.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'

/** A stored value: any JSON. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

interface Change {
  t: string
  k: string
  v?: Json
  del?: true
}

/** A failed journal write is tried again after this long (ms) when no new change carries it first. */
const RETRY_MS = 1000

/** Store options. */
export interface StoreOptions {
  dir: string
  /** Journal records before a compaction (default 10 000). */
  compactAfter?: number
  log?: (level: 'info' | 'warn', msg: string) => void
}

/** Embedded table store with atomic snapshots and a write-ahead journal. */
export class TrackerStore {
  private readonly tables = new Map<string, Map<string, Json>>()
  private readonly snapshotFile: string
  private readonly journalFile: string
  private journal: fs.FileHandle | null = null
  /** Bytes of whole records in the journal file: a failed append is cut back to this. */
  private journalSize = 0
  /** Changes recorded and not written yet, oldest first, and who waits for them. */
  private pending: string[] = []
  private waiting: Array<{ resolve(): void; reject(err: Error): void }> = []
  /** The write queue: appends and compactions one at a time; never left rejected. */
  private queue: Promise<void> = Promise.resolve()
  private scheduled = false
  /** After a failed write: the next attempt, if no change comes to carry the records first. */
  private retry: NodeJS.Timeout | null = null
  private journalRecords = 0
  private readonly compactAfter: number
  /** Journal lines skipped at open (a torn tail). */
  skipped = 0
  /** The last write error, until a write succeeds again (for status and tests). */
  lastError: Error | null = null

  constructor(private readonly opts: StoreOptions) {
    this.snapshotFile = path.join(opts.dir, 'snapshot.json')
    this.journalFile = path.join(opts.dir, 'journal.ndjson')
    this.compactAfter = opts.compactAfter ?? 10_000
  }

  /**
   * Create the folder if needed, load the snapshot, replay the journal.
   * @throws when the folder cannot be created or the snapshot is unreadable JSON (corruption is
   *   not silently replaced by an empty store).
   */
  async open(): Promise<void> {
    await fs.mkdir(this.opts.dir, { recursive: true })
    let snap: { version?: number; tables?: Record<string, Record<string, Json>> } = {}
    try {
      snap = JSON.parse(await fs.readFile(this.snapshotFile, 'utf8'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`tracker store ${this.snapshotFile} is unreadable: ${(err as Error).message}`, { cause: err })
    }
    for (const [t, rows] of Object.entries(snap.tables ?? {})) this.tables.set(t, new Map(Object.entries(rows)))
    let text = ''
    try {
      text = await fs.readFile(this.journalFile, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    for (const line of text.split('\n')) {
      if (!line) continue
      try {
        this.apply(JSON.parse(line) as Change)
        this.journalRecords++
      } catch {
        this.skipped++
      }
    }
    if (this.skipped) this.opts.log?.('warn', `tracker store: skipped ${this.skipped} torn journal line(s)`)
    // Start from a clean snapshot so a torn tail is never appended to.
    await this.compact()
  }

  /** A value, or undefined. */
  get(table: string, key: string): Json | undefined {
    return this.tables.get(table)?.get(key)
  }

  /** Every row of a table. */
  all(table: string): Map<string, Json> {
    return new Map(this.tables.get(table) ?? [])
  }

  /** Rows in a table. */
  count(table: string): number {
    return this.tables.get(table)?.size ?? 0
  }

  /** Upsert a row and journal it; durable once `committed()` resolves (the write of this tick). */
  put(table: string, key: string, value: Json): void {
    this.record({ t: table, k: key, v: value })
  }

  /** Change a row in memory only: saved by the next snapshot (for frequent, losable updates). */
  putSoft(table: string, key: string, value: Json): void {
    this.apply({ t: table, k: key, v: value })
  }

  /** Delete a row and journal it. */
  delete(table: string, key: string): void {
    this.record({ t: table, k: key, del: true })
  }

  /**
   * Resolves when every change recorded so far is on disk (fdatasync'd), by the one journal
   * write this tick's changes share (group commit): acknowledge a change only after it.
   * @throws the write error (disk full...): the changes stay queued and go with the next write.
   */
  committed(): Promise<void> {
    if (!this.pending.length) return this.queue
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }))
  }

  /**
   * Write every change recorded so far now.
   * @throws the write error; the changes stay queued and are written again with the next flush.
   */
  flush(): Promise<void> {
    this.scheduled = false
    const lines = this.pending
    const waiting = this.waiting
    this.pending = []
    this.waiting = []
    const done = this.queue.then(() => (lines.length ? this.append(lines) : undefined))
    done.then(
      () => waiting.forEach((w) => w.resolve()),
      (err: Error) => waiting.forEach((w) => w.reject(err))
    )
    // A long journal is folded into a snapshot after the write (a failed snapshot is logged:
    // the records are safe in the journal).
    const after = done.then(() => (this.journalRecords >= this.compactAfter ? this.compactNow().catch((err: Error) => this.failed('snapshot', err)) : undefined))
    this.queue = after.catch(() => {})
    return after
  }

  /**
   * Write every table to a new snapshot atomically and start an empty journal.
   * @throws the write error (the old snapshot and the journal are kept as they were).
   */
  compact(): Promise<void> {
    const done = this.queue.then(() => this.compactNow())
    this.queue = done.catch(() => {})
    return done
  }

  /**
   * Flush, compact, close the journal. Changes after close stay in memory only.
   * @throws the first write error (logged too): what was written before stays on disk.
   */
  async close(): Promise<void> {
    this.closed = true
    if (this.retry) clearTimeout(this.retry)
    try {
      await this.flush()
      await this.compact()
    } catch (err) {
      this.failed('close', err as Error)
      throw err
    } finally {
      await this.journal?.close().catch(() => {})
      this.journal = null
    }
  }

  /** Set by close(): a late change (a request still finishing) must not reopen the journal. */
  private closed = false

  /** Append records to the journal and fdatasync it; on failure cut it back and keep them for the next write. */
  private async append(lines: string[]): Promise<void> {
    const text = lines.join('')
    try {
      if (!this.journal) {
        this.journal = await fs.open(this.journalFile, 'a')
        this.journalSize = (await this.journal.stat()).size
      }
      await this.journal.appendFile(text)
      await this.journal.datasync()
      this.journalSize += Buffer.byteLength(text)
      this.journalRecords += lines.length
      if (this.lastError) this.opts.log?.('info', `tracker store: writing again after "${this.lastError.message}"`)
      this.lastError = null
    } catch (err) {
      // Keep the records (ahead of newer ones), and cut off what part of them reached the file:
      // a half line would make the next record unreadable too.
      this.pending.unshift(...lines)
      await this.journal?.close().catch(() => {})
      this.journal = null
      await fs.truncate(this.journalFile, this.journalSize).catch(() => {})
      this.failed('journal write', err as Error)
      if (!this.closed && !this.retry) {
        this.retry = setTimeout(() => {
          this.retry = null
          if (this.pending.length) void this.flush().catch(() => {})
        }, RETRY_MS)
        this.retry.unref()
      }
      throw err
    }
  }

  private async compactNow(): Promise<void> {
    const tables: Record<string, Record<string, Json>> = {}
    for (const [t, rows] of this.tables) tables[t] = Object.fromEntries(rows)
    const tmp = `${this.snapshotFile}.${randomBytes(4).toString('hex')}.tmp`
    try {
      const h = await fs.open(tmp, 'w')
      try {
        await h.writeFile(JSON.stringify({ version: 1, savedAt: Date.now(), tables }))
        await h.sync()
      } finally {
        await h.close()
      }
      await fs.rename(tmp, this.snapshotFile)
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => {})
      throw err
    }
    await syncDir(this.opts.dir)
    // The snapshot holds everything the journal did (and what is still pending is rewritten
    // after it): start the journal anew.
    await this.journal?.close()
    this.journal = null
    await fs.writeFile(this.journalFile, '')
    this.journalSize = 0
    this.journalRecords = 0
    this.lastError = null
  }

  private failed(what: string, err: Error): void {
    if (this.lastError?.message !== err.message) this.opts.log?.('warn', `tracker store: ${what} failed: ${err.message}`)
    this.lastError = err
  }

  private record(c: Change): void {
    this.apply(c)
    if (this.closed) return
    this.pending.push(JSON.stringify(c) + '\n')
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => {
        if (this.scheduled) void this.flush().catch(() => {})
      })
    }
  }

  private apply(c: Change): void {
    if (typeof c?.t !== 'string' || typeof c.k !== 'string') throw new Error('bad record')
    let rows = this.tables.get(c.t)
    if (!rows) this.tables.set(c.t, (rows = new Map()))
    if (c.del) rows.delete(c.k)
    else rows.set(c.k, c.v ?? null)
  }
}

async function syncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r')
  try {
    await h.sync()
  } finally {
    await h.close()
  }
}
