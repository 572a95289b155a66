/**
 * The items list of the TUI (issue 12): in-list filter (`/`), sort keys (O), natural order
 * (track2 before track10) and the browse view of a peer's library (artist → album → track for
 * tagged audio, folders for the rest). Plain functions on plain rows, no I/O.
 */
import { albumOrder, naturalCompare } from '../media/play-queue.ts'
import type { MediaMeta } from '../protocol/media-meta.ts'

/** A row of the library/results list. Results from several holders of one file merge into one row. */
export interface ItemRow {
  /** contentId, or "legacy:<name>" for results without one. */
  key: string
  name: string
  kind: string
  size: number | null
  /** Peer ids that hold it; ["you"] for your own library. */
  holders: string[]
  contentId: string | null
  legacy: boolean
  /** Tags, duration, format (library, results and browse entries that carry them). */
  meta?: MediaMeta | undefined
  /** A folder of the browse view (artist, album, or a real folder): Enter goes into it. */
  dir?: boolean
}

/** What the list can be sorted by (O cycles through them in this order). */
export const SORT_KEYS = ['name', 'artist', 'album', 'duration', 'size'] as const
export type SortKey = (typeof SORT_KEYS)[number]

/** The sort key after `k`. */
export function nextSortKey(k: SortKey): SortKey {
  return SORT_KEYS[(SORT_KEYS.indexOf(k) + 1) % SORT_KEYS.length] as SortKey
}

/** Text folded for matching: Unicode NFKD, combining marks dropped, lower case (`Café` → `cafe`). */
export function foldText(s: string): string {
  return s.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase()
}

/** True when every word of `filter` is in the row's name, title, artist, album or genre (folded). */
export function matchesFilter(row: ItemRow, filter: string): boolean {
  const words = foldText(filter).split(/\s+/).filter(Boolean)
  if (!words.length) return true
  const m = row.meta
  const hay = foldText([row.name, m?.title, m?.artist, m?.albumArtist, m?.album, m?.genre].filter(Boolean).join(' '))
  return words.every((w) => hay.includes(w))
}

const text = (a: string | undefined, b: string | undefined): number => (a === b ? 0 : a === undefined ? 1 : b === undefined ? -1 : naturalCompare(a, b))
const num = (a: number | null | undefined, b: number | null | undefined): number => (a ?? -1) - (b ?? -1)

/**
 * `rows` filtered and sorted: folders first, then by `key` (artist: artist, album, track;
 * album: album, track; duration and size: largest first), ties in natural name order. A new array.
 */
export function listRows(rows: readonly ItemRow[], filter: string, key: SortKey): ItemRow[] {
  const kept = filter ? rows.filter((r) => r.dir || matchesFilter(r, filter)) : [...rows]
  const by: Record<SortKey, (a: ItemRow, b: ItemRow) => number> = {
    name: () => 0,
    artist: (a, b) =>
      text(a.meta?.artist ?? a.meta?.albumArtist, b.meta?.artist ?? b.meta?.albumArtist) || text(a.meta?.album, b.meta?.album) || num(a.meta?.disc, b.meta?.disc) || num(a.meta?.track, b.meta?.track),
    album: (a, b) => text(a.meta?.album, b.meta?.album) || num(a.meta?.disc, b.meta?.disc) || num(a.meta?.track, b.meta?.track),
    duration: (a, b) => num(b.meta?.durationMs, a.meta?.durationMs),
    size: (a, b) => num(b.size, a.size)
  }
  return kept.sort((a, b) => Number(!!b.dir) - Number(!!a.dir) || by[key](a, b) || naturalCompare(a.name, b.name))
}

/** A peer's library as the browse view holds it: every entry, and the folder shown. */
export interface BrowseState {
  /** Peer id of the browsed node. */
  peer: string
  /** Every entry listed so far (files; holders [peer]). */
  entries: ItemRow[]
  /** The folder shown: [] is the top (artists and folders), then artist, album… */
  path: string[]
  loading: boolean
  /** The peer's count of listable entries. */
  total: number
  /** The walk stopped at its cap while the peer had more. */
  cut: boolean
  error?: string
}

/**
 * Where an entry sits in the browse tree: tagged audio under [artist, album] (album artist
 * first, "(no album)" without one), everything else under its own folders; the last segment is
 * the file name.
 */
export function browsePath(e: ItemRow): string[] {
  const file = e.name.slice(e.name.lastIndexOf('/') + 1)
  const artist = e.meta?.albumArtist ?? e.meta?.artist
  if (e.kind === 'audio' && artist) return [artist, e.meta?.album ?? '(no album)', file]
  return e.name.split('/').filter(Boolean)
}

const startsWith = (p: string[], prefix: string[]): boolean => prefix.every((seg, i) => p[i] === seg)

/**
 * The rows of the browse folder shown: its sub-folders (dir rows, key "dir:<name>", with their
 * file count as holders text and their total size), then its files.
 */
export function browseLevel(b: BrowseState): ItemRow[] {
  const depth = b.path.length
  const dirs = new Map<string, { size: number; files: number }>()
  const files: ItemRow[] = []
  for (const e of b.entries) {
    const p = browsePath(e)
    if (p.length <= depth || !startsWith(p, b.path)) continue
    if (p.length === depth + 1) files.push(e)
    else {
      const name = p[depth] as string
      const d = dirs.get(name) ?? { size: 0, files: 0 }
      d.size += e.size ?? 0
      d.files++
      dirs.set(name, d)
    }
  }
  const dirRows: ItemRow[] = [...dirs].map(([name, d]) => ({
    key: `dir:${name}`,
    name: `${name}/`,
    kind: 'dir',
    size: d.size,
    holders: [`${d.files} file${d.files === 1 ? '' : 's'}`],
    contentId: null,
    legacy: false,
    dir: true
  }))
  return [...dirRows, ...files]
}

/** Every file below the folder `path` (the browse path of a dir row), in album order. */
export function filesUnder(b: BrowseState, path: string[]): ItemRow[] {
  return albumOrder(b.entries.filter((e) => startsWith(browsePath(e), path) && browsePath(e).length > path.length))
}
