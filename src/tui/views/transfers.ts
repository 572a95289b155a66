/** The transfers pane: progress bar, percentage, speed, ETA, sources, state (with the reason). */
import type { Widgets } from 'blessed'
import { fit, formatBytes, formatEta, formatRate, progressBar } from '../../text/format.ts'
import type { TransferRow, TuiState } from '../state.ts'
import { esc, fitCols, innerSize, paint, row, setPaneLabel, windowStart, type ViewOptions } from './common.ts'

const STATE_STYLE: Record<string, string> = { done: 'green-fg', failed: 'red-fg', cancelled: 'yellow-fg', verifying: 'cyan-fg', downloading: 'cyan-fg', queued: 'white-fg' }

function stateText(t: TransferRow): string {
  if (t.state === 'cancelled') return 'cancelled, resumable'
  if (t.state === 'failed') return `failed: ${t.error ?? '?'}`
  if (t.state === 'done') return t.path ? 'done  p: play  o: path' : 'done'
  return t.state
}

/** Lines of the pane for an inner `width` × `height` (header line included). */
export function transferLines(s: TuiState, width: number, height: number, o: ViewOptions): string[] {
  // Fixed: marker + 6 separating spaces, % (4), speed (10), eta (5), source (15); the name takes the rest.
  const wide = width >= 90
  const barW = wide ? 14 : 10
  const srcW = 15
  const stateW = wide ? Math.floor(width * 0.25) : 11
  const nameW = Math.max(8, width - 7 - barW - 4 - 10 - 5 - srcW - stateW)
  const head = `${fit('name', nameW)} ${fit('progress', barW)} ${fit('%', 4, 'right')} ${fit('speed', 10, 'right')} ${fit('eta', 5, 'right')} ${fit('source', srcW)} ${fit('state', stateW)}`
  const lines = [' ' + paint(o, 'bold', esc(head))]
  if (!s.transfers.length) {
    lines.push(' ' + esc(fit('no transfers: select a result and press Enter (fetch) or p (play)', width - 1)))
    return lines
  }
  const rows = Math.max(0, height - 1)
  const start = windowStart(s.transfers.length, s.selected.transfers, rows)
  for (const [i, t] of s.transfers.slice(start, start + rows).entries()) {
    const frac = t.state === 'done' ? 1 : t.size ? t.received / t.size : 0
    const pct = `${Math.floor(frac * 100)}%`
    const speed = t.state === 'downloading' ? formatRate(t.rate) : t.state === 'done' ? formatBytes(t.size) : '-'
    const eta = t.state === 'downloading' ? formatEta(t.etaSec) : '-'
    const st = fit(stateText(t), stateW)
    const text =
      esc(
        `${fitCols(t.name, nameW)} [${progressBar(frac, barW - 2)}] ${fit(pct, 4, 'right')} ${fit(speed, 10, 'right')} ${fit(eta, 5, 'right')} ${fit(t.sources.length > 1 ? `${t.sources.length} holders` : (t.sources[0] ?? ''), srcW)} `
      ) + paint(o, STATE_STYLE[t.state] ?? 'white-fg', esc(st))
    lines.push(row(text, start + i === s.selected.transfers, s.focus === 'transfers'))
  }
  return lines
}

/** How long an upload stays in the summary's "to" list, in ms. */
export const RECENT_UPLOAD_MS = 5 * 60_000

/**
 * The pane's label and the transfers summary: "Transfers (1 active, 3 total)  down 12 MB  up
 * 4.2 MB  to 10.0.0.5:9400 (song.ogg)": byte totals of this node and the peers that took files
 * from it in the last 5 minutes (node 'upload' events).
 */
export function transfersLabel(s: TuiState, active: number, now = Date.now()): string {
  const recent = s.uploads.filter((u) => now - u.at <= RECENT_UPLOAD_MS)
  const peers = [...new Set(recent.map((u) => u.peer))]
  const last = recent[recent.length - 1]
  const to = peers.length ? `  to ${peers.slice(0, 3).join(', ')}${peers.length > 3 ? ` +${peers.length - 3}` : ''}${last ? ` (${last.name})` : ''}` : ''
  return `Transfers (${active} active, ${s.transfers.length} total)  down ${formatBytes(s.node.bytesDown)}  up ${formatBytes(s.node.bytesUp)}${to}  C: clear done`
}

/** Render the pane into its box. */
export function renderTransfers(box: Widgets.BoxElement, s: TuiState, o: ViewOptions): void {
  const { width, height } = innerSize(box)
  const active = s.transfers.filter((t) => t.state === 'downloading' || t.state === 'verifying' || t.state === 'queued').length
  setPaneLabel(box, transfersLabel(s, active), s.focus === 'transfers', o)
  box.setContent(transferLines(s, width, height, o).join('\n'))
}
