/**
 * The search language of SRCH (docs/PROTOCOL.md §4.2.1): words, quoted phrases, `-word`, field
 * filters (`artist:` `album:` `title:` `genre:` `year:` `kind:` `cid:`) and comparisons (`dur>10m`,
 * `size<1G`, `year>=1990`), matched against a file's name (its path below the share) and its
 * tags, case- and accent-insensitively (Unicode NFKD, combining marks removed, lower case: `cafe`
 * finds `Café` whether the name is NFC or NFD), and ranked (exact title, then artist, album, file
 * name; then where words matched). Pure functions; the legacy QUER keeps Library.search.
 */
import type { MediaMeta } from '../protocol/media-meta.ts'

/** What a query is matched against (a LibraryEntry is one). Size in bytes. */
export interface Searchable {
  name: string
  size: number
  kind: string
  /** Content id (hex), once known: `cid:` matches a prefix of it. */
  cid?: string
  meta?: MediaMeta
}

/** An inclusive range; open ends are ±Infinity. */
export interface Range {
  min: number
  max: number
}

/** Fields a `field:value` term filters on (values folded; every term must match). */
export const TEXT_FILTERS = ['artist', 'album', 'title', 'genre'] as const
type TextFilter = (typeof TEXT_FILTERS)[number]

/** A parsed query. Texts are folded (fold()). */
export interface Query {
  /** Every word must occur in the name or a tag. */
  words: string[]
  /** No word of these may occur. */
  not: string[]
  /** `artist:x` matches artist or album artist; each value must occur in its field. */
  fields: Partial<Record<TextFilter, string[]>>
  kind?: string
  /** `cid:<8 or more hex digits>`: the content id starts with this (git-style short ids). */
  cid?: string
  /** durationMs, size in bytes, year. */
  ranges: { dur?: Range; size?: Range; year?: Range }
  /** The free words as one string, for exact-match ranking. */
  text: string
}

/** Case- and accent-insensitive form of a text: NFKD, combining marks removed, lower case. */
export function fold(s: string): string {
  // Fast path: plain ASCII needs neither normalisation nor mark removal.
  // eslint-disable-next-line no-control-regex
  return /^[\u0000-\u007f]*$/.test(s)
    ? s.toLowerCase()
    : s
        .normalize('NFKD')
        .replace(/\p{M}+/gu, '')
        .toLowerCase()
}

const UNIT: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4
}
const TIME: Record<string, number> = { '': 1000, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 }

/** A size such as `1G`, `700MB`, `1.5g` in bytes (binary units), or NaN. */
export function parseSize(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([a-z]*)$/i.exec(v)
  const u = m ? UNIT[m[2]!.toLowerCase()] : undefined
  return m && u ? Number(m[1]) * u : NaN
}

/** A duration such as `10m`, `90s`, `1.5h`, `3:30`, `1:02:03` (plain numbers are seconds), in ms, or NaN. */
export function parseDuration(v: string): number {
  if (/^\d+(?::\d{1,2}){1,2}$/.test(v)) return v.split(':').reduce((a, p) => a * 60 + Number(p), 0) * 1000
  const m = /^(\d+(?:\.\d+)?)([a-z]*)$/i.exec(v)
  const u = m ? TIME[m[2]!.toLowerCase()] : undefined
  return m && u ? Number(m[1]) * u : NaN
}

/** The range of `op value` (`>` `>=` `<` `<=` `=` or `:`) over integer values (bytes, ms, years), or null. */
function rangeOf(op: string, n: number): Range | null {
  if (!Number.isFinite(n)) return null
  switch (op) {
    case '>':
      return { min: Math.floor(n) + 1, max: Infinity }
    case '>=':
      return { min: Math.ceil(n), max: Infinity }
    case '<':
      return { min: -Infinity, max: Math.ceil(n) - 1 }
    case '<=':
      return { min: -Infinity, max: Math.floor(n) }
    default:
      return { min: Math.ceil(n), max: Math.floor(n) }
  }
}

/** Both ranges at once. */
const intersect = (a: Range | undefined, b: Range): Range => (a ? { min: Math.max(a.min, b.min), max: Math.min(a.max, b.max) } : b)

/** Split a query into terms: whitespace-separated, double quotes group (`artist:"café tacvba"`). */
function terms(q: string): string[] {
  const out: string[] = []
  const re = /(?:[^\s"]+|"[^"]*"?)+/g
  for (const m of q.matchAll(re)) out.push(m[0].replace(/"/g, ''))
  return out.filter(Boolean)
}

const COMPARISON = /^(dur|duration|size|year)(>=|<=|>|<|=|:)(.+)$/i
const FIELD = /^([a-z]+):(.+)$/i

/**
 * Parse a search string. Never throws: a term that is not a known filter (`foo:bar`, `dur>soon`)
 * is a plain word, so a name with a colon is still found.
 */
export function parseQuery(q: string): Query {
  const out: Query = { words: [], not: [], fields: {}, ranges: {}, text: '' }
  for (const term of terms(q)) {
    const c = COMPARISON.exec(term)
    if (c) {
      const key = c[1]!.toLowerCase()
      const field = key === 'duration' ? 'dur' : (key as 'dur' | 'size' | 'year')
      const n = field === 'dur' ? parseDuration(c[3]!) : field === 'size' ? parseSize(c[3]!) : /^\d{1,4}$/.test(c[3]!) ? Number(c[3]) : NaN
      const r = rangeOf(c[2]!, n)
      if (r) {
        out.ranges[field] = intersect(out.ranges[field], r)
        continue
      }
    }
    const f = FIELD.exec(term)
    const key = f?.[1]!.toLowerCase()
    if (f && key === 'cid' && /^[0-9a-f]{8,}$/i.test(f[2]!)) {
      out.cid = f[2]!.toLowerCase()
      continue
    }
    if (f && key === 'kind') {
      out.kind = f[2]!.toLowerCase()
      continue
    }
    if (f && (TEXT_FILTERS as readonly string[]).includes(key!)) {
      ;(out.fields[key as TextFilter] ??= []).push(fold(f[2]!))
      continue
    }
    if (term.length > 1 && term.startsWith('-')) out.not.push(fold(term.slice(1)))
    else out.words.push(fold(term))
  }
  out.text = out.words.join(' ')
  return out
}

/** True when a query has nothing to match with (no word, no filter): it finds nothing. */
export function isEmptyQuery(q: Query): boolean {
  return !q.words.length && !q.not.length && !Object.keys(q.fields).length && !q.kind && !q.cid && !Object.keys(q.ranges).length
}

/** Folded texts of an entry, kept while its meta object is the same (tags arrive after indexing). */
interface Folded {
  meta: MediaMeta | undefined
  name: string
  /** Name and every tag, '\n'-separated. */
  all: string
  title: string
  artist: string
  album: string
  genre: string
  /** The file name without folder and extension. */
  base: string
}

const FOLDED = new WeakMap<Searchable, Folded>()

function folded(e: Searchable): Folded {
  const f = FOLDED.get(e)
  if (f && f.meta === e.meta) return f
  const m = e.meta ?? {}
  const name = fold(e.name)
  const artist = fold([m.artist, m.albumArtist].filter(Boolean).join('\n'))
  const title = fold(m.title ?? '')
  const album = fold(m.album ?? '')
  const genre = fold(m.genre ?? '')
  const base = name.slice(name.lastIndexOf('/') + 1).replace(/\.[^.]*$/, '')
  const g: Folded = { meta: e.meta, name, all: [name, title, artist, album, genre].join('\n'), title, artist, album, genre, base }
  FOLDED.set(e, g)
  return g
}

const inRange = (v: number | undefined, r: Range | undefined): boolean => !r || (v !== undefined && v >= r.min && v <= r.max)

/** Does `e` match `q`? (Every word, no `-word`, every filter.) */
export function matches(q: Query, e: Searchable): boolean {
  if (q.kind && e.kind !== q.kind) return false
  if (q.cid && !e.cid?.startsWith(q.cid)) return false
  if (!inRange(e.size, q.ranges.size) || !inRange(e.meta?.durationMs, q.ranges.dur) || !inRange(e.meta?.year, q.ranges.year)) return false
  const f = folded(e)
  for (const w of q.words) if (!f.all.includes(w)) return false
  for (const w of q.not) if (f.all.includes(w)) return false
  for (const k of TEXT_FILTERS) for (const v of q.fields[k] ?? []) if (!f[k].includes(v)) return false
  return true
}

/**
 * Rank of a match, higher first: the free words equal to the title (1000), to an artist (900),
 * to the album (800), to the file name without extension (700); then every word in the title
 * (+60), in an artist (+50), in the album (+40), in the file name (+20); a word at the start of
 * a word of the title or name (+5 each).
 */
export function score(q: Query, e: Searchable): number {
  const f = folded(e)
  let s = 0
  if (q.text) {
    if (f.title === q.text) s += 1000
    else if (f.artist.split('\n').includes(q.text)) s += 900
    else if (f.album === q.text) s += 800
    else if (f.base === q.text) s += 700
  }
  if (q.words.length) {
    const all = (h: string): boolean => q.words.every((w) => h.includes(w))
    if (all(f.title)) s += 60
    if (all(f.artist)) s += 50
    if (all(f.album)) s += 40
    if (all(f.base)) s += 20
    const head = `${f.title}\n${f.base}`
    for (const re of wordStarts(q)) if (re.test(head)) s += 5
  }
  return s
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const STARTS = new WeakMap<Query, RegExp[]>()
/** Per word of `q`: the word at the start of a word (compiled once per query). */
function wordStarts(q: Query): RegExp[] {
  let r = STARTS.get(q)
  if (!r) STARTS.set(q, (r = q.words.map((w) => new RegExp(`(^|[^\\p{L}\\p{N}])${escapeRe(w)}`, 'u'))))
  return r
}

/** Natural order of names (track2 before track10), case-insensitive. */
export const naturalOrder = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' }).compare

/**
 * Search `entries`: the `limit` best matches (score, then natural name order) and how many
 * matched in all (`total` > results.length when results were cut at `limit`).
 * An empty query finds nothing.
 */
export function searchEntries<T extends Searchable>(entries: Iterable<T>, query: string | Query, limit: number): { results: T[]; total: number } {
  const q = typeof query === 'string' ? parseQuery(query) : query
  if (isEmptyQuery(q)) return { results: [], total: 0 }
  const hits: Array<{ e: T; s: number }> = []
  for (const e of entries) if (matches(q, e)) hits.push({ e, s: score(q, e) })
  hits.sort((a, b) => b.s - a.s || naturalOrder(a.e.name, b.e.name))
  return { results: hits.slice(0, limit).map((h) => h.e), total: hits.length }
}
