/**
 * Reading a media file's metadata: tags and format with music-metadata (ID3, Vorbis comments,
 * MP4 atoms, Matroska/WebM, FLAC …), and, for video, duration and resolution with ffprobe
 * (Debian's ffmpeg package; music-metadata gives neither for most MP4/MKV files). Bounded:
 * embedded pictures are never kept (a cover is only looked at in files up to
 * MAX_COVER_SCAN_BYTES; above that music-metadata skips pictures), an ID3v2 block over
 * MAX_TAG_BLOCK_BYTES is not parsed in-process (ffprobe, a child with its own memory, reads it
 * instead), ffprobe's output is capped and it is killed after `timeoutMs`. Broken tags give
 * what could be read, never an exception. Every text goes through cleanTag (protocol/media-meta.ts).
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import { toMediaMeta, type MediaMeta } from '../protocol/media-meta.ts'
import type { MediaKind } from './media-kind.ts'

/** Files up to this size are parsed with their embedded pictures looked at (and dropped); bytes. */
export const MAX_COVER_SCAN_BYTES = 64 * 1024 * 1024
/** An ID3v2 tag block larger than this is not parsed in this process; bytes. */
export const MAX_TAG_BLOCK_BYTES = 16 * 1024 * 1024
/** Most bytes of ffprobe output read. */
const MAX_FFPROBE_OUTPUT = 256 * 1024

/** What a reader is told. `ffprobe`: its path, or null to never run it (default 'ffprobe' on PATH). */
export interface MetadataReaderOptions {
  ffprobe?: string | null
  /** ffprobe is killed after this long, ms (default 10 000). */
  timeoutMs?: number
}

/** What readMetadata found. `cover`: an embedded picture exists (its bytes are not kept). */
export interface ReadResult {
  meta: MediaMeta | undefined
  cover: boolean
  /** Why part of the file could not be read (broken tags, ffprobe failed), for a log line. */
  warnings: string[]
}

type MusicMetadata = typeof import('music-metadata')
let mm: Promise<MusicMetadata> | null = null
/** music-metadata is loaded on first use (about 40 ms of module loading a one-shot command skips). */
function musicMetadata(): Promise<MusicMetadata> {
  mm ??= import('music-metadata')
  return mm
}

/** The size of a leading ID3v2 block of `file` in bytes (header included), or 0 without one. */
async function id3v2Size(file: string): Promise<number> {
  const fh = await fs.open(file, 'r')
  try {
    const b = Buffer.alloc(10)
    const { bytesRead } = await fh.read(b, 0, 10, 0)
    if (bytesRead < 10 || b.toString('latin1', 0, 3) !== 'ID3') return 0
    // Syncsafe size: 4 × 7 bits (ID3v2.4 §3.1).
    return 10 + ((b[6]! & 0x7f) << 21) + ((b[7]! & 0x7f) << 14) + ((b[8]! & 0x7f) << 7) + (b[9]! & 0x7f)
  } finally {
    await fh.close()
  }
}

/** The first value of a tag list (music-metadata gives `genre` as string[]). */
const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v)

/** Tags and format through music-metadata. @throws the parser's error (the caller keeps going). */
async function readTags(file: string, size: number): Promise<{ meta: Record<string, unknown>; cover: boolean }> {
  const { parseFile } = await musicMetadata()
  const r = await parseFile(file, { duration: false, skipCovers: size > MAX_COVER_SCAN_BYTES, skipPostHeaders: true })
  const c = r.common
  const f = r.format
  const video = f.trackInfo?.find((t) => t.video)?.video
  const meta = {
    title: c.title,
    artist: c.artist ?? first(c.artists),
    album: c.album,
    albumArtist: c.albumartist,
    track: c.track?.no ?? undefined,
    disc: c.disk?.no ?? undefined,
    genre: first(c.genre),
    year: c.year,
    durationMs: f.duration !== undefined ? f.duration * 1000 : undefined,
    bitrate: f.bitrate,
    codec: f.codec,
    width: video?.displayWidth ?? video?.pixelWidth,
    height: video?.displayHeight ?? video?.pixelHeight
  }
  // The picture bytes are dropped with `r` here: only whether there is one is kept.
  return { meta, cover: (c.picture?.length ?? 0) > 0 }
}

interface Probe {
  format?: { duration?: string; bit_rate?: string; tags?: Record<string, string> }
  streams?: Array<{ codec_type?: string; codec_name?: string; width?: number; height?: number }>
}

/** Duration, bitrate, resolution, codec and (lower-cased) tags through ffprobe. @throws when ffprobe fails. */
function probe(ffprobe: string, file: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const args = ['-v', 'error', '-show_entries', 'format=duration,bit_rate:format_tags:stream=codec_type,codec_name,width,height', '-of', 'json', '--', file]
  return new Promise((resolve, reject) => {
    execFile(ffprobe, args, { timeout: timeoutMs, maxBuffer: MAX_FFPROBE_OUTPUT, killSignal: 'SIGKILL' }, (err, stdout) => {
      if (err) return reject(err)
      let p: Probe
      try {
        p = JSON.parse(stdout) as Probe
      } catch {
        return reject(new Error('ffprobe printed no JSON'))
      }
      const tags = Object.fromEntries(Object.entries(p.format?.tags ?? {}).map(([k, v]) => [k.toLowerCase(), v]))
      const video = p.streams?.find((s) => s.codec_type === 'video')
      const stream = video ?? p.streams?.find((s) => s.codec_type === 'audio')
      const num = (s: string | undefined): number | undefined => (s === undefined || s === 'N/A' ? undefined : Number(s))
      resolve({
        title: tags.title,
        artist: tags.artist,
        album: tags.album,
        albumArtist: tags.album_artist,
        track: num(tags.track?.split('/')[0]),
        disc: num(tags.disc?.split('/')[0]),
        genre: tags.genre,
        year: num(/^\d{4}/.exec(tags.date ?? '')?.[0]),
        durationMs: (num(p.format?.duration) ?? NaN) * 1000,
        bitrate: num(p.format?.bit_rate),
        codec: stream?.codec_name,
        width: video?.width,
        height: video?.height
      })
    })
  })
}

/** Bytes of a photo's head read for its EXIF block and size (an APP segment is at most 64 KiB). */
const PHOTO_HEAD_BYTES = 256 * 1024

/**
 * A photo's size in pixels and the date it was taken (EXIF DateTimeOriginal, else DateTime),
 * from the first PHOTO_HEAD_BYTES of the file with exifreader (JPEG, PNG, WebP, TIFF, HEIC).
 * A broken or absent EXIF block gives what could be read (a warning, no exception).
 */
async function readPhoto(file: string, warnings: string[]): Promise<MediaMeta | undefined> {
  const fh = await fs.open(file, 'r')
  let head: Buffer
  try {
    const b = Buffer.alloc(PHOTO_HEAD_BYTES)
    const { bytesRead } = await fh.read(b, 0, b.length, 0)
    head = b.subarray(0, bytesRead)
  } finally {
    await fh.close()
  }
  let tags: Record<string, { value?: unknown; description?: string } | undefined>
  try {
    const { default: ExifReader } = await import('exifreader')
    tags = ExifReader.load(head) as unknown as typeof tags
  } catch (err) {
    warnings.push(`photo: ${(err as Error).message}`)
    return undefined
  }
  const px = (...keys: string[]): number | undefined => {
    for (const k of keys) {
      const v = tags[k]?.value
      const n = Array.isArray(v) ? v[0] : v
      if (typeof n === 'number' && n > 0) return n
    }
    return undefined
  }
  const d = /^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})/.exec(tags.DateTimeOriginal?.description ?? tags.DateTime?.description ?? '')
  return toMediaMeta({
    width: px('Image Width', 'PixelXDimension', 'ImageWidth'),
    height: px('Image Height', 'PixelYDimension', 'ImageLength'),
    ...(d && d[1] !== '0000' ? { taken: `${d[1]}-${d[2]}-${d[3]}T${d[4]}:${d[5]}:${d[6]}`, year: Number(d[1]) } : {})
  })
}

/**
 * The metadata of one media file: audio and video as below; a photo its size and EXIF date. Tags from
 * music-metadata; for video, or when music-metadata could not parse the file or gave no
 * duration, ffprobe fills what is missing (music-metadata's values win). Never throws for a bad
 * file: what failed is in `warnings`.
 * @param size the file's size in bytes (from the library walk).
 */
export async function readMetadata(file: string, kind: MediaKind, size: number, opts: MetadataReaderOptions = {}): Promise<ReadResult> {
  const warnings: string[] = []
  if (kind === 'image') return { meta: await readPhoto(file, warnings), cover: false, warnings }
  let tags: Record<string, unknown> = {}
  let cover = false
  const ffprobe = opts.ffprobe === undefined ? 'ffprobe' : opts.ffprobe
  try {
    const block = await id3v2Size(file)
    if (block > MAX_TAG_BLOCK_BYTES) warnings.push(`ID3v2 block of ${block} bytes not parsed in-process`)
    else ({ meta: tags, cover } = await readTags(file, size))
  } catch (err) {
    warnings.push(`tags: ${(err as Error).message}`)
  }
  const m = toMediaMeta(tags)
  if (ffprobe && (kind === 'video' || !m?.durationMs || warnings.length)) {
    try {
      const p = toMediaMeta(await probe(ffprobe, file, opts.timeoutMs ?? 10_000))
      return { meta: p || m ? { ...p, ...m } : undefined, cover, warnings }
    } catch (err) {
      warnings.push(`ffprobe: ${(err as Error).message.split('\n')[0]}`)
    }
  }
  return { meta: m, cover, warnings }
}
