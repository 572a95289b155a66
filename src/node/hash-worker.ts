/**
 * SHA-256 off the main thread: piece verification against a hash list and the in-order
 * whole-file hash of a download run on a worker thread, so the event loop only moves bytes.
 * The worker code is plain JavaScript evaluated in the worker (no TypeScript loader needed there).
 */
import { Worker } from 'node:worker_threads'
import { P2PTubeError } from '../protocol/errors.ts'

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const files = new Map()
parentPort.on('message', (m) => {
  if (m.op === 'open') { files.set(m.file, { hash: createHash('sha256'), pos: m.pos || 0 }); return }
  if (m.op === 'close') { files.delete(m.file); return }
  const f = files.get(m.file)
  if (m.op === 'piece') {
    const buf = Buffer.from(m.buf, 0, m.len)
    let ok = true
    if (m.expected) ok = createHash('sha256').update(buf).digest().equals(Buffer.from(m.expected))
    if (ok && f && m.offset === f.pos) { f.hash.update(buf); f.pos += m.len }
    parentPort.postMessage({ id: m.id, ok, pos: f ? f.pos : 0, buf: m.buf }, [m.buf])
  } else if (m.op === 'data') {
    if (f && m.offset === f.pos) { f.hash.update(Buffer.from(m.buf, 0, m.len)); f.pos += m.len }
    parentPort.postMessage({ id: m.id, ok: true, pos: f ? f.pos : 0, buf: m.buf }, [m.buf])
  } else if (m.op === 'digest') {
    parentPort.postMessage({ id: m.id, ok: true, pos: f ? f.pos : 0, hex: f ? f.hash.digest('hex') : '' })
    files.delete(m.file)
  }
})
`

/** Answer of the worker for one buffer: `ok` (hash matched), the file's hashed prefix `pos`
 * (bytes) and the buffer, transferred back. */
export interface HashReply {
  ok: boolean
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
  private readonly pending = new Map<number, (m: { ok: boolean; pos: number; buf?: ArrayBuffer; hex?: string }) => void>()

  private get w(): Worker {
    if (!this.worker) {
      this.worker = new Worker(WORKER_SOURCE, { eval: true })
      this.worker.unref()
      this.worker.on('message', (m: { id: number; ok: boolean; pos: number; buf?: ArrayBuffer; hex?: string }) => {
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

  /** Start a whole-file hash for `file` (any unique key), hashing from byte `pos`. */
  open(file: string, pos = 0): void {
    this.w.postMessage({ op: 'open', file, pos })
  }

  /** Forget a file's hash state. */
  close(file: string): void {
    this.worker?.postMessage({ op: 'close', file })
  }

  private call(msg: Record<string, unknown>, transfer: ArrayBuffer[]): Promise<{ ok: boolean; pos: number; buf?: ArrayBuffer; hex?: string }> {
    const id = ++this.seq
    return new Promise((resolve, reject) => {
      this.pending.set(id, (m) => (m.pos === -1 ? reject(new P2PTubeError('ERR_HASH_WORKER', 'the hash worker failed')) : resolve(m)))
      this.w.postMessage({ ...msg, id }, transfer)
    })
  }

  /**
   * Check a piece against its expected SHA-256 (null: no check) and, when it starts at the
   * file's hashed prefix, add it to the whole-file hash.
   * @param buf a buffer owning its ArrayBuffer; it is detached until the promise resolves.
   */
  async piece(file: string, offset: number, buf: Buffer, expected: Buffer | null): Promise<HashReply> {
    const len = buf.length
    const m = await this.call({ op: 'piece', file, offset, buf: buf.buffer, len, expected: expected ? new Uint8Array(expected).buffer : null }, [buf.buffer as ArrayBuffer])
    return { ok: m.ok, pos: m.pos, buf: Buffer.from(m.buf as ArrayBuffer, 0, len) }
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
