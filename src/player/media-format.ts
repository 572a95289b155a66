/**
 * What mpv may be told to open (docs/SECURITY.md "Playing what peers send"): mpv trusts content,
 * not extensions. A file named `.mp4` that holds an M3U playlist, an mpv EDL or an HLS list makes
 * mpv (0.35, default flags) request the URLs inside, chosen by whoever shared the file. So:
 * - the demuxer is forced from the name's extension: libavformat only (`--demuxer=lavf`: none
 *   of mpv's playlist/EDL/cue demuxers) with that one format (`demuxer-lavf-format`, e.g. `mov`
 *   for .mp4), and `--access-references=no` (no reference following, no mov reference files);
 * - the first bytes are sniffed before mpv sees the stream: playlist and EDL signatures and
 *   plain-text URL lists are refused.
 * Pure: no I/O.
 */
import path from 'node:path'

/** libavformat demuxer by extension (ffmpeg -formats names; mov covers mp4/m4a/3gp). */
const LAVF: Record<string, string> = {
  mp4: 'mov',
  m4v: 'mov',
  m4a: 'mov',
  mov: 'mov',
  '3gp': 'mov',
  mkv: 'matroska',
  webm: 'matroska',
  avi: 'avi',
  ogv: 'ogg',
  ogg: 'ogg',
  oga: 'ogg',
  opus: 'ogg',
  mp3: 'mp3',
  flac: 'flac',
  wav: 'wav',
  aac: 'aac',
  mpg: 'mpeg',
  mpeg: 'mpeg',
  ts: 'mpegts',
  flv: 'flv',
  wmv: 'asf',
  wma: 'asf',
  png: 'png_pipe',
  jpg: 'jpeg_pipe',
  jpeg: 'jpeg_pipe',
  gif: 'gif',
  webp: 'webp_pipe',
  bmp: 'bmp_pipe'
}

/** The one libavformat format mpv may use for `name`, or null: not a media name mpv is given. */
export function lavfFormat(name: string): string | null {
  return LAVF[path.extname(name).slice(1).toLowerCase()] ?? null
}

/** Bytes of a file's head worth sniffing. */
export const SNIFF_BYTES = 512

/** Text that makes mpv or libavformat open other sources: M3U/HLS, mpv EDL, PLS, XML playlists. */
const PLAYLIST_RE = /^\s*(#EXTM3U|#EXTINF|#EXT-X-|# ?mpv EDL|edl:\/\/|\[playlist\]|<\?xml|<asx|<smil|<playlist|ffconcat)/i

/**
 * Why the head of a file must not be played, or null when it may be.
 * @param head the first bytes (up to SNIFF_BYTES; fewer for a shorter file).
 * @returns a short reason: a playlist/EDL signature, or text (no control bytes) holding a URL.
 */
export function unsafeHead(head: Uint8Array): string | null {
  const b = Buffer.from(head.buffer, head.byteOffset, Math.min(head.length, SNIFF_BYTES))
  const text = b.toString('latin1').replace(/^\u00ef\u00bb\u00bf/, '') // a UTF-8 BOM
  if (PLAYLIST_RE.test(text)) return 'it is a playlist or EDL file, not media'
  // Every supported media format has binary bytes in its first 512 (box sizes, magic numbers).
  const binary = b.some((c) => c < 9 || (c > 13 && c < 32) || c === 127)
  if (!binary && /[a-z][a-z0-9+.-]*:\/\/|^\s*\//im.test(text)) return 'it is text listing URLs or paths, not media'
  return null
}
