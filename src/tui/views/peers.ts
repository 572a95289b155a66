/** The peers pane: id (= address), how it was found, last seen. */
import type { Widgets } from 'blessed'
import { fit, formatAge } from '../../text/format.ts'
import type { TuiState } from '../state.ts'
import { esc, innerSize, paint, row, setPaneLabel, windowStart, type ViewOptions } from './common.ts'

/** Lines of the pane for an inner `width` × `height` (header line included); `now` epoch ms. */
export function peerLines(s: TuiState, width: number, height: number, now: number, o: ViewOptions): string[] {
  // marker, id (the rest), found (9), seen (4), 2 spaces
  const idW = Math.max(10, width - 1 - 9 - 4 - 2)
  const lines = [' ' + paint(o, 'bold', esc(`${fit('id / address', idW)} ${fit('found', 9)} ${fit('seen', 4)}`))]
  if (!s.peers.length) {
    lines.push(' ' + esc(fit('no peers yet: b joins one', width - 1)))
    return lines
  }
  const rows = Math.max(0, height - 1)
  const start = windowStart(s.peers.length, s.selected.peers, rows)
  for (const [i, p] of s.peers.slice(start, start + rows).entries()) {
    const text = `${fit(p.id === p.address ? p.id : `${p.id} ${p.address}`, idW)} ${fit(p.source, 9)} ${fit(formatAge(p.lastSeen, now), 4)}`
    lines.push(row(esc(text), start + i === s.selected.peers, s.focus === 'peers'))
  }
  return lines
}

/** Render the pane into its box. */
export function renderPeers(box: Widgets.BoxElement, s: TuiState, o: ViewOptions, now = Date.now()): void {
  const { width, height } = innerSize(box)
  setPaneLabel(box, `Peers (${s.peers.length})`, s.focus === 'peers', o)
  box.setContent(peerLines(s, width, height, now, o).join('\n'))
}
