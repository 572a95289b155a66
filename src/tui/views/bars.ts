/** The bars: the header (node, peers, files, rates), playback, the status line, the two-line footer. */
import type { Widgets } from 'blessed'
import { footerLines } from '../keys.ts'
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

/**
 * What mpv is doing, as mpv reported it: "mpv: playing NAME  0:03 / 0:10  vol 80%  [2/5]",
 * "mpv: opening NAME...", "mpv: error: REASON (NAME)", "mpv: finished NAME", or how to start.
 */
export function playbackText(s: TuiState): string {
  const p = s.playback
  const state = p.state ?? (p.active ? (p.paused ? 'paused' : 'playing') : 'idle')
  if (state === 'error') return `mpv: error: ${p.error || 'mpv failed'} (${p.title})`
  if (!p.active || state === 'idle') return 'mpv: idle  (p plays the selection, P the whole list or album)'
  if (state === 'ended') return `mpv: finished ${p.title}`
  if (state === 'loading') return `mpv: opening ${p.title}...`
  const queue = p.queue ? `  [${p.queue.index}/${p.queue.total}]` : ''
  const vol = p.volume !== undefined && p.volume !== 100 ? `  vol ${Math.round(p.volume)}%` : ''
  return `mpv: ${state === 'paused' ? 'paused ' : 'playing'} ${p.title}  ${formatClock(p.position)} / ${formatClock(p.duration)}${vol}${queue}  (Space pause, Left/Right seek, S stop, > next, -/+ vol)`
}

const STATUS_STYLE: Record<string, string> = { ok: 'green-fg', warn: 'yellow-fg', error: 'red-fg', info: 'white-fg' }

/** Render the header, playback, status and footer bars. */
export function renderBars(w: { header: Widgets.BoxElement; playback: Widgets.BoxElement; status: Widgets.BoxElement; footer: Widgets.BoxElement }, s: TuiState, o: ViewOptions): void {
  w.header.setContent(paint(o, 'bold', esc(fit(headerText(s), widthOf(w.header)))))
  w.playback.setContent(esc(fit(playbackText(s), widthOf(w.playback))))
  const st = s.quitting ? 'quitting: sending QUIT to peers, closing mpv...' : s.status.text
  w.status.setContent(paint(o, STATUS_STYLE[s.status.level] ?? 'white-fg', esc(fit(`> ${st}`, widthOf(w.status)))))
  // Every key: two lines, the second rotating every 4 s when they do not all fit (80 columns).
  w.footer.setContent(
    footerLines(widthOf(w.footer), 2, Math.floor(Date.now() / 4000))
      .map(esc)
      .join('\n')
  )
}
