/**
 * SHA-256 and disk writes off the main thread: piece verification against a hash list, the
 * in-order whole-file hash and the write of verified pieces run on a worker thread (one hop per
 * batch of pieces, no thread-pool round trip per write), so the event loop only moves bytes.
 * The worker code is plain JavaScript evaluated in the worker (no TypeScript loader needed there).
 */
import { Worker } from 'node:worker_threads'
import { P2PTubeError } from '../protocol/errors.ts'

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const fs = require('node:fs')
const files = new Map()
function writeAll(f, buf, pos, done) {
  fs.write(f.fd, buf, 0, buf.length, pos, (err, n) => {
    if (err) return done(err)
    if (n < buf.length) return writeAll(f, buf.subarray(n), pos + n, done)
    done(null)
  })
}
// Close a file's handle once its writes in flight are done.
function closeFile(key) {
  const f = files.get(key)
  files.delete(key)
  if (!f || f.fd < 0) return
  const close = () => { try { fs.closeSync(f.fd) } catch {} }
  if (f.writes) f.closing = close
  else close()
}
parentPort.on('message', (m) => {
  if (m.op === 'open') {
    let fd = -1
    try { if (m.path) fd = fs.openSync(m.path, 'r+') } catch (err) { fd = -1 }
    files.set(m.file, { hash: createHash('sha256'), pos: m.pos || 0, fd, writes: 0, closing: null })
    return
  }
  if (m.op === 'close') return closeFile(m.file)
  const f = files.get(m.file)
  if (m.op === 'pieces') {
    const data = Buffer.from(m.buf, 0, m.len)
    const expected = Buffer.from(m.expected)
    let good = 0
    for (let o = 0; o < m.len; o += m.pieceSize) {
      const digest = createHash('sha256').update(data.subarray(o, Math.min(o + m.pieceSize, m.len))).digest()
      if (!digest.equals(expected.subarray(good * 32, good * 32 + 32))) break
      good++
    }
    const goodLen = Math.min(good * m.pieceSize, m.len)
    const reply = (error) => parentPort.postMessage({ id: m.id, ok: true, good, error, pos: f ? f.pos : 0, buf: m.buf }, [m.buf])
    if (goodLen > 0 && f) {
      if (m.offset === f.pos) { f.hash.update(data.subarray(0, goodLen)); f.pos += goodLen }
      if (f.fd < 0) return reply('ENOENT the download file is not open')
      // The write runs on the thread pool while the next batch is hashed here.
      f.writes++
      writeAll(f, data.subarray(0, goodLen), m.offset, (err) => {
        f.writes--
        reply(err ? (err.code || '') + ' ' + err.message : null)
        if (!f.writes && f.closing) f.closing()
      })
      return
    }
    reply(null)
  } else if (m.op === 'data') {
    if (f && m.offset === f.pos) { f.hash.update(Buffer.from(m.buf, 0, m.len)); f.pos += m.len }
    parentPort.postMessage({ id: m.id, ok: true, pos: f ? f.pos : 0, buf: m.buf }, [m.buf])
  } else if (m.op === 'digest') {
    parentPort.postMessage({ id: m.id, ok: true, pos: f ? f.pos : 0, hex: f ? f.hash.digest('hex') : '' })
    closeFile(m.file)
  }
})
`

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
      this.worker = new Worker(WORKER_SOURCE, { eval: true })
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
