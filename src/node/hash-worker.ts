/**
 * SHA-256 and disk writes off the main thread: piece verification against a hash list and the
 * write of verified pieces run on a worker thread (one hop per batch of pieces, no thread-pool
 * round trip per write), so the event loop only moves bytes. Each byte is hashed once: the
 * digests of the good pieces come back (the download checks their Merkle root against the
 * content id at the end, PROTOCOL.md §4.8). The worker is hash-worker-thread.js, plain
 * JavaScript loaded by URL (no TypeScript loader needed there; `npm run build` copies it into dist/).
 */
import { Worker } from 'node:worker_threads'
import { P2PTubeError } from '../protocol/errors.ts'

/** The worker's module, next to this file in src/ and in dist/. */
const WORKER_URL = new URL('./hash-worker-thread.js', import.meta.url)

interface WorkerReply {
  good: number
  buf?: ArrayBuffer
  leaves?: ArrayBuffer
  error?: string | null
  /** Set when the worker died: the call failed. */
  failed?: true
}

/** Answer of the worker for a batch of pieces: how many `good` pieces (a prefix) were checked
 * (and written, when asked), their SHA-256 digests (`leaves`, 32 bytes each) and the buffer,
 * transferred back. */
export interface PiecesReply {
  good: number
  leaves: Buffer
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
        for (const r of this.pending.values()) r({ good: 0, failed: true })
        this.pending.clear()
        this.worker = null
        void err
      })
    }
    return this.worker
  }

  /**
   * Open `filePath` (an existing file) for writing under the key `file` (any unique key):
   * pieces() then writes verified pieces there.
   */
  open(file: string, filePath: string): void {
    this.w.postMessage({ op: 'open', file, path: filePath })
  }

  /** Close the worker's handle on a file (after its queued writes). */
  close(file: string): void {
    this.worker?.postMessage({ op: 'close', file })
  }

  private call(msg: Record<string, unknown>, transfer: ArrayBuffer[]): Promise<WorkerReply> {
    const id = ++this.seq
    return new Promise((resolve, reject) => {
      this.pending.set(id, (m) => (m.failed ? reject(new P2PTubeError('ERR_HASH_WORKER', 'the hash worker failed')) : resolve(m)))
      this.w.postMessage({ ...msg, id }, transfer)
    })
  }

  /**
   * Check consecutive pieces packed in `buf[0, len)` (each `pieceSize` bytes, the last maybe
   * shorter) against `expected` (32-byte SHA-256 each, in order); with `write`, write the good
   * prefix at byte `offset` of the file given to open(). Checking stops at the first bad piece.
   * @param buf a buffer owning its ArrayBuffer (Buffer.allocUnsafeSlow); it is detached until
   *   the promise resolves, then handed back as `buf`.
   * @throws P2PTubeError ERR_WRITE when the write failed (disk full...), ERR_HASH_WORKER.
   */
  async pieces(file: string, offset: number, buf: Buffer, len: number, expected: Buffer, pieceSize: number, write = true): Promise<PiecesReply> {
    const m = await this.call({ op: 'pieces', file, offset, buf: buf.buffer, len, pieceSize, write, expected: new Uint8Array(expected).buffer }, [buf.buffer as ArrayBuffer])
    const back = Buffer.from(m.buf as ArrayBuffer)
    if (m.error) throw new P2PTubeError('ERR_WRITE', `cannot write the download file: ${m.error}`)
    return { good: m.good, leaves: Buffer.from(m.leaves as ArrayBuffer), buf: back }
  }

  /** Stop the worker. */
  async stop(): Promise<void> {
    const w = this.worker
    this.worker = null
    await w?.terminate()
  }
}
