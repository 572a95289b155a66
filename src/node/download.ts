/**
 * One download: fetches a file from a holder into `<name>.p2ptube-part`, keeps a chunk map in
 * `<name>.p2ptube-part.json` so it resumes after an interruption, checks the SHA-256 against the
 * content id and only then moves the file to its final name (docs/PROTOCOL.md §4.4, §4.7).
 * Memory stays flat: data is written as it arrives, in batches of one socket read.
 *
 * From p2ptube holders it runs a Swarm: RGET runs of 64 KiB pieces from every holder, each piece
 * checked against the hash list before it is written (§4.8), the player's read position first;
 * SHA-256 work runs on a worker thread. From a legacy holder it uses FGET and takes the REPL
 * frames in order, however large each is (the original btpeer sends the whole file in one frame).
 */
import { createHash, type Hash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import fs from 'node:fs/promises'
import path from 'node:path'
import { exchange, type Endpoint } from '../net/client.ts'
import type { Transport } from '../net/transport.ts'
import { MAX_ERROR_REPLY, MAX_FILE_SIZE, MSG, PIECE_SIZE } from '../protocol/constants.ts'
import { AbortError, IntegrityError, P2PTubeError, ProtocolError, RemoteError } from '../protocol/errors.ts'
import type { FramePolicy } from '../protocol/frame.ts'
import { HashWorker } from './hash-worker.ts'
import { RangeSet } from './range-set.ts'
import { BATCH_PIECES, Swarm } from './swarm.ts'

/** Lifecycle of a download. */
export type DownloadState = 'queued' | 'downloading' | 'verifying' | 'done' | 'failed' | 'cancelled'

/** What to fetch and from whom. Sizes in bytes, times in ms. */
export interface DownloadOptions {
  /** File name on the holder (as in search results). */
  name: string
  /** Content id (SHA-256 hex); required for a p2ptube holder, unknown for a legacy one. */
  cid?: string
  size?: number
  holder: Endpoint & { id: string }
  /** true: the holder is a legacy btpeer peer (FGET, no ranges, no content id). */
  legacy: boolean
  /** Folder for the partial and the final file. */
  dir: string
  connectTimeoutMs?: number
  idleTimeoutMs?: number
  /** How holders are dialled (group members: mutual TLS); default plain TCP. */
  transport?: Transport
  /** Shared SHA-256 worker (one per node); a private one is made when absent. */
  hasher?: HashWorker
}

/** Result of a finished download. */
export interface DownloadResult {
  path: string
  sha256: string
  size: number
}

const PART = '.p2ptube-part'
/** Outstanding positional writes before reading from the socket pauses. */
const MAX_PENDING_WRITES = 4
/** Batch buffers (1 MiB each) kept for reuse. */
const MAX_POOLED_BATCHES = 12
/** How often the chunk map is saved while downloading, ms. */
const STATE_SAVE_MS = 1000

/** A file name safe to create in the downloads folder: the last path segment, no control chars. */
export function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? ''
  const clean = base.replace(/[\x00-\x1f\x7f]/g, '_').replace(/^\.+/, '_')
  return clean.slice(0, 200) || 'download'
}

/**
 * Events: 'state' (DownloadState), 'progress' ({ received, size }), 'data' (offset, length:
 * bytes just written), 'done' (DownloadResult), 'error' is NOT emitted: start() rejects.
 */
export class Download extends EventEmitter {
  state: DownloadState = 'queued'
  readonly name: string
  readonly fileName: string
  readonly partPath: string
  size: number | undefined
  readonly have: RangeSet
  result: DownloadResult | undefined
  error: Error | undefined
  /** Bytes received since start (not counting resumed bytes). */
  receivedThisRun = 0
  startedAt = 0

  /** The p2ptube holders and the piece scheduler (null for a legacy download). */
  readonly swarm: Swarm | null
  private fh: fs.FileHandle | null = null
  /** Main-thread hash for legacy downloads (no pieces, no worker round trips needed). */
  private hash: Hash = createHash('sha256')
  private hashPos = 0
  private readonly hasher: HashWorker
  private readonly ownHasher: boolean
  private readonly hashKey = `${process.pid}:${Math.random()}`
  private readonly cancelAbort = new AbortController()
  private waiters: Array<{ offset: number; resolve: () => void; reject: (e: Error) => void }> = []
  private lastSave = 0
  private running: Promise<DownloadResult> | null = null
  private moovHinted = false

  constructor(readonly opts: DownloadOptions) {
    super()
    this.name = opts.name
    this.fileName = safeFileName(opts.name)
    this.partPath = path.join(opts.dir, this.fileName + PART)
    this.size = opts.size
    this.have = new RangeSet()
    if (!opts.legacy && !opts.cid) throw new P2PTubeError('ERR_NO_CONTENT_ID', 'a p2ptube download needs a content id')
    this.ownHasher = !opts.hasher
    this.hasher = opts.hasher ?? new HashWorker()
    if (opts.legacy) {
      this.swarm = null
    } else {
      this.swarm = new Swarm({
        cid: opts.cid as string,
        verifyAndWrite: (first, count, buf, len, expected) => this.verifyAndWrite(first, count, buf, len, expected),
        allocBatch: () => this.allocBatch(),
        waitingPieces: () => [...new Set(this.waiters.map((w) => Math.floor(w.offset / PIECE_SIZE)))],
        ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
        ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
        ...(opts.transport ? { transport: opts.transport } : {})
      })
      this.swarm.on('source-added', (id: string) => this.emit('source-added', id))
      this.swarm.on('source-dropped', (id: string, reason: string) => this.emit('source-dropped', id, reason))
      this.swarm.on('bad-piece', (id: string, index: number) => this.emit('bad-piece', id, index))
      this.swarm.addSource(opts.holder)
    }
  }

  /** Another holder of the same content id (multi-source); ignored for legacy downloads. */
  addSource(holder: Endpoint & { id: string }): void {
    this.swarm?.addSource(holder)
  }

  /** Holder ids in use (not dropped). */
  get sources(): string[] {
    return this.swarm ? this.swarm.usable().map((s) => s.id) : [this.opts.holder.id]
  }

  /** Bytes present on disk. */
  get received(): number {
    return this.have.total
  }

  /**
   * Run the download to the end (resuming a partial file of the same content id).
   * @returns where the file is and its SHA-256.
   * @throws IntegrityError (SHA-256 ≠ content id; the partial file is deleted), RemoteError
   *   (holder answered ERRO), TimeoutError, AbortError (cancel()), P2PTubeError ERR_CONNECT...
   */
  start(): Promise<DownloadResult> {
    this.running ??= this.run()
    return this.running
  }

  private async run(): Promise<DownloadResult> {
    this.startedAt = performance.now()
    this.setState('downloading')
    try {
      await fs.mkdir(this.opts.dir, { recursive: true })
      await this.openPart()
      if (this.opts.legacy) await this.fetchLegacy()
      else await this.fetchSwarm()
      this.setState('verifying')
      const sha256 = await this.finishHash()
      if (this.opts.cid && sha256 !== this.opts.cid) {
        await this.discard()
        throw new IntegrityError(`SHA-256 of ${this.name} is ${sha256}, expected content id ${this.opts.cid}`)
      }
      const final = await this.moveToFinal()
      this.result = { path: final, sha256, size: this.size ?? this.received }
      this.setState('done')
      this.emit('done', this.result)
      this.wakeWaiters()
      return this.result
    } catch (err) {
      this.error = err as Error
      this.setState(this.cancelAbort.signal.aborted ? 'cancelled' : 'failed')
      await this.saveState(true).catch(() => {})
      this.failWaiters(err as Error)
      throw err
    }
  }

  /** Stop the download; the partial file and its chunk map stay for a later resume. */
  cancel(): void {
    this.cancelAbort.abort()
    this.swarm?.stop()
  }

  /** Close the file handle (after done/failed and when no reader needs it). */
  async close(): Promise<void> {
    const fh = this.fh
    this.fh = null
    await fh?.close().catch(() => {})
    this.hasher.close(this.hashKey)
    if (this.ownHasher) await this.hasher.stop()
  }

  /** Bytes present contiguously from `offset`. */
  available(offset: number): number {
    return this.have.contiguousFrom(offset)
  }

  /**
   * Resolve once the byte at `offset` is present (or the file is complete and `offset` is its end).
   * @throws the download's error if it fails first; AbortError when `signal` aborts.
   */
  waitFor(offset: number, signal?: AbortSignal): Promise<void> {
    if (this.available(offset) > 0 || this.state === 'done') return Promise.resolve()
    if (this.error) return Promise.reject(this.error)
    return new Promise((resolve, reject) => {
      const w = {
        offset,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
        reject
      }
      const onAbort = (): void => {
        this.waiters = this.waiters.filter((x) => x !== w)
        reject(new AbortError())
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(w)
    })
  }

  /**
   * A reader (the player) needs `offset`: fetch from there next, then continue in order.
   * No effect when the bytes are present or about to arrive on the current range.
   */
  prioritize(offset: number): void {
    if (!this.swarm || this.available(offset) > 0 || this.state !== 'downloading') return
    this.swarm.prioritize(offset)
  }

  /** Read bytes that are present. */
  async read(offset: number, length: number): Promise<Buffer> {
    if (!this.fh) throw new P2PTubeError('ERR_CLOSED', 'download file is closed')
    const buf = Buffer.allocUnsafe(length)
    const { bytesRead } = await this.fh.read(buf, 0, length, offset)
    return buf.subarray(0, bytesRead)
  }

  private setState(s: DownloadState): void {
    this.state = s
    this.emit('state', s)
  }

  private statePath(): string {
    return this.partPath + '.json'
  }

  private async openPart(): Promise<void> {
    // Resume: keep the partial file when its chunk map is for the same content.
    let resumed = false
    if (!this.opts.legacy) {
      try {
        const st = JSON.parse(await fs.readFile(this.statePath(), 'utf8')) as { cid?: string; size?: number; have?: Array<[number, number]> }
        if (st.cid === this.opts.cid && Array.isArray(st.have)) {
          const partSize = (await fs.stat(this.partPath)).size
          for (const [s, e] of st.have) if (Number.isSafeInteger(s) && Number.isSafeInteger(e) && e <= partSize) this.have.add(s, e)
          if (typeof st.size === 'number') this.size ??= st.size
          resumed = true
        }
      } catch {
        // no usable state: start from zero
      }
    }
    this.fh = await fs.open(this.partPath, resumed ? 'r+' : 'w+')
    if (resumed) this.emit('resumed', this.received)
  }

  private saving: Promise<void> = Promise.resolve()

  /** Save the chunk map (throttled to once a second unless forced); saves never overlap. */
  private saveState(force = false): Promise<void> {
    if (this.opts.legacy || !this.fh) return Promise.resolve()
    const t = Date.now()
    if (!force && t - this.lastSave < STATE_SAVE_MS) return this.saving
    this.lastSave = t
    const body = JSON.stringify({ cid: this.opts.cid, name: this.name, size: this.size, holder: this.opts.holder.id, have: this.have.toJSON() })
    this.saving = this.saving.catch(() => {}).then(async () => {
      const tmp = this.statePath() + '.tmp'
      await fs.writeFile(tmp, body)
      await fs.rename(tmp, this.statePath())
    })
    return this.saving
  }

  /** The writer: batches of data at file positions, a bounded number of writes in flight. */
  private makeSink(): { push(pos: number, data: Buffer): void; flush(): Promise<void> | void; drain(): Promise<void> } {
    let batch: Buffer | null = null
    let batchPos = 0
    let fill = 0
    const pending = new Set<Promise<void>>()
    let failure: Error | null = null
    const flushNow = (): void => {
      if (!batch || fill === 0) return
      const data = batch.subarray(0, fill)
      const pos = batchPos
      batch = null
      fill = 0
      if (pos === this.hashPos) {
        this.hash.update(data)
        this.hashPos += data.length
      }
      const p = (this.fh as fs.FileHandle).write(data, 0, data.length, pos).then(
        () => {
          pending.delete(p)
          this.have.add(pos, pos + data.length)
          this.receivedThisRun += data.length
          this.emit('data', pos, data.length)
          this.emit('progress', { received: this.received, size: this.size })
          this.wakeWaiters()
          void this.saveState().catch(() => {})
        },
        (err: Error) => {
          pending.delete(p)
          failure = err
        }
      )
      pending.add(p)
    }
    return {
      push: (pos, data) => {
        if (batch && pos !== batchPos + fill) flushNow()
        if (!batch) {
          batch = Buffer.allocUnsafe(Math.max(256 * 1024, data.length))
          batchPos = pos
        }
        if (fill + data.length > batch.length) {
          flushNow()
          batch = Buffer.allocUnsafe(Math.max(256 * 1024, data.length))
          batchPos = pos
        }
        data.copy(batch, fill)
        fill += data.length
      },
      flush: () => {
        if (failure) throw failure
        // Write in batches of >= 128 KiB (fewer thread-pool round trips), or when readers wait.
        if (fill >= 128 * 1024 || this.waiters.length) flushNow()
        if (pending.size >= MAX_PENDING_WRITES) return Promise.race(pending)
      },
      drain: async () => {
        flushNow()
        while (pending.size) await Promise.all(pending)
        if (failure) throw failure
      }
    }
  }

  private async fetchSwarm(): Promise<void> {
    const swarm = this.swarm as Swarm
    await swarm.loadHashes(this.size)
    this.size = swarm.size
    for (let i = 0; i < swarm.pieceCount; i++) {
      const off = i * PIECE_SIZE
      if (this.have.covers(off, Math.min(off + PIECE_SIZE, swarm.size))) swarm.markHave(i)
    }
    this.hasher.open(this.hashKey, 0, this.partPath)
    if (this.have.total > 0) this.hashPos = 0 // resumed bytes are hashed from disk at the end
    const onCancel = (): void => swarm.stop()
    this.cancelAbort.signal.addEventListener('abort', onCancel, { once: true })
    try {
      await Promise.race([
        swarm.run(),
        new Promise<never>((_, reject) => this.cancelAbort.signal.addEventListener('abort', () => reject(new AbortError('download cancelled')), { once: true }))
      ])
    } finally {
      this.cancelAbort.signal.removeEventListener('abort', onCancel)
      swarm.stop()
    }
  }

  /** Batch buffers to reuse once written (fewer allocations, less GC). */
  private readonly batchPool: Buffer[] = []

  /** A batch buffer (BATCH_PIECES pieces) that owns its ArrayBuffer: it is transferred to the hash worker. */
  allocBatch(): Buffer {
    return this.batchPool.pop() ?? Buffer.allocUnsafeSlow(BATCH_PIECES * PIECE_SIZE)
  }

  /**
   * Swarm callback: the hash worker checks the pieces and writes the good ones (one round trip,
   * one write); they are then marked present.
   * @returns how many pieces, from `first`, were good.
   * @throws P2PTubeError ERR_WRITE (disk full...), ERR_HASH_WORKER.
   */
  private async verifyAndWrite(first: number, count: number, buf: Buffer, len: number, expected: Buffer): Promise<number> {
    const offset = first * PIECE_SIZE
    const r = await this.hasher.pieces(this.hashKey, offset, buf, len, expected, PIECE_SIZE)
    this.hashPos = Math.max(this.hashPos, r.pos)
    const goodLen = Math.min(r.good * PIECE_SIZE, len)
    if (first === 0 && r.good > 0 && !this.moovHinted) {
      this.moovHinted = true
      // An MP4 whose index (moov) sits after its media data: fetch the tail early, so a player
      // does not wait for the whole file (../shared/reference/mpv-and-streaming.md).
      const moov = mp4MoovOffset(r.buf.subarray(0, Math.min(PIECE_SIZE, len)), this.size as number)
      if (moov !== null) this.swarm?.prioritize(moov)
    }
    if (this.batchPool.length < MAX_POOLED_BATCHES) this.batchPool.push(r.buf)
    if (goodLen > 0) {
      this.have.add(offset, offset + goodLen)
      this.receivedThisRun += goodLen
      this.emit('data', offset, goodLen)
      this.emit('progress', { received: this.received, size: this.size })
      this.wakeWaiters()
      void this.saveState().catch(() => {})
    }
    return r.good
  }

  private async fetchLegacy(): Promise<void> {
    const sink = this.makeSink()
    let pos = 0
    let frames = 0
    let remoteError: RemoteError | null = null
    const policy = (type: string): FramePolicy | undefined => {
      if (type === MSG.ERRO) return { maxLength: MAX_ERROR_REPLY }
      if (type === MSG.REPL) return { maxLength: MAX_FILE_SIZE, stream: true }
      return undefined
    }
    try {
      await exchange(
        this.opts.holder,
        MSG.FGET,
        this.name,
        {
          policy,
          frame: (_type, payload) => {
            remoteError = new RemoteError(payload.toString('utf8'))
          },
          start: () => void frames++,
          data: (_type, data) => {
            if (pos + data.length > MAX_FILE_SIZE) throw new ProtocolError('ERR_FILE_TOO_LARGE', `file over the ${MAX_FILE_SIZE}-byte limit`)
            sink.push(pos, data)
            pos += data.length
          },
          afterRead: () => sink.flush()
        },
        { signal: this.cancelAbort.signal, connectTimeoutMs: this.opts.connectTimeoutMs, idleTimeoutMs: this.opts.idleTimeoutMs, transport: this.opts.transport }
      )
    } finally {
      await sink.drain()
    }
    if (remoteError) throw remoteError
    // A legacy holder closing without any frame is a failure, not an empty file.
    if (frames === 0) throw new ProtocolError('ERR_NO_REPLY', `legacy holder ${this.opts.holder.id} closed without sending ${this.name}`)
    this.size = pos
  }

  private async finishHash(): Promise<string> {
    await this.saveState(true)
    const size = this.size ?? this.received
    const fh = this.fh as fs.FileHandle
    if (!this.swarm) {
      const buf = Buffer.allocUnsafe(1 << 20)
      while (this.hashPos < size) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - this.hashPos), this.hashPos)
        if (bytesRead === 0) throw new P2PTubeError('ERR_SHORT_FILE', `partial file ${this.partPath} is shorter than ${size} bytes`)
        this.hash.update(buf.subarray(0, bytesRead))
        this.hashPos += bytesRead
      }
      return this.hash.digest('hex')
    }
    // Pieces that arrived out of order (or before a resume) are hashed from disk, on the worker.
    let buf: Buffer = Buffer.allocUnsafeSlow(1 << 20)
    while (this.hashPos < size) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - this.hashPos), this.hashPos)
      if (bytesRead === 0) throw new P2PTubeError('ERR_SHORT_FILE', `partial file ${this.partPath} is shorter than ${size} bytes`)
      const r = await this.hasher.data(this.hashKey, this.hashPos, buf.subarray(0, bytesRead))
      buf = Buffer.from(r.buf.buffer)
      this.hashPos = r.pos
    }
    return (await this.hasher.digest(this.hashKey)).hex
  }

  private async discard(): Promise<void> {
    await fs.rm(this.partPath, { force: true })
    await fs.rm(this.statePath(), { force: true })
  }

  private async moveToFinal(): Promise<string> {
    const ext = path.extname(this.fileName)
    const stem = this.fileName.slice(0, this.fileName.length - ext.length)
    for (let i = 0; ; i++) {
      const candidate = path.join(this.opts.dir, i === 0 ? this.fileName : `${stem} (${i})${ext}`)
      try {
        await fs.link(this.partPath, candidate) // fails if it exists: never overwrite a user's file
        await fs.rm(this.partPath)
        await fs.rm(this.statePath(), { force: true })
        return candidate
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
    }
  }

  private wakeWaiters(): void {
    if (!this.waiters.length) return
    const still: typeof this.waiters = []
    for (const w of this.waiters) {
      if (this.state === 'done' || this.available(w.offset) > 0) w.resolve()
      else still.push(w)
    }
    this.waiters = still
  }

  private failWaiters(err: Error): void {
    for (const w of this.waiters) w.reject(err)
    this.waiters = []
  }
}

/**
 * Where an MP4's `moov` box starts when it comes after the media data (`mdat`), from the file's
 * first bytes; null when moov comes first (faststart), the boxes are not MP4, or they run past
 * `first`. Top-level boxes: 32-bit size + 4-char type, size 1 = 64-bit size follows (ISO 14496-12 §4.2).
 */
export function mp4MoovOffset(first: Buffer, fileSize: number): number | null {
  let off = 0
  for (let n = 0; n < 64 && off + 8 <= first.length; n++) {
    let size = first.readUInt32BE(off)
    const type = first.toString('latin1', off + 4, off + 8)
    if (n === 0 && type !== 'ftyp') return null
    if (size === 1) {
      if (off + 16 > first.length) return null
      size = Number(first.readBigUInt64BE(off + 8))
    }
    if (type === 'moov' || size === 0) return null
    if (size < 8) return null
    if (type === 'mdat') return off + size < fileSize ? off + size : null
    off += size
  }
  return null
}
