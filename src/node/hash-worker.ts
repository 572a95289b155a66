/**
 * SHA-256 and disk writes off the main thread: piece verification against a hash list, the
 * in-order whole-file hash and the write of verified pieces run on a worker thread (one hop per
 * batch of pieces, no thread-pool round trip per write), so the event loop only moves bytes.
 * The worker is hash-worker-thread.js, plain JavaScript loaded by URL (no TypeScript loader
 * needed there; `npm run build` copies it into dist/).
 */
import { Worker } from 'node:worker_threads'
import { P2PTubeError } from '../protocol/errors.ts'

/** The worker's module, next to this file in src/ and in dist/. */
const WORKER_URL = new URL('./hash-worker-thread.js', import.meta.url)

interface WorkerReply {
  ok: boolean
  pos: number
  buf?: ArrayBuffer
  hex?: string
  good?: number
  error?: string | null
}

/** Answer of the worker for one buffer: `ok` (hash matched), the file's hashed prefix `pos`
 * (bytes) and the buffer, transferred back. */
export interface HashReply {
  ok: boolean
  pos: number
  buf: Buffer
}

/** Answer of the worker for a batch of pieces: how many `good` pieces (a prefix) were checked
 * and written, the file's hashed prefix `pos` (bytes) and the buffer, transferred back. */
export interface PiecesReply {
  good: number
  pos: number
  buf: Buffer
}

/**
 * One worker thread shared by all downloads of a node. Buffers are transferred (not copied) to
 * the worker and back: a buffer must own its whole ArrayBuffer (Buffer.allocUnsafeSlow).
 */
export class HashWorker {
  private worker: Worker | null = null
  private seq = 0
  private readonly pending = new Map<number, (m: WorkerReply) => void>()

  private get w(): Worker {
    if (!this.worker) {
      this.worker = new Worker(WORKER_URL)
      this.worker.unref()
      this.worker.on('message', (m: WorkerReply & { id: number }) => {
        const r = this.pending.get(m.id)
        this.pending.delete(m.id)
        r?.(m)
      })
      this.worker.on('error', (err) => {
        for (const r of this.pending.values()) r({ ok: false, pos: -1 })
        this.pending.clear()
        this.worker = null
        void err
      })
    }
    return this.worker
  }

  /**
   * Start a whole-file hash for `file` (any unique key), hashing from byte `pos`. With `filePath`
   * (an existing file), the worker opens it for writing: pieces() then writes verified pieces.
   */
  open(file: string, pos = 0, filePath?: string): void {
    this.w.postMessage({ op: 'open', file, pos, path: filePath })
  }

  /** Forget a file's hash state and close the worker's handle on it (after its queued writes). */
  close(file: string): void {
    this.worker?.postMessage({ op: 'close', file })
  }

  private call(msg: Record<string, unknown>, transfer: ArrayBuffer[]): Promise<WorkerReply> {
    const id = ++this.seq
    return new Promise((resolve, reject) => {
      this.pending.set(id, (m) => (m.pos === -1 ? reject(new P2PTubeError('ERR_HASH_WORKER', 'the hash worker failed')) : resolve(m)))
      this.w.postMessage({ ...msg, id }, transfer)
    })
  }

  /**
   * Check consecutive pieces packed in `buf[0, len)` (each `pieceSize` bytes, the last maybe
   * shorter) against `expected` (32-byte SHA-256 each, in order), then add the good prefix to the
   * whole-file hash (when it starts at the hashed prefix) and write it at `offset` in the file
   * given to open(). Checking stops at the first bad piece.
   * @param buf a buffer owning its ArrayBuffer (Buffer.allocUnsafeSlow); it is detached until
   *   the promise resolves, then handed back as `buf`.
   * @throws P2PTubeError ERR_WRITE when the write failed (disk full...), ERR_HASH_WORKER.
   */
  async pieces(file: string, offset: number, buf: Buffer, len: number, expected: Buffer, pieceSize: number): Promise<PiecesReply> {
    const m = await this.call({ op: 'pieces', file, offset, buf: buf.buffer, len, pieceSize, expected: new Uint8Array(expected).buffer }, [buf.buffer as ArrayBuffer])
    const back = Buffer.from(m.buf as ArrayBuffer)
    if (m.error) throw new P2PTubeError('ERR_WRITE', `cannot write the download file: ${m.error}`)
    return { good: m.good ?? 0, pos: m.pos, buf: back }
  }

  /** Add bytes at `offset` to the whole-file hash (ignored unless at the hashed prefix). */
  async data(file: string, offset: number, buf: Buffer): Promise<HashReply> {
    const len = buf.length
    const m = await this.call({ op: 'data', file, offset, buf: buf.buffer, len }, [buf.buffer as ArrayBuffer])
    return { ok: true, pos: m.pos, buf: Buffer.from(m.buf as ArrayBuffer, 0, len) }
  }

  /** Finish the whole-file hash. @returns { hex, pos: bytes hashed }. */
  async digest(file: string): Promise<{ hex: string; pos: number }> {
    const m = await this.call({ op: 'digest', file }, [])
    return { hex: m.hex as string, pos: m.pos }
  }

  /** Stop the worker. */
  async stop(): Promise<void> {
    const w = this.worker
    this.worker = null
    await w?.terminate()
  }
}
