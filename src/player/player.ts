/**
 * The player as the rest of p2ptube sees it (src/media, src/tui, src/cli): a player process that
 * plays a URL (the loopback stream server's), with pause/resume/seek/stop, quit, and events with
 * times in seconds. MpvPlayer (mpv-player.ts) implements it; how mpv is driven (node-mpv and its
 * gotchas) stays inside src/player/mpv-process.ts.
 */
import type { EventEmitter } from 'node:events'
import { P2PTubeError } from '../protocol/errors.ts'

/** mpv is not on PATH (or `binary` is not an executable file). `code` is 'ERR_MPV_NOT_FOUND'. */
export class MpvNotInstalledError extends P2PTubeError {
  constructor(binary = 'mpv') {
    super(
      'ERR_MPV_NOT_FOUND',
      `mpv was not found (looked for "${binary}"); p2ptube plays media in mpv: install it ` + '(Debian/Ubuntu: sudo apt-get install mpv; macOS: brew install mpv) or pass its path'
    )
  }
}

/**
 * mpv refused a command, failed to load a file, or exited while something waited on it.
 * `code` is 'ERR_MPV_COMMAND', 'ERR_MPV_LOAD' or 'ERR_MPV_EXITED'.
 */
export class MpvError extends P2PTubeError {}

/** Why a file stopped, from mpv's `end-file` event: 'eof' is the natural end. */
export interface PlayerEndInfo {
  reason: 'eof' | 'stop' | 'quit' | 'error' | 'redirect' | 'unknown'
  /** mpv's `file_error` text when reason is 'error'. */
  error?: string
}

/** Events of a {@link Player}; times are in seconds. */
export interface PlayerEvents {
  /** `time-pos` changed (about once per video frame / audio block while playing). */
  position: [seconds: number]
  duration: [seconds: number]
  /** The `pause` property changed. */
  pause: [paused: boolean]
  /** First frame shown after a load, or a seek finished (mpv's playback-restart). */
  'playback-restart': []
  /** A file stopped playing (every end, including replacement by play() and stop()). */
  end: [info: PlayerEndInfo]
  /** The player process exited (quit, crash, or killed). */
  exit: [code: number | null, signal: NodeJS.Signals | null]
  /** mpv's `playlist-pos` changed: the 0-based playlist entry now playing, -1 when none. */
  'playlist-pos': [index: number]
  /** mpv's `path` changed: the URL or file now playing, null when none. */
  path: [path: string | null]
  /** mpv's `volume` changed (percent, 0-130). */
  volume: [percent: number]
  /** mpv's `paused-for-cache` changed: true while playback waits for bytes (a gap). */
  'paused-for-cache': [waiting: boolean]
}

/**
 * A media player process. Lifecycle: `new` (no I/O) → start() → play()/pause()/seek()… → quit().
 * Every method but quit() rejects with MpvError 'ERR_MPV_EXITED' when the process is not running.
 */
export interface Player extends EventEmitter<PlayerEvents> {
  /** Playback position in seconds, null when nothing is loaded. */
  readonly position: number | null
  /** Duration of the current file in seconds, null while unknown. */
  readonly duration: number | null
  readonly paused: boolean
  /** True between a successful start() and the process's exit. */
  readonly running: boolean
  /** PID of the player process once spawned, else null. */
  readonly pid: number | null
  /**
   * Spawn the player idle and wait until it takes commands.
   * @throws MpvNotInstalledError, TimeoutError ERR_TIMEOUT, MpvError ERR_MPV_EXITED.
   */
  start(): Promise<void>
  /**
   * Load `url` (replacing the current file); resolves once it is opened.
   * @param opts.format the libavformat format to open it with (media-format.ts lavfFormat);
   *   without one libavformat probes the content.
   * @throws MpvError ERR_MPV_LOAD (unplayable, or superseded by a newer play()), AbortError.
   */
  play(url: string, opts?: { signal?: AbortSignal; format?: string }): Promise<void>
  /**
   * Append `url` to the playlist (mpv `loadfile … append-play`): it plays after the entries
   * before it, or at once when the player is idle. Resolves when mpv took the command.
   * @param opts.format libavformat format for this entry only (a per-file option).
   * @throws MpvError ERR_MPV_COMMAND, ERR_MPV_EXITED.
   */
  append(url: string, opts?: { format?: string }): Promise<void>
  /** Skip to the next playlist entry. @throws MpvError ERR_MPV_COMMAND when there is none. */
  next(): Promise<void>
  /** Current volume in percent (mpv `volume`, default 100). */
  readonly volume: number
  /** Set the volume (percent, clamped to 0-130). @throws MpvError */
  setVolume(percent: number): Promise<void>
  pause(): Promise<void>
  resume(): Promise<void>
  togglePause(): Promise<void>
  /**
   * Seek to `seconds` (absolute) or by `seconds` (relative); resolves when the seek is done.
   * @throws MpvError ERR_MPV_COMMAND (nothing loaded, not seekable), AbortError.
   */
  seek(seconds: number, mode?: 'absolute' | 'relative', opts?: { signal?: AbortSignal; precision?: 'exact' | 'keyframes' }): Promise<void>
  /** Unload the file; the process stays (idle). */
  stop(): Promise<void>
  /** End the process and resolve once it is gone. Never rejects; safe to repeat. */
  quit(): Promise<void>
}
