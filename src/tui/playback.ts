/**
 * Playback for the TUI: one mpv at a time (MpvPlayer), fed through media/play-download.ts (the
 * CLI's path too) for a file still downloading, or directly from disk for a finished one.
 * Reports what it knows through `onUpdate` (plain PlaybackState fields); owns and closes the mpv
 * process and the stream server.
 */
import fs from 'node:fs/promises'
import type { Download } from '../node/download.ts'
import { playableFormat, playDownload, type PlayingDownload } from '../media/play-download.ts'
import { SNIFF_BYTES } from '../player/media-format.ts'
import { MpvPlayer } from '../player/mpv-player.ts'
import type { Player } from '../player/player.ts'
import type { PlaybackState } from './state.ts'

/** Options: extra mpv flags; `headless` overrides the DISPLAY check (tests). */
export interface PlaybackOptions {
  playerArgs?: string[]
  headless?: boolean
  onUpdate: (p: Partial<PlaybackState>) => void
  log: (level: 'info' | 'warn' | 'debug', msg: string) => void
}

export class Playback {
  private player: Player | null = null
  private streaming: PlayingDownload | null = null
  private closed = false

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
    const streaming = await playDownload(d, p)
    // Another file was asked for meanwhile: this one's server goes with its player.
    if (this.player !== p) return void (await streaming.stop())
    this.streaming = streaming
    this.opts.log('info', `mpv (pid ${p.pid}) playing ${title}`)
  }

  /** Play a file on disk (a finished transfer, a file of your library). */
  async playFile(file: string, title: string, audioOnly = false): Promise<void> {
    const fh = await fs.open(file, 'r')
    let head: Buffer
    try {
      const { buffer, bytesRead } = await fh.read(Buffer.alloc(SNIFF_BYTES), 0, SNIFF_BYTES, 0)
      head = buffer.subarray(0, bytesRead)
    } finally {
      await fh.close()
    }
    const format = playableFormat(file, head)
    const p = await this.newPlayer(title, audioOnly)
    await p.start()
    this.opts.log('info', `mpv (pid ${p.pid}) playing ${title}`)
    await p.play(file, { format })
  }

  private async newPlayer(title: string, audioOnly: boolean): Promise<Player> {
    if (this.closed) throw new Error('closing')
    // A fresh mpv per file: audio-only files get quicker probing (MpvPlayer audioOnly).
    await this.stopPlayer()
    const p = new MpvPlayer({
      playerArgs: this.opts.playerArgs ?? [],
      audioOnly,
      ...(this.opts.headless !== undefined ? { headless: this.opts.headless } : {}),
      logger: (m) => this.opts.log('debug', `mpv: ${m}`)
    })
    this.player = p
    const mine = (): boolean => this.player === p
    p.on('position', (s) => mine() && this.opts.onUpdate({ position: s }))
    p.on('duration', (s) => mine() && this.opts.onUpdate({ duration: s }))
    p.on('pause', (paused) => mine() && this.opts.onUpdate({ paused }))
    p.on('end', (e) => {
      if (mine() && e.reason === 'eof') this.opts.log('info', `mpv: finished ${title}`)
    })
    p.on('exit', () => {
      if (!mine()) return
      this.player = null
      this.opts.onUpdate({ active: false, position: null, duration: null, paused: false })
    })
    this.opts.onUpdate({ active: true, title, position: null, duration: null, paused: false })
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

  private requirePlayer(): Player {
    if (!this.player?.running) throw new Error('nothing is playing (p plays the selected result)')
    return this.player
  }

  private async stopPlayer(): Promise<void> {
    const p = this.player
    const s = this.streaming
    this.player = null
    this.streaming = null
    await p?.quit().catch(() => {})
    await s?.stop()
  }

  /** Quit mpv (waits for its exit) and close the stream server. Safe to call repeatedly. */
  async close(): Promise<void> {
    this.closed = true
    await this.stopPlayer()
    this.opts.onUpdate({ active: false, position: null, duration: null, paused: false })
  }
}
