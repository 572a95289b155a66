/** The log pane: what the node is doing, newest at the bottom, scrollable (Up/Down when focused). */
import type { Widgets } from 'blessed'
import { fit } from '../format.ts'
import type { TuiState } from '../state.ts'
import { esc, innerSize, paint, setPaneLabel, type ViewOptions } from './common.ts'

const LEVEL_STYLE: Record<string, string> = { error: 'red-fg', warn: 'yellow-fg', debug: 'gray-fg' }

/** The `height` lines ending `s.logScroll` lines above the newest, each cut to `width`. */
export function logLines(s: TuiState, width: number, height: number, o: ViewOptions): string[] {
  const end = s.log.length - s.logScroll
  return s.log.slice(Math.max(0, end - height), end).map((l) => {
    const t = new Date(l.at).toTimeString().slice(0, 8)
    const text = esc(fit(`${t} ${l.msg}`, width))
    const style = LEVEL_STYLE[l.level]
    return style ? paint(o, style, text) : text
  })
}

/** Render the pane into its box. */
export function renderLog(box: Widgets.BoxElement, s: TuiState, o: ViewOptions): void {
  const { width, height } = innerSize(box)
  setPaneLabel(box, s.logScroll ? `Log (scrolled up ${s.logScroll})` : 'Log', s.focus === 'log', o)
  box.setContent(logLines(s, width, height, o).join('\n'))
}
