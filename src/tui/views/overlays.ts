/** Overlays: the help box (`?`) and the line prompt (add, search, rebuild). */
import type { Widgets } from 'blessed'
import { helpLines } from '../keys.ts'
import type { TuiState } from '../state.ts'
import { esc, paint, type ViewOptions } from './common.ts'

/** Show or hide the help box. */
export function renderHelp(box: Widgets.BoxElement, s: TuiState, o: ViewOptions): void {
  if (!s.help) {
    box.hide()
    return
  }
  box.setLabel(' Help: keys (any key closes) ')
  box.setContent([paint(o, 'bold', 'p2ptube keys'), '', ...helpLines().map(esc)].join('\n'))
  box.show()
  box.setFront()
}

/** Show the open prompt ("Search: holiday_") with its completion hint, or hide it. */
export function renderPrompt(box: Widgets.BoxElement, s: TuiState, o: ViewOptions): void {
  const p = s.prompt
  if (!p) {
    box.hide()
    return
  }
  box.setLabel(` ${p.label}${p.kind === 'add' ? ' (Tab completes)' : ''} `)
  const width = (typeof box.width === 'number' ? box.width : 60) - 4
  // Keep the end of a long value (the cursor) in view.
  const shown = p.value.length > width - 1 ? p.value.slice(p.value.length - width + 1) : p.value
  box.setContent(`${esc(shown)}${o.color ? '{inverse} {/inverse}' : '_'}\n${paint(o, 'gray-fg', esc(p.hint.slice(0, width)))}`)
  box.show()
  box.setFront()
}
