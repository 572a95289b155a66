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
  private pending: string[] = []
  private flushing: Promise<void> = Promise.resolve()
  private scheduled = false
  private journalRecords = 0
  private readonly compactAfter: number
  /** Journal lines skipped at open (a torn tail). */
  skipped = 0

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

  /** Upsert a row and journal it; durable after the next `flush()` (within one tick). */
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

  /** Resolves when every change made so far is on disk. */
  flush(): Promise<void> {
    this.scheduled = false
    const lines = this.pending
    this.pending = []
    if (lines.length) {
      this.flushing = this.flushing.then(async () => {
        if (!this.journal) this.journal = await fs.open(this.journalFile, 'a')
        await this.journal.appendFile(lines.join(''))
        await this.journal.datasync()
        this.journalRecords += lines.length
      })
    }
    return this.flushing.then(() => (this.journalRecords >= this.compactAfter ? this.compact() : undefined))
  }

  /** Write every table to a new snapshot atomically and start an empty journal. */
  async compact(): Promise<void> {
    await this.flushing
    const tables: Record<string, Record<string, Json>> = {}
    for (const [t, rows] of this.tables) tables[t] = Object.fromEntries(rows)
    const tmp = `${this.snapshotFile}.${randomBytes(4).toString('hex')}.tmp`
    const h = await fs.open(tmp, 'w')
    try {
      await h.writeFile(JSON.stringify({ version: 1, savedAt: Date.now(), tables }))
      await h.sync()
    } finally {
      await h.close()
    }
    await fs.rename(tmp, this.snapshotFile)
    await syncDir(this.opts.dir)
    // The snapshot holds everything the journal did: start it anew.
    await this.journal?.close()
    this.journal = null
    await fs.writeFile(this.journalFile, '')
    this.journalRecords = 0
  }

  /** Flush, compact, close the journal. Changes after close stay in memory only. */
  async close(): Promise<void> {
    this.closed = true
    await this.flush()
    await this.compact()
  }

  /** Set by close(): a late change (a request still finishing) must not reopen the journal. */
  private closed = false

  private record(c: Change): void {
    this.apply(c)
    if (this.closed) return
    this.pending.push(JSON.stringify(c) + '\n')
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => {
        if (this.scheduled) void this.flush().catch((err: Error) => this.opts.log?.('warn', `tracker store: journal write failed: ${err.message}`))
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
