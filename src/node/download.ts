/**
 * One download: fetches a file from a holder into its PartFile (`<name>.p2ptube-part` and a chunk
 * map, so it resumes after an interruption), checks it against the content id (p2ptube holders:
 * the Merkle root of the verified pieces; legacy: the SHA-256) and only then moves the file to
 * its final name (docs/PROTOCOL.md §4.4, §4.7). Memory stays flat: data is
 * written as it arrives. Readers (the player) wait here for bytes and steer the swarm.
 *
 * From p2ptube holders it runs a Swarm: RGET runs of 64 KiB pieces from every holder, each piece
 * checked against the hash list (itself checked against the content id) before it is written
 * (§4.8), the player's read position first; SHA-256 work runs on a worker thread, once per byte. From a legacy holder: fetchLegacy (legacy-fetch.ts).
 *
 * One file (just over 300 lines): the part file, the swarm or legacy fetch, the readers and the
 * final check share one lifecycle (start, pause, cancel, resume) that must settle in one place.
 */
import { EventEmitter } from 'node:events'
import type { Endpoint } from '../net/client.ts'
import type { Transport } from '../net/transport.ts'
import { PIECE_SIZE } from '../protocol/constants.ts'
import { AbortError, IntegrityError, P2PTubeError } from '../protocol/errors.ts'
import { HashWorker } from './hash-worker.ts'
import { fetchLegacy } from './legacy-fetch.ts'
import { mp4MoovOffset } from './mp4.ts'
import { PartFile, safeFileName } from './part-file.ts'
import { PieceWriter } from './piece-writer.ts'
import type { RangeSet } from './range-set.ts'
import { ReadWaiters } from './read-waiters.ts'
import { Swarm } from './swarm.ts'

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
  /** Aborting it cancels the download, as cancel() does (a node passes its own signal). */
  signal?: AbortSignal
}

/** Result of a finished download. */
export interface DownloadResult {
  path: string
  /**
   * p2ptube holders: the content id the verified file gives (its pieces' Merkle root bound to
   * the size, PROTOCOL.md §4.5); legacy holder: the SHA-256 of the bytes (nothing to verify).
   */
  sha256: string
  size: number
}

export { safeFileName }

/**
 * Events: 'state' (DownloadState), 'progress' ({ received, size }), 'data' (offset, length:
 * bytes just written), 'done' (DownloadResult), 'resumed' (bytes present at start),
 * 'source-added' (id), 'source-dropped' (id, reason), 'bad-piece' (id, piece index),
 * 'bad-hash-list' (id: a holder whose hash list does not match the content id), 'rechecked'
 * ({ pieces, bad }: pieces found on disk at a resume, and how many failed their check).
 * 'error' is NOT emitted: start() rejects.
 * @throws P2PTubeError ERR_NO_CONTENT_ID (constructor) for a p2ptube holder without `cid`.
 */
export class Download extends EventEmitter {
  state: DownloadState = 'queued'
  readonly name: string
  readonly fileName: string
  readonly partPath: string
  /** Byte ranges present on disk. */
  readonly have: RangeSet
  result: DownloadResult | undefined
  error: Error | undefined
  /** Bytes received since start (not counting resumed bytes). */
  receivedThisRun = 0
  startedAt = 0

  /** The p2ptube holders and the piece scheduler (null for a legacy download). */
  readonly swarm: Swarm | null
  private readonly part: PartFile
  /** Checked writes and the whole-file hash on the worker (p2ptube holders). */
  private readonly pieces: PieceWriter
  private readonly hasher: HashWorker
  private readonly ownHasher: boolean
  private readonly cancelAbort = new AbortController()
  private readonly waiters = new ReadWaiters()
  private running: Promise<DownloadResult> | null = null

  constructor(readonly opts: DownloadOptions) {
    super()
    this.name = opts.name
    this.fileName = safeFileName(opts.name)
    if (!opts.legacy && !opts.cid) throw new P2PTubeError('ERR_NO_CONTENT_ID', 'a p2ptube download needs a content id')
    this.part = new PartFile({
      dir: opts.dir,
      fileName: this.fileName,
      name: opts.name,
      holderId: opts.holder.id,
      resumable: !opts.legacy,
      ...(opts.cid !== undefined ? { cid: opts.cid } : {}),
      ...(opts.size !== undefined ? { size: opts.size } : {})
    })
    this.partPath = this.part.path
    this.have = this.part.have
    this.ownHasher = !opts.hasher
    this.hasher = opts.hasher ?? new HashWorker()
    this.pieces = new PieceWriter(this.hasher, this.part, {
      written: (offset, length) => this.written(offset, length),
      // An MP4 whose index (moov) sits after its media data: fetch the tail early, so a player
      // does not wait for the whole file (../shared/reference/mpv-and-streaming.md).
      firstPiece: (head) => {
        const moov = mp4MoovOffset(head, this.size as number)
        if (moov !== null) this.swarm?.prioritize(moov)
      }
    })
    if (opts.legacy) {
      this.swarm = null
    } else {
      this.swarm = new Swarm({
        cid: opts.cid as string,
        verifyAndWrite: (first, count, buf, len, expected) => this.pieces.verifyAndWrite(first, count, buf, len, expected),
        allocBatch: () => this.pieces.allocBatch(),
        waitingPieces: () => [...new Set(this.waiters.offsets().map((o) => Math.floor(o / PIECE_SIZE)))],
        connectTimeoutMs: opts.connectTimeoutMs,
        idleTimeoutMs: opts.idleTimeoutMs,
        transport: opts.transport
      })
      this.swarm.on('source-added', (id: string) => this.emit('source-added', id))
      this.swarm.on('source-dropped', (id: string, reason: string) => this.emit('source-dropped', id, reason))
      this.swarm.on('bad-piece', (id: string, index: number) => this.emit('bad-piece', id, index))
      this.swarm.on('bad-hash-list', (id: string) => this.emit('bad-hash-list', id))
      this.swarm.addSource(opts.holder)
    }
  }

  /** File size in bytes, once known (from the caller, a resumed chunk map or the holder). */
  get size(): number | undefined {
    return this.part.size
  }

  set size(bytes: number | undefined) {
    this.part.size = bytes
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
   *   (holder answered ERRO), TimeoutError, AbortError ERR_ABORTED (cancel() or `signal`; when
   *   cancelled before start() nothing is opened or created), P2PTubeError ERR_CONNECT...
   */
  start(): Promise<DownloadResult> {
    this.running ??= this.run()
    return this.running
  }

  private async run(): Promise<DownloadResult> {
    this.startedAt = performance.now()
    const outer = this.opts.signal
    const onAbort = (): void => this.cancel()
    if (outer?.aborted) this.cancel()
    else outer?.addEventListener('abort', onAbort, { once: true })
    this.setState('downloading')
    try {
      if (this.cancelAbort.signal.aborted) throw new AbortError('download cancelled before it started')
      if (await this.part.open()) this.emit('resumed', this.received)
      let digest: () => Promise<string>
      if (this.opts.legacy) {
        const legacy = await fetchLegacy({
          holder: this.opts.holder,
          name: this.name,
          part: this.part,
          signal: this.cancelAbort.signal,
          connectTimeoutMs: this.opts.connectTimeoutMs,
          idleTimeoutMs: this.opts.idleTimeoutMs,
          transport: this.opts.transport,
          written: (pos, length) => this.written(pos, length),
          readersWaiting: () => this.waiters.length > 0
        })
        this.size = legacy.size
        digest = legacy.digest
      } else {
        await this.fetchSwarm()
        digest = () => Promise.resolve(this.pieces.contentId())
      }
      this.setState('verifying')
      await this.part.save(true)
      const sha256 = await digest()
      if (this.opts.cid && sha256 !== this.opts.cid) {
        await this.part.discard()
        throw new IntegrityError(`${this.name} gives content id ${sha256}, expected ${this.opts.cid}`)
      }
      const final = await this.part.moveToFinal()
      this.result = { path: final, sha256, size: this.size ?? this.received }
      this.setState('done')
      this.emit('done', this.result)
      this.wakeWaiters()
      return this.result
    } catch (err) {
      this.error = err as Error
      this.setState(this.cancelAbort.signal.aborted ? 'cancelled' : 'failed')
      await this.part.save(true).catch(() => {})
      this.waiters.fail(err as Error)
      throw err
    } finally {
      outer?.removeEventListener('abort', onAbort)
      await this.part.unlock() // nothing more is written: a resume may take the partial
    }
  }

  /** Stop the download; the partial file and its chunk map stay for a later resume. */
  cancel(): void {
    this.cancelAbort.abort()
    this.swarm?.stop()
  }

  /** Close the file handle (after done/failed and when no reader needs it). */
  async close(): Promise<void> {
    await this.part.close()
    this.pieces.close()
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
    return this.waiters.add(offset, signal)
  }

  /**
   * A reader (the player) needs `offset`: fetch from there next, then continue in order.
   * No effect when the bytes are present or about to arrive on the current range.
   */
  prioritize(offset: number): void {
    if (!this.swarm || this.available(offset) > 0 || this.state !== 'downloading') return
    this.swarm.prioritize(offset)
  }

  /** Read up to `length` bytes at `offset` (bytes that are present). @throws ERR_CLOSED after close(). */
  async read(offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length)
    const bytesRead = await this.part.readInto(buf, length, offset)
    return buf.subarray(0, bytesRead)
  }

  private setState(s: DownloadState): void {
    this.state = s
    this.emit('state', s)
  }

  /** Bytes [offset, offset + length) are on disk: mark them, tell listeners and readers. */
  private written(offset: number, length: number): void {
    this.have.add(offset, offset + length)
    this.receivedThisRun += length
    this.emit('data', offset, length)
    this.emit('progress', { received: this.received, size: this.size })
    this.wakeWaiters()
    void this.part.save().catch(() => {})
  }

  private async fetchSwarm(): Promise<void> {
    const swarm = this.swarm as Swarm
    await swarm.loadHashes(this.size)
    this.size = swarm.size
    this.pieces.open(swarm.size)
    // A resume: the pieces on disk are checked again (a byte may have changed since); only the
    // bad ones are fetched again, and nothing unchecked (a partial piece) counts as present.
    const onDisk: number[] = []
    for (let i = 0; i < swarm.pieceCount; i++) {
      const off = i * PIECE_SIZE
      if (this.have.covers(off, Math.min(off + PIECE_SIZE, swarm.size))) onDisk.push(i)
    }
    const bad = new Set(onDisk.length ? await this.pieces.recheck(onDisk, swarm.hashes as Buffer) : [])
    this.have.remove(0, Number.MAX_SAFE_INTEGER)
    for (const i of onDisk) {
      if (bad.has(i)) continue
      this.have.add(i * PIECE_SIZE, Math.min((i + 1) * PIECE_SIZE, swarm.size))
      swarm.markHave(i)
    }
    if (onDisk.length) this.emit('rechecked', { pieces: onDisk.length, bad: bad.size })
    await swarm.run(this.cancelAbort.signal)
  }

  private wakeWaiters(): void {
    this.waiters.wake((offset) => this.state === 'done' || this.available(offset) > 0)
  }
}
