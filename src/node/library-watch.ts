/**
 * Watching the shared folders (issues #11 and #12): a deleted file stops being advertised, a new
 * one is indexed and announced, an edited one is hashed again, without waiting for a request for
 * it to fail (docs/SECURITY.md "Shared files on disk").
 *
 * How: one non-recursive `fs.watch` per folder the walk read (on Linux one inotify watch per
 * folder; an event names the child that changed). The first event of a folder schedules, DEBOUNCE_MS
 * later, a check of the children named since: an indexed file is rechecked (Library.recheck: one
 * lstat; gone → forgotten, size, mtime or inode changed → hashed again, unchanged → nothing, so an
 * unchanged path+size+mtime+inode is never hashed again); a new media file is indexed and hashed;
 * a new folder is walked and watched; a watched folder that is gone has everything below it
 * forgotten. A file modified less than SETTLE_MS ago (still being copied or written) is checked
 * again later instead of hashed half-written. Every `rescanMs` a cheap pass re-reads every
 * watched folder (readdir, and one lstat per indexed file) for what inotify missed or could not
 * watch: a folder over the watch limit or that failed to watch (ENOSPC, EMFILE), an event queue
 * overflow, a network file system.
 *
 * Why not `fs.watch(dir, { recursive: true })`: on Linux Node 20 emulates it in JavaScript
 * (lib/internal/fs/recursive_watch.js): a synchronous readdirSync/statSync of the whole tree at
 * start (the event loop blocked for a 10 000-file library), one inotify watch per FILE, and a
 * 'rename' event for every file already there. Why not chokidar: on Linux it does what this file
 * does (one non-recursive fs.watch per folder) but walks the whole tree again at start, which the
 * library has just done, and would be one more dependency for ~200 lines.
 *
 * One file (just over 300 lines): the watches, the debounced per-folder check and the periodic pass
 * share one map of watched folders and the pending names, and must change together. Candidate to
 * move out next: the periodic pass (rescan), which only reads the map.
 */
import { watch, type FSWatcher, type Stats } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import PQueue from 'p-queue'
import { skippedName, statFile, walkShare, type FoundFile } from './library-walk.ts'
import { mediaKind } from './media-kind.ts'

/** An indexed file as the watcher sees it (LibraryEntry has these fields; no import: library.ts imports this file). */
export interface WatchedEntry {
  /** Real path. */
  path: string
  /** Where it was found, when not at `path` (a link). */
  found?: string
}

/** An indexed file as the watcher handles it. */
type LibraryEntry = WatchedEntry

/** What the watcher needs of its library (Library). */
export interface WatchedLibrary {
  /** Every indexed file (where it was found: `found`, else `path`). */
  entries(): LibraryEntry[]
  /** Is this real path indexed? */
  hasPath(real: string): boolean
  /** Index media files a check found below the share `root` (already indexed paths are skipped). */
  indexFound(root: string, files: FoundFile[]): void
  /** Compare an entry with its file: forget, re-hash or nothing (Library.recheck). */
  recheck(e: LibraryEntry, lstat?: Stats | null): Promise<void>
}

/** Watcher options; times in ms. */
export interface FolderWatcherOptions {
  /** Delay from a folder's first event to its check (default 200). */
  debounceMs?: number
  /** Period of the full stat pass (default 60 000 while some folder is not watched, else 10×). */
  rescanMs?: number
  /** Most folders watched (default 8 192); more are left to the rescan. */
  maxWatches?: number
  log?: (level: 'info' | 'warn', msg: string) => void
}

/** A file whose mtime is younger than this is still being written: checked again after it. */
export const SETTLE_MS = 1000
/** Names remembered per folder before the check reads the whole folder instead. */
const MAX_NAMES = 1000
/** Filesystem calls of one check in flight at once. */
const CHECK_CONCURRENCY = 8

interface Folder {
  /** The share root it is part of (its new files are indexed); null: the folder of a file shared alone. */
  root: string | null
  watcher: FSWatcher | null
}

/** Watches the folders of one library; see the file comment. close() ends it. */
export class FolderWatcher {
  private readonly folders = new Map<string, Folder>()
  /** Folder → names changed since its last check (null: read the whole folder). */
  private pending = new Map<string, Set<string> | null>()
  private timer: NodeJS.Timeout | null = null
  private rescanTimer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private closed = false
  private watches = 0
  private warned = false

  constructor(
    private readonly lib: WatchedLibrary,
    private readonly opts: FolderWatcherOptions = {}
  ) {}

  /** Folders watched by fs.watch now. */
  get watched(): number {
    return this.watches
  }

  /** Folders known but not watched now (could not be, or a share folder that is gone): left to the periodic rescan. */
  get unwatched(): number {
    let n = 0
    for (const f of this.folders.values()) if (!f.watcher) n++
    return n
  }

  /** Watch `dir`, a folder of the share `root`: its new files and folders are indexed too. */
  addFolder(dir: string, root: string): void {
    const had = this.folders.get(dir)
    if (had) {
      had.root ??= root
      return
    }
    this.folders.set(dir, { root, watcher: this.watchDir(dir) })
    this.scheduleRescan()
  }

  /** Watch the folder holding `file`, a file shared on its own (only indexed files are checked there). */
  addFile(file: string): void {
    const dir = path.dirname(file)
    if (this.folders.has(dir)) return
    this.folders.set(dir, { root: null, watcher: this.watchDir(dir) })
    this.scheduleRescan()
  }

  /** Stop watching; a check in progress finishes. */
  async close(): Promise<void> {
    this.closed = true
    for (const f of this.folders.values()) f.watcher?.close()
    this.folders.clear()
    this.pending.clear()
    if (this.timer) clearTimeout(this.timer)
    if (this.rescanTimer) clearTimeout(this.rescanTimer)
    this.timer = this.rescanTimer = null
    await this.running
  }

  /** Read every watched folder now (the periodic pass). Resolves when done. */
  async rescan(): Promise<void> {
    for (const dir of this.folders.keys()) this.pending.set(dir, null)
    await this.flush()
  }

  private watchDir(dir: string): FSWatcher | null {
    if (this.closed) return null
    if (this.watches >= (this.opts.maxWatches ?? 8192)) return this.notWatched(dir, 'too many folders')
    try {
      const w = watch(dir, { persistent: false }, (_ev, name) => this.changed(dir, name === null ? null : String(name)))
      w.on('error', () => {
        w.close()
        const f = this.folders.get(dir)
        if (f?.watcher === w) {
          f.watcher = null
          this.watches--
        }
        this.changed(dir, null)
      })
      this.watches++
      return w
    } catch (err) {
      return this.notWatched(dir, (err as NodeJS.ErrnoException).code ?? (err as Error).message)
    }
  }

  private notWatched(dir: string, why: string): null {
    if (!this.warned) {
      this.warned = true
      this.opts.log?.('warn', `cannot watch ${dir} (${why}): changes there are noticed by a rescan every ${this.rescanEvery() / 1000} s`)
    }
    return null
  }

  private rescanEvery(): number {
    const base = this.opts.rescanMs ?? 60_000
    return this.unwatched > 0 ? base : base * 10
  }

  private scheduleRescan(): void {
    if (this.rescanTimer || this.closed) return
    this.rescanTimer = setTimeout(() => {
      this.rescanTimer = null
      void this.rescan().finally(() => this.scheduleRescan())
    }, this.rescanEvery())
    this.rescanTimer.unref()
  }

  /** An event in `dir` about child `name` (null: unknown, read the whole folder). */
  private changed(dir: string, name: string | null, delayMs = this.opts.debounceMs ?? 200): void {
    if (this.closed || !this.folders.has(dir)) return
    const names = this.pending.get(dir)
    if (name === null || names === null || (names && names.size >= MAX_NAMES)) this.pending.set(dir, null)
    else this.pending.set(dir, (names ?? new Set()).add(name))
    // Fixed delay from the first event (not reset by later ones): a file written for minutes is
    // still checked every debounce period.
    if (this.timer) return
    this.timer = setTimeout(() => {
      this.timer = null
      void this.flush()
    }, delayMs)
    this.timer.unref()
  }

  /** Check what is pending (after the check in progress). */
  private async flush(): Promise<void> {
    while (this.running) await this.running
    if (this.closed || !this.pending.size) return
    const batch = this.pending
    this.pending = new Map()
    this.running = this.check(batch)
      .catch((err) => this.opts.log?.('warn', `checking shared folders: ${(err as Error).message}`))
      .finally(() => {
        this.running = null
      })
    await this.running
  }

  private async check(batch: Map<string, Set<string> | null>): Promise<void> {
    // Indexed files by where they were found, and the names known in each folder (indexed files
    // and watched subfolders), for the folders in this batch: one pass, not one per folder.
    const at = new Map<string, LibraryEntry[]>()
    const known = new Map<string, string[]>()
    const note = (where: string): void => {
      const dir = path.dirname(where)
      if (!batch.has(dir)) return
      const names = known.get(dir)
      if (names) names.push(path.basename(where))
      else known.set(dir, [path.basename(where)])
    }
    for (const e of this.lib.entries()) {
      const where = e.found ?? e.path
      if (!batch.has(path.dirname(where))) continue
      note(where)
      const list = at.get(where)
      if (list) list.push(e)
      else at.set(where, [e])
    }
    for (const d of this.folders.keys()) note(d)
    const io = new PQueue({ concurrency: CHECK_CONCURRENCY })
    for (const [dir, names] of batch) {
      const folder = this.folders.get(dir)
      if (!folder || this.closed) continue
      const st = await fs.stat(dir).catch(() => null)
      if (!st?.isDirectory()) {
        await this.forgetFolder(dir)
        continue
      }
      // Not watched (failed before, or a share folder that was gone and is back): try again.
      if (!folder.watcher) folder.watcher = this.watchDir(dir)
      let list: Iterable<string>
      if (names) list = names
      else {
        list = new Set([...(await fs.readdir(dir).catch(() => [] as string[])), ...(known.get(dir) ?? [])])
      }
      for (const name of list) void io.add(() => this.checkPath(dir, folder, name, at))
    }
    await io.onIdle()
  }

  /** Check `dir`/`name`: its indexed entries, a watched subfolder gone, or a new file or folder. */
  private async checkPath(dir: string, folder: Folder, name: string, at: Map<string, LibraryEntry[]>): Promise<void> {
    const full = path.join(dir, name)
    const st = await fs.lstat(full).catch(() => null)
    const age = st ? Date.now() - st.mtimeMs : Infinity
    if (st?.isFile() && age >= 0 && age < SETTLE_MS) return this.changed(dir, name, SETTLE_MS)
    // A plain file's lstat is the one recheck needs; a link's target is checked by recheck itself.
    for (const e of at.get(full) ?? []) await this.lib.recheck(e, e.found ? undefined : st)
    if (this.folders.has(full) && !st?.isDirectory()) await this.forgetFolder(full)
    const root = folder.root
    if (!root || !st || skippedName(name) || this.closed) return
    if (st.isDirectory()) {
      if (this.folders.has(full)) return
      const found: FoundFile[] = []
      await walkShare(
        root,
        full,
        (f) => found.push(f),
        this.opts.log,
        (d) => this.addFolder(d, root)
      )
      if (!this.closed) this.lib.indexFound(root, found)
      return
    }
    if (!(st.isFile() || st.isSymbolicLink()) || !mediaKind(name) || this.lib.hasPath(full)) return
    const f = await statFile(root, full, st.isSymbolicLink(), this.opts.log)
    if (f && !this.closed && !this.lib.hasPath(f.real)) this.lib.indexFound(root, [f])
  }

  /**
   * `dir` is gone: stop watching it and the folders below, recheck (forget) the files below. A
   * share folder itself stays known, unwatched: the periodic rescan indexes it again if it returns.
   */
  private async forgetFolder(dir: string): Promise<void> {
    for (const [d, f] of this.folders) {
      if (d !== dir && !d.startsWith(dir + path.sep)) continue
      if (f.watcher) {
        f.watcher.close()
        f.watcher = null
        this.watches--
      }
      if (f.root !== d) this.folders.delete(d)
    }
    for (const e of this.lib.entries()) {
      const where = e.found ?? e.path
      if (where.startsWith(dir + path.sep)) await this.lib.recheck(e)
    }
  }
}
