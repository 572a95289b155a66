/**
 * Play a download in mpv while it downloads: the one path used by `fetch --play`, the scripted
 * node's fetch with "play" (src/cli/common.ts) and the TUI (src/tui/playback.ts). The player
 * reads the file through a loopback StreamServer of its own, so a seek to bytes not yet
 * downloaded waits for them and moves the download there (docs/STREAMING.md).
 */
import fs from 'node:fs/promises'
import type { Download } from '../node/download.ts'
import { lavfFormat, SNIFF_BYTES, unsafeHead } from '../player/media-format.ts'
import type { Player } from '../player/player.ts'
import { P2PTubeError } from '../protocol/errors.ts'
import { StreamServer } from './stream-server.ts'

/**
 * The libavformat format mpv must open `name` with, after a look at its first bytes.
 * @param head the file's first bytes (up to SNIFF_BYTES).
 * @throws P2PTubeError ERR_UNSAFE_MEDIA for a name without a media extension, or a head that is
 *   a playlist, EDL or URL list (player/media-format.ts).
 */
export function playableFormat(name: string, head: Uint8Array): string {
  const format = lavfFormat(name)
  if (!format) throw new P2PTubeError('ERR_UNSAFE_MEDIA', `not playing ${name}: its name has no media extension`)
  const why = unsafeHead(head)
  if (why) throw new P2PTubeError('ERR_UNSAFE_MEDIA', `not playing ${name}: ${why}`)
  return format
}

/** The first SNIFF_BYTES of a file on disk (fewer for a shorter file). @throws the open/read error. */
export async function readHead(file: string): Promise<Buffer> {
  const fh = await fs.open(file, 'r')
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(SNIFF_BYTES), 0, SNIFF_BYTES, 0)
    return buffer.subarray(0, bytesRead)
  } finally {
    await fh.close()
  }
}

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
 * The player gets the stream only after its first bytes were sniffed (playableFormat), and opens
 * it with the demuxer of its extension.
 * @throws P2PTubeError ERR_UNSAFE_MEDIA (playableFormat); MpvNotInstalledError, MpvError from
 *   the player (src/player/player.ts); the download's error before its first bytes; the listen
 *   error of the server (then nothing is left open).
 */
export async function playDownload(d: Download, player: Player, ready?: Promise<void>): Promise<PlayingDownload> {
  if (!lavfFormat(d.fileName)) playableFormat(d.fileName, new Uint8Array())
  const streams = new StreamServer()
  try {
    await Promise.all([ready ?? player.start(), streams.start()])
    const url = streams.add(d)
    await d.waitFor(0)
    const format = playableFormat(d.fileName, await d.read(0, Math.min(d.available(0), SNIFF_BYTES)))
    await player.play(url, { format })
    return { url, stop: () => streams.stop().catch(() => {}) }
  } catch (err) {
    await streams.stop().catch(() => {})
    throw err
  }
}
