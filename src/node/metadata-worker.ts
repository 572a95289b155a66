/**
 * Tag reading off the node's event loop: metadata.ts runs on a worker thread
 * (metadata-worker-thread.js), which parses with music-metadata and spawns ffprobe, one file at
 * a time; this thread only gets the cleaned ReadResult (a few hundred bytes per file). The
 * thread is started on the first read and ended after IDLE_MS without one, so a node whose tags
 * are all cached never starts it. One thread serves every library of a process
 * (sharedMetadataWorker): a process running many nodes (tests, the demo) must not start a thread
 * and an ffprobe per node at once. Bounded: the thread's heap is capped (MAX_HEAP_MB; a file
 * that would need more ends the thread, not the node) and a read taking over READ_TIMEOUT_MS
 * ends the thread; either way the file gets a warning and no metadata, and the next read starts
 * a fresh thread.
 */
import { Worker } from 'node:worker_threads'
import type { MediaKind } from './media-kind.ts'
import type { MetadataReaderOptions, ReadResult } from './metadata.ts'

/** The worker's module, next to this file in src/ and in dist/. */
const WORKER_URL = new URL('./metadata-worker-thread.js', import.meta.url)
/** The reader the worker loads: metadata.ts from src/, metadata.js from dist/. */
const READER_URL = new URL(import.meta.url.endsWith('.ts') ? './metadata.ts' : './metadata.js', import.meta.url)
/** The thread ends after this long without a read; ms. */
const IDLE_MS = 10_000
/** A read (music-metadata plus ffprobe, whose own limit is 10 s) is given up after this long; ms. */
const READ_TIMEOUT_MS = 60_000
/** Old-generation heap of the worker thread; MiB. */
const MAX_HEAP_MB = 256

/** The answer to a read dropped by stop() or its signal. */
const STOPPED: ReadResult = Object.freeze({ meta: undefined, cover: false, warnings: ['stopped'] })

interface Job {
  id: number
  file: string
  kind: MediaKind
  size: number
  opts: MetadataReaderOptions
  resolve: (r: ReadResult) => void
}

/**
 * One worker thread reading metadata for a library. read() calls are queued and sent one at a
 * time. Never rejects: a failed read is a result with `warnings`.
 */
export class MetadataWorker {
  private worker: Worker | null = null
  private readonly queue: Job[] = []
  private current: Job | null = null
  private seq = 0
  private idleTimer: NodeJS.Timeout | null = null
  private readTimer: NodeJS.Timeout | null = null
  private stopped = false

  /**
   * The metadata of `file` (its `size` in bytes, from the library walk), read on the worker thread.
   * @param opts the ffprobe to run and its time limit (metadata.ts).
   * @param signal aborting it drops the read if it has not started (it then resolves with no metadata).
   * @returns what metadata.ts's readMetadata returns; after stop(), no metadata.
   */
  read(file: string, kind: MediaKind, size: number, opts: MetadataReaderOptions = {}, signal?: AbortSignal): Promise<ReadResult> {
    if (this.stopped || signal?.aborted) return Promise.resolve(STOPPED)
    return new Promise((resolve) => {
      const job: Job = { id: ++this.seq, file, kind, size, opts: { ffprobe: opts.ffprobe, timeoutMs: opts.timeoutMs }, resolve }
      this.queue.push(job)
      if (signal) {
        const onAbort = (): void => {
          const i = this.queue.indexOf(job)
          if (i < 0) return
          this.queue.splice(i, 1)
          resolve(STOPPED)
        }
        signal.addEventListener('abort', onAbort, { once: true })
        // The listener goes with the job: one signal serves a library's every read.
        job.resolve = (r) => {
          signal.removeEventListener('abort', onAbort)
          resolve(r)
        }
      }
      this.next()
    })
  }

  private start(): Worker {
    const w = new Worker(WORKER_URL, {
      workerData: { reader: READER_URL.href },
      resourceLimits: { maxOldGenerationSizeMb: MAX_HEAP_MB },
      stdout: false,
      stderr: false
    })
    w.on('message', (m: { id: number } & ReadResult) => {
      const job = this.current
      if (!job || job.id !== m.id) return
      this.finish({ meta: m.meta, cover: m.cover, warnings: m.warnings })
    })
    // An error (out of memory, a crash) or an exit ends the thread: the file read gets a warning.
    const gone = (why: string): void => {
      if (this.worker !== w) return
      this.worker = null
      this.finish({ meta: undefined, cover: false, warnings: [why] })
    }
    w.on('error', (err) => gone(`metadata worker: ${err.message}`))
    w.on('exit', (code) => gone(`metadata worker exited (${code})`))
    return w
  }

  private finish(r: ReadResult): void {
    const job = this.current
    this.current = null
    if (this.readTimer) clearTimeout(this.readTimer)
    this.readTimer = null
    job?.resolve(r)
    this.next()
  }

  private next(): void {
    if (this.current) return
    const job = this.queue.shift()
    if (!job) {
      // Nothing to read: let the process exit, and end the thread after a while.
      this.worker?.unref()
      if (this.worker && !this.idleTimer) {
        this.idleTimer = setTimeout(() => {
          this.idleTimer = null
          if (!this.current) void this.end()
        }, IDLE_MS)
        this.idleTimer.unref()
      }
      return
    }
    if (this.idleTimer) clearTimeout(this.idleTimer)
    this.idleTimer = null
    this.worker ??= this.start()
    this.worker.ref() // a pending read keeps the process alive
    this.current = job
    this.readTimer = setTimeout(() => {
      this.readTimer = null
      const w = this.worker
      this.worker = null
      void w?.terminate()
      this.finish({ meta: undefined, cover: false, warnings: [`gave up after ${READ_TIMEOUT_MS} ms`] })
    }, READ_TIMEOUT_MS)
    this.worker.postMessage({ id: job.id, file: job.file, kind: job.kind, size: job.size, opts: job.opts })
  }

  private async end(): Promise<void> {
    const w = this.worker
    this.worker = null
    await w?.terminate()
  }

  /** End the thread: queued reads and the one in progress resolve with no metadata (call when none is wanted). */
  async stop(): Promise<void> {
    this.stopped = true
    for (const j of this.queue.splice(0)) j.resolve(STOPPED)
    if (this.current) this.finish(STOPPED)
    if (this.idleTimer) clearTimeout(this.idleTimer)
    this.idleTimer = null
    await this.end()
  }
}

let shared: MetadataWorker | null = null
/**
 * The process's metadata worker, made on first use (its thread starts on the first read and
 * ends when idle; it never keeps the process alive while idle). Libraries use it unless given
 * their own.
 */
export function sharedMetadataWorker(): MetadataWorker {
  shared ??= new MetadataWorker()
  return shared
}
