/**
 * The library's metadata: read once per content id (metadata.ts), kept in a JSON file beside the
 * content id cache (`metadata.json`: `{ version: 1, entries: { <cid>: { meta?, cover? } } }`), so
 * a restart reads no tags, and set on each LibraryEntry as `meta`. Metadata is a function of the
 * content, so the cache is keyed by content id alone: a file unchanged on disk (same path, size,
 * mtime) keeps its content id (content-ids.ts) and so its metadata; a moved or copied file finds
 * its metadata too. Writes merge with what is on disk, so two p2ptube processes on one machine
 * (a node and a one-shot fetch) never drop each other's entries.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { PictureCache } from './metadata-pictures.ts'
import { writeFileAtomic } from './atomic-file.ts'
import { toMediaMeta, type MediaMeta } from '../protocol/media-meta.ts'
import type { EventEmitter } from 'node:events'
import type { MediaKind } from './media-kind.ts'
import type { MetadataReaderOptions } from './metadata.ts'
import { sharedMetadataWorker, type MetadataWorker } from './metadata-worker.ts'

/** One cache record: the metadata of a content id, and whether the file embeds a picture. */
export interface MetaRecord {
  meta?: MediaMeta
  cover?: true
  /** A photo read for its EXIF date and size (records of photos without it are from before: read again). */
  exif?: true
}

/** A cache save is delayed this long after a read so a scan writes the file a few times, not per file; ms. */
const SAVE_DELAY_MS = 2_000

/**
 * Metadata records by content id, in memory and (with `file`) on disk. Write errors are logged,
 * never thrown: a lost cache only means reading tags again.
 */
export class MetadataCache {
  private readonly records = new Map<string, MetaRecord>()
  private loading: Promise<void> | null = null
  private writing: Promise<void> = Promise.resolve()

  constructor(
    private readonly file: string | undefined,
    private readonly log?: (level: 'warn', msg: string) => void
  ) {}

  /** Read the cache file once; a missing or unreadable file is an empty cache. Never rejects. */
  load(): Promise<void> {
    this.loading ??= this.readFile().then((m) => {
      for (const [cid, r] of m) if (!this.records.has(cid)) this.records.set(cid, r)
    })
    return this.loading
  }

  private async readFile(): Promise<Map<string, MetaRecord>> {
    const out = new Map<string, MetaRecord>()
    if (!this.file) return out
    let data: { entries?: Record<string, unknown> }
    try {
      data = JSON.parse(await fs.readFile(this.file, 'utf8')) as typeof data
    } catch {
      return out // no cache yet, or unreadable: read the tags again
    }
    for (const [cid, r] of Object.entries(data.entries ?? {})) {
      if (!/^[0-9a-f]{8,128}$/.test(cid) || typeof r !== 'object' || r === null) continue
      const meta = toMediaMeta((r as MetaRecord).meta)
      out.set(cid, { ...(meta ? { meta } : {}), ...((r as MetaRecord).cover === true ? { cover: true } : {}), ...((r as MetaRecord).exif === true ? { exif: true } : {}) })
    }
    return out
  }

  get(cid: string): MetaRecord | undefined {
    return this.records.get(cid)
  }

  set(cid: string, r: MetaRecord): void {
    this.records.set(cid, r)
  }

  /** Resolves when no cache write is in flight. Never rejects. */
  flushed(): Promise<void> {
    return this.writing
  }

  /** Records held. */
  get size(): number {
    return this.records.size
  }

  /**
   * Write the cache file: what is on disk now (another process may have added to it) merged
   * with this cache, written aside and renamed. Writes never overlap. Never rejects.
   */
  save(): Promise<void> {
    const file = this.file
    if (!file) return Promise.resolve()
    this.writing = this.writing.then(async () => {
      try {
        const merged = await this.readFile()
        for (const [cid, r] of this.records) merged.set(cid, r)
        await writeFileAtomic(file, JSON.stringify({ version: 1, entries: Object.fromEntries(merged) }))
      } catch (err) {
        this.log?.('warn', `cannot write the metadata cache ${file}: ${(err as Error).message}`)
      }
    })
    return this.writing
  }
}

/** What LibraryMetadata needs of a library entry (a LibraryEntry; kept structural so library.ts and this file do not import each other). */
export interface MetaTarget {
  name: string
  path: string
  size: number
  kind: MediaKind
  cid?: string
  meta?: MediaMeta
}
type LibraryEntry = MetaTarget

/** Options of LibraryMetadata. `cacheFile`: the metadata cache file (none: memory only). */
export interface LibraryMetadataOptions extends MetadataReaderOptions {
  cacheFile?: string
  /** ffmpeg for the pictures (metadata-pictures.ts; null: none; default 'ffmpeg' on PATH). */
  ffmpeg?: string | null
  /** The thread that reads tags (default: the process's one, sharedMetadataWorker). */
  reader?: MetadataWorker
  log?: (level: 'info' | 'warn', msg: string) => void
}

/** What LibraryMetadata follows: a Library's events ('added', 'hashed', 'idle') and whether it is hashing. */
export interface MetaSource extends EventEmitter {
  readonly busy: boolean
}

/**
 * Keeps `meta` on every entry of a library with a content id: from the cache at once, else read
 * in the background on a worker thread (metadata-worker.ts: one file at a time, started only
 * when a file is missing from the cache, and only while the library is not hashing), so tags
 * never delay serving. Events of the library it follows: 'added' (entries whose content id was
 * cached), 'hashed', and 'idle' (hashing done: reading may start). Emits 'meta' (LibraryEntry[]
 * that got their tags) on the library it follows; `idle()` resolves when every known entry has
 * been looked at.
 */
export class LibraryMetadata {
  readonly cache: MetadataCache
  /** Poster frames, covers and photo thumbnails, made on request and cached in `thumbs/` beside the cache file. */
  readonly pictures: PictureCache
  private readonly queue: LibraryEntry[] = []
  private running = false
  private readonly reader: MetadataWorker
  private stopped = false
  /** Aborted by stop(): drops this library's read waiting in the shared worker. */
  private readonly abort = new AbortController()
  private saveTimer: NodeJS.Timeout | null = null
  /** Records read since the last save. */
  private dirty = false
  private waiters: Array<() => void> = []
  /** Files whose tags were read (cache misses), for tests and the bench. */
  readCount = 0

  constructor(
    private readonly library: MetaSource,
    private readonly opts: LibraryMetadataOptions = {}
  ) {
    this.cache = new MetadataCache(opts.cacheFile, opts.log)
    this.pictures = new PictureCache({ ffmpeg: opts.ffmpeg, dir: opts.cacheFile ? path.join(path.dirname(opts.cacheFile), 'thumbs') : undefined })
    this.reader = opts.reader ?? sharedMetadataWorker()
    library.on('added', (es: LibraryEntry[]) => this.take(es.filter((e) => e.cid)))
    library.on('hashed', (e: LibraryEntry) => this.take([e]))
    library.on('idle', () => this.pump())
  }

  /** Load the cache file (call before the library indexes, so cached entries get `meta` at once). */
  load(): Promise<void> {
    return this.cache.load()
  }

  private take(es: LibraryEntry[]): void {
    if (this.stopped || !es.length) return
    // The cache may still be loading (a share added before load()): look once it is in.
    void this.cache.load().then(() => {
      const got: LibraryEntry[] = []
      for (const e of es) {
        const r = this.cache.get(e.cid as string)
        if (!r || (e.kind === 'image' && !r.exif)) this.queue.push(e)
        else if ((e.meta = r.meta)) got.push(e)
      }
      if (got.length) this.library.emit('meta', got)
      this.pump()
    })
  }

  private pump(): void {
    // Reading waits for hashing to end ('idle' pumps again): both would read the disk at once.
    if (!this.running && this.queue.length && !this.stopped && !this.library.busy) {
      const e = this.queue.shift() as LibraryEntry
      this.running = true
      void this.read(e).finally(() => {
        this.running = false
        this.pump()
      })
    }
    if (!this.running && !this.queue.length) for (const w of this.waiters.splice(0)) w()
  }

  private async read(e: LibraryEntry): Promise<void> {
    const cid = e.cid as string
    const hit = this.cache.get(cid)
    if (hit && (e.kind !== 'image' || hit.exif)) {
      e.meta = hit.meta
      return
    }
    const r = await this.reader.read(e.path, e.kind, e.size, this.opts, this.abort.signal)
    if (this.stopped) return
    this.readCount++
    if (r.warnings.length) this.opts.log?.('info', `metadata of ${e.name}: ${r.warnings.join('; ')}`)
    const rec: MetaRecord = { ...(r.meta ? { meta: r.meta } : {}), ...(r.cover ? { cover: true } : {}), ...(e.kind === 'image' ? { exif: true as const } : {}) }
    this.cache.set(cid, rec)
    e.meta = rec.meta
    if (e.meta) this.library.emit('meta', [e])
    this.dirty = true
    this.scheduleSave()
  }

  private scheduleSave(): void {
    if (this.saveTimer || this.stopped) return
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null
      this.dirty = false
      void this.cache.save()
    }, SAVE_DELAY_MS)
    this.saveTimer.unref()
  }

  /** Resolves when no entry waits for its metadata (the library may still be hashing). */
  async idle(): Promise<void> {
    await this.cache.load()
    if (this.running || this.queue.length) await new Promise<void>((resolve) => this.waiters.push(resolve))
  }

  /** Stop reading (a read waiting in the worker is dropped; one in progress is not waited for), and write the cache. Never rejects. */
  async stop(): Promise<void> {
    this.stopped = true
    this.queue.length = 0
    this.abort.abort()
    if (this.saveTimer) clearTimeout(this.saveTimer)
    this.saveTimer = null
    for (const w of this.waiters.splice(0)) w()
    // Also waits for a save the timer started: nothing is written into the state folder after stop().
    await (this.dirty ? this.cache.save() : this.cache.flushed())
  }
}
