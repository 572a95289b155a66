/** The library / search results / browse pane: name, artist, album, duration, kind, size, holders. */
import type { Widgets } from 'blessed'
import { formatBytes, formatClock } from '../../text/format.ts'
import { visibleItems, type TuiState } from '../state.ts'
import { esc, fitCols, innerSize, paint, row, setPaneLabel, windowStart, type ViewOptions } from './common.ts'

/**
 * Column widths for an inner `width` (display columns): the name takes what the others leave;
 * artist and album shrink to their headers when no row shown has those tags (a video list).
 */
export function itemColumns(width: number, tagged = true): { name: number; artist: number; album: number; dur: number; kind: number; size: number; holders: number } {
  const tag = tagged ? Math.min(16, Math.max(8, Math.floor(width * 0.13))) : 6
  const holders = Math.min(40, Math.max(10, Math.floor(width * 0.2)))
  const fixed = 1 + 6 + 5 + 5 + 9 + 2 * tag + holders
  return { name: Math.max(8, width - fixed), artist: tag, album: tag, dur: 5, kind: 5, size: 9, holders }
}

/** Lines of the pane for an inner `width` × `height` (header line included). */
export function itemLines(s: TuiState, width: number, height: number, o: ViewOptions): string[] {
  const items = visibleItems(s)
  const c = itemColumns(
    width,
    items.some((r) => r.meta?.artist || r.meta?.albumArtist || r.meta?.album)
  )
  const mark = (col: string, key: string): string => (s.sort === key ? `${col}*` : col)
  const head = paint(
    o,
    'bold',
    esc(
      `${fitCols(mark('name', 'name'), c.name)} ${fitCols(mark('artist', 'artist'), c.artist)} ${fitCols(mark('album', 'album'), c.album)} ${fitCols(mark('time', 'duration'), c.dur, 'right')} ${fitCols('kind', c.kind)} ${fitCols(mark('size', 'size'), c.size, 'right')} ${fitCols('holders', c.holders)}`
    )
  )
  const lines = [' ' + head]
  if (!items.length) {
    const empty = s.filter
      ? `nothing matches the filter "${s.filter}" (/ then Esc clears it)`
      : s.listMode === 'library'
        ? 'nothing shared yet: press a to add a folder or file'
        : s.listMode === 'browse'
          ? s.browse?.loading
            ? `browsing ${s.browse.peer}...`
            : `${s.browse?.error ?? 'nothing here'} (Backspace: up, l: your library)`
          : s.search.running
            ? `searching "${s.search.query}"...`
            : s.search.query
              ? `no results for "${s.search.query}" (s: search again, l: your library)`
              : 'press s to search the network'
    lines.push(' ' + esc(fitCols(empty, width - 1)))
    return lines
  }
  const rows = Math.max(0, height - 1)
  const start = windowStart(items.length, s.selected.items, rows)
  for (const [i, it] of items.slice(start, start + rows).entries()) {
    const n = start + i
    const holders = it.dir ? (it.holders[0] ?? '') : it.holders[0] === 'you' ? 'you' : `${it.holders.length}: ${it.holders.join(', ')}`
    const m = it.meta
    const dur = m?.durationMs !== undefined ? formatClock(m.durationMs / 1000) : ''
    const text = `${fitCols(it.name, c.name)} ${fitCols(m?.artist ?? m?.albumArtist ?? '', c.artist)} ${fitCols(m?.album ?? '', c.album)} ${fitCols(dur, c.dur, 'right')} ${fitCols(it.kind, c.kind)} ${fitCols(formatBytes(it.size), c.size, 'right')} ${fitCols(holders, c.holders)}`
    lines.push(row(esc(text), n === s.selected.items, s.focus === 'items'))
  }
  return lines
}

/** The pane's label: which list, how many rows, the filter and the sort key. */
export function itemsLabel(s: TuiState): string {
  const shown = visibleItems(s).length
  const filter = s.filter ? `  filter "${s.filter}"` : ''
  const sort = s.sort === 'name' ? '' : `  sort ${s.sort}`
  if (s.listMode === 'library') return `Library (${s.filter ? `${shown} of ` : ''}${s.library.length})${filter}${sort}  l: results`
  if (s.listMode === 'results') return `Results "${s.search.query}" (${s.filter ? `${shown} of ` : ''}${s.results.length}${s.search.running ? ', searching' : ''})${filter}${sort}  l: library`
  const b = s.browse
  return `Browse ${b?.peer ?? ''} /${b?.path.join('/') ?? ''} (${shown}${b?.loading ? ', listing' : ''}${b?.cut ? `, cut at ${b.entries.length} of ${b.total}` : ''})${filter}${sort}  Backspace: up`
}

/** Render the pane into its box. */
export function renderItems(box: Widgets.BoxElement, s: TuiState, o: ViewOptions): void {
  const { width, height } = innerSize(box)
  setPaneLabel(box, itemsLabel(s), s.focus === 'items', o)
  box.setContent(itemLines(s, width, height, o).join('\n'))
}
