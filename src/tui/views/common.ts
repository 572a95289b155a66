/**
 * Shared view helpers: escaping for blessed tags, optional colour (off with NO_COLOR), pane
 * labels that show focus, and the window of rows that keeps a selection visible.
 */
import blessed, { type Widgets } from 'blessed'
import { safeText } from '../../text/safe-text.ts'

/** blessed's width table (lib/unicode.js; untyped in @types/blessed). */
interface BlessedUnicode {
  strWidth(s: string): number
  charWidth(s: string | number, i?: number): number
  codePointAt(s: string, i: number): number
  chars: { all: RegExp }
  p2ptubeEmoji?: boolean
}
const unicode = (blessed as unknown as { unicode: BlessedUnicode }).unicode
const EMOJI = /\p{Extended_Pictographic}/u
/** Emoji drawn two columns wide by default (Unicode's Emoji_Presentation). */
const EMOJI_WIDE = /\p{Emoji_Presentation}/u

/**
 * Teach blessed (0.1.81) that emoji take two terminal columns, as East Asian wide characters do:
 * its table predates emoji, so it gave them one cell, the terminal drew two, and every later
 * cell of the line was off by one (garbled bars after a redraw). With this, parseContent puts
 * its wide-character placeholder cell after an emoji too (`chars.all`) and the renderer skips it
 * (`charWidth` 2), so blessed's cells match the terminal. Idempotent.
 */
export function teachEmojiWidth(): void {
  if (unicode.p2ptubeEmoji) return
  unicode.p2ptubeEmoji = true
  const charWidth = unicode.charWidth.bind(unicode)
  unicode.charWidth = (str, i) => {
    const cp = typeof str === 'number' ? str : unicode.codePointAt(str, i ?? 0)
    return cp > 0x2000 && EMOJI_WIDE.test(String.fromCodePoint(cp)) ? 2 : charWidth(str, i)
  }
  // element.js runs `content.replace(unicode.chars.all, '$1\x03')`: a RegExp whose replace does
  // blessed's own wide characters, then emoji.
  const wide = unicode.chars.all
  const emoji = new RegExp(`(${EMOJI_WIDE.source})`, 'gu')
  const replace = RegExp.prototype[Symbol.replace] as (this: RegExp, s: string, r: string) => string
  const both = new RegExp(wide.source, wide.flags)
  Object.defineProperty(both, Symbol.replace, { value: (str: string, r: string): string => replace.call(emoji, replace.call(wide, str, r), r) })
  unicode.chars.all = both
}

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

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' })

/**
 * Terminal columns of one grapheme: 2 for East Asian wide/fullwidth characters and emoji
 * (what terminals and tmux draw), 0 for a lone combining mark or zero-width character, else 1.
 * East Asian widths come from blessed's own table (the renderer's view of the text).
 */
function graphemeWidth(g: string): number {
  if (g.length === 1 && g.charCodeAt(0) < 0x300) return 1
  if (EMOJI.test(g) && (g.includes('\ufe0f') || /\p{Emoji_Presentation}/u.test(g))) return 2
  return Math.max(0, Math.min(2, unicode.strWidth(g)))
}

/** Display width of `s` in terminal columns (CJK and emoji take 2, combining marks 0). */
export function displayWidth(s: string): number {
  let w = 0
  for (const { segment } of segmenter.segment(s)) w += graphemeWidth(segment)
  return w
}

/**
 * `fit` (text/format.ts) by display width: cut or pad `text` to exactly `width` terminal columns,
 * so rows with CJK or emoji names keep their columns aligned. Cut text ends with '~' (a wide
 * character that would straddle the edge is replaced by spaces). Terminal controls are escaped
 * first (safeText).
 */
export function fitCols(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return ''
  const s = safeText(text)
  const w = displayWidth(s)
  if (w <= width) {
    const pad = ' '.repeat(width - w)
    return align === 'left' ? s + pad : pad + s
  }
  let out = ''
  let used = 0
  for (const { segment } of segmenter.segment(s)) {
    const gw = graphemeWidth(segment)
    if (used + gw > width - 1) break
    out += segment
    used += gw
  }
  return out + ' '.repeat(width - 1 - used) + '~'
}
