/**
 * The shared library: folders a user shares, indexed recursively for video, audio and image
 * files, each with a content id (SHA-256 of its bytes, lowercase hex) computed in the
 * background and cached across restarts (docs/PROTOCOL.md §4.3).
 * Only files in this index can ever be served: remote names are looked up here and never
 * used as filesystem paths.
 */
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { PIECE_SIZE } from '../protocol/constants.ts'
import { P2PTubeError } from '../protocol/errors.ts'
import { decodeLegacyName } from '../protocol/messages.ts'

/** What a file is, from its extension. */
export type MediaKind = 'video' | 'audio' | 'image'

const KINDS: Record<string, MediaKind> = {}
for (const e of ['mp4', 'm4v', 'mkv', 'webm', 'avi', 'mov', 'ogv', 'mpg', 'mpeg', 'ts', 'flv', 'wmv', '3gp']) KINDS[e] = 'video'
for (const e of ['mp3', 'ogg', 'oga', 'opus', 'flac', 'wav', 'm4a', 'aac', 'wma']) KINDS[e] = 'audio'
for (const e of ['jpg', 'jpeg', 'png', 'gif', 'webp', 'bmp', 'svg']) KINDS[e] = 'image'

/** Kind of a file name by extension, or null when it is not media. */
export function mediaKind(name: string): MediaKind | null {
  return KINDS[path.extname(name).slice(1).toLowerCase()] ?? null
}

/** One shared file. `name` is its path below the share folder, '/'-separated; sizes in bytes. */
export interface LibraryEntry {
  name: string
  /** Absolute real path (symlinks resolved) inside `root`. */
  path: string
  root: string
  size: number
  mtimeMs: number
  kind: MediaKind
  /** SHA-256 content id, once hashed. */
  cid?: string
}

interface CacheRecord {
  size: number
  mtimeMs: number
  cid: string
}

/** Library options. `cacheFile`: JSON file of content ids kept across restarts (none = no cache). */
export interface LibraryOptions {
  cacheFile?: string
  log?: (level: 'info' | 'warn', msg: string) => void
}

/** Most files indexed per library, to bound memory. */
export const MAX_LIBRARY_FILES = 100_000

/**
 * Events: 'added' (LibraryEntry[]), 'hashed' (LibraryEntry), 'idle' (all content ids known).
 */
export class Library extends EventEmitter {
  private readonly byName = new Map<string, LibraryEntry>()
  private readonly byCid = new Map<string, LibraryEntry>()
  private readonly roots = new Set<string>()
  private readonly paths = new Set<string>()
  private cache = new Map<string, CacheRecord>()
  private cacheLoaded = false
  private readonly queue: LibraryEntry[] = []
  private hashing: Promise<void> | null = null
  private cacheWrite: Promise<void> = Promise.resolve()
  private stopped = false

  constructor(private readonly opts: LibraryOptions = {}) {
    super()
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
   * Share a folder (indexed recursively) or a single media file.
   * @returns the entries newly added.
   * @throws P2PTubeError ERR_SHARE_NOT_FOUND when the path does not exist,
   *   ERR_NOT_MEDIA for a single file that is not video/audio/image.
   */
  async addShare(dir: string): Promise<LibraryEntry[]> {
    await this.loadCache()
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
      const e = this.index(root, real, path.basename(real), st.size, st.mtimeMs)
      if (e) added.push(e)
    } else {
      this.roots.add(real)
      await this.walk(real, real, added)
    }
    if (added.length) this.emit('added', added)
    this.kick()
    return added
  }

  private async walk(root: string, dir: string, added: LibraryEntry[]): Promise<void> {
    let items: import('node:fs').Dirent[]
    try {
      items = await fs.readdir(dir, { withFileTypes: true })
    } catch (err) {
      this.opts.log?.('warn', `cannot read ${dir}: ${(err as Error).message}`)
      return
    }
    for (const it of items) {
      if (it.name.startsWith('.') || it.name.endsWith('.p2ptube-part') || it.name.endsWith('.p2ptube-part.json')) continue
      const full = path.join(dir, it.name)
      if (it.isDirectory()) {
        await this.walk(root, full, added)
      } else if ((it.isFile() || it.isSymbolicLink()) && mediaKind(it.name)) {
        // Resolve links and keep only files that really are inside the share (Syncthing rejects
        // paths that escape the folder; so do we).
        let real: string
        try {
          real = await fs.realpath(full)
        } catch {
          continue
        }
        if (real !== full && !real.startsWith(root + path.sep)) {
          this.opts.log?.('warn', `not sharing ${full}: it links outside ${root}`)
          continue
        }
        const st = await fs.stat(real).catch(() => null)
        if (!st?.isFile()) continue
        const e = this.index(root, real, path.relative(root, full).split(path.sep).join('/'), st.size, st.mtimeMs)
        if (e) added.push(e)
      }
    }
  }

  private index(root: string, real: string, rel: string, size: number, mtimeMs: number): LibraryEntry | null {
    if (this.byName.size >= MAX_LIBRARY_FILES) return null
    if (this.paths.has(real)) return null
    this.paths.add(real)
    let name = rel
    if (this.byName.has(name)) name = `${path.basename(root)}/${rel}`
    for (let i = 2; this.byName.has(name); i++) name = `${path.basename(root)}-${i}/${rel}`
    const entry: LibraryEntry = { name, path: real, root, size, mtimeMs, kind: mediaKind(real) as MediaKind }
    const cached = this.cache.get(real)
    if (cached && cached.size === size && cached.mtimeMs === mtimeMs) {
      entry.cid = cached.cid
      this.byCid.set(cached.cid, entry)
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

  private readonly pieceMemory = new Map<string, Buffer>()

  private piecePath(cid: string): string | null {
    return this.opts.cacheFile ? path.join(path.dirname(this.opts.cacheFile), 'pieces', cid) : null
  }

  private async keepPieces(cid: string, pieces: Buffer): Promise<void> {
    const file = this.piecePath(cid)
    if (!file) {
      this.pieceMemory.set(cid, pieces)
      return
    }
    try {
      await fs.mkdir(path.dirname(file), { recursive: true })
      await fs.writeFile(file + '.tmp', pieces)
      await fs.rename(file + '.tmp', file)
    } catch {
      this.pieceMemory.set(cid, pieces)
    }
  }

  /**
   * The piece hash list of a shared file (32 bytes per PIECE_SIZE piece), from memory, the cache
   * folder, or computed again from the file.
   * @returns null when no shared file has this content id (any more).
   */
  async pieceHashes(cid: string): Promise<Buffer | null> {
    const mem = this.pieceMemory.get(cid)
    if (mem) return mem
    const e = this.byCid.get(cid)
    if (!e) return null
    const file = this.piecePath(cid)
    if (file) {
      const b = await fs.readFile(file).catch(() => null)
      if (b && b.length === Math.ceil(e.size / PIECE_SIZE) * 32) return b
    }
    const { cid: again, pieces } = await hashFile(e.path)
    if (again !== cid) return null // changed on disk since indexing
    await this.keepPieces(cid, pieces)
    return pieces
  }

  /**
   * Share a file whose content id and piece hashes are already known (a finished, verified
   * download: peers seed what they have watched).
   */
  async addVerified(file: string, cid: string, pieces: Buffer | null): Promise<LibraryEntry | null> {
    const real = await fs.realpath(file)
    const st = await fs.stat(real)
    if (!mediaKind(real)) return null
    this.cache.set(real, { size: st.size, mtimeMs: st.mtimeMs, cid })
    this.roots.add(real)
    const e = this.index(path.dirname(real), real, path.basename(real), st.size, st.mtimeMs)
    if (!e) return null
    if (pieces) await this.keepPieces(cid, pieces)
    this.emit('added', [e])
    void this.saveCache()
    return e
  }

  /** Resolves when every indexed file has its content id. */
  async whenHashed(): Promise<void> {
    while (this.hashing) await this.hashing
  }

  /** Stop background hashing after the current file. */
  async stop(): Promise<void> {
    this.stopped = true
    this.queue.length = 0
    await this.hashing
    await this.cacheWrite
  }

  private kick(): void {
    if (this.hashing || !this.queue.length || this.stopped) return
    this.hashing = (async () => {
      while (this.queue.length && !this.stopped) {
        const e = this.queue.shift() as LibraryEntry
        try {
          const { cid, pieces } = await hashFile(e.path)
          e.cid = cid
          await this.keepPieces(cid, pieces)
          this.byCid.set(e.cid, e)
          this.cache.set(e.path, { size: e.size, mtimeMs: e.mtimeMs, cid: e.cid })
          this.emit('hashed', e)
        } catch (err) {
          this.opts.log?.('warn', `cannot hash ${e.path}: ${(err as Error).message}`)
          this.byName.delete(e.name)
          this.paths.delete(e.path)
        }
      }
      await this.saveCache()
    })().finally(() => {
      this.hashing = null
      if (!this.queue.length) this.emit('idle')
      else this.kick()
    })
  }

  private async loadCache(): Promise<void> {
    if (this.cacheLoaded || !this.opts.cacheFile) return
    this.cacheLoaded = true
    try {
      const data = JSON.parse(await fs.readFile(this.opts.cacheFile, 'utf8')) as { entries?: Record<string, CacheRecord> }
      for (const [p, r] of Object.entries(data.entries ?? {})) {
        if (typeof r?.cid === 'string' && /^[0-9a-f]{64}$/.test(r.cid)) this.cache.set(p, r)
      }
    } catch {
      // no cache yet, or unreadable: hash again
    }
  }

  private saveCache(): Promise<void> {
    const file = this.opts.cacheFile
    if (!file) return Promise.resolve()
    this.cacheWrite = this.cacheWrite.then(async () => {
      const tmp = `${file}.${process.pid}.tmp`
      try {
        await fs.mkdir(path.dirname(file), { recursive: true })
        await fs.writeFile(tmp, JSON.stringify({ version: 1, entries: Object.fromEntries(this.cache) }))
        await fs.rename(tmp, file)
      } catch (err) {
        this.opts.log?.('warn', `cannot write the content id cache ${file}: ${(err as Error).message}`)
      }
    })
    return this.cacheWrite
  }
}

/**
 * SHA-256 of a file and of each of its PIECE_SIZE pieces, in one streamed pass (1 MiB reads,
 * flat memory apart from the piece list: 32 bytes per 64 KiB).
 * @returns cid: 64 lowercase hex digits; pieces: the piece hashes concatenated (PROTOCOL.md §4.8).
 * @throws the read error.
 */
export async function hashFile(file: string): Promise<{ cid: string; pieces: Buffer }> {
  const h = createHash('sha256')
  const pieces: Buffer[] = []
  let piece = createHash('sha256')
  let inPiece = 0
  for await (const c of createReadStream(file, { highWaterMark: 1 << 20 })) {
    const chunk = c as Buffer
    h.update(chunk)
    for (let i = 0; i < chunk.length;) {
      const n = Math.min(PIECE_SIZE - inPiece, chunk.length - i)
      piece.update(chunk.subarray(i, i + n))
      inPiece += n
      i += n
      if (inPiece === PIECE_SIZE) {
        pieces.push(piece.digest())
        piece = createHash('sha256')
        inPiece = 0
      }
    }
  }
  if (inPiece > 0) pieces.push(piece.digest())
  return { cid: h.digest('hex'), pieces: Buffer.concat(pieces) }
}
