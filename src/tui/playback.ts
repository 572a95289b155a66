/**
 * Playback for the TUI: one mpv at a time (MpvPlayer), fed through media/play-download.ts (the
 * CLI's path too) for a file still downloading, directly from disk for a finished one, or a play
 * queue (media/play-queue.ts, the `P` key) for a list or an album. Reports what mpv says through
 * `onUpdate` (plain PlaybackState fields: the state follows mpv's events, an mpv error shows as
 * 'error', never as 'playing'); owns and closes the mpv process and the stream server.
 */
import type { Download } from '../node/download.ts'
import { playableFormat, playDownload, readHead, type PlayingDownload } from '../media/play-download.ts'
import { PlayQueue, type QueueEntry } from '../media/play-queue.ts'
import { MpvPlayer } from '../player/mpv-player.ts'
import type { Player } from '../player/player.ts'
import { errText } from '../protocol/errors.ts'
import type { PlaybackState } from './state.ts'

/** Options: extra mpv flags; `headless` overrides the DISPLAY check (tests). */
export interface PlaybackOptions {
  playerArgs?: string[]
  headless?: boolean
  onUpdate: (p: Partial<PlaybackState>) => void
  log: (level: 'info' | 'warn' | 'debug', msg: string) => void
}

/** Volume step of the -/+ keys, in percent. */
export const VOLUME_STEP = 10

export class Playback {
  private player: Player | null = null
  private streaming: PlayingDownload | null = null
  private queue: PlayQueue | null = null
  private closed = false
  /** What plays now (a queue's current track). */
  private title = ''

  constructor(private readonly opts: PlaybackOptions) {}

  /** PID of the running mpv, or null. */
  get pid(): number | null {
    return this.player?.running ? this.player.pid : null
  }

  /** True while mpv runs. */
  get running(): boolean {
    return this.player?.running ?? false
  }

  /** Play a download (while it downloads, through the stream server). @throws MpvError, MpvNotInstalledError */
  async playDownload(d: Download, title: string, audioOnly = false): Promise<void> {
    const p = await this.newPlayer(title, audioOnly)
    const streaming = await this.failing(p, playDownload(d, p))
    // Another file was asked for meanwhile: this one's server goes with its player.
    if (this.player !== p) return void (await streaming.stop())
    this.streaming = streaming
    this.opts.log('info', `mpv (pid ${p.pid}) playing ${title}`)
  }

  /** Play a file on disk (a finished transfer, a file of your library). */
  async playFile(file: string, title: string, audioOnly = false): Promise<void> {
    const format = playableFormat(file, await readHead(file))
    const p = await this.newPlayer(title, audioOnly)
    await this.failing(p, p.start())
    this.opts.log('info', `mpv (pid ${p.pid}) playing ${title}`)
    await this.failing(p, p.play(file, { format }))
  }

  /**
   * Play `entries` in order in one gapless mpv playlist, each fetched while the one before plays
   * (PlayQueue). Resolves once the first track plays; the rest goes on in the background.
   * @param title what the bar shows until the first track plays.
   */
  async playQueue(entries: QueueEntry[], title: string, audioOnly = false): Promise<void> {
    const p = await this.newPlayer(title, audioOnly, true)
    const q = new PlayQueue(p, entries)
    this.queue = q
    const total = entries.length
    q.on('playing', (i) => {
      if (this.player !== p) return
      this.title = entries[i]!.name
      this.opts.onUpdate({ title: entries[i]!.name, queue: { index: i + 1, total }, position: null, duration: null })
    })
    q.on('failed', (i, err) => this.opts.log('warn', `play queue: ${entries[i]!.name} skipped: ${errText(err)}`))
    q.on('gap', (i) => this.opts.log('warn', `play queue: mpv waited for the bytes of ${entries[i]!.name}`))
    const first = new Promise<void>((resolve) => {
      q.once('playing', () => resolve())
      q.once('failed', () => resolve())
    })
    const done = this.failing(p, q.run()).then(
      (r) => {
        if (this.queue !== q) return
        this.queue = null
        this.opts.log('info', `play queue: ${r.tracks.filter((t) => t.end?.reason === 'eof').length} of ${total} tracks played${r.gaps ? `, ${r.gaps} gap(s)` : ''}`)
      },
      () => {}
    )
    await Promise.race([first, done])
    this.opts.log('info', `mpv (pid ${p.pid}) playing a queue of ${total}`)
  }

  /** Runs `work` of player `p`; a failure shows as mpv state 'error' with its reason, then rethrows. */
  private async failing<T>(p: Player, work: Promise<T>): Promise<T> {
    try {
      return await work
    } catch (err) {
      if (this.player === p) this.opts.onUpdate({ state: 'error', error: errText(err) })
      throw err
    }
  }

  private async newPlayer(title: string, audioOnly: boolean, gapless = false): Promise<Player> {
    if (this.closed) throw new Error('closing')
    // A fresh mpv per file: audio-only files get quicker probing (MpvPlayer audioOnly).
    await this.stopPlayer()
    const p = new MpvPlayer({
      playerArgs: this.opts.playerArgs ?? [],
      audioOnly,
      gapless,
      ...(this.opts.headless !== undefined ? { headless: this.opts.headless } : {}),
      logger: (m) => this.opts.log('debug', `mpv: ${m}`)
    })
    this.player = p
    const mine = (): boolean => this.player === p
    this.title = title
    p.on('position', (s) => mine() && this.opts.onUpdate({ position: s }))
    p.on('duration', (s) => mine() && this.opts.onUpdate({ duration: s }))
    p.on('pause', (paused) => mine() && this.opts.onUpdate({ paused, state: paused ? 'paused' : 'playing' }))
    p.on('volume', (volume) => mine() && this.opts.onUpdate({ volume }))
    p.on('playback-restart', () => mine() && this.opts.onUpdate({ state: p.paused ? 'paused' : 'playing', error: '' }))
    p.on('path', (path) => {
      if (mine() && path !== null) this.opts.onUpdate({ state: 'loading', error: '' })
    })
    p.on('end', (e) => {
      if (!mine()) return
      if (e.reason === 'eof') this.opts.log('info', `mpv: finished ${this.title}`)
      if (e.reason === 'error') {
        this.opts.log('warn', `mpv could not play ${this.title}: ${e.error ?? 'error'}`)
        this.opts.onUpdate({ state: 'error', error: e.error ?? 'mpv could not play it', position: null })
      } else this.opts.onUpdate({ state: e.reason === 'eof' ? 'ended' : 'idle', position: null })
    })
    p.on('exit', () => {
      if (!mine()) return
      this.player = null
      this.opts.onUpdate({ active: false, position: null, duration: null, paused: false, queue: null })
    })
    this.opts.onUpdate({ active: true, state: 'loading', error: '', title, position: null, duration: null, paused: false, queue: null })
    return p
  }

  /** Space: pause or resume. @returns the new paused state. @throws Error when nothing plays. */
  async togglePause(): Promise<boolean> {
    const p = this.requirePlayer()
    await p.togglePause()
    return p.paused
  }

  /** Left/Right: seek by `seconds` (negative = back). @returns the new position (s). */
  async seek(seconds: number): Promise<number | null> {
    const p = this.requirePlayer()
    await p.seek(seconds, 'relative')
    return p.position
  }

  /** S: stop playback (the queue too); mpv is closed. @throws Error when nothing plays. */
  async stop(): Promise<void> {
    this.requirePlayer()
    await this.stopPlayer()
    this.opts.onUpdate({ active: false, state: 'idle', error: '', position: null, duration: null, paused: false, queue: null })
  }

  /** >: the next track of the play queue. @throws Error when no queue plays or it has no next track. */
  async next(): Promise<void> {
    this.requirePlayer()
    if (!this.queue) throw new Error('no play queue: P plays the whole list or album in order')
    await this.queue.next()
  }

  /** -/+: change the volume by `delta` percent. @returns the new volume. */
  async volume(delta: number): Promise<number> {
    const p = this.requirePlayer()
    await p.setVolume(p.volume + delta)
    return p.volume
  }

  private requirePlayer(): Player {
    if (!this.player?.running) throw new Error('nothing is playing (p plays the selected result, P the whole list)')
    return this.player
  }

  private async stopPlayer(): Promise<void> {
    const p = this.player
    const s = this.streaming
    const q = this.queue
    this.player = null
    this.streaming = null
    this.queue = null
    q?.stop()
    await p?.quit().catch(() => {})
    await s?.stop()
  }

  /** Quit mpv (waits for its exit) and close the stream server. Safe to call repeatedly. */
  async close(): Promise<void> {
    this.closed = true
    await this.stopPlayer()
    this.opts.onUpdate({ active: false, state: 'idle', position: null, duration: null, paused: false, queue: null })
  }
}
