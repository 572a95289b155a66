/**
 * Shared view helpers: escaping for blessed tags, optional colour (off with NO_COLOR), pane
 * labels that show focus, and the window of rows that keeps a selection visible.
 */
import type { Widgets } from 'blessed'
import { safeText } from '../../text/safe-text.ts'

/** How views draw: colour on or off (NO_COLOR, dumb terminals). */
export interface ViewOptions {
  color: boolean
}

/**
 * Escape text so blessed shows `{` and `}` literally (file names may contain them) and no
 * terminal control gets through (safeText: escapes, newlines, C1).
 */
export function esc(s: string): string {
  return safeText(s).replace(/[{}]/g, (c) => (c === '{' ? '{open}' : '{close}'))
}

/** Wrap escaped text in a blessed colour/attribute tag, or leave it plain without colour. */
export function paint(o: ViewOptions, style: string, escaped: string): string {
  return o.color ? `{${style}}${escaped}{/${style}}` : escaped
}

/** Inner size of a bordered box, in cells. */
export function innerSize(box: Widgets.BoxElement): { width: number; height: number } {
  const w = typeof box.width === 'number' ? box.width : 80
  const h = typeof box.height === 'number' ? box.height : 10
  return { width: Math.max(0, w - 2), height: Math.max(0, h - 2) }
}

/** Set a pane's label; the focused pane reads "[ Label ]" and gets a bright border when coloured. */
export function setPaneLabel(box: Widgets.BoxElement, label: string, focused: boolean, o: ViewOptions): void {
  box.setLabel(focused ? `[ ${label} ]` : ` ${label} `)
  if (o.color) (box.style as { border: { fg: string } }).border.fg = focused ? 'cyan' : 'gray'
}

/** First row to show so `selected` stays visible in `height` rows of `total`. */
export function windowStart(total: number, selected: number, height: number): number {
  if (total <= height) return 0
  return Math.max(0, Math.min(selected - Math.floor(height / 2), total - height))
}

/** A list row: "> " marks the selection; inverse when the pane has focus. */
export function row(text: string, selected: boolean, focused: boolean): string {
  const line = (selected ? '>' : ' ') + text
  return selected && focused ? `{inverse}${line}{/inverse}` : line
}
