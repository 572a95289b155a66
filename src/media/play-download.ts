/**
 * Play a download in mpv while it downloads: the one path used by `fetch --play`, the scripted
 * node's fetch with "play" (src/cli/common.ts) and the TUI (src/tui/playback.ts). The player
 * reads the file through a loopback StreamServer of its own, so a seek to bytes not yet
 * downloaded waits for them and moves the download there (docs/STREAMING.md).
 */
import type { Download } from '../node/download.ts'
import type { Player } from '../player/player.ts'
import { StreamServer } from './stream-server.ts'

/** A download being played; `stop()` closes its stream server (the caller owns the player). */
export interface PlayingDownload {
  /** The loopback URL mpv reads. */
  url: string
  stop(): Promise<void>
}

/**
 * Start a stream server for `d` and have `player` play it. The player is started here, in
 * parallel with the server (mpv takes 120-300 ms to start), unless `ready` says it was started
 * ahead of time. Start the download before or alongside: the first bytes then arrive while mpv
 * starts.
 * @throws MpvNotInstalledError, MpvError from the player (src/player/player.ts); the listen error of the server (then
 *   nothing is left open).
 */
export async function playDownload(d: Download, player: Player, ready?: Promise<void>): Promise<PlayingDownload> {
  const streams = new StreamServer()
  try {
    await Promise.all([ready ?? player.start(), streams.start()])
    const url = streams.add(d)
    await player.play(url)
    return { url, stop: () => streams.stop().catch(() => {}) }
  } catch (err) {
    await streams.stop().catch(() => {})
    throw err
  }
}
