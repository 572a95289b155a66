/**
 * MpvPlayer: the Player (player.ts) backed by an external mpv. It keeps the playback state
 * (position, duration, pause) from mpv's own messages and turns commands into promises that settle
 * on mpv's events (file-loaded, playback-restart, end-file). How mpv is spawned and driven, and
 * every node-mpv gotcha, is in mpv-process.ts, the one file that imports node-mpv.
 * This module also re-exports the player API the rest of the code imports from here.
 */
import { EventEmitter } from 'node:events'
import { AbortError } from '../protocol/errors.ts'
import { isHeadless } from './find-mpv.ts'
import { MpvProcess, type MpvMessage } from './mpv-process.ts'
import { MpvError, type Player, type PlayerEndInfo, type PlayerEvents } from './player.ts'

export { findMpv, isHeadless } from './find-mpv.ts'
export { sweepStaleSockets } from './mpv-child.ts'
export { MpvError, MpvNotInstalledError, type Player, type PlayerEndInfo, type PlayerEvents } from './player.ts'
/** The Player's end-file info (former name). */
export type MpvEndInfo = PlayerEndInfo
/** Events of {@link MpvPlayer}: a Player's (former name). */
export type MpvPlayerEvents = PlayerEvents

/** Options of {@link MpvPlayer}. */
export interface MpvPlayerOptions {
  /** mpv executable, a name looked up on PATH or a path. Default 'mpv'. */
  binary?: string
  /** Add `--vo=null --ao=null` (no window, no sound). Default {@link isHeadless}(). */
  headless?: boolean
  /** Extra mpv flags (the CLI's --player-args), appended last so they win; p2ptube's own IPC and output flags are dropped (mpv-process.ts). */
  playerArgs?: string[]
  /** No video decoding (`--no-video --no-audio-display`), quicker audio probing. Default false. */
  audioOnly?: boolean
  /**
   * A play queue: `--gapless-audio=yes` (no silence between tracks of one format) and
   * `--prefetch-playlist=yes` (mpv opens the next entry while the current one plays). Default false.
   */
  gapless?: boolean
  /** Limit for spawn → IPC ready, in ms. Default 5000. */
  startTimeoutMs?: number
  /** Debug sink (`p2ptube:player` namespace is up to the caller). Default: discard. */
  logger?: (msg: string) => void
}

interface Waiter {
  match: (msg: MpvMessage) => boolean
  resolve: () => void
  reject: (err: Error) => void
}

/** A pending wait for an mpv message; `cancel()` resolves it and stops matching. */
interface Wait {
  done: Promise<void>
  cancel: () => void
}

/**
 * One mpv process, controlled over its JSON IPC socket.
 * Lifecycle: `new` (no I/O) → start() → play()/pause()/seek()… → quit(). Events: {@link PlayerEvents}.
 * No mpv outlives the Node process (mpv-process.ts, gotcha 5).
 */
export class MpvPlayer extends EventEmitter<PlayerEvents> implements Player {
  readonly #mpv: MpvProcess
  readonly #log: (msg: string) => void
  #waiters = new Set<Waiter>()
  #position: number | null = null
  #duration: number | null = null
  #paused = false
  #volume = 100
  /** loadfile takes an index before the per-file options since mpv 0.38 (null: not asked yet). */
  #loadfileIndex: boolean | null = null

  constructor(opts: MpvPlayerOptions = {}) {
    super()
    this.#log = opts.logger ?? (() => {})
    this.#mpv = new MpvProcess({
      binary: opts.binary ?? 'mpv',
      headless: opts.headless ?? isHeadless(),
      playerArgs: [...(opts.gapless ? ['--gapless-audio=yes', '--prefetch-playlist=yes'] : []), ...(opts.playerArgs ?? [])],
      audioOnly: opts.audioOnly ?? false,
      startTimeoutMs: opts.startTimeoutMs ?? 5000,
      log: this.#log
    })
    this.#mpv.on('message', (msg) => this.#onMessage(msg))
    this.#mpv.on('exit', (code, signal) => {
      this.#position = null
      for (const w of this.#waiters) w.reject(new MpvError('ERR_MPV_EXITED', `mpv exited (code ${code}, signal ${signal})`))
      this.emit('exit', code, signal)
    })
  }

  /** Current playback position in seconds (mpv `time-pos`), null when nothing is loaded. */
  get position(): number | null {
    return this.#position
  }
  /** Duration of the current file in seconds, null while unknown. */
  get duration(): number | null {
    return this.#duration
  }
  /** mpv's `pause` property. */
  get paused(): boolean {
    return this.#paused
  }
  /** True between a successful start() and mpv's exit. */
  get running(): boolean {
    return this.#mpv.running
  }
  /** PID of the mpv process once spawned, else null. */
  get pid(): number | null {
    return this.#mpv.pid
  }
  /** The IPC socket path of this instance (unique per start()), null before start(). */
  get socketPath(): string | null {
    return this.#mpv.socketPath
  }

  /**
   * Spawns mpv idle and waits until its IPC socket answers (120–300 ms; flags in mpv-process.ts).
   * @throws MpvNotInstalledError before any spawn when the binary is missing.
   * @throws TimeoutError (code 'ERR_TIMEOUT') after startTimeoutMs; mpv is SIGKILLed.
   * @throws MpvError 'ERR_MPV_EXITED' when mpv exits during start-up (e.g. a bad flag).
   */
  async start(): Promise<void> {
    await this.#mpv.start()
    // A cache underrun (playback waiting for bytes): the gap a play queue must avoid.
    await this.#mpv.observe('paused-for-cache')
  }

  /**
   * Loads `url` (replacing the current file) and resolves once mpv reports `file-loaded`, i.e.
   * demuxer opened; the first frame follows as 'playback-restart'. Meant for the local HTTP server
   * (`http://127.0.0.1:<port>/…`); a path or any other mpv source is passed unchanged (`loadfile`,
   * not node-mpv's load(): gotcha 3 in mpv-process.ts).
   * @throws MpvError 'ERR_MPV_LOAD' when mpv ends the file with an error (e.g. HTTP 404, bad data).
   * @throws AbortError when `signal` aborts; MpvError 'ERR_MPV_EXITED' if mpv exits meanwhile.
   * A play() superseded by a newer one rejects with ERR_MPV_LOAD (reason 'stop').
   * @param format libavformat format forced for this file (`demuxer-lavf-format`, e.g. 'mov'
   *   for .mp4: media-format.ts); '' or none lets libavformat probe.
   */
  async play(url: string, { signal, format = '' }: { signal?: AbortSignal; format?: string } = {}): Promise<void> {
    this.#requireRunning()
    // An option set as a property applies to the next file loaded.
    await this.#send(() => this.#mpv.setProperty('demuxer-lavf-format', format))
    let started = false
    let failure: PlayerEndInfo | undefined
    const loaded = this.#waitFor((msg) => {
      if (msg.event === 'start-file') started = true
      else if (started && msg.event === 'end-file') {
        failure = endInfo(msg)
        return true
      }
      return started && msg.event === 'file-loaded'
    }, signal)
    await this.#send(() => this.#mpv.command('loadfile', [url, 'replace']), loaded)
    await loaded.done
    const end = failure as PlayerEndInfo | undefined
    if (end) throw new MpvError('ERR_MPV_LOAD', `mpv could not play ${url}: ${end.error ?? end.reason}`)
  }

  /**
   * Appends `url` to mpv's playlist (`loadfile <url> append-play`, with `demuxer-lavf-format` as
   * a per-file option when `format` is given): it plays once the entries before it ended, at once
   * when mpv is idle. Resolves when mpv accepted the command (not when the file opens: follow
   * 'playlist-pos' and 'path'). mpv ≥ 0.38 wants an index (-1) before the options.
   * @throws MpvError 'ERR_MPV_COMMAND', 'ERR_MPV_EXITED'.
   */
  async append(url: string, { format = '' }: { format?: string } = {}): Promise<void> {
    this.#requireRunning()
    if (this.#loadfileIndex === null) {
      const v = String(await this.#send(() => this.#mpv.getProperty('mpv-version')))
      const m = /(\d+)\.(\d+)/.exec(v)
      this.#loadfileIndex = m ? Number(m[1]) > 0 || Number(m[2]) >= 38 : false
    }
    const args = [url, 'append-play']
    if (format) args.push(...(this.#loadfileIndex ? ['-1'] : []), `demuxer-lavf-format=${format}`)
    await this.#send(() => this.#mpv.command('loadfile', args))
  }

  /** Skips to the next playlist entry (`playlist-next weak`). @throws MpvError 'ERR_MPV_COMMAND' when there is none. */
  async next(): Promise<void> {
    this.#requireRunning()
    await this.#send(() => this.#mpv.command('playlist-next', ['weak']))
  }

  /** mpv's `volume` in percent (100 = unchanged). */
  get volume(): number {
    return this.#volume
  }

  /** Sets mpv's volume, `percent` clamped to 0-130; `volume` is updated on return. @throws MpvError */
  async setVolume(percent: number): Promise<void> {
    this.#requireRunning()
    const v = Math.max(0, Math.min(130, Math.round(percent)))
    await this.#send(() => this.#mpv.setProperty('volume', v))
    this.#setVolume(v)
  }

  /** Pauses; resolves when mpv acknowledged, with `paused` already true. @throws MpvError */
  async pause(): Promise<void> {
    this.#requireRunning()
    await this.#send(() => this.#mpv.setProperty('pause', true))
    this.#setPaused(true)
  }

  /** Resumes; resolves when mpv acknowledged, with `paused` already false. @throws MpvError */
  async resume(): Promise<void> {
    this.#requireRunning()
    await this.#send(() => this.#mpv.setProperty('pause', false))
    this.#setPaused(false)
  }

  /** Flips the pause state. @throws MpvError */
  async togglePause(): Promise<void> {
    await (this.#paused ? this.resume() : this.pause())
  }

  /**
   * Seek (exact by default, or to the nearest keyframe with `precision: "keyframes"`); resolves
   * when mpv's playback-restart reports the seek done (or the file ended), with `position` re-read
   * from mpv. `seconds` is a target (absolute) or an offset (relative). Seeking into bytes not yet
   * downloaded works through the HTTP server (~170 ms per reference).
   * @throws MpvError 'ERR_MPV_COMMAND' when nothing is loaded or the file is not seekable.
   */
  async seek(seconds: number, mode: 'absolute' | 'relative' = 'relative', { signal, precision = 'exact' }: { signal?: AbortSignal; precision?: 'exact' | 'keyframes' } = {}): Promise<void> {
    this.#requireRunning()
    let seeking = false
    const done = this.#waitFor((msg) => {
      if (msg.event === 'seek') seeking = true
      return (seeking && msg.event === 'playback-restart') || msg.event === 'end-file'
    }, signal)
    // 'keyframes' lands on the nearest keyframe: while streaming it needs far fewer bytes than an
    // exact seek, which decodes from the keyframe before the target (mpv's arrow-key default).
    await this.#send(() => this.#mpv.command('seek', [String(seconds), `${mode}+${precision}`]), done)
    await done.done
    // time-pos may arrive after playback-restart: re-read it so `position` is current on return.
    const pos = await this.#send(() => this.#mpv.getProperty('time-pos'))
    if (typeof pos === 'number') this.#setPosition(pos)
  }

  /** Stops playback and unloads the file; mpv stays running (idle). @throws MpvError */
  async stop(): Promise<void> {
    this.#requireRunning()
    await this.#send(() => this.#mpv.command('stop', []))
  }

  /**
   * Quits mpv and resolves after the process exited (SIGKILL after 2 s if it ignores `quit`),
   * then deletes the socket file mpv 0.35 leaves behind. Safe to call at any time, repeatedly.
   */
  quit(): Promise<void> {
    return this.#mpv.quit()
  }

  #requireRunning(): void {
    if (!this.#mpv.running) throw new MpvError('ERR_MPV_EXITED', 'mpv is not running (call start() first)')
  }

  /**
   * Runs one mpv call (it rejects with MpvError, and at once when mpv exits). On failure `wait`
   * (registered before the call) is cancelled; while the call is in flight its rejection is
   * marked handled, the caller awaits it after.
   */
  async #send<T>(fn: () => Promise<T>, wait?: Wait): Promise<T> {
    wait?.done.catch(() => {})
    try {
      return await fn()
    } catch (err) {
      wait?.cancel()
      throw err
    }
  }

  /** Waits for the first raw mpv message `match` accepts; register it before sending the command. */
  #waitFor(match: (msg: MpvMessage) => boolean, signal?: AbortSignal): Wait {
    let waiter!: Waiter
    const done = new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters.delete(waiter)
        reject(new AbortError())
      }
      const settle = (): void => {
        this.#waiters.delete(waiter)
        signal?.removeEventListener('abort', onAbort)
      }
      waiter = {
        match,
        resolve: () => {
          settle()
          resolve()
        },
        reject: (err) => {
          settle()
          reject(err)
        }
      }
      if (signal?.aborted) return reject(new AbortError())
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiters.add(waiter)
    })
    return { done, cancel: () => waiter.resolve() }
  }

  #onMessage(msg: MpvMessage): void {
    if (msg.event === 'property-change') {
      if (msg.name === 'time-pos') this.#setPosition(typeof msg.data === 'number' ? msg.data : null)
      else if (msg.name === 'duration') {
        this.#duration = typeof msg.data === 'number' ? msg.data : null
        if (this.#duration !== null) this.emit('duration', this.#duration)
      } else if (msg.name === 'pause' && typeof msg.data === 'boolean') this.#setPaused(msg.data)
      else if (msg.name === 'playlist-pos' && typeof msg.data === 'number') this.emit('playlist-pos', msg.data)
      else if (msg.name === 'path') this.emit('path', typeof msg.data === 'string' ? msg.data : null)
      else if (msg.name === 'volume' && typeof msg.data === 'number') this.#setVolume(msg.data)
      else if (msg.name === 'paused-for-cache' && typeof msg.data === 'boolean') this.emit('paused-for-cache', msg.data)
    } else if (msg.event === 'playback-restart') {
      this.emit('playback-restart')
    } else if (msg.event === 'end-file') {
      this.emit('end', endInfo(msg))
    }
    for (const w of this.#waiters) {
      if (w.match(msg)) w.resolve()
    }
  }

  #setPosition(seconds: number | null): void {
    this.#position = seconds
    if (seconds !== null) this.emit('position', seconds)
  }

  #setVolume(percent: number): void {
    if (percent === this.#volume) return
    this.#volume = percent
    this.emit('volume', percent)
  }

  #setPaused(paused: boolean): void {
    if (paused === this.#paused) return
    this.#paused = paused
    this.emit('pause', paused)
  }
}

function endInfo(msg: MpvMessage): PlayerEndInfo {
  const reasons: PlayerEndInfo['reason'][] = ['eof', 'stop', 'quit', 'error', 'redirect']
  const reason = reasons.find((r) => r === msg.reason) ?? 'unknown'
  return msg.file_error ? { reason, error: msg.file_error } : { reason }
}
