/**
 * The partial file of a download on disk (docs/PROTOCOL.md §4.4): `<name>.p2ptube-part` holds the
 * bytes received so far at their file positions, `<name>.p2ptube-part.json` the map of which byte
 * ranges are present, so a download of the same content id resumes after an interruption. Once
 * the whole file is checked it is moved to its final name, never over an existing file.
 * While a download writes it, `<name>.p2ptube-part.lock` (file-lock.ts) keeps a second download
 * into the same folder, in this process or another, from writing the same partial (ERR_BUSY).
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { P2PTubeError } from '../protocol/errors.ts'
import { tryLock } from './file-lock.ts'
import { RangeSet } from './range-set.ts'

const PART = '.p2ptube-part'
/** How often the chunk map is saved while downloading, ms. */
const STATE_SAVE_MS = 1000

/**
 * Longest final file name, UTF-8 bytes: file systems allow 255, and the partial's suffixes
 * (`.p2ptube-part.json.tmp`, the lock's `.p2ptube-part.lock.<pid>.<random>`) need up to 35 more.
 */
export const MAX_NAME_BYTES = 200

/** `s` cut to at most `max` UTF-8 bytes, never inside a character. */
function cutUtf8(s: string, max: number): string {
  let bytes = 0
  let out = ''
  for (const ch of s) {
    bytes += Buffer.byteLength(ch)
    if (bytes > max) break
    out += ch
  }
  return out
}

/**
 * A file name safe to create in the downloads folder: the last path segment, no control chars,
 * at most MAX_NAME_BYTES UTF-8 bytes (a long name is cut before its extension, which is kept).
 */
export function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? ''
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is replaced
  const clean = base.replace(/[\x00-\x1f\x7f]/g, '_').replace(/^\.+/, '_')
  if (Buffer.byteLength(clean) <= MAX_NAME_BYTES) return clean || 'download'
  const ext = path.extname(clean)
  const keep = Buffer.byteLength(ext) <= 16 ? ext : ''
  return cutUtf8(clean.slice(0, clean.length - keep.length), MAX_NAME_BYTES - Buffer.byteLength(keep)) + keep
}

/** Where the partial file lives and what its chunk map records. */
export interface PartFileOptions {
  /** Folder for the partial and the final file. */
  dir: string
  /** Final file name (already made safe by safeFileName). */
  fileName: string
  /** Name on the holder, saved in the chunk map. */
  name: string
  /** Content id: a chunk map is only resumed for the same one. */
  cid?: string
  /** Holder id, saved in the chunk map. */
  holderId: string
  /** false (legacy downloads): no chunk map is read or written; the file always starts empty. */
  resumable: boolean
  /** File size in bytes when known. */
  size?: number
}

/** The partial file and its chunk map. No I/O happens before open(). */
export class PartFile {
  readonly path: string
  readonly statePath: string
  /** Byte ranges [start, end) present on disk. */
  readonly have = new RangeSet()
  /** File size in bytes, once known (from the caller or a resumed chunk map). */
  size: number | undefined
  private fh: fs.FileHandle | null = null
  private release: (() => Promise<void>) | null = null
  private lastSave = 0
  private saving: Promise<void> = Promise.resolve()

  constructor(private readonly opts: PartFileOptions) {
    this.path = path.join(opts.dir, opts.fileName + PART)
    this.statePath = this.path + '.json'
    this.size = opts.size
  }

  /** The open file handle. @throws P2PTubeError ERR_CLOSED before open() and after close(). */
  get handle(): fs.FileHandle {
    if (!this.fh) throw new P2PTubeError('ERR_CLOSED', 'download file is closed')
    return this.fh
  }

  get isOpen(): boolean {
    return this.fh !== null
  }

  /**
   * Create the folder and open the partial file: resume it when its chunk map is for the same
   * content id (the recorded ranges within the file's length are present), else start empty.
   * Takes the partial's lock first (held until unlock() or close()).
   * @returns true when a chunk map was resumed.
   * @throws P2PTubeError ERR_BUSY when another live process (or download) holds the lock;
   *   ERR_WRITE when the partial cannot be opened (EACCES; ELOOP: a symlink); fs errors of the
   *   folder and the lock.
   */
  async open(): Promise<boolean> {
    await fs.mkdir(this.opts.dir, { recursive: true })
    const lock = await tryLock(this.path + '.lock')
    if ('heldBy' in lock) throw new P2PTubeError('ERR_BUSY', `${this.path} is being written by another download (pid ${lock.heldBy}); wait for it or fetch into another folder`)
    this.release = lock
    try {
      return await this.openLocked()
    } catch (err) {
      await this.unlock()
      throw err
    }
  }

  private async openLocked(): Promise<boolean> {
    let resumed = false
    if (this.opts.resumable) {
      try {
        const st = JSON.parse(await fs.readFile(this.statePath, 'utf8')) as { cid?: string; size?: number; have?: Array<[number, number]> }
        if (st.cid === this.opts.cid && Array.isArray(st.have)) {
          const partSize = (await fs.stat(this.path)).size
          for (const [s, e] of st.have) if (Number.isSafeInteger(s) && Number.isSafeInteger(e) && e <= partSize) this.have.add(s, e)
          if (typeof st.size === 'number') this.size ??= st.size
          resumed = true
        }
      } catch {
        // no usable state: start from zero
      }
    }
    // O_NOFOLLOW: a symlink planted under the partial's name is not followed (ELOOP).
    const { O_RDWR, O_CREAT, O_TRUNC, O_NOFOLLOW } = fs.constants
    try {
      this.fh = await fs.open(this.path, O_RDWR | O_CREAT | O_NOFOLLOW | (resumed ? 0 : O_TRUNC), 0o644)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unknown'
      throw new P2PTubeError('ERR_WRITE', `cannot write ${this.path}: ${code}${code === 'ELOOP' ? ' (it is a symlink: not followed)' : ''}`)
    }
    return resumed
  }

  /**
   * Save the chunk map (throttled to once a second unless `force`); saves never overlap, each
   * replaces the file atomically (write aside, rename). No-op when not resumable or not open.
   * @throws fs errors of the write.
   */
  save(force = false): Promise<void> {
    if (!this.opts.resumable || !this.fh) return Promise.resolve()
    const t = Date.now()
    if (!force && t - this.lastSave < STATE_SAVE_MS) return this.saving
    this.lastSave = t
    const body = JSON.stringify({ cid: this.opts.cid, name: this.opts.name, size: this.size, holder: this.opts.holderId, have: this.have.toJSON() })
    this.saving = this.saving
      .catch(() => {})
      .then(async () => {
        const tmp = this.statePath + '.tmp'
        // Created exclusively: a symlink planted under the temp name is not written through.
        await fs.rm(tmp, { force: true })
        await fs.writeFile(tmp, body, { flag: 'wx' })
        await fs.rename(tmp, this.statePath)
      })
    return this.saving
  }

  /**
   * Write `data` at byte `pos` (the caller marks it present in `have` once written).
   * @throws P2PTubeError ERR_CLOSED; fs errors (ENOSPC...).
   */
  write(data: Buffer, pos: number): Promise<unknown> {
    return this.handle.write(data, 0, data.length, pos)
  }

  /** Read up to `length` bytes at `offset` into `buf` from 0. @returns bytes read. @throws ERR_CLOSED. */
  async readInto(buf: Buffer, length: number, offset: number): Promise<number> {
    return (await this.handle.read(buf, 0, length, offset)).bytesRead
  }

  /** Give the lock back (idempotent): nothing more is written (the download ended). */
  async unlock(): Promise<void> {
    const release = this.release
    this.release = null
    await release?.().catch(() => {})
  }

  /** Close the handle and give the lock back (idempotent; errors ignored: nothing is left to write). */
  async close(): Promise<void> {
    const fh = this.fh
    this.fh = null
    await fh?.close().catch(() => {})
    await this.unlock()
  }

  /** Delete the partial file and its chunk map (after a failed integrity check). */
  async discard(): Promise<void> {
    await fs.rm(this.path, { force: true })
    await fs.rm(this.statePath, { force: true })
  }

  /**
   * Give the complete file its final name, `name.ext` or the first free `name (n).ext`: a hard
   * link that fails when the name exists (a user's file is never overwritten), then the partial
   * name and the chunk map are removed. The open handle stays valid for readers.
   * @returns the final path. @throws fs errors other than EEXIST.
   */
  async moveToFinal(): Promise<string> {
    const { fileName, dir } = this.opts
    const ext = path.extname(fileName)
    const stem = fileName.slice(0, fileName.length - ext.length)
    for (let i = 0; ; i++) {
      const candidate = path.join(dir, i === 0 ? fileName : `${stem} (${i})${ext}`)
      try {
        await fs.link(this.path, candidate) // fails if it exists: never overwrite a user's file
        await fs.rm(this.path)
        await fs.rm(this.statePath, { force: true })
        return candidate
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'ENOENT') throw new P2PTubeError('ERR_BUSY', `${this.path} was removed while this download wrote it (another program or p2ptube without the lock)`)
        if (code !== 'EEXIST') throw err
      }
    }
  }
}
