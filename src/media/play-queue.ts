/**
 * A play queue: several tracks (an album, a result list) played in order in one mpv playlist,
 * for `fetch --play A B C` (src/cli/play-queue.ts) and the TUI's `P` key (src/tui/playback.ts).
 * The tracks are downloaded one after the other, each while the one before it plays (prefetch);
 * each is appended to mpv's playlist (`loadfile … append-play`, MpvPlayer.append) as soon as its
 * first bytes are sniffed safe (play-download.ts playableFormat), and read through one loopback
 * StreamServer, so mpv (`--gapless-audio=yes --prefetch-playlist=yes`, MpvPlayerOptions.gapless)
 * goes from one track to the next without a gap when the download keeps ahead (bench/queue.ts).
 */
import { EventEmitter } from 'node:events'
import type { Download, DownloadResult } from '../node/download.ts'
import { SNIFF_BYTES } from '../player/media-format.ts'
import type { Player, PlayerEndInfo } from '../player/player.ts'
import { AbortError } from '../protocol/errors.ts'
import { playableFormat, readHead } from './play-download.ts'
import { StreamServer } from './stream-server.ts'

/** One track of a queue: its name, and how to get it: a Download to start, or a file on disk. */
export interface QueueEntry {
  name: string
  /** Called when the track's turn to download comes: a new (not started) Download, or a local path (already here). */
  open(): Download | string
}

/** What happened to one track; times in ms since run() began, null when it did not happen. */
export interface QueueTrackReport {
  name: string
  /** Appended to mpv's playlist (first bytes here and sniffed). */
  appendedMs: number | null
  /** Fully downloaded and verified (a local file: when it was appended). */
  downloadedMs: number | null
  /** mpv started it (its `playlist-pos`). */
  startedMs: number | null
  /** mpv ended it. */
  endedMs: number | null
  end?: PlayerEndInfo
  /** Download or sniffing error: the track was skipped. */
  error?: Error
  result?: DownloadResult
}

/** The whole queue after run(). */
export interface QueueReport {
  tracks: QueueTrackReport[]
  /** Times mpv waited for bytes (`paused-for-cache`) or went idle between two tracks. */
  gaps: number
}

/** Events of {@link PlayQueue}; `index` is the entry's index in the list given. */
export interface PlayQueueEvents {
  appended: [index: number]
  downloaded: [index: number, result: DownloadResult | null]
  playing: [index: number]
  ended: [index: number, end: PlayerEndInfo]
  failed: [index: number, err: Error]
  /** Playback waited for bytes, or mpv was idle before `index` could start. */
  gap: [index: number]
  /** A track's Download exists (e.g. to show it as a transfer). */
  download: [index: number, d: Download]
}

/**
 * Plays `entries` in order on `player` (started here unless `ready` says it was started ahead of
 * time; give it MpvPlayerOptions.gapless). run() resolves when mpv ended the last track (or
 * exited, or stop() was called); stop() cancels the downloads still running (their partial files
 * stay for a resume). The player is the caller's: it is not quit here.
 */
export class PlayQueue extends EventEmitter<PlayQueueEvents> {
  readonly #player: Player
  readonly #entries: QueueEntry[]
  readonly #ready: Promise<void> | undefined
  readonly #downloads: Download[] = []
  /** Entry index of each playlist position (skipped tracks are not in mpv's playlist). */
  readonly #playlist: number[] = []
  readonly #tracks: QueueTrackReport[]
  readonly #stop = new AbortController()
  #gaps = 0
  #current = -1

  constructor(player: Player, entries: QueueEntry[], opts: { ready?: Promise<void> } = {}) {
    super()
    this.#player = player
    this.#entries = entries
    this.#ready = opts.ready
    this.#tracks = entries.map((e) => ({ name: e.name, appendedMs: null, downloadedMs: null, startedMs: null, endedMs: null }))
  }

  /** The entry index mpv plays now, -1 when none. */
  get current(): number {
    return this.#current
  }

  /** Per-track report so far (the same objects run() returns). */
  get tracks(): readonly QueueTrackReport[] {
    return this.#tracks
  }

  /**
   * Download and play every entry in order.
   * @returns the report once the last track ended, mpv exited or stop() was called.
   * @throws MpvNotInstalledError, MpvError from starting the player or loading the first track;
   *   the stream server's listen error. A track that fails to download or is unsafe is skipped
   *   ('failed'), not thrown.
   */
  async run(): Promise<QueueReport> {
    const t0 = performance.now()
    const now = (): number => Math.round(performance.now() - t0)
    const p = this.#player
    const streams = new StreamServer()
    let allQueued = false
    let ended = 0
    let idle = false
    let finish!: () => void
    const finished = new Promise<void>((resolve) => (finish = resolve))
    const checkDone = (): void => {
      if (allQueued && ended >= this.#playlist.length) finish()
    }
    // Tracks started and not ended yet, oldest first: mpv moves `playlist-pos` on playlist-next
    // before it sends the skipped file's end-file, so an end belongs to the oldest of them.
    const unended: number[] = []
    const onPos = (pos: number): void => {
      const i = pos >= 0 ? this.#playlist[pos] : undefined
      if (i === undefined) {
        // Idle with tracks still to come: the next one was not ready in time.
        if (this.#current !== -1 && !allQueued) idle = true
        this.#current = -1
        return
      }
      this.#current = i
      unended.push(i)
      this.#tracks[i]!.startedMs = now()
      if (idle) {
        idle = false
        this.#gaps++
        this.emit('gap', i)
      }
      this.emit('playing', i)
    }
    const onEnd = (end: PlayerEndInfo): void => {
      const i = unended.shift()
      if (i === undefined) return
      const t = this.#tracks[i]!
      t.endedMs = now()
      t.end = end
      ended++
      this.emit('ended', i, end)
      checkDone()
    }
    const onCache = (waiting: boolean): void => {
      if (!waiting || this.#current < 0) return
      this.#gaps++
      this.emit('gap', this.#current)
    }
    const onExit = (): void => finish()
    p.on('playlist-pos', onPos)
    p.on('end', onEnd)
    p.on('paused-for-cache', onCache)
    p.on('exit', onExit)
    this.#stop.signal.addEventListener('abort', onExit, { once: true })
    try {
      await Promise.all([this.#ready ?? p.start(), streams.start()])
      for (const [i, entry] of this.#entries.entries()) {
        if (this.#stop.signal.aborted || !p.running) break
        await this.#queueOne(i, entry, streams, now)
      }
      allQueued = true
      checkDone()
      await finished
      return { tracks: this.#tracks, gaps: this.#gaps }
    } finally {
      p.off('playlist-pos', onPos)
      p.off('end', onEnd)
      p.off('paused-for-cache', onCache)
      p.off('exit', onExit)
      for (const d of this.#downloads) if (d.state === 'downloading' || d.state === 'queued') d.cancel()
      await streams.stop().catch(() => {})
      await Promise.all(this.#downloads.map((d) => d.close().catch(() => {})))
    }
  }

  /** Skip to the next track (mpv `playlist-next`). @throws MpvError when there is none yet. */
  next(): Promise<void> {
    return this.#player.next()
  }

  /** End the queue: run() resolves, running downloads are cancelled (resumable). Idempotent. */
  stop(): void {
    this.#stop.abort()
  }

  /** Fetch entry `i` until it is complete, appending it to the playlist once its head is sniffed. */
  async #queueOne(i: number, entry: QueueEntry, streams: StreamServer, now: () => number): Promise<void> {
    const t = this.#tracks[i]!
    const first = this.#playlist.length === 0
    try {
      const src = entry.open()
      if (typeof src === 'string') {
        const format = playableFormat(src, await readHead(src))
        await this.#load(i, src, format, first)
        t.appendedMs = t.downloadedMs = now()
        this.emit('appended', i)
        this.emit('downloaded', i, null)
        return
      }
      this.#downloads.push(src)
      this.emit('download', i, src)
      const done = src.start()
      done.catch(() => {})
      const stopped = new Promise<never>((_, reject) => {
        if (this.#stop.signal.aborted) reject(new AbortError())
        this.#stop.signal.addEventListener('abort', () => reject(new AbortError()), { once: true })
      })
      stopped.catch(() => {})
      await Promise.race([src.waitFor(0), done, stopped])
      const format = playableFormat(src.fileName, await src.read(0, Math.min(src.available(0), SNIFF_BYTES)))
      await this.#load(i, streams.add(src), format, first)
      t.appendedMs = now()
      this.emit('appended', i)
      t.result = await Promise.race([done, stopped])
      t.downloadedMs = now()
      this.emit('downloaded', i, t.result)
    } catch (err) {
      if (this.#stop.signal.aborted) return
      t.error = err as Error
      this.emit('failed', i, t.error)
    }
  }

  /**
   * The first track replaces whatever mpv had (play()); the others are appended. Entry `i` takes
   * its playlist position before the command: mpv reports `playlist-pos` before play() resolves.
   */
  async #load(i: number, url: string, format: string, first: boolean): Promise<void> {
    this.#playlist.push(i)
    try {
      if (first) await this.#player.play(url, { format })
      else await this.#player.append(url, { format })
    } catch (err) {
      // A failed play() leaves mpv idle with an empty playlist; a failed append adds nothing.
      this.#playlist.pop()
      throw err
    }
  }
}

const natural = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' })

/** Natural order of names: digits compare as numbers (`track2` before `track10`), case and accents ignored. */
export function naturalCompare(a: string, b: string): number {
  return natural.compare(a, b)
}

/**
 * Album order: by folder (natural), then disc and track number when tagged, then file name
 * (natural). Returns a new array.
 */
export function albumOrder<T extends { name: string; meta?: { disc?: number; track?: number } | undefined }>(items: readonly T[]): T[] {
  const folder = (n: string): string => n.slice(0, n.lastIndexOf('/') + 1)
  return [...items].sort(
    (a, b) => naturalCompare(folder(a.name), folder(b.name)) || (a.meta?.disc ?? 0) - (b.meta?.disc ?? 0) || (a.meta?.track ?? 0) - (b.meta?.track ?? 0) || naturalCompare(a.name, b.name)
  )
}
