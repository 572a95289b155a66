/**
 * Tagged copies of real media for the library tests. The Debian music (drascula-music) carries
 * no tags at all (ffprobe shows none), so tests tag copies with ffmpeg (`-c copy -metadata k=v`,
 * the audio stream is not re-encoded); ID3v2 blocks with a chosen picture size are built by hand
 * (ID3v2.3 §3, §4.15 APIC) in front of an MP3 that ffmpeg encodes from the same music.
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { AUDIO_DIR } from './nodes.ts'

const run = promisify(execFile)

/** Tags as ffmpeg's `-metadata` takes them (artist, title, album, album_artist, genre, date, track, disc). */
export type Tags = Record<string, string>

/**
 * Copy `src` (a real Ogg track, default the 9 s track12.ogg) to `dir/name` with `tags`
 * (stream copied, not re-encoded). @returns the new file's path.
 */
export async function taggedCopy(dir: string, name: string, tags: Tags, src = path.join(AUDIO_DIR, 'track12.ogg')): Promise<string> {
  const out = path.join(dir, name)
  await fs.mkdir(path.dirname(out), { recursive: true })
  const meta = Object.entries(tags).flatMap(([k, v]) => ['-metadata', `${k}=${v}`])
  await run('ffmpeg', ['-v', 'error', '-y', '-i', src, '-map_metadata', '-1', '-c', 'copy', ...meta, out])
  return out
}

/** A 3 s MP3 without tags, encoded from a real track (kept per path: encoding takes ~0.3 s). */
export async function plainMp3(file: string): Promise<Buffer> {
  await run('ffmpeg', ['-v', 'error', '-y', '-i', path.join(AUDIO_DIR, 'track12.ogg'), '-t', '3', '-c:a', 'libmp3lame', '-id3v2_version', '0', '-write_id3v1', '0', file])
  return fs.readFile(file)
}

const syncsafe = (n: number): Buffer => Buffer.from([(n >> 21) & 0x7f, (n >> 14) & 0x7f, (n >> 7) & 0x7f, n & 0x7f])

function frame(id: string, body: Buffer): Buffer {
  const h = Buffer.alloc(10)
  h.write(id, 0, 'latin1')
  h.writeUInt32BE(body.length, 4)
  return Buffer.concat([h, body])
}

/** An ID3v2.3 block with a TIT2 title and an APIC picture of `pictureBytes` bytes (PNG magic, then zeros). */
export function id3WithPicture(title: string, pictureBytes: number): Buffer {
  const tit2 = frame('TIT2', Buffer.concat([Buffer.from([0]), Buffer.from(title, 'latin1')]))
  const pic = Buffer.alloc(pictureBytes)
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(pic)
  const apic = frame('APIC', Buffer.concat([Buffer.from([0]), Buffer.from('image/png\0', 'latin1'), Buffer.from([3, 0]), pic]))
  const frames = Buffer.concat([tit2, apic])
  return Buffer.concat([Buffer.from('ID3\x03\x00\x00', 'latin1'), syncsafe(frames.length), frames])
}
