/**
 * The node's downloads (docs/PROTOCOL.md §3.7, §4.4): one registry by content id (or holder/name
 * for a legacy file) so a second fetch of a running download joins it, and one owner of every
 * Download made: when the node stops, each is cancelled and its file handle closed, including
 * a cancelled or failed one that a later fetch (a resume) replaced in the registry (a player may
 * still read its bytes until then, as before).
 */
import { EventEmitter } from 'node:events'
import path from 'node:path'
import type { Transport } from '../net/transport.ts'
import { P2PTubeError } from '../protocol/errors.ts'
import { parsePeerId } from '../protocol/messages.ts'
import { Download, type DownloadOptions, type DownloadResult } from './download.ts'
import type { HashWorker } from './hash-worker.ts'
import type { Lifecycle } from './lifecycle.ts'
import type { NodeStats } from './stats.ts'

/** What to fetch: a search result, usually. */
export interface FetchRequest {
  name: string
  /** Peer id "host:port" of the holder. */
  holder: string
  /** More holders of the same content id, all used as sources (ignored for a legacy download). */
  holders?: string[]
  contentId?: string | null
  /** Bytes, when known. */
  size?: number | null
  legacy?: boolean
  /** Folder for this download (default the manager's downloadsDir). */
  dir?: string
}

/** What a DownloadManager is built from. Times in ms. */
export interface DownloadManagerOptions {
  /** Absolute folder where fetched files go. */
  downloadsDir: string
  /** How holders are dialled (timeouts, transport); its signal is the `life` one. */
  dial: { connectTimeoutMs?: number | undefined; idleTimeoutMs?: number | undefined; transport?: Transport | undefined }
  /** SHA-256 worker shared by every download. */
  hasher: HashWorker
  /** `bytesDown` counts file bytes received. */
  stats: NodeStats
  /** Its signal cancels every download; fetch() is refused once it is stopped. */
  life: Lifecycle
  /** A download verified against its content id (the node shares it). */
  onVerified?(d: Download, result: DownloadResult, cid: string): void
}

const running = (d: Download): boolean => d.state === 'downloading' || d.state === 'queued'

/** Events: 'download' (Download) for every new Download. Iterates the registered downloads. */
export class DownloadManager extends EventEmitter implements Iterable<Download> {
  /** Registry: content id (or "holder/name") → the latest Download for it. */
  private readonly byKey = new Map<string, Download>()
  /** Every Download made and not yet closed (the registry's, and the ones it replaced). */
  private readonly owned = new Set<Download>()
  private closing: Promise<void> | null = null

  constructor(private readonly opts: DownloadManagerOptions) {
    super()
    opts.life.signal.addEventListener('abort', () => this.cancelAll(), { once: true })
  }

  /** Number of registered downloads. */
  get size(): number {
    return this.byKey.size
  }

  /** The registered downloads (the latest one per content id). */
  values(): IterableIterator<Download> {
    return this.byKey.values()
  }

  [Symbol.iterator](): IterableIterator<Download> {
    return this.byKey.values()
  }

  /** The download registered for a content id (or "holder/name" for a legacy file). */
  get(key: string): Download | undefined {
    return this.byKey.get(key)
  }

  /**
   * Start (or resume) a download, or join the one already running for the same content id
   * (adding `holders` to it).
   * @returns the Download; call `start()` on it to run it (the manager closes it at stop).
   * @throws P2PTubeError ERR_NO_CONTENT_ID for a p2ptube holder without a content id, ERR_BUSY
   *   when another download is writing the same partial file; ProtocolError for a bad holder id;
   *   AbortError ERR_ABORTED once the node is stopping.
   */
  fetch(r: FetchRequest): Download {
    const { life } = this.opts
    life.assertOpen('fetch')
    const holder = parsePeerId(r.holder)
    const opts: DownloadOptions = {
      name: r.name,
      holder,
      legacy: r.legacy ?? !r.contentId,
      dir: r.dir ? path.resolve(r.dir) : this.opts.downloadsDir,
      connectTimeoutMs: this.opts.dial.connectTimeoutMs,
      idleTimeoutMs: this.opts.dial.idleTimeoutMs,
      transport: this.opts.dial.transport,
      signal: life.signal
    }
    if (r.contentId) opts.cid = r.contentId
    if (typeof r.size === 'number') opts.size = r.size
    const key = r.contentId ?? `${r.holder}/${r.name}`
    const addHolders = (d: Download): Download => {
      for (const h of r.holders ?? []) if (h !== r.holder) d.addSource(parsePeerId(h))
      return d
    }
    const existing = this.byKey.get(key)
    if (existing && running(existing)) return addHolders(existing)
    opts.hasher = this.opts.hasher
    const d = new Download(opts)
    for (const other of this.byKey.values()) {
      if (other.partPath === d.partPath && (other.state === 'downloading' || other.state === 'verifying')) {
        throw new P2PTubeError('ERR_BUSY', `${other.fileName} is already being downloaded into ${other.partPath}`)
      }
    }
    addHolders(d)
    d.on('data', (_pos: number, n: number) => (this.opts.stats.bytesDown += n))
    d.once('done', (res: DownloadResult) => {
      if (r.contentId && !life.stopped) this.opts.onVerified?.(d, res, r.contentId)
    })
    this.byKey.set(key, d)
    this.owned.add(d)
    this.emit('download', d)
    return d
  }

  private cancelAll(): void {
    for (const d of this.owned) if (running(d)) d.cancel()
  }

  /** Let a started download's run settle (cancelled: at once), then close its file. */
  private async closeOne(d: Download): Promise<void> {
    if (d.state !== 'queued') await d.start().catch(() => {})
    await d.close()
    this.owned.delete(d)
  }

  /**
   * Cancel every download still running and close every download made (the partial files and
   * their chunk maps stay for a resume). Idempotent; never rejects.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.cancelAll()
      await Promise.allSettled([...this.owned].map((d) => this.closeOne(d)))
    })()
    return this.closing
  }
}
