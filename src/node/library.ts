/**
 * The shared library: folders a user shares, indexed recursively for video, audio and image
 * files, each with a content id (SHA-256 bound to the Merkle root of its pieces, lowercase hex) computed in the
 * background and cached across restarts (docs/PROTOCOL.md §4.3).
 * Only files in this index can ever be served: remote names are looked up here and never
 * used as filesystem paths. Parts: media-kind.ts (which files are media), library-walk.ts (the
 * folder walk), library-watch.ts (the shared folders' watcher), content-ids.ts (hashing, the
 * content id cache file and the piece hash lists).
 *
 * One file (about 435 lines): the index maps (by name, path, content id), the recheck (re-hash or
 * forget, on a failed open or a watcher event) and the warm start's re-validation walk (revalidate:
 * the same re-hash or forget, for every file) must change together; the walk, the watcher, hashing
 * and metadata already live in their own files. Candidate to move out next: the verified piece-list
 * memory (pieceHashes, rememberList), which touches only byCid.
 */
import { EventEmitter } from 'node:events'
import type { Stats } from 'node:fs'
import fs, { type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { P2PTubeError } from '../protocol/errors.ts'
import { hashListMatches, pieceCountOf } from '../protocol/merkle.ts'
import { decodeLegacyName } from '../protocol/messages.ts'
import { ContentIdCache, hashFile } from './content-ids.ts'
import { openIndexed, sameFile } from './indexed-file.ts'
import { FolderWatcher, type FolderWatcherOptions } from './library-watch.ts'
import { cachedFiles, walkShare, type FoundFile } from './library-walk.ts'
import { LibraryMetadata } from './metadata-cache.ts'
import type { MetadataReaderOptions } from './metadata.ts'
import type { MediaMeta } from '../protocol/media-meta.ts'
import { mediaKind, type MediaKind } from './media-kind.ts'

export { hashFile } from './content-ids.ts'
export { mediaKind, type MediaKind } from './media-kind.ts'

/** One shared file. `name` is its path below the share folder, '/'-separated; sizes in bytes. */
export interface LibraryEntry {
  name: string
  /** Absolute real path (symlinks resolved) inside `root`. */
  path: string
  /** Where it was found, when not at `path`: the link it was found through. */
  found?: string
  root: string
  size: number
  mtimeMs: number
  /** Device and inode at indexing (indexed-file.ts: a swapped file is not served). */
  dev?: number
  ino?: number
  kind: MediaKind
  /** SHA-256 content id, once hashed. */
  cid?: string
  /** Tags, duration and format, once read (metadata-cache.ts); undefined when none are known. */
  meta?: MediaMeta
}

/** Library options. `cacheFile`: JSON file of content ids kept across restarts (none = no cache). */
export interface LibraryOptions {
  cacheFile?: string
  /** How tags are read (metadata.ts); false: not at all. Cached in `metadata.json` beside `cacheFile`. */
  metadata?: MetadataReaderOptions | false
  log?: (level: 'info' | 'warn', msg: string) => void
  /** Watch the shared folders (library-watch.ts; default on); false: changes are noticed only when a request fails. */
  watch?: FolderWatcherOptions | false
}

/** Most files indexed per library, to bound memory. */
export const MAX_LIBRARY_FILES = 100_000
/** Bytes of piece hash lists kept in memory once checked against their content id (32 MiB: the lists of 64 GiB of files). */
const VERIFIED_LIST_BYTES = 32 << 20

/**
 * Events: 'added' (LibraryEntry[]: new files, shared or found by the folder watcher), 'hashed' (LibraryEntry), 'idle' (all content ids known),
 * 'removed' (LibraryEntry: deleted or no longer a regular file; no longer searched or served),
 * 'meta' (LibraryEntry[] whose tags became known, from metadata-cache.ts).
 */
export class Library extends EventEmitter {
  private readonly byName = new Map<string, LibraryEntry>()
  private readonly byCid = new Map<string, LibraryEntry>()
  private readonly roots = new Set<string>()
  /** Entries by real path. */
  private readonly paths = new Map<string, LibraryEntry>()
  /** Walks re-validating a share indexed from the cache (addShare `background`). */
  private readonly walks = new Set<Promise<unknown>>()
  /** Content ids and piece hash lists kept across restarts (content-ids.ts). */
  private readonly cids: ContentIdCache
  private readonly queue: LibraryEntry[] = []
  private hashing: Promise<void> | null = null
  private stopped = false
  /** Piece hash lists checked against their content id, most recently used last (HASH serves them without hashing again). */
  private readonly verifiedLists = new Map<string, Buffer>()
  private verifiedBytes = 0
  /** Tags of the entries, read after hashing and cached by content id (metadata-cache.ts); null when off. */
  readonly metadata: LibraryMetadata | null
  /** Watches the shared folders (library-watch.ts); null when off. */
  readonly watcher: FolderWatcher | null

  constructor(private readonly opts: LibraryOptions = {}) {
    super()
    this.cids = new ContentIdCache(opts.cacheFile, opts.log)
    const metaFile = opts.cacheFile ? path.join(path.dirname(opts.cacheFile), 'metadata.json') : undefined
    this.metadata = opts.metadata === false ? null : new LibraryMetadata(this, { ...opts.metadata, cacheFile: metaFile, log: opts.log })
    this.watcher = opts.watch === false ? null : new FolderWatcher(this, { log: opts.log, ...opts.watch })
  }

  /** Folders (real paths) shared so far. */
  get shares(): string[] {
    return [...this.roots]
  }

  /** True while content ids are being computed (an 'idle' event follows). */
  get busy(): boolean {
    return this.hashing !== null || this.queue.length > 0
  }

  /** Number of indexed files. */
  get size(): number {
    return this.byName.size
  }

  /** Every indexed file. */
  entries(): LibraryEntry[] {
    return [...this.byName.values()]
  }

  /**
   * Share a folder (indexed recursively) or a single media file. The files the content id cache
   * knows below a folder are indexed first, from the cache alone (no stat: a warm start of 10,000
   * files is one file read, bench/library.ts); the walk then re-validates them (changed: hashed
   * again; gone: 'removed') and adds new files. With `background` and a warm cache, it returns
   * once the cached files are indexed and the walk goes on (whenHashed() waits for it; served
   * files are checked against their inode at open anyway, indexed-file.ts).
   * @returns the entries newly added (with `background`: those known so far; 'added' tells the rest).
   * @throws P2PTubeError ERR_SHARE_NOT_FOUND when the path does not exist,
   *   ERR_NOT_MEDIA for a single file that is not video/audio/image.
   */
  async addShare(dir: string, opts: { background?: boolean } = {}): Promise<LibraryEntry[]> {
    await Promise.all([this.cids.load(), this.metadata?.load()])
    let real: string
    try {
      real = await fs.realpath(dir)
    } catch {
      throw new P2PTubeError('ERR_SHARE_NOT_FOUND', `cannot share ${dir}: no such file or folder`)
    }
    const st = await fs.stat(real)
    const added: LibraryEntry[] = []
    if (st.isFile()) {
      if (!mediaKind(real)) throw new P2PTubeError('ERR_NOT_MEDIA', `cannot share ${dir}: not a video, audio or image file`)
      const root = path.dirname(real)
      this.roots.add(real)
      const e = this.index(root, real, path.basename(real), st)
      if (e) added.push(e)
      this.watcher?.addFile(real)
    } else {
      this.roots.add(real)
      for (const f of cachedFiles(real, this.cids.below(real))) {
        const e = this.index(real, f.real, f.rel, f)
        if (e) added.push(e)
      }
      const walked = this.revalidate(real, new Set(added))
      if (opts.background && added.length) {
        const w = walked.then(
          (more) => {
            if (more.length) this.emit('added', more)
            this.kick()
          },
          (err: Error) => this.opts.log?.('warn', `cannot walk ${real}: ${err.message}`)
        )
        this.walks.add(w)
        void w.finally(() => this.walks.delete(w))
      } else added.push(...(await walked))
    }
    if (added.length) this.emit('added', added)
    this.kick()
    return added
  }

  /** Is this real path indexed? */
  hasPath(real: string): boolean {
    return this.paths.has(real)
  }

  /** Index media files found below the share `root` by the folder watcher; 'added', then hashed. */
  indexFound(root: string, files: FoundFile[]): void {
    if (this.stopped) return
    const added: LibraryEntry[] = []
    for (const f of files) {
      const e = this.index(root, f.real, f.rel, f, f.at)
      if (e) added.push(e)
    }
    if (added.length) this.emit('added', added)
    this.kick()
  }

  /**
   * Walk a share: new files are indexed, known ones compared with their stat (changed: hashed
   * again), and those of `fromCache` the walk did not find are forgotten ('removed'). Every
   * folder read is handed to the folder watcher.
   * @returns the entries newly added.
   */
  private async revalidate(root: string, fromCache: Set<LibraryEntry>): Promise<LibraryEntry[]> {
    const added: LibraryEntry[] = []
    await walkShare(
      root,
      root,
      (f) => {
        if (this.stopped) return
        const known = this.paths.get(f.real)
        if (!known) {
          const e = this.index(root, f.real, f.rel, f, f.at)
          if (e) added.push(e)
          return
        }
        fromCache.delete(known)
        if (f.at !== f.real && !known.found) known.found = f.at
        if (known.dev === undefined && known.size === f.size && known.mtimeMs === f.mtimeMs) Object.assign(known, { dev: f.dev, ino: f.ino })
        else if (!sameFile(known, { ...f, isFile: () => true })) this.changed(known, f)
      },
      this.opts.log,
      (d) => this.watcher?.addFolder(d, root)
    )
    if (!this.stopped) for (const e of fromCache) this.forget(e)
    return added
  }

  /** An entry's file changed on disk: its content id is dropped and it is hashed again. */
  private changed(e: LibraryEntry, st: { size: number; mtimeMs: number; dev: number; ino: number }): void {
    this.dropCid(e)
    Object.assign(e, { size: st.size, mtimeMs: st.mtimeMs, dev: st.dev, ino: st.ino })
    if (!this.queue.includes(e)) this.queue.push(e)
    this.kick()
  }

  private index(root: string, real: string, rel: string, { size, mtimeMs, dev, ino }: { size: number; mtimeMs: number; dev?: number; ino?: number }, at = real): LibraryEntry | null {
    if (this.byName.size >= MAX_LIBRARY_FILES) return null
    if (this.paths.has(real)) return null
    let name = rel
    if (this.byName.has(name)) name = `${path.basename(root)}/${rel}`
    for (let i = 2; this.byName.has(name); i++) name = `${path.basename(root)}-${i}/${rel}`
    const entry: LibraryEntry = { name, path: real, ...(at !== real ? { found: at } : {}), root, size, mtimeMs, dev, ino, kind: mediaKind(real) as MediaKind }
    this.paths.set(real, entry)
    const cached = this.cids.lookup(real, size, mtimeMs, ino)
    if (cached) {
      entry.cid = cached
      if (!this.byCid.has(cached)) this.byCid.set(cached, entry)
    } else {
      this.queue.push(entry)
    }
    this.byName.set(name, entry)
    return entry
  }

  /** Entry by exact name, or by its legacy percent-encoded form. */
  get(name: string): LibraryEntry | undefined {
    return this.byName.get(name) ?? this.byName.get(decodeLegacyName(name))
  }

  /** Entry by content id. */
  getByCid(cid: string): LibraryEntry | undefined {
    return this.byCid.get(cid)
  }

  /**
   * Multi-word, case-insensitive keyword match on names: every word must occur.
   * @param hashedOnly skip files whose content id is not known yet.
   * @returns at most `limit` entries.
   */
  search(query: string, limit = 100, hashedOnly = false): LibraryEntry[] {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean)
    if (!words.length) return []
    const out: LibraryEntry[] = []
    for (const e of this.byName.values()) {
      const n = e.name.toLowerCase()
      if ((!hashedOnly || e.cid) && words.every((w) => n.includes(w))) {
        out.push(e)
        if (out.length >= limit) break
      }
    }
    return out
  }

  /**
   * The piece hash list of a shared file (32 bytes per PIECE_SIZE piece), checked against its
   * content id (its Merkle root, PROTOCOL.md §4.8) once, then served from memory; else from the
   * cache folder, or computed again from the file.
   * @returns null when no shared file has this content id (any more).
   */
  async pieceHashes(cid: string): Promise<Buffer | null> {
    const e = this.byCid.get(cid)
    const known = this.verifiedLists.get(cid)
    if (known && e) {
      this.verifiedLists.delete(cid) // most recently used last
      this.verifiedLists.set(cid, known)
      return known
    }
    const kept = await this.cids.pieces(cid, e ? pieceCountOf(e.size) * 32 : null)
    if (!e) return kept
    if (kept && hashListMatches(kept, e.size, cid)) return this.rememberList(cid, kept)
    const { cid: again, pieces } = await hashFile(e.path)
    if (again !== cid) return null // changed on disk since indexing
    await this.cids.keepPieces(cid, pieces)
    return this.rememberList(cid, pieces)
  }

  private rememberList(cid: string, list: Buffer): Buffer {
    if (list.length > VERIFIED_LIST_BYTES || this.verifiedLists.has(cid)) return list
    this.verifiedLists.set(cid, list)
    this.verifiedBytes += list.length
    for (const [k, v] of this.verifiedLists) {
      if (this.verifiedBytes <= VERIFIED_LIST_BYTES) break
      this.verifiedLists.delete(k)
      this.verifiedBytes -= v.length
    }
    return list
  }

  /**
   * Share a file whose content id and piece hashes are already known (a finished, verified
   * download: peers seed what they have watched).
   */
  async addVerified(file: string, cid: string, pieces: Buffer | null): Promise<LibraryEntry | null> {
    const real = await fs.realpath(file)
    const st = await fs.stat(real)
    if (!mediaKind(real)) return null
    this.cids.set(real, { size: st.size, mtimeMs: st.mtimeMs, cid, dev: st.dev, ino: st.ino })
    this.roots.add(real)
    const e = this.index(path.dirname(real), real, path.basename(real), st)
    if (!e) return null
    this.watcher?.addFile(real)
    if (pieces) {
      await this.cids.keepPieces(cid, pieces)
      if (hashListMatches(pieces, st.size, cid)) this.rememberList(cid, pieces)
    }
    this.emit('added', [e])
    void this.cids.save()
    return e
  }

  /**
   * Open a shared file for serving (indexed-file.ts: no symlink, the same file as indexed). A
   * file that fails is rechecked: forgotten when gone, re-hashed when changed.
   * @throws P2PTubeError ERR_READ, ERR_FILE_CHANGED.
   */
  async open(e: LibraryEntry): Promise<FileHandle> {
    try {
      return await openIndexed(e)
    } catch (err) {
      void this.recheck(e)
      throw err
    }
  }

  /**
   * Compare an entry with its file: gone or not a regular file (a symlink now) → forgotten
   * ('removed'); changed (size, mtime, inode) → its content id is dropped and it is hashed again
   * ('hashed' with the new id). Unchanged: nothing.
   * @param lstat the file's lstat when the caller has just taken it (null: it is gone).
   */
  async recheck(e: LibraryEntry, lstat?: Stats | null): Promise<void> {
    if (this.byName.get(e.name) !== e) return
    let st = lstat !== undefined ? lstat : await fs.lstat(e.path).catch(() => null)
    // Found through a link: the link must still lead to the indexed file.
    if (st && e.found && (await fs.realpath(e.found).catch(() => null)) !== e.path) st = null
    if (st && sameFile(e, st)) return
    if (this.byName.get(e.name) !== e) return
    if (!st?.isFile()) this.forget(e)
    else this.changed(e, st)
  }

  /** Drop `e`'s content id; another entry with the same content (a copy) takes its place in byCid. */
  private dropCid(e: LibraryEntry): void {
    const cid = e.cid
    delete e.cid
    if (!cid || this.byCid.get(cid) !== e) return
    this.byCid.delete(cid)
    for (const other of this.byName.values()) {
      if (other.cid === cid) {
        this.byCid.set(cid, other)
        break
      }
    }
  }

  /** Forget `e` (gone, or no longer hashable): no longer searched, served or announced. */
  private forget(e: LibraryEntry): void {
    if (this.byName.get(e.name) !== e) return
    this.dropCid(e)
    this.byName.delete(e.name)
    this.paths.delete(e.path)
    const q = this.queue.indexOf(e)
    if (q >= 0) this.queue.splice(q, 1)
    this.emit('removed', e)
  }

  /** Resolves when every indexed file has its content id. */
  async whenHashed(): Promise<void> {
    while (this.hashing || this.walks.size) await Promise.all([this.hashing, ...this.walks])
  }

  /** Stop background hashing after the current file. */
  async stop(): Promise<void> {
    this.stopped = true
    this.queue.length = 0
    await this.watcher?.close()
    await Promise.all([this.hashing, ...this.walks])
    await this.cids.flushed()
    await this.metadata?.stop()
  }

  private kick(): void {
    if (this.hashing || !this.queue.length || this.stopped) return
    this.hashing = (async () => {
      while (this.queue.length && !this.stopped) {
        const e = this.queue.shift() as LibraryEntry
        if (this.byName.get(e.name) !== e) continue // forgotten while queued
        try {
          const { cid, pieces } = await hashFile(e.path)
          if (this.byName.get(e.name) !== e) continue // forgotten while hashed
          e.cid = cid
          await this.cids.keepPieces(cid, pieces)
          this.rememberList(cid, pieces)
          if (!this.byCid.has(cid)) this.byCid.set(cid, e)
          this.cids.set(e.path, { size: e.size, mtimeMs: e.mtimeMs, cid, dev: e.dev, ino: e.ino })
          this.emit('hashed', e)
        } catch (err) {
          this.opts.log?.('warn', `cannot hash ${e.path}: ${(err as Error).message}`)
          this.forget(e)
        }
      }
      await this.cids.save()
    })().finally(() => {
      this.hashing = null
      if (!this.queue.length) this.emit('idle')
      else this.kick()
    })
  }
}
