/**
 * Media metadata (tags, duration, format) as a node keeps it and as it travels in HITS and BRWS
 * (docs/PROTOCOL.md §4.3, §4.9), and the one cleaning every tag text goes through: control and
 * bidirectional-override characters removed, whitespace collapsed, at most MAX_TAG_BYTES UTF-8
 * bytes. Pure functions: a bad field is dropped, never thrown (tags come from anyone's files).
 */
import { MAX_TAG_BYTES } from './constants.ts'

/**
 * What a node knows of a media file beyond its name. Every field is optional; units: durationMs
 * in ms, bitrate in bits/s, width/height in pixels.
 */
export interface MediaMeta {
  title?: string
  artist?: string
  album?: string
  albumArtist?: string
  /** Track and disc number (1-based). */
  track?: number
  disc?: number
  genre?: string
  year?: number
  durationMs?: number
  bitrate?: number
  /** Codec name as the reader reports it ("Vorbis I", "h264", …). */
  codec?: string
  width?: number
  height?: number
  /** When a photo was taken (EXIF DateTimeOriginal, camera local time): `YYYY-MM-DDTHH:MM:SS`. */
  taken?: string
}

/** The text fields of MediaMeta. */
export const META_TEXT_FIELDS = ['title', 'artist', 'album', 'albumArtist', 'genre', 'codec'] as const
/** The integer fields of MediaMeta and their inclusive range. */
export const META_INT_FIELDS = {
  track: [0, 100_000],
  disc: [0, 10_000],
  year: [0, 9999],
  durationMs: [0, 1_000 * 3600 * 24 * 366],
  bitrate: [0, 1e10],
  width: [1, 100_000],
  height: [1, 100_000]
} as const

// C0 and C1 controls, DEL, and the bidi embeddings/overrides/isolates that can disguise text on a
// terminal (CVE-2021-42574 "Trojan Source"); zero-width characters are kept (they occur in names).
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]+/g
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/**
 * A tag text fit to show and to send: unsafe characters become a space, lone surrogates are
 * replaced, whitespace runs collapse, the ends are trimmed, and the result is cut (at a character
 * boundary) to MAX_TAG_BYTES UTF-8 bytes. Returns undefined for an empty result or a non-string.
 */
export function cleanTag(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined
  let s = v
    .slice(0, MAX_TAG_BYTES * 2)
    .replace(LONE_SURROGATE, '\uFFFD')
    .replace(UNSAFE, ' ')
    .replace(/\s+/g, ' ')
    .trim()
  if (Buffer.byteLength(s) > MAX_TAG_BYTES) {
    const b = Buffer.from(s).subarray(0, MAX_TAG_BYTES)
    // Drop a cut multi-byte sequence at the end (decoding would give U+FFFD).
    s = b
      .toString('utf8')
      .replace(/\uFFFD+$/, '')
      .trim()
  }
  return s || undefined
}

/**
 * A MediaMeta from any value (a tag reader's output, a cache file, a peer's JSON): unknown keys
 * ignored, text fields cleaned (cleanTag), integer fields kept only when they are safe integers
 * in range (numbers with a fraction are rounded). Undefined when nothing usable is left.
 */
export function toMediaMeta(v: unknown): MediaMeta | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined
  const o = v as Record<string, unknown>
  const m: MediaMeta = {}
  for (const k of META_TEXT_FIELDS) {
    const s = cleanTag(o[k])
    if (s !== undefined) m[k] = s
  }
  for (const [k, [min, max]] of Object.entries(META_INT_FIELDS) as Array<[keyof typeof META_INT_FIELDS, readonly [number, number]]>) {
    const n = o[k]
    if (typeof n !== 'number' || !Number.isFinite(n)) continue
    const r = Math.round(n)
    if (r >= min && r <= max) m[k] = r
  }
  if (typeof o.taken === 'string' && TAKEN.test(o.taken)) m.taken = o.taken
  return Object.keys(m).length ? m : undefined
}

/** The form of MediaMeta.taken. */
const TAKEN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/
