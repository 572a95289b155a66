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

/**
 * An MP3 (3 s of a real track) with `cover` (a JPEG file) as its embedded front cover (ID3v2.3
 * APIC through ffmpeg's attached picture), and `tags`. @returns the new file's path.
 */
export async function mp3WithCover(dir: string, name: string, cover: string, tags: Tags): Promise<string> {
  const out = path.join(dir, name)
  await fs.mkdir(path.dirname(out), { recursive: true })
  const meta = Object.entries(tags).flatMap(([k, v]) => ['-metadata', `${k}=${v}`])
  await run('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-i',
    path.join(AUDIO_DIR, 'track12.ogg'),
    '-i',
    cover,
    '-map',
    '0:a',
    '-map',
    '1:v',
    '-t',
    '3',
    '-c:a',
    'libmp3lame',
    '-c:v',
    'copy',
    '-id3v2_version',
    '3',
    '-disposition:v',
    'attached_pic',
    ...meta,
    out
  ])
  return out
}

/** A big JPEG (`side` × `side` pixels, scaled from a real picture) for the cover caps. */
export async function bigJpeg(file: string, src: string, side: number): Promise<Buffer> {
  await run('ffmpeg', ['-v', 'error', '-y', '-i', src, '-vf', `scale=${side}:${side}`, '-q:v', '2', file])
  return fs.readFile(file)
}

/**
 * A copy of a JPEG with an EXIF block (APP1, TIFF little-endian, Exif 2.3 §4.5-4.6) holding
 * DateTimeOriginal = `taken` ("YYYY:MM:DD HH:MM:SS"), inserted after SOI. @returns the bytes written.
 */
export async function jpegWithExifDate(src: string, out: string, taken: string): Promise<Buffer> {
  const jpg = await fs.readFile(src)
  const tiff = Buffer.alloc(64)
  tiff.write('II', 0, 'latin1')
  tiff.writeUInt16LE(42, 2)
  tiff.writeUInt32LE(8, 4) // IFD0
  tiff.writeUInt16LE(1, 8)
  tiff.writeUInt16LE(0x8769, 10) // ExifIFDPointer, LONG
  tiff.writeUInt16LE(4, 12)
  tiff.writeUInt32LE(1, 14)
  tiff.writeUInt32LE(26, 18)
  tiff.writeUInt32LE(0, 22)
  tiff.writeUInt16LE(1, 26) // Exif IFD
  tiff.writeUInt16LE(0x9003, 28) // DateTimeOriginal, ASCII, 20 bytes
  tiff.writeUInt16LE(2, 30)
  tiff.writeUInt32LE(20, 32)
  tiff.writeUInt32LE(44, 36)
  tiff.writeUInt32LE(0, 40)
  tiff.write(`${taken}\0`, 44, 'latin1')
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff])
  const app1 = Buffer.alloc(4)
  app1.writeUInt16BE(0xffe1, 0)
  app1.writeUInt16BE(body.length + 2, 2)
  const bytes = Buffer.concat([jpg.subarray(0, 2), app1, body, jpg.subarray(2)])
  await fs.writeFile(out, bytes)
  return bytes
}
