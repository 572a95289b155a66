/**
 * Pictures of shared files for the web page (issue #12): a video's poster frame, an audio file's
 * embedded cover, a photo's thumbnail — each a small JPEG (at most THUMB_SIZE pixels a side,
 * at most MAX_THUMB_BYTES) made by ffmpeg (Debian's ffmpeg package) in a child process and
 * cached by content id in a folder (`thumbs/<cid>.jpg`; `<cid>.none` remembers a file without
 * a picture), so a restart makes none again.
 *
 * Untrusted input (a shared file may come from anyone): ffmpeg runs with `-nostdin`, one
 * thread, the `file` protocol only and the demuxers of the file's kind only (a playlist named
 * `.mp4` — HLS, concat — that would make ffmpeg read other files or URLs is refused), decoded
 * frames of at most MAX_PIXELS, killed after `timeoutMs`, and its output cut at MAX_THUMB_BYTES;
 * an image over MAX_IMAGE_BYTES gets no thumbnail. The picture bytes of a huge embedded cover
 * stay in ffmpeg's memory, never in the node's. One ffmpeg runs at a time per library, at most
 * MAX_WAITING wait; more are refused (null), so a page asking for a thousand thumbnails at once
 * queues none beyond that.
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { writeFileAtomic } from './atomic-file.ts'
import type { MediaKind } from './media-kind.ts'

/** Largest side of a picture, pixels. */
export const THUMB_SIZE = 320
/** Largest picture kept, bytes (ffmpeg's output beyond it: no picture). */
export const MAX_THUMB_BYTES = 128 * 1024
/** Largest photo thumbnailed, bytes. */
export const MAX_IMAGE_BYTES = 64 * 1024 * 1024
/** Largest frame ffmpeg may decode, pixels (a decompression bomb is refused by the decoder). */
const MAX_PIXELS = 64_000_000
/** Picture requests waiting for ffmpeg, at most. */
const MAX_WAITING = 64

/** ffmpeg demuxers a file of each kind may be read with (`-format_whitelist`). */
const DEMUXERS: Record<MediaKind, string> = {
  video: 'mov,matroska,webm,avi,mpeg,mpegts,flv,asf,ogg',
  audio: 'mp3,ogg,flac,mov,matroska,asf,wav,aiff,ape,wv',
  image: 'jpeg_pipe,png_pipe,webp_pipe,gif,bmp_pipe,tiff_pipe'
}

/** Options. `ffmpeg`: its path, or null for no pictures at all (default 'ffmpeg' on PATH). */
export interface PictureOptions {
  ffmpeg?: string | null
  /** ffmpeg is killed after this long; ms (default 10 000). */
  timeoutMs?: number
  /** Cache folder (none: kept in memory, at most 256 pictures). */
  dir?: string
}

/** What a picture is made of: a library entry with its content id (duration in ms when known). */
export interface PictureSource {
  path: string
  kind: MediaKind
  size: number
  cid?: string
  meta?: { durationMs?: number }
}

/**
 * The ffmpeg arguments that write one JPEG picture of `file` to stdout: for video a frame at
 * `seekS` seconds, for audio its attached picture (the cover), for an image the image itself;
 * scaled down to THUMB_SIZE, quality 5 (a few KB to tens of KB). `demuxer`: the one to use
 * (images: photoDemuxer; ffmpeg's own guess by extension would pick image2, which reads names
 * as patterns).
 */
export function ffmpegArgs(file: string, kind: MediaKind, seekS: number, demuxer?: string): string[] {
  return [
    '-nostdin',
    '-v',
    'error',
    '-threads',
    '1',
    '-protocol_whitelist',
    'file',
    '-format_whitelist',
    DEMUXERS[kind],
    '-max_pixels',
    String(MAX_PIXELS),
    ...(kind === 'video' && seekS > 0 ? ['-ss', seekS.toFixed(1)] : []),
    ...(demuxer ? ['-f', demuxer] : []),
    // "file:" so that no name is taken for another protocol (a file named "concat:a|b").
    '-i',
    `file:${path.resolve(file)}`,
    '-map',
    '0:v:0',
    '-frames:v',
    '1',
    '-vf',
    `scale=${THUMB_SIZE}:${THUMB_SIZE}:force_original_aspect_ratio=decrease`,
    '-c:v',
    'mjpeg',
    '-q:v',
    '5',
    '-f',
    'image2pipe',
    'pipe:1'
  ]
}

/** The ffmpeg demuxer for a photo, from its first bytes (JPEG, PNG, WebP, GIF, BMP, TIFF), or null. */
export function photoDemuxer(head: Buffer): string | null {
  if (head[0] === 0xff && head[1] === 0xd8) return 'jpeg_pipe'
  if (head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png_pipe'
  if (head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') return 'webp_pipe'
  if (head.toString('latin1', 0, 4) === 'GIF8') return 'gif'
  if (head.toString('latin1', 0, 2) === 'BM') return 'bmp_pipe'
  if (['II*\0', 'MM\0*'].includes(head.toString('latin1', 0, 4))) return 'tiff_pipe'
  return null
}

/** The first 12 bytes of a file (fewer for a shorter one). */
async function headOf(file: string): Promise<Buffer> {
  const fh = await fs.open(file, 'r')
  try {
    const b = Buffer.alloc(12)
    const { bytesRead } = await fh.read(b, 0, 12, 0)
    return b.subarray(0, bytesRead)
  } finally {
    await fh.close()
  }
}

/** Run ffmpeg once. @returns the JPEG, or null when it failed, printed nothing, timed out or passed the cap. */
function runFfmpeg(ffmpeg: string, args: string[], timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    execFile(ffmpeg, args, { encoding: 'buffer', timeout: timeoutMs, maxBuffer: MAX_THUMB_BYTES, killSignal: 'SIGKILL' }, (err, stdout) => {
      // A JPEG starts with SOI (FF D8); anything else is not served as one.
      resolve(!err && stdout.length > 2 && stdout[0] === 0xff && stdout[1] === 0xd8 ? stdout : null)
    })
  })
}

/**
 * Make the picture of one file (no cache). A video's frame is taken at a third of its duration,
 * at most 5 s in (a title card or black first frame is common), else at 0 s.
 * @returns the JPEG, or null when the file has none (audio without a cover) or ffmpeg failed.
 */
export async function makePicture(src: PictureSource, opts: PictureOptions = {}): Promise<Buffer | null> {
  const ffmpeg = opts.ffmpeg === undefined ? 'ffmpeg' : opts.ffmpeg
  if (!ffmpeg || (src.kind === 'image' && src.size > MAX_IMAGE_BYTES)) return null
  const timeoutMs = opts.timeoutMs ?? 10_000
  if (src.kind === 'image') {
    const demuxer = photoDemuxer(await headOf(src.path).catch(() => Buffer.alloc(0)))
    return demuxer ? runFfmpeg(ffmpeg, ffmpegArgs(src.path, 'image', 0, demuxer), timeoutMs) : null
  }
  const dur = src.meta?.durationMs
  const seek = src.kind === 'video' && dur ? Math.min(5, dur / 3000) : 0
  const pic = await runFfmpeg(ffmpeg, ffmpegArgs(src.path, src.kind, seek), timeoutMs)
  if (pic || seek === 0) return pic
  return runFfmpeg(ffmpeg, ffmpegArgs(src.path, src.kind, 0), timeoutMs)
}

/**
 * Pictures of a library's files by content id, made once (one ffmpeg at a time) and cached.
 * Never rejects: a failure is no picture.
 */
export class PictureCache {
  private readonly memory = new Map<string, Buffer | null>()
  private readonly running = new Map<string, Promise<Buffer | null>>()
  private chain: Promise<unknown> = Promise.resolve()
  private waiting = 0
  /** Pictures made (ffmpeg runs), for tests and the bench. */
  made = 0

  constructor(private readonly opts: PictureOptions = {}) {}

  /**
   * The picture of `src` (which must have its content id).
   * @returns the JPEG; null when it has none, it is not hashed yet, or too many requests wait.
   */
  async get(src: PictureSource): Promise<Buffer | null> {
    const cid = src.cid
    if (!cid || !/^[0-9a-f]{64}$/.test(cid)) return null
    if (this.memory.has(cid)) return this.memory.get(cid) as Buffer | null
    const known = await this.fromDisk(cid)
    if (known !== undefined) return known
    let p = this.running.get(cid)
    if (!p) {
      if (this.waiting >= MAX_WAITING) return null
      this.waiting++
      p = this.chain
        .then(() => this.make(src, cid))
        .finally(() => {
          this.waiting--
          this.running.delete(cid)
        })
      this.chain = p
      this.running.set(cid, p)
    }
    return p
  }

  private async make(src: PictureSource, cid: string): Promise<Buffer | null> {
    const pic = await makePicture(src, this.opts)
    this.made++
    await this.keep(cid, pic)
    return pic
  }

  /** The cached picture: a Buffer, null (known to have none), or undefined (not made yet). */
  private async fromDisk(cid: string): Promise<Buffer | null | undefined> {
    const dir = this.opts.dir
    if (!dir) return undefined
    const jpg = await fs.readFile(path.join(dir, `${cid}.jpg`)).catch(() => undefined)
    if (jpg && jpg.length <= MAX_THUMB_BYTES) return jpg
    return (await fs.stat(path.join(dir, `${cid}.none`)).catch(() => null)) ? null : undefined
  }

  private async keep(cid: string, pic: Buffer | null): Promise<void> {
    const dir = this.opts.dir
    if (!dir) {
      this.memory.set(cid, pic)
      for (const k of this.memory.keys()) {
        if (this.memory.size <= 256) break
        this.memory.delete(k)
      }
      return
    }
    try {
      await fs.mkdir(dir, { recursive: true })
      await writeFileAtomic(path.join(dir, pic ? `${cid}.jpg` : `${cid}.none`), pic ?? '')
    } catch {
      this.memory.set(cid, pic) // an unwritable cache folder: keep it for this run
    }
  }
}
