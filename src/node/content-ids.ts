/**
 * Content ids of shared files (docs/PROTOCOL.md §4.5, §4.8): hashFile computes the SHA-256 of each
 * PIECE_SIZE piece and the content id bound to their Merkle root (protocol/merkle.ts);
 * ContentIdCache keeps content ids across restarts in one JSON file, and the piece hash lists in
 * a `pieces/` folder beside it (in memory without a cache file). A cache file of an older
 * content-id format (version 1: the plain SHA-256 of the file) is ignored: every id is computed
 * again, and the old piece lists are removed.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { PIECE_SIZE } from '../protocol/constants.ts'
import { contentIdOf, merkleRoot } from '../protocol/merkle.ts'

/** Format of the cache file and of the content ids in it (2: Merkle-bound ids, PROTOCOL.md §9). */
const CACHE_VERSION = 2

/** Bytes read at a time by hashFile (whole pieces). */
const HASH_READ = 16 * PIECE_SIZE

/**
 * The SHA-256 of each PIECE_SIZE piece of a file, in one pass of 1 MiB reads into one reused
 * buffer (flat memory apart from the piece list: 32 bytes per 64 KiB; a new buffer per read, as a
 * read stream makes, left ~40 MB of a 1 GiB file's reads in the process's RSS), and the content
 * id bound to their Merkle root and the size read. Each byte is hashed once.
 * @returns cid: 64 lowercase hex digits; pieces: the piece hashes concatenated (PROTOCOL.md §4.8).
 * @throws the open or read error.
 */
export async function hashFile(file: string): Promise<{ cid: string; pieces: Buffer }> {
  const fh = await fs.open(file, 'r')
  try {
    const buf = Buffer.allocUnsafeSlow(HASH_READ)
    const pieces: Buffer[] = []
    let size = 0
    for (;;) {
      // Fill the buffer (a short read mid-file is not the end): pieces then start at its start.
      let got = 0
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, size + got)
        if (bytesRead === 0) break
        got += bytesRead
      }
      for (let o = 0; o < got; o += PIECE_SIZE)
        pieces.push(
          createHash('sha256')
            .update(buf.subarray(o, Math.min(o + PIECE_SIZE, got)))
            .digest()
        )
      size += got
      if (got < buf.length) break
    }
    const list = Buffer.concat(pieces)
    return { cid: contentIdOf(merkleRoot(list), size), pieces: list }
  } finally {
    await fh.close()
  }
}

/** The content id of a file as it was when hashed (size in bytes, mtime in ms). */
export interface CacheRecord {
  size: number
  mtimeMs: number
  cid: string
  /** Device and inode when hashed (absent in older cache files: not compared); a warm start serves the file only as that inode. */
  dev?: number
  ino?: number
}

/**
 * Content ids by real path, valid while size and mtime are unchanged, and piece hash lists by
 * content id. `file`: the JSON cache file (`{ version: 2, entries: { path: CacheRecord } }`);
 * without one nothing is persisted. Write errors are logged, never thrown: a lost cache only
 * means hashing again.
 */
export class ContentIdCache {
  private readonly records = new Map<string, CacheRecord>()
  private readonly pieceMemory = new Map<string, Buffer>()
  private loaded = false
  private writing: Promise<void> = Promise.resolve()

  constructor(
    private readonly file: string | undefined,
    private readonly log?: (level: 'warn', msg: string) => void
  ) {}

  /** Read the cache file once (later calls do nothing); a missing or unreadable file is an empty cache. */
  async load(): Promise<void> {
    if (this.loaded || !this.file) return
    this.loaded = true
    try {
      const data = JSON.parse(await fs.readFile(this.file, 'utf8')) as { version?: number; entries?: Record<string, CacheRecord> }
      if (data.version !== CACHE_VERSION) {
        // Content ids of another format: hash every file again; its piece lists are of no use.
        await fs.rm(path.join(path.dirname(this.file), 'pieces'), { recursive: true, force: true })
        return
      }
      for (const [p, r] of Object.entries(data.entries ?? {})) {
        if (typeof r?.cid === 'string' && /^[0-9a-f]{64}$/.test(r.cid)) this.records.set(p, r)
      }
    } catch {
      // no cache yet, or unreadable: hash again
    }
  }

  /** The content id of `realPath` when it still has this size, mtime and inode, else undefined. */
  lookup(realPath: string, size: number, mtimeMs: number, ino?: number): string | undefined {
    const r = this.records.get(realPath)
    return r && r.size === size && r.mtimeMs === mtimeMs && (r.ino === undefined || ino === undefined || r.ino === ino) ? r.cid : undefined
  }

  /** Every record whose real path lies below the folder `root` (a real path), in the order they were recorded. */
  *below(root: string): Generator<[string, CacheRecord]> {
    const prefix = root.endsWith(path.sep) ? root : root + path.sep
    for (const [p, r] of this.records) if (p.startsWith(prefix)) yield [p, r]
  }

  set(realPath: string, record: CacheRecord): void {
    this.records.set(realPath, record)
  }

  /** Write the cache file (atomically: aside, then rename); writes never overlap. Never rejects. */
  save(): Promise<void> {
    const file = this.file
    if (!file) return Promise.resolve()
    this.writing = this.writing.then(async () => {
      const tmp = `${file}.${process.pid}.tmp`
      try {
        await fs.mkdir(path.dirname(file), { recursive: true })
        await fs.writeFile(tmp, JSON.stringify({ version: CACHE_VERSION, entries: Object.fromEntries(this.records) }))
        await fs.rename(tmp, file)
      } catch (err) {
        this.log?.('warn', `cannot write the content id cache ${file}: ${(err as Error).message}`)
      }
    })
    return this.writing
  }

  /** Resolves once the writes started so far are done. */
  flushed(): Promise<void> {
    return this.writing
  }

  private piecePath(cid: string): string | null {
    return this.file ? path.join(path.dirname(this.file), 'pieces', cid) : null
  }

  /** Keep the piece hash list of `cid` (on disk beside the cache file, else or on error in memory). */
  async keepPieces(cid: string, pieces: Buffer): Promise<void> {
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
   * The kept piece hash list of `cid`: from memory, or from disk when it has `length` bytes
   * (`length` null: memory only). Null when not kept.
   */
  async pieces(cid: string, length: number | null): Promise<Buffer | null> {
    const mem = this.pieceMemory.get(cid)
    if (mem) return mem
    const file = this.piecePath(cid)
    if (!file || length === null) return null
    const b = await fs.readFile(file).catch(() => null)
    return b && b.length === length ? b : null
  }
}
