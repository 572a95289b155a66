/**
 * Terminal columns by display width (string-width: East Asian wide characters and emoji take two
 * cells, combining marks none), for the CLI's result tables and its progress line.
 */
import stringWidth from 'string-width'
import { safeText } from '../text/safe-text.ts'

/** Display width of `s` in terminal cells. */
export function displayWidth(s: string): number {
  return stringWidth(s)
}

/** `s` cut to at most `width` cells, ending with '…' when cut (never half a wide character). */
export function cutToWidth(s: string, width: number): string {
  if (width <= 0) return ''
  if (stringWidth(s) <= width) return s
  let out = ''
  let w = 0
  for (const ch of new Intl.Segmenter().segment(s)) {
    const cw = stringWidth(ch.segment)
    if (w + cw > width - 1) break
    out += ch.segment
    w += cw
  }
  return out + '…'
}

/** `s` padded with spaces to `width` cells (left-aligned) or right-aligned. */
export function padToWidth(s: string, width: number, align: 'left' | 'right' = 'left'): string {
  const pad = ' '.repeat(Math.max(0, width - stringWidth(s)))
  return align === 'left' ? s + pad : pad + s
}

/** One column of a table. `flex`: this column shrinks (its cells cut) so the row fits `maxWidth`. */
export interface Column {
  header: string
  align?: 'left' | 'right'
  flex?: boolean
}

/**
 * Rows as aligned text lines: columns two spaces apart, each as wide as its widest cell (header
 * included); with `maxWidth` (the terminal's columns) the flex column is cut to fit. Cells are
 * made terminal-safe (safeText) first. The last column is not padded.
 * @returns the header line (when `header`) and one line per row.
 */
export function table(columns: Column[], rows: string[][], opts: { maxWidth?: number; header?: boolean } = {}): string[] {
  const cells = rows.map((r) => r.map((c) => safeText(c)))
  const widths = columns.map((c, i) => Math.max(opts.header ? stringWidth(c.header) : 0, ...cells.map((r) => stringWidth(r[i] ?? ''))))
  const flex = columns.findIndex((c) => c.flex)
  if (opts.maxWidth && flex >= 0) {
    const total = widths.reduce((s, w) => s + w, 0) + 2 * (columns.length - 1)
    if (total > opts.maxWidth) widths[flex] = Math.max(8, widths[flex]! - (total - opts.maxWidth))
  }
  const line = (r: string[]): string =>
    columns
      .map((c, i) => {
        const cell = cutToWidth(r[i] ?? '', widths[i]!)
        return i === columns.length - 1 && c.align !== 'right' ? cell : padToWidth(cell, widths[i]!, c.align)
      })
      .join('  ')
      .trimEnd()
  return [...(opts.header ? [line(columns.map((c) => c.header))] : []), ...cells.map(line)]
}
