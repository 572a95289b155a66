/**
 * The transfer rows and the node's up/down rates of the TUI state (state.ts): both are computed
 * from byte counters sampled over time. Plain functions on TuiState, no I/O; sizes in bytes,
 * rates in bytes/s, times epoch ms.
 */
import { kindOf, type TransferRow, type TransferStateName, type TuiState } from './state.ts'

/** What a Download looks like to the state (a snapshot; no methods). */
export interface TransferSnapshot {
  name: string
  state: TransferStateName
  size: number | undefined
  received: number
  holder: string
  /** Holders in use (swarm); default [holder]. */
  sources?: string[] | undefined
  error?: Error | undefined
  result?: { path: string; sha256: string } | undefined
}

/**
 * Insert or update the row of transfer `id`. The rate is a moving average of the bytes received
 * between samples at least 500 ms apart; the ETA follows from it.
 */
export function updateTransfer(s: TuiState, id: number, d: TransferSnapshot, now = Date.now()): TransferRow {
  let row = s.transfers.find((x) => x.id === id)
  if (!row) {
    row = {
      id,
      name: d.name,
      kind: kindOf(d.name),
      state: d.state,
      size: null,
      received: d.received,
      rate: 0,
      etaSec: null,
      sources: [d.holder],
      error: null,
      path: null,
      sha256: null,
      sampleAt: now,
      sampleBytes: d.received
    }
    s.transfers.push(row)
    s.selected.transfers = s.transfers.length - 1
  }
  row.state = d.state
  if (d.sources?.length) row.sources = d.sources
  row.size = d.size ?? null
  row.received = d.received
  const dt = now - row.sampleAt
  if (dt >= 500) {
    const inst = Math.max(0, ((d.received - row.sampleBytes) * 1000) / dt)
    row.rate = row.rate === 0 ? inst : row.rate * 0.5 + inst * 0.5
    row.sampleAt = now
    row.sampleBytes = d.received
  }
  if (d.state !== 'downloading') row.rate = 0
  row.etaSec = d.state === 'downloading' && row.size !== null && row.rate > 0 ? (row.size - row.received) / row.rate : null
  if (d.state === 'done' && d.result) {
    row.path = d.result.path
    row.sha256 = d.result.sha256
    row.etaSec = 0
  }
  row.error = d.state === 'failed' || d.state === 'cancelled' ? (d.error?.message ?? d.state) : null
  return row
}

/** Recompute up/down rates (bytes/s) from the node's byte counters; call about once a second. */
export function tickRates(s: TuiState, stats: { bytesUp: number; bytesDown: number }, now = Date.now()): void {
  const dt = (now - s.node.ratesAt) / 1000
  if (dt <= 0) return
  s.node.upRate = Math.max(0, (stats.bytesUp - s.node.bytesUp) / dt)
  s.node.downRate = Math.max(0, (stats.bytesDown - s.node.bytesDown) / dt)
  s.node.bytesUp = stats.bytesUp
  s.node.bytesDown = stats.bytesDown
  s.node.ratesAt = now
}
