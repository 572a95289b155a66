/** The library / search results pane: name, kind, size, holders. */
import type { Widgets } from 'blessed'
import { fit, formatBytes } from '../../text/format.ts'
import { visibleItems, type TuiState } from '../state.ts'
import { esc, innerSize, paint, row, setPaneLabel, windowStart, type ViewOptions } from './common.ts'

/** Lines of the pane for an inner `width` × `height` (header line included). */
export function itemLines(s: TuiState, width: number, height: number, o: ViewOptions): string[] {
  const items = visibleItems(s)
  const holdersW = Math.min(40, Math.max(10, Math.floor(width * 0.4)))
  const nameW = Math.max(8, width - 1 - 6 - 10 - holdersW - 3)
  const head = paint(o, 'bold', esc(`${fit('name', nameW)} ${fit('kind', 5)} ${fit('size', 9, 'right')} ${fit('holders', holdersW)}`))
  const lines = [' ' + head]
  if (!items.length) {
    const empty =
      s.listMode === 'library'
        ? 'nothing shared yet: press a to add a folder or file'
        : s.search.running
          ? `searching "${s.search.query}"...`
          : s.search.query
            ? `no results for "${s.search.query}" (s: search again, l: your library)`
            : 'press s to search the network'
    lines.push(' ' + esc(fit(empty, width - 1)))
    return lines
  }
  const rows = Math.max(0, height - 1)
  const start = windowStart(items.length, s.selected.items, rows)
  for (const [i, it] of items.slice(start, start + rows).entries()) {
    const n = start + i
    const holders = it.holders[0] === 'you' ? 'you' : `${it.holders.length}: ${it.holders.join(', ')}`
    const text = `${fit(it.name, nameW)} ${fit(it.kind, 5)} ${fit(formatBytes(it.size), 9, 'right')} ${fit(holders, holdersW)}`
    lines.push(row(esc(text), n === s.selected.items, s.focus === 'items'))
  }
  return lines
}

/** Render the pane into its box. */
export function renderItems(box: Widgets.BoxElement, s: TuiState, o: ViewOptions): void {
  const { width, height } = innerSize(box)
  const label = s.listMode === 'library' ? `Library (${s.library.length})  l: results` : `Results "${s.search.query}" (${s.results.length}${s.search.running ? ', searching' : ''})  l: library`
  setPaneLabel(box, label, s.focus === 'items', o)
  box.setContent(itemLines(s, width, height, o).join('\n'))
}
