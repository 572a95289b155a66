/** One-line bars: the header (node, peers, files, rates), playback, the status line, the footer. */
import type { Widgets } from 'blessed'
import { footerText } from '../keys.ts'
import { fit, formatClock, formatRate } from '../../text/format.ts'
import type { TuiState } from '../state.ts'
import { esc, paint, type ViewOptions } from './common.ts'

function widthOf(el: Widgets.BoxElement): number {
  return typeof el.width === 'number' ? el.width : 80
}

/** "p2ptube  node 127.0.0.1:40123  peers 2  files 3  up 1.2 MB/s  down 3.0 MB/s". */
export function headerText(s: TuiState): string {
  return `p2ptube  node ${s.node.id || '(starting)'}${s.node.reach ? `  reach ${s.node.reach}` : ''}  peers ${s.peers.length}  files ${s.node.files}  up ${formatRate(s.node.upRate)}  down ${formatRate(s.node.downRate)}`
}

/** "playing NAME  0:03 / 0:10  [paused]", or how to start playback. */
export function playbackText(s: TuiState): string {
  const p = s.playback
  if (!p.active) return 'mpv: idle  (p plays the selected result or a finished transfer)'
  return `mpv: ${p.paused ? 'paused ' : 'playing'} ${p.title}  ${formatClock(p.position)} / ${formatClock(p.duration)}  (Space pause, Left/Right seek 5 s)`
}

const STATUS_STYLE: Record<string, string> = { ok: 'green-fg', warn: 'yellow-fg', error: 'red-fg', info: 'white-fg' }

/** Render the header, playback, status and footer bars. */
export function renderBars(w: { header: Widgets.BoxElement; playback: Widgets.BoxElement; status: Widgets.BoxElement; footer: Widgets.BoxElement }, s: TuiState, o: ViewOptions): void {
  w.header.setContent(paint(o, 'bold', esc(fit(headerText(s), widthOf(w.header)))))
  w.playback.setContent(esc(fit(playbackText(s), widthOf(w.playback))))
  const st = s.quitting ? 'quitting: sending QUIT to peers, closing mpv...' : s.status.text
  w.status.setContent(paint(o, STATUS_STYLE[s.status.level] ?? 'white-fg', esc(fit(`> ${st}`, widthOf(w.status)))))
  w.footer.setContent(esc(footerText(widthOf(w.footer))))
}
