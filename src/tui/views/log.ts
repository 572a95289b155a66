/** The log pane: what the node is doing, newest at the bottom, scrollable (Up/Down when focused). */
import type { Widgets } from 'blessed'
import { fit } from '../../text/format.ts'
import type { TuiState } from '../state.ts'
import { esc, innerSize, paint, setPaneLabel, type ViewOptions } from './common.ts'

const LEVEL_STYLE: Record<string, string> = { error: 'red-fg', warn: 'yellow-fg', debug: 'gray-fg' }

/**
 * The last `height` screen rows of the entries ending `s.logScroll` entries above the newest.
 * Long entries wrap (continuation rows indented under the message).
 */
export function logLines(s: TuiState, width: number, height: number, o: ViewOptions): string[] {
  const end = s.log.length - s.logScroll
  const rows: string[] = []
  for (const l of s.log.slice(Math.max(0, end - height), end)) {
    const t = new Date(l.at).toTimeString().slice(0, 8)
    const style = LEVEL_STYLE[l.level]
    for (const part of wrap(`${t} ${l.msg}`, width, 9)) {
      const text = esc(fit(part, width))
      rows.push(style ? paint(o, style, text) : text)
    }
  }
  return rows.slice(-height)
}

/** Split `text` into rows of `width`, continuation rows indented by `indent` spaces. */
export function wrap(text: string, width: number, indent: number): string[] {
  if (width <= indent + 1 || text.length <= width) return [text]
  const out = [text.slice(0, width)]
  for (let i = width; i < text.length; i += width - indent) out.push(' '.repeat(indent) + text.slice(i, i + width - indent))
  return out
}

/** Render the pane into its box. */
export function renderLog(box: Widgets.BoxElement, s: TuiState, o: ViewOptions): void {
  const { width, height } = innerSize(box)
  setPaneLabel(box, s.logScroll ? `Log (scrolled up ${s.logScroll})` : 'Log', s.focus === 'log', o)
  box.setContent(logLines(s, width, height, o).join('\n'))
}
