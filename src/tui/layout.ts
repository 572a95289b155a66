/**
 * Places the widgets on the screen (and only that). Rows, top to bottom, in any size from 80×24:
 *
 *   header (1) | items | transfers | peers 40% + log 60% | playback (1) | status (1) | footer (2)
 *
 * The three rows of panes split the height left by the four bars: 35% / 30% / rest. Sizes are
 * blessed percentages and offsets, so blessed re-lays them out on resize.
 */
import blessed, { type Widgets } from 'blessed'

/** Every widget the views draw into. */
export interface Layout {
  header: Widgets.BoxElement
  items: Widgets.BoxElement
  peers: Widgets.BoxElement
  transfers: Widgets.BoxElement
  log: Widgets.BoxElement
  playback: Widgets.BoxElement
  status: Widgets.BoxElement
  footer: Widgets.BoxElement
  help: Widgets.BoxElement
  prompt: Widgets.BoxElement
}

/** Lines taken by the bars (header on top; playback, status and the two-line footer at the bottom). */
const BARS = 5

/** Create the widgets on `screen` and place them. `color`: border colours (off with NO_COLOR). */
export function createLayout(screen: Widgets.Screen, color: boolean): Layout {
  const pane = (): Widgets.BoxElement => blessed.box({ parent: screen, border: { type: 'line' }, tags: true, wrap: false, style: color ? { border: { fg: 'gray' } } : {} })
  const bar = (opts: Widgets.BoxOptions): Widgets.BoxElement => blessed.box({ parent: screen, height: 1, left: 0, width: '100%', tags: true, wrap: false, ...opts })
  const layout: Layout = {
    header: bar({ top: 0, style: color ? { fg: 'white', bg: 'blue' } : {} }),
    items: pane(),
    peers: pane(),
    transfers: pane(),
    log: pane(),
    playback: bar({ bottom: 3 }),
    status: bar({ bottom: 2 }),
    footer: bar({ bottom: 0, height: 2, style: color ? { fg: 'black', bg: 'white' } : { inverse: true } }),
    help: blessed.box({
      parent: screen,
      top: 'center',
      left: 'center',
      width: '100%-2',
      height: '100%-2',
      border: { type: 'line' },
      tags: true,
      hidden: true,
      style: color ? { border: { fg: 'cyan' } } : {}
    }),
    prompt: blessed.box({
      parent: screen,
      top: 'center',
      left: 'center',
      width: '80%',
      height: 4,
      border: { type: 'line' },
      tags: true,
      hidden: true,
      style: color ? { border: { fg: 'yellow' } } : {}
    })
  }
  placePanes(layout, screen.width as number, screen.height as number)
  return layout
}

/** Pane rectangles for a `width` × `height` screen, in cells: rows of 35% / 30% / rest. */
export function paneRects(width: number, height: number): Record<'items' | 'peers' | 'transfers' | 'log', { top: number; left: number; width: number; height: number }> {
  const avail = Math.max(9, height - BARS)
  const itemsH = Math.round(avail * 0.35)
  const transfersH = Math.round(avail * 0.3)
  const bottomH = avail - itemsH - transfersH
  // Peers need ~34 columns for "127.0.0.1:40123  bootstrap now"; the log takes the rest.
  const peersW = Math.min(Math.max(34, Math.round(width * 0.4)), Math.max(0, width - 30))
  const bottom = 1 + itemsH + transfersH
  return {
    items: { top: 1, left: 0, width, height: itemsH },
    transfers: { top: 1 + itemsH, left: 0, width, height: transfersH },
    peers: { top: bottom, left: 0, width: peersW, height: bottomH },
    log: { top: bottom, left: peersW, width: width - peersW, height: bottomH }
  }
}

/** (Re)place the panes for the current screen size; call on resize. */
export function placePanes(l: Layout, width: number, height: number): void {
  const rects = paneRects(width, height)
  for (const k of ['items', 'peers', 'transfers', 'log'] as const) {
    const r = rects[k]
    const el = l[k]
    el.top = r.top
    el.left = r.left
    el.width = r.width
    el.height = r.height
  }
}
